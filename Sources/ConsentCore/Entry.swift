// The log's entry encoding, version 1 (docs/FORMAT.md). Every entry is a retained header, whose
// RFC 9162 leaf hash H(0x00 ‖ header) is what the Merkle tree commits to, and, for consent events,
// a purgeable body committed by its hash inside the header.

/// What an entry records.
public enum EntryKind: UInt8, Sendable, CaseIterable {
    /// An opt-in or opt-out of one subject towards one sender (or globally).
    case consent = 1
    /// The end of a batch: the batch's time and the state-map root after it.
    case commit = 2
    /// A legal hold placed or released.
    case hold = 3
    /// Bodies purged by compaction, and the retention policy that allowed it.
    case purge = 4
}

/// A link from an event to the previous event with the same state key.
public struct KeyLink: Equatable, Sendable, Codable {
    public var index: Int64
    public var leafHash: Hash

    public init(index: Int64, leafHash: Hash) {
        self.index = index
        self.leafHash = leafHash
    }
}

/// Grant (opt-in) or revoke (opt-out; with global scope, a decline of every sender).
public enum ConsentAction: UInt8, Sendable, CaseIterable, Codable {
    case grant = 1
    case revoke = 2

    /// The name used on the command line and in JSON.
    public var name: String { self == .grant ? "grant" : "revoke" }

    /// Parses `grant` or `revoke`.
    public init?(name: String) {
        switch name {
        case "grant": self = .grant
        case "revoke": self = .revoke
        default: return nil
        }
    }
}

/// How the user expressed consent or refusal.
public enum ConsentMethod: UInt8, Sendable, CaseIterable {
    case webForm = 1, app = 2, smsReply = 3, call = 4, paper = 5, operatorPlatform = 6, api = 7, other = 255

    /// The name used on the command line and in JSON.
    public var name: String {
        switch self {
        case .webForm: return "web-form"
        case .app: return "app"
        case .smsReply: return "sms-reply"
        case .call: return "call"
        case .paper: return "paper"
        case .operatorPlatform: return "operator-platform"
        case .api: return "api"
        case .other: return "other"
        }
    }

    /// Parses a method name.
    public init?(name: String) {
        guard let method = ConsentMethod.allCases.first(where: { $0.name == name }) else { return nil }
        self = method
    }
}

/// What a consent event covers.
public enum Scope: Hashable, Sendable, CustomStringConvertible {
    /// Every sender: a global decline (revocations only).
    case global
    /// The sender's whole relationship with the subject.
    case sender
    /// Narrowed to a port, a purpose, or both (at least one is set).
    case narrowed(port: String?, purpose: String?)

    /// A short text form: `global`, `sender`, `port=P`, `purpose=X`, `port=P,purpose=X`.
    public var description: String {
        switch self {
        case .global: return "global"
        case .sender: return "sender"
        case .narrowed(let port, let purpose):
            return [port.map { "port=\($0)" }, purpose.map { "purpose=\($0)" }].compactMap { $0 }.joined(separator: ",")
        }
    }
}

/// The retained, committed part of a consent event.
public struct ConsentHeader: Equatable, Sendable {
    /// Leaf hash of the previous entry (all zeros for entry 0): the hash chain.
    public var previousLeafHash: Hash
    /// When the log sequenced the entry (assigned by the log, monotonic).
    public var recordedAt: Milliseconds
    /// The sender id (1–64 of `[A-Za-z0-9._-]`).
    public var sender: String
    public var scope: Scope
    /// The derived subject key (never the plain number).
    public var subjectKey: Hash
    public var action: ConsentAction
    public var method: ConsentMethod
    /// Hash of the consent template (text shown, purpose, brand) the user agreed to; grants only.
    public var templateHash: Hash?
    /// When the user acted, as claimed by the sender.
    public var occurredAt: Milliseconds
    /// Hash of the encoded body.
    public var bodyHash: Hash
    /// Hash of the sender's client idempotency key, when one was given.
    public var idempotencyKeyHash: Hash?
    /// The previous event with the same state key (subject, sender, scope); nil for the key's first event.
    public var keyPredecessor: KeyLink?

