import ConsentCore
import ConsentCrypto
import Foundation

// An export directory (docs/FORMAT.md §13): C2SP tlog-tiles (hash tiles and entry bundles), the
// newest signed checkpoint, every signed checkpoint, the bodies tiled like the entry bundles, and a
// manifest. `consent-ledger export` writes it; `ExportSource` reads it for `audit --export`.

/// A problem reading an export directory.
public struct ExportError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension NSLock {
    /// Runs `body` holding the lock.
    func locked<R>(_ body: () throws -> R) rethrows -> R {
        lock()
        defer { unlock() }
        return try body()
    }
}

/// `manifest.json` of an export directory.
public struct ExportManifest: Codable, Sendable, Equatable {
    public static let formatName = "consent-ledger-export"
    public static let currentVersion = 1

    /// Always "consent-ledger-export".
    public var format: String = ExportManifest.formatName
    /// The layout version: 1.
    public var version: Int = ExportManifest.currentVersion
    public var origin: String
    /// "sha256-ed25519" or "sm3-sm2".
    public var suite: String
    /// The log's `createdAt` (ms): no entry is recorded before it.
    public var createdAt: Milliseconds
    /// The tree size exported: the size of `checkpoint`.
    public var size: Int64
    /// Consent events among the entries.
    public var events: Int64
    /// Bodies present in `bodies/`.
    public var bodies: Int64
    /// Consent events whose body a purge entry took.
    public var purgedBodies: Int64
    /// Signed checkpoints in `checkpoints`.
    public var checkpoints: Int64

    public init(
        origin: String, suite: String, createdAt: Milliseconds, size: Int64, events: Int64, bodies: Int64, purgedBodies: Int64,
        checkpoints: Int64
    ) {
        self.origin = origin
        self.suite = suite
        self.createdAt = createdAt
        self.size = size
        self.events = events
        self.bodies = bodies
        self.purgedBodies = purgedBodies
        self.checkpoints = checkpoints
    }
}

/// The export layout: paths and the framings that are ours (bodies, the checkpoints file).
public enum ExportLayout {
    public static let manifest = "manifest.json"
    public static let checkpoint = "checkpoint"
    public static let checkpoints = "checkpoints"

    /// The body file paired with an entry bundle: `bodies/<N>[.p/<W>]`.
    public static func bodiesPath(_ bundle: EntryBundleID) -> String {
        "bodies/" + bundle.path.dropFirst("tile/entries/".count)
    }

    /// Body frame tags.
    public enum BodyTag: UInt8 {
        /// The entry has no body (it is not a consent event).
        case none = 0
        /// `u32` length, then the body (docs/FORMAT.md §4).
        case present = 1
        /// `i64`: the index of the purge entry that took the body.
        case purged = 2
        /// A consent event whose body the store did not have and no purge entry took: exported as
        /// found, so that an audit of the export reports it.
        case missing = 3
    }

