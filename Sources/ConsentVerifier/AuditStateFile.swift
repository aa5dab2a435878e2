import ConsentCore
import ConsentCrypto
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

// The incremental audit's state file (`audit --state FILE`, docs/FORMAT.md §13.3). Binary, because
// it grows with the log: about 110 bytes per consent event plus 73 per state key.

public struct AuditStateError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

extension AuditState {
    static let magic = Array("consent-ledger audit state\n".utf8)
    static let formatVersion: UInt8 = 1

    /// The state's bytes: magic, version, fields, then SHA-256 of everything before it.
    public func encoded() -> [UInt8] {
        var w = StateWriter()
        w.raw(AuditState.magic)
        w.u8(AuditState.formatVersion)
        w.bytes(Array(checkpointNote.utf8))
        w.i64(size)
        w.count(peaks.count)
        for p in peaks { w.hash(p) }
        w.hash(lastLeafHash)
        w.optional(lastRecordedAt)
        w.hash(stateRoot)
        w.count(latest.count)
        for (key, value) in latest.sorted(by: { $0.key < $1.key }) {
            w.hash(key)
            w.i64(value.index)
            w.u8(value.action.rawValue)
            w.hash(value.leafHash)
        }
        w.count(idempotencyKeys.count)
        for key in idempotencyKeys.keys.sorted() { w.hash(key) }
        w.count(peppers.count)
        for (number, pepper) in peppers.sorted(by: { $0.key < $1.key }) {
            w.hash(number)
            w.hash(pepper)
        }
        w.count(retention.events.count)
        for (index, e) in retention.events {
            w.i64(index)
            w.u8(e.action.rawValue)
            w.i64(e.recordedAt)
            w.hash(e.subjectKey)
            w.bytes(Array(e.sender.utf8))
            w.optional(e.supersededAt)
            w.u8(e.stored ? 1 : 0)
            w.optional(e.purgedBy)
        }
        w.count(retention.holds.count)
        for (index, target) in retention.holds.sorted(by: { $0.key < $1.key }) {
            w.i64(index)
            switch target {
            case .subject(let s):
                w.u8(1)
                w.hash(s)
            case .sender(let s):
                w.u8(2)
                w.bytes(Array(s.utf8))
            case .subjectSender(let subject, let sender):
                w.u8(3)
                w.hash(subject)
                w.bytes(Array(sender.utf8))
            }
        }
        w.count(retention.releasedHolds.count)
        for index in retention.releasedHolds.sorted() { w.i64(index) }
        w.hash(Digest.hash(.sha256, w.data))
        return w.data
    }

    /// Decodes ``encoded()``; throws on any damage.
    public init(decoding bytes: [UInt8]) throws {
        guard bytes.count > 32 else { throw AuditStateError("the state file is truncated") }
        let body = Array(bytes.dropLast(32))
        guard Digest.hash(.sha256, body).bytes == Array(bytes.suffix(32)) else {
            throw AuditStateError("the state file is damaged (its checksum does not match)")
        }
        var r = StateReader(body)
        guard try r.raw(AuditState.magic.count) == AuditState.magic else { throw AuditStateError("not an audit state file") }
        guard try r.u8() == AuditState.formatVersion else { throw AuditStateError("unknown audit state version") }
        let note = String(decoding: try r.bytes(), as: UTF8.self)
        let size = try r.i64()
        let peaks = try (0..<r.count()).map { _ in try r.hash() }
        let lastLeaf = try r.hash()
        let lastRecordedAt = try r.optional()
        let stateRoot = try r.hash()
        var latest = HashTable<MapValue>()
        for _ in 0..<(try r.count()) {
            let key = try r.hash()
            let index = try r.i64()
            guard let action = ConsentAction(rawValue: try r.u8()) else { throw AuditStateError("bad action in the state file") }
            latest.updateValue(MapValue(index: index, action: action, leafHash: try r.hash()), forKey: key)
        }
        var idempotency = HashSet()
        for _ in 0..<(try r.count()) { idempotency.insert(try r.hash()) }
        var peppers = HashTable<Hash>()
        for _ in 0..<(try r.count()) {
            let number = try r.hash()
            peppers.updateValue(try r.hash(), forKey: number)
        }
        var events: [(index: Int64, event: RetentionTracker.Event)] = []
        for _ in 0..<(try r.count()) {
            let index = try r.i64()
            guard let action = ConsentAction(rawValue: try r.u8()) else { throw AuditStateError("bad action in the state file") }
            let recordedAt = try r.i64()
            let subject = try r.hash()
            let sender = String(decoding: try r.bytes(), as: UTF8.self)
            let superseded = try r.optional()
            let stored = try r.u8() == 1
            let purgedBy = try r.optional()
            guard index > (events.last?.index ?? -1) else { throw AuditStateError("the state file's consent events are out of order") }
            let event = RetentionTracker.Event(
                action: action, recordedAt: recordedAt, subjectKey: subject, sender: sender, supersededAt: superseded, stored: stored,
                purgedBy: purgedBy)
            events.append((index, event))
        }
        var holds: [Int64: HoldTarget] = [:]
        for _ in 0..<(try r.count()) {
            let index = try r.i64()
            switch try r.u8() {
            case 1: holds[index] = .subject(try r.hash())
            case 2: holds[index] = .sender(String(decoding: try r.bytes(), as: UTF8.self))
            case 3:
                let subject = try r.hash()
                holds[index] = .subjectSender(subject, String(decoding: try r.bytes(), as: UTF8.self))
            default: throw AuditStateError("bad hold target in the state file")
            }
        }
        var released = Set<Int64>()
        for _ in 0..<(try r.count()) { released.insert(try r.i64()) }
        guard r.atEnd else { throw AuditStateError("the state file has trailing bytes") }
        self.init(
            checkpointNote: note, size: size, peaks: peaks, lastLeafHash: lastLeaf, lastRecordedAt: lastRecordedAt, stateRoot: stateRoot,
            latest: latest, idempotencyKeys: idempotency, peppers: peppers,
            retention: RetentionTracker(events: events, holds: holds, releasedHolds: released))
    }