    public init(
        previousLeafHash: Hash, recordedAt: Milliseconds, sender: String, scope: Scope, subjectKey: Hash,
        action: ConsentAction, method: ConsentMethod, templateHash: Hash?, occurredAt: Milliseconds,
        bodyHash: Hash, idempotencyKeyHash: Hash?, keyPredecessor: KeyLink?
    ) {
        self.previousLeafHash = previousLeafHash
        self.recordedAt = recordedAt
        self.sender = sender
        self.scope = scope
        self.subjectKey = subjectKey
        self.action = action
        self.method = method
        self.templateHash = templateHash
        self.occurredAt = occurredAt
        self.bodyHash = bodyHash
        self.idempotencyKeyHash = idempotencyKeyHash
        self.keyPredecessor = keyPredecessor
    }

    /// The state key this event updates.
    public func stateKey(hasher: some HashFunction) -> Hash {
        StateMap.stateKey(subjectKey: subjectKey, sender: sender, scope: scope, hasher: hasher)
    }
}

/// The last entry of every batch: the batch's `recordedAt` and the state-map root after the batch.
public struct CommitHeader: Equatable, Sendable {
    public var previousLeafHash: Hash
    public var recordedAt: Milliseconds
    /// The state-map root after every event up to this entry.
    public var stateRoot: Hash
    /// The number of consent events in the batch this entry ends.
    public var eventCount: UInt32

    public init(previousLeafHash: Hash, recordedAt: Milliseconds, stateRoot: Hash, eventCount: UInt32) {
        self.previousLeafHash = previousLeafHash
        self.recordedAt = recordedAt
        self.stateRoot = stateRoot
        self.eventCount = eventCount
    }
}

/// A decoded entry header of any kind.
public enum EntryHeader: Equatable, Sendable {
    case consent(ConsentHeader)
    case commit(CommitHeader)
    case hold(HoldHeader)
    case purge(PurgeHeader)

    /// The encoding version this code writes.
    public static let version: UInt8 = 1

    public var kind: EntryKind {
        switch self {
        case .consent: return .consent
        case .commit: return .commit
        case .hold: return .hold
        case .purge: return .purge
        }
    }

    /// Leaf hash of the previous entry.
    public var previousLeafHash: Hash {
        switch self {
        case .consent(let h): return h.previousLeafHash
        case .commit(let h): return h.previousLeafHash
        case .hold(let h): return h.previousLeafHash
        case .purge(let h): return h.previousLeafHash
        }
    }

    /// When the log sequenced the entry.
    public var recordedAt: Milliseconds {
        switch self {
        case .consent(let h): return h.recordedAt
        case .commit(let h): return h.recordedAt
        case .hold(let h): return h.recordedAt
        case .purge(let h): return h.recordedAt
        }
    }

    /// The canonical encoding: version, kind, previous leaf hash, recordedAt, then the kind's fields.
    public func encoded() -> [UInt8] {
        var w = ByteWriter()
        w.u8(EntryHeader.version)
        w.u8(kind.rawValue)
        w.hash(previousLeafHash)
        w.i64(recordedAt)
        switch self {
        case .consent(let h):
            w.shortString(h.sender)
            switch h.scope {
            case .global: w.u8(0)
            case .sender: w.u8(1)
            case .narrowed(let port, let purpose):
                w.u8(2)
                w.shortString(port ?? "")
                w.shortString(purpose ?? "")
            }
            w.hash(h.subjectKey)
            w.u8(h.action.rawValue)
            w.u8(h.method.rawValue)
            w.optionalHash(h.templateHash)
            w.i64(h.occurredAt)
            w.hash(h.bodyHash)
            w.optionalHash(h.idempotencyKeyHash)
            if let link = h.keyPredecessor {
                w.u8(1)
                w.i64(link.index)
                w.hash(link.leafHash)
            } else {
                w.u8(0)
            }
        case .commit(let h):
            w.hash(h.stateRoot)
            w.u32(h.eventCount)
        case .hold(let h):
            h.encodeFields(into: &w)
        case .purge(let h):
            h.encodeFields(into: &w)
        }
        return w.bytes
    }

    /// Decodes a header, rejecting unknown versions and kinds, truncation, trailing bytes and
    /// anything the encoder would not produce.
    public init(decoding bytes: [UInt8]) throws {
        self = try bytes.withUnsafeBytes { try EntryHeader(decoding: $0) }
    }