    /// Encodes one body file: one frame per entry of the bundle, in order.
    public static func encodeBodies(_ bodies: [AuditBody], consent: [Bool]) -> [UInt8] {
        var out: [UInt8] = []
        for (body, isConsent) in zip(bodies, consent) {
            switch body {
            case .present(let bytes):
                out.append(BodyTag.present.rawValue)
                let n = UInt32(bytes.count)
                out += [UInt8(n >> 24), UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff)]
                out += bytes
            case .purged(let by):
                if let by {
                    out.append(BodyTag.purged.rawValue)
                    let u = UInt64(bitPattern: by)
                    for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: u >> UInt64(56 - 8 * i))) }
                } else {
                    out.append(BodyTag.missing.rawValue)
                }
            case .none:
                out.append(isConsent ? BodyTag.missing.rawValue : BodyTag.none.rawValue)
            }
        }
        return out
    }

    /// Decodes a body file into its frames; throws on an unknown tag, truncation or trailing bytes.
    public static func decodeBodies(_ data: [UInt8]) throws -> [AuditBody] {
        try bodyFrames(data).map { frame in
            switch frame {
            case .none: return .none
            case .present(let range): return .present(Array(data[range]))
            case .purged(let by): return .purged(by: by)
            }
        }
    }

    /// ``decodeBodies(_:)`` with each body as its range in `data`.
    static func bodyFrames(_ data: [UInt8]) throws -> [AuditPage.Body] {
        var bodies: [AuditPage.Body] = []
        var i = 0
        func need(_ n: Int) throws {
            guard data.count - i >= n else { throw ExportError("body file truncated") }
        }
        while i < data.count {
            let tag = data[i]
            i += 1
            switch BodyTag(rawValue: tag) {
            case .none?, .missing?: bodies.append(.none)
            case .present?:
                try need(4)
                let n = Int(data[i]) << 24 | Int(data[i + 1]) << 16 | Int(data[i + 2]) << 8 | Int(data[i + 3])
                i += 4
                try need(n)
                bodies.append(.present(i..<i + n))
                i += n
            case .purged?:
                try need(8)
                var u: UInt64 = 0
                for b in data[i..<i + 8] { u = u << 8 | UInt64(b) }
                i += 8
                bodies.append(.purged(by: Int64(bitPattern: u)))
            case nil:
                throw ExportError("body file has an unknown frame tag \(tag)")
            }
        }
        return bodies
    }

    /// One record of the `checkpoints` file: the note's length in bytes as decimal, a newline, the note.
    public static func checkpointRecord(_ note: String) -> [UInt8] {
        let bytes = Array(note.utf8)
        return Array("\(bytes.count)\n".utf8) + bytes
    }

    /// Parses the `checkpoints` file into its notes, with the byte length of the well-formed
    /// prefix (a torn last record, from an interrupted export, is left out).
    public static func parseCheckpoints(_ data: [UInt8]) -> (notes: [(size: Int64, note: String)], validLength: Int) {
        var notes: [(size: Int64, note: String)] = []
        var i = 0
        while i < data.count {
            guard let newline = data[i...].firstIndex(of: 0x0a), newline - i <= 8,
                let n = Int(String(decoding: data[i..<newline], as: UTF8.self)), n > 0, data.count - (newline + 1) >= n
            else { break }
            let note = String(decoding: data[(newline + 1)..<(newline + 1 + n)], as: UTF8.self)
            guard let parsed = try? SignedNote(parsing: note), let checkpoint = try? Checkpoint(text: parsed.text) else { break }
            notes.append((checkpoint.size, note))
            i = newline + 1 + n
        }
        return (notes, i)
    }
}

/// Where an export's files come from: a directory, or a server serving the same layout (the
/// service's `/checkpoint`, `/checkpoints`, `/tile/…` and `/bodies/…`).
public protocol ExportFiles: Sendable {
    /// The file at `relative` (an export path such as `tile/0/000` or `checkpoints`), or nil when
    /// the source has none; throws when the source cannot be read at all.
    func read(_ relative: String) async throws -> [UInt8]?
}

/// The files of an export directory.
public struct ExportDirectoryFiles: ExportFiles {
    public let path: String

    public init(path: String) { self.path = path }

    public func read(_ relative: String) async throws -> [UInt8]? {
        FileManager.default.contents(atPath: path + "/" + relative).map { Array($0) }
    }
}

/// Reads an export for an audit (``ExportFiles``: a directory or a server). Serves what the files
/// hold; the audit checks it.
public final class ExportSource: AuditSource, @unchecked Sendable {
    public let files: any ExportFiles
    /// The log's hash and signature suite (from the manifest, or from the verifier key).
    public let suite: Suite
    /// The log's `createdAt`, when the source says (no entry may be recorded before it).
    public let createdAt: Milliseconds?
    private let lock = NSLock()
    private var notes: [(size: Int64, note: String)]?
    private var tileCache: [TileID: [Hash]] = [:]
    private var newestSize: Int64 = 0