    /// Reads a state file; nil when it does not exist.
    public static func load(path: String) throws -> AuditState? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else { throw AuditStateError("cannot read \(path)") }
        return try AuditState(decoding: Array(data))
    }

    /// Writes the state file atomically (temporary file, fsync, rename).
    public func save(path: String) throws {
        try AuditFiles.writeAtomically(encoded(), to: path)
    }
}

/// Small file helpers shared by the audit's file outputs.
public enum AuditFiles {
    /// Writes `bytes` to `path` through a temporary file, fsync and rename, so a reader sees the old
    /// file or the new one, never a mix.
    public static func writeAtomically(_ bytes: [UInt8], to path: String, mode: mode_t = 0o644) throws {
        let temp = path + ".tmp"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC, mode)
        guard fd >= 0 else { throw AuditStateError("cannot create \(temp): \(String(cString: strerror(errno)))") }
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard n > 0 else {
                close(fd)
                throw AuditStateError("cannot write \(temp): \(String(cString: strerror(errno)))")
            }
            offset += n
        }
        guard fsync(fd) == 0 else {
            close(fd)
            throw AuditStateError("cannot sync \(temp)")
        }
        close(fd)
        guard rename(temp, path) == 0 else { throw AuditStateError("cannot rename \(temp) to \(path)") }
    }
}

struct StateWriter {
    var data: [UInt8] = []
    mutating func raw(_ b: [UInt8]) { data += b }
    mutating func u8(_ v: UInt8) { data.append(v) }
    mutating func i64(_ v: Int64) {
        let u = UInt64(bitPattern: v)
        for i in 0..<8 { data.append(UInt8(truncatingIfNeeded: u >> UInt64(56 - 8 * i))) }
    }
    mutating func count(_ n: Int) { i64(Int64(n)) }
    mutating func hash(_ h: Hash) { h.withUnsafeBytes { data.append(contentsOf: $0) } }
    mutating func bytes(_ b: [UInt8]) {
        count(b.count)
        data += b
    }
    mutating func optional(_ v: Int64?) {
        if let v {
            u8(1)
            i64(v)
        } else {
            u8(0)
        }
    }
}

struct StateReader {
    let data: [UInt8]
    var offset = 0
    init(_ data: [UInt8]) { self.data = data }
    var atEnd: Bool { offset == data.count }
    mutating func raw(_ n: Int) throws -> [UInt8] {
        guard n >= 0, data.count - offset >= n else { throw AuditStateError("the state file is truncated") }
        defer { offset += n }
        return Array(data[offset..<offset + n])
    }
    mutating func u8() throws -> UInt8 { try raw(1)[0] }
    mutating func i64() throws -> Int64 {
        var u: UInt64 = 0
        for b in try raw(8) { u = u << 8 | UInt64(b) }
        return Int64(bitPattern: u)
    }
    mutating func count() throws -> Int {
        let n = try i64()
        guard n >= 0, n <= data.count else { throw AuditStateError("the state file is damaged (bad count)") }
        return Int(n)
    }
    mutating func hash() throws -> Hash { Hash(bytes: try raw(32))! }
    mutating func bytes() throws -> [UInt8] { try raw(try count()) }
    mutating func optional() throws -> Int64? {
        switch try u8() {
        case 0: return nil
        case 1: return try i64()
        default: throw AuditStateError("the state file is damaged (bad flag)")
        }
    }
}