    /// ``init(decoding:)`` of the encoding's bytes in memory.
    public init(decoding bytes: UnsafeRawBufferPointer) throws {
        var r = ByteReader(bytes)
        let (kind, previous, recordedAt) = try EntryHeader.readPrefix(&r)
        switch kind {
        case .consent:
            self = .consent(try ConsentFields(reading: &r, previousLeafHash: previous, recordedAt: recordedAt).header(in: bytes))
        case .commit:
            let root = try r.hash()
            let count = try r.u32()
            try r.finish()
            self = .commit(CommitHeader(previousLeafHash: previous, recordedAt: recordedAt, stateRoot: root, eventCount: count))
        case .hold:
            self = .hold(try HoldHeader.decodeFields(previousLeafHash: previous, recordedAt: recordedAt, from: &r))
        case .purge:
            self = .purge(try PurgeHeader.decodeFields(previousLeafHash: previous, recordedAt: recordedAt, from: &r))
        }
    }
}

extension EntryHeader {
    /// Reads the common prefix (version, kind, previous leaf hash, recordedAt) of every kind.
    static func readPrefix(_ r: inout ByteReader) throws -> (kind: EntryKind, previous: Hash, recordedAt: Milliseconds) {
        let version = try r.u8()
        guard version == EntryHeader.version else { throw EntryError("unsupported entry version \(version)") }
        let kindByte = try r.u8()
        guard let kind = EntryKind(rawValue: kindByte) else { throw EntryError("unknown entry kind \(kindByte)") }
        return (kind, try r.hash(), try r.i64())
    }
}

/// Typed evidence kept in a consent body.
public enum EvidenceField: UInt8, Sendable, CaseIterable, Comparable {
    case replyText = 1, url = 2, ip = 3, userAgent = 4, recordingHash = 5, operatorReference = 6, formText = 7, note = 8

    /// The key used in `--evidence key=value` and in JSON.
    public var name: String {
        switch self {
        case .replyText: return "reply"
        case .url: return "url"
        case .ip: return "ip"
        case .userAgent: return "user-agent"
        case .recordingHash: return "recording-hash"
        case .operatorReference: return "operator-ref"
        case .formText: return "form-text"
        case .note: return "note"
        }
    }

    /// Parses an evidence key.
    public init?(name: String) {
        guard let field = EvidenceField.allCases.first(where: { $0.name == name }) else { return nil }
        self = field
    }

    public static func < (a: EvidenceField, b: EvidenceField) -> Bool { a.rawValue < b.rawValue }
}

/// The purgeable part of a consent event: the number and the evidence. Its hash is in the header.
public struct ConsentBody: Equatable, Sendable {
    /// 16 random bytes, so that a purged body's hash reveals nothing about the number.
    public var salt: [UInt8]
    /// The per-subject pepper: together with `subject` it opens the header's subject key.
    public var pepper: Hash
    /// The normalised E.164 number.
    public var subject: String
    /// Evidence fields, at most one per field, kept sorted by field.
    public var evidence: [EvidenceField: String]

    public init(salt: [UInt8], pepper: Hash, subject: String, evidence: [EvidenceField: String]) {
        self.salt = salt
        self.pepper = pepper
        self.subject = subject
        self.evidence = evidence
    }

    /// The canonical encoding: version, salt, pepper, subject, evidence count, then (field, value) sorted by field.
    public func encoded() -> [UInt8] {
        precondition(salt.count == 16, "body salt must be 16 bytes")
        var w = ByteWriter(capacity: 96)
        w.u8(1)
        w.raw(salt)
        w.hash(pepper)
        w.shortString(subject)
        w.u8(UInt8(evidence.count))
        for field in evidence.keys.sorted() {
            w.u8(field.rawValue)
            w.longString(evidence[field]!)
        }
        return w.bytes
    }

    /// What opens the header's subject key: the pepper and where in `bytes` the number is, with every
    /// check ``init(decoding:)`` makes (it throws exactly when that does) but without building the
    /// salt, the number's string and the evidence, which an audit does not keep.
    public static func opening(_ bytes: [UInt8]) throws -> (pepper: Hash, subject: Range<Int>) {
        try bytes.withUnsafeBytes { try opening($0) }
    }