    /// An export directory, described by its `manifest.json`.
    public convenience init(path: String) throws {
        let url = URL(fileURLWithPath: path).appendingPathComponent(ExportLayout.manifest)
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw ExportError("\(path) is not an export directory (no \(ExportLayout.manifest))")
        }
        let manifest: ExportManifest
        do { manifest = try JSONDecoder().decode(ExportManifest.self, from: data) } catch {
            throw ExportError("\(url.path) is not an export manifest: \(error)")
        }
        guard manifest.format == ExportManifest.formatName, manifest.version == ExportManifest.currentVersion else {
            throw ExportError("\(url.path): unknown export format \(manifest.format) version \(manifest.version)")
        }
        guard let suite = Suite(rawValue: manifest.suite) else { throw ExportError("\(url.path): unknown suite \(manifest.suite)") }
        self.init(files: ExportDirectoryFiles(path: path), suite: suite, createdAt: manifest.createdAt)
    }

    /// Files in the export layout from any source.
    public init(files: any ExportFiles, suite: Suite, createdAt: Milliseconds?) {
        self.files = files
        self.suite = suite
        self.createdAt = createdAt
    }

    func file(_ relative: String) async throws -> [UInt8]? { try await files.read(relative) }

    public func latestCheckpoint() async throws -> String {
        guard let bytes = try await file(ExportLayout.checkpoint) else { throw ExportError("the export has no checkpoint") }
        let note = String(decoding: bytes, as: UTF8.self)
        if let parsed = try? SignedNote(parsing: note), let checkpoint = try? Checkpoint(text: parsed.text) {
            lock.locked { newestSize = checkpoint.size }
        }
        return note
    }

    /// The widest file of a tile or bundle at `index` for the tree of `size` entries: the tree's
    /// own (full, or the partial at its edge), else a full one.
    private func widest(_ index: Int64, size: Int64, path: (Int) -> String) async throws -> [UInt8]? {
        let start = index * Int64(TileID.fullWidth)
        guard start < size else { return nil }
        let width = Int(min(Int64(TileID.fullWidth), size - start))
        if let own = try await file(path(width)) { return own }
        return width < TileID.fullWidth ? try await file(path(TileID.fullWidth)) : nil
    }

    public func entries(_ range: Range<Int64>) async throws -> [AuditEntry] {
        let page = try await page(range)
        return page.entries.indices.map(page.entry(at:))
    }

    public func page(_ range: Range<Int64>) async throws -> AuditPage {
        // The newest checkpoint's size picks the partial bundle at the tree's edge; before it is
        // read, a range is taken to end at the edge.
        let newest = lock.locked { newestSize }
        let size = newest > 0 ? newest : range.upperBound
        var page = AuditPage()
        var bundleIndex = range.lowerBound / Int64(TileID.fullWidth)
        while bundleIndex * Int64(TileID.fullWidth) < range.upperBound {
            let start = bundleIndex * Int64(TileID.fullWidth)
            let b = bundleIndex
            guard let data = try await widest(b, size: size, path: { EntryBundleID(index: b, width: $0).path }) else { return page }
            let headers = Self.frameRanges(data)
            let leaves = try await widest(b, size: size, path: { TileID(level: 0, index: b, width: $0).path })
            let bodies = try await widest(b, size: size, path: { ExportLayout.bodiesPath(EntryBundleID(index: b, width: $0)) })
            let frames = bodies.flatMap { try? ExportLayout.bodyFrames($0) }
            if page.entries.isEmpty, !headers.isEmpty {
                // The rest of the range is likely to be like its first bundle.
                let count = Int(clamping: min(range.upperBound - range.lowerBound, 1 << 16))
                page.reserveCapacity(entries: count, bytes: (data.count + (bodies?.count ?? 0)) / headers.count * (count + 16))
            }
            for (i, header) in headers.enumerated() {
                let index = start + Int64(i)
                guard range.contains(index) else { continue }
                let leaf = leaves.flatMap { 32 * (i + 1) <= $0.count ? Hash(bytes: $0[32 * i..<32 * (i + 1)]) : nil }
                let headerRange = data.withUnsafeBytes { page.store(UnsafeRawBufferPointer(rebasing: $0[header])) }
                var body = AuditPage.Body.none
                if let frames, let bodies, i < frames.count {
                    switch frames[i] {
                    case .none: break
                    case .present(let range): body = .present(bodies.withUnsafeBytes { page.store(UnsafeRawBufferPointer(rebasing: $0[range])) })
                    case .purged(let by): body = .purged(by: by)
                    }
                }
                page.append(AuditPage.Entry(index: index, header: headerRange, leafHash: leaf, body: body))
            }
            if headers.count < TileID.fullWidth { break }
            bundleIndex += 1
        }
        return page
    }

    /// The entries of bundle data, as far as its framing goes (a damaged bundle yields the entries
    /// before the damage, so the audit names the first index it cannot check).
    public static func frames(_ data: [UInt8]) -> [[UInt8]] { frameRanges(data).map { Array(data[$0]) } }

    /// ``frames(_:)`` as ranges of `data`.
    static func frameRanges(_ data: [UInt8]) -> [Range<Int>] {
        var entries: [Range<Int>] = []
        var i = 0
        while data.count - i >= 2, entries.count < TileID.fullWidth {
            let n = Int(data[i]) << 8 | Int(data[i + 1])
            guard data.count - i - 2 >= n else { break }
            entries.append((i + 2)..<(i + 2 + n))
            i += 2 + n
        }
        return entries
    }

    private func allNotes() async throws -> [(size: Int64, note: String)] {
        if let notes = lock.locked({ notes }) { return notes }
        let parsed = try await file(ExportLayout.checkpoints).map { ExportLayout.parseCheckpoints($0).notes } ?? []
        lock.locked { notes = parsed }
        return parsed
    }

    public func checkpoints(_ sizes: ClosedRange<Int64>) async throws -> [(size: Int64, note: String)] {
        try await allNotes().filter { sizes.contains($0.size) }.sorted { $0.size < $1.size }
    }

    public func readHashes(_ indexes: [Int64]) async throws -> [Hash] {
        let size = lock.locked { newestSize }
        let hasher = Digest(suite: suite)
        var out: [Hash] = []
        for storedIndex in indexes {
            guard storedIndex >= 0, storedIndex < Merkle.storedHashCount(size: size) else {
                throw ExportError("stored hash \(storedIndex) is not in the tree of size \(size)")
            }
            let (needed, _) = TileID.tile(forStoredIndex: storedIndex)
            guard let own = needed.widest(inTreeSize: size) else { throw ExportError("stored hash \(storedIndex) is beyond the tree") }
            let tile: TileID
            let hashes: [Hash]
            if let cached = lock.locked({ tileCache[own] }) {
                (tile, hashes) = (own, cached)
            } else if let data = try await file(own.path) {
                (tile, hashes) = (own, try own.hashes(fromData: data))
            } else if let data = try await file(TileID(level: own.level, index: own.index).path) {
                let full = TileID(level: own.level, index: own.index)
                (tile, hashes) = (full, try full.hashes(fromData: data))
            } else {
                throw ExportError("missing tile \(own.path)")
            }
            lock.locked { tileCache[tile] = hashes }
            out.append(try TileID.hash(ofStoredIndex: storedIndex, tile: tile, hashes: hashes, hasher: hasher))
        }
        return out
    }

    public func bodies(at indexes: [Int64]) async throws -> [Int64: AuditBody] {
        let size = lock.locked { newestSize }
        var out: [Int64: AuditBody] = [:]
        for (b, group) in Dictionary(grouping: indexes, by: { $0 / Int64(TileID.fullWidth) }) {
            let frames = try await widest(b, size: size, path: { ExportLayout.bodiesPath(EntryBundleID(index: b, width: $0)) })
                .flatMap { try? ExportLayout.decodeBodies($0) } ?? []
            for index in group {
                let i = Int(index - b * Int64(TileID.fullWidth))
                out[index] = i < frames.count ? frames[i] : AuditBody.none
            }
        }
        return out
    }
}