    /// ``opening(_:)`` of the encoding's bytes in memory (in place: one body of a page).
    public static func opening(_ bytes: UnsafeRawBufferPointer) throws -> (pepper: Hash, subject: Range<Int>) {
        var r = ByteReader(bytes)
        let version = try r.u8()
        guard version == 1 else { throw EntryError("unsupported body version \(version)") }
        try r.skip(16)
        let pepper = try r.hash()
        let subject = try r.shortStringSpan().range
        let count = Int(try r.u8())
        var last: UInt8 = 0
        for _ in 0..<count {
            let tag = try r.u8()
            guard EvidenceField(rawValue: tag) != nil else { throw EntryError("unknown evidence field \(tag)") }
            guard tag > last else { throw EntryError("evidence fields out of order or repeated") }
            last = tag
            _ = try r.longString()
        }
        try r.finish()
        return (pepper, subject)
    }

    /// Decodes a body, rejecting anything the encoder would not produce.
    public init(decoding bytes: [UInt8]) throws {
        self = try ByteReader.reading(bytes) { r in try ConsentBody(reading: &r) }
    }

    private init(reading r: inout ByteReader) throws {
        let version = try r.u8()
        guard version == 1 else { throw EntryError("unsupported body version \(version)") }
        let salt = Array(try r.take(16))
        let pepper = try r.hash()
        let subject = try r.shortString()
        let count = Int(try r.u8())
        var evidence: [EvidenceField: String] = [:]
        var last: UInt8 = 0
        for _ in 0..<count {
            let tag = try r.u8()
            guard let field = EvidenceField(rawValue: tag) else { throw EntryError("unknown evidence field \(tag)") }
            guard tag > last else { throw EntryError("evidence fields out of order or repeated") }
            last = tag
            evidence[field] = try r.longString()
        }
        try r.finish()
        self.init(salt: salt, pepper: pepper, subject: subject, evidence: evidence)
    }
}

/// Domain-separated derivations shared by writers and verifiers.
public enum Derivation {
    /// The subject key: H("consent-ledger/subject/v1" ‖ 0x00 ‖ pepper ‖ E.164 number). The pepper is an
    /// HMAC of the number under the log's secret, so keys cannot be reversed by trying all numbers,
    /// while a disclosed body (pepper and number) lets anyone check the key.
    public static func subjectKey(pepper: Hash, e164: String, hasher: some HashFunction) -> Hash {
        var e164 = e164
        return e164.withUTF8 { subjectKey(pepper: pepper, e164UTF8: UnsafeRawBufferPointer($0), hasher: hasher) }
    }

    /// ``subjectKey(pepper:e164:hasher:)`` of the number's UTF-8 bytes.
    public static func subjectKey(pepper: Hash, e164UTF8: UnsafeRawBufferPointer, hasher: some HashFunction) -> Hash {
        hasher.begin()
        subjectKeyPrefix.withUnsafeBytes { hasher.update($0) }
        pepper.withUnsafeBytes { hasher.update($0) }
        hasher.update(e164UTF8)
        return hasher.finish()
    }

    static let subjectKeyPrefix = Array("consent-ledger/subject/v1".utf8) + [0]

    /// The message the log's secret is HMAC'ed with to get a subject's pepper: this prefix, then
    /// the E.164 number's UTF-8.
    public static let pepperMessagePrefix = Array("consent-ledger/pepper/v1".utf8) + [0]

    /// The message the log's secret is HMAC'ed with to get a subject's pepper.
    public static func pepperMessage(e164: String) -> [UInt8] {
        pepperMessagePrefix + Array(e164.utf8)
    }

    /// The idempotency key hash: H("consent-ledger/idempotency/v1" ‖ 0x00 ‖ sender ‖ 0x00 ‖ client key).
    public static func idempotencyKeyHash(sender: String, clientKey: String, hasher: some HashFunction) -> Hash {
        hasher.hash(Array("consent-ledger/idempotency/v1".utf8) + [0] + Array(sender.utf8) + [0] + Array(clientKey.utf8))
    }
}
