/// A consent header read in place: every field of ``ConsentHeader``, with its strings (sender, port,
/// purpose) left as byte ranges of the encoding instead of `String`s.
///
/// ``EntryHeader/init(decoding:)`` decodes consent headers through this reader, so both accept
/// exactly the same bytes with the same errors. An audit's replay uses it directly: building the
/// sender's string for each of millions of events (an allocation, a validation, reference counting
/// on every copy) cost more than hashing the event. The value holds no references, so arrays of it
/// copy and free as plain memory.
public struct ConsentFields: Sendable, Equatable {
    /// Where a short string's bytes lie in the encoded header (after its length byte).
    public struct Span: Sendable, Equatable {
        public var offset: UInt16
        public var count: UInt8

        /// The empty string.
        public static let empty = Span(offset: 0, count: 0)
        /// The bytes' indexes in the encoding.
        public var range: Range<Int> { Int(offset)..<Int(offset) + Int(count) }
    }

    public var previousLeafHash: Hash
    public var recordedAt: Milliseconds
    /// The sender id's bytes (1–64 of `[A-Za-z0-9._-]`, checked).
    public var sender: Span
    /// The scope tag: 0 global, 1 sender, 2 narrowed (docs/FORMAT.md §3.2).
    public var scopeTag: UInt8
    /// A narrowed scope's port and purpose (empty: none); empty for the other scopes.
    public var port: Span
    public var purpose: Span
    public var subjectKey: Hash
    public var action: ConsentAction
    public var method: ConsentMethod
    public var templateHash: Hash?
    public var occurredAt: Milliseconds
    public var bodyHash: Hash
    public var idempotencyKeyHash: Hash?
    public var keyPredecessor: KeyLink?

    /// Reads an encoded consent header, with every check ``EntryHeader/init(decoding:)`` makes; it
    /// throws for any other kind of entry.
    public init(decoding bytes: [UInt8]) throws {
        self = try bytes.withUnsafeBytes { try ConsentFields(decoding: $0) }
    }

    /// Reads the header encoded in `bytes` (in place: one entry of a page holding many).
    public init(decoding bytes: UnsafeRawBufferPointer) throws {
        var r = ByteReader(bytes)
        let (kind, previous, recordedAt) = try EntryHeader.readPrefix(&r)
        guard kind == .consent else { throw EntryError("not a consent entry (kind \(kind.rawValue))") }
        try self.init(reading: &r, previousLeafHash: previous, recordedAt: recordedAt)
    }

    /// Reads the consent fields after the common prefix, up to the end of the encoding.
    init(reading r: inout ByteReader, previousLeafHash: Hash, recordedAt: Milliseconds) throws {
        self.previousLeafHash = previousLeafHash
        self.recordedAt = recordedAt
        guard r.count <= Int(UInt16.max) else { throw EntryError("consent header of \(r.count) bytes") }
        sender = try r.shortStringSpan()
        scopeTag = try r.u8()
        switch scopeTag {
        case 0, 1:
            port = .empty
            purpose = .empty
        case 2:
            port = try r.shortStringSpan()
            purpose = try r.shortStringSpan()
            guard port.count > 0 || purpose.count > 0 else { throw EntryError("narrowed scope with neither port nor purpose") }
        default: throw EntryError("unknown scope kind \(scopeTag)")
        }
        subjectKey = try r.hash()
        let actionByte = try r.u8()
        guard let action = ConsentAction(rawValue: actionByte) else { throw EntryError("unknown action \(actionByte)") }
        self.action = action
        let methodByte = try r.u8()
        guard let method = ConsentMethod(rawValue: methodByte) else { throw EntryError("unknown method \(methodByte)") }
        self.method = method
        templateHash = try r.optionalHash()
        occurredAt = try r.i64()
        bodyHash = try r.hash()
        idempotencyKeyHash = try r.optionalHash()
        switch try r.u8() {
        case 0: keyPredecessor = nil
        case 1:
            let index = try r.i64()
            keyPredecessor = KeyLink(index: index, leafHash: try r.hash())
        case let flag: throw EntryError("invalid presence flag \(flag) for the key predecessor")
        }
        try r.finish()
        guard EventValidator.isToken(utf8: r[sender.range], maxLength: 64) else { throw EntryError("invalid sender id in header") }
        guard !(scopeTag == 0 && action == .grant) else { throw EntryError("a global scope is only for revocations") }
    }

    /// The header, with its strings built from `bytes`, the encoding these fields were read from.
    public func header(in bytes: [UInt8]) -> ConsentHeader {
        bytes.withUnsafeBytes { header(in: $0) }
    }

    /// ``header(in:)`` from the encoding's bytes in memory.
    public func header(in bytes: UnsafeRawBufferPointer) -> ConsentHeader {
        func string(_ span: Span) -> String { String(decoding: UnsafeRawBufferPointer(rebasing: bytes[span.range]), as: UTF8.self) }
        let scope: Scope
        switch scopeTag {
        case 0: scope = .global
        case 1: scope = .sender
        default: scope = .narrowed(port: port.count == 0 ? nil : string(port), purpose: purpose.count == 0 ? nil : string(purpose))
        }
        return ConsentHeader(
            previousLeafHash: previousLeafHash, recordedAt: recordedAt, sender: string(sender), scope: scope, subjectKey: subjectKey,
            action: action, method: method, templateHash: templateHash, occurredAt: occurredAt, bodyHash: bodyHash,
            idempotencyKeyHash: idempotencyKeyHash, keyPredecessor: keyPredecessor)
    }

    /// ``ConsentHeader/stateKey(hasher:)`` hashed straight from `bytes`, the encoding these fields were
    /// read from: the state key's scope bytes are the header's own short strings (docs/FORMAT.md §5.5).
    public func stateKey(in bytes: [UInt8], hasher: some HashFunction) -> Hash {
        bytes.withUnsafeBytes { stateKey(header: $0, hasher: hasher) }
    }

    /// ``stateKey(in:hasher:)`` from the header's bytes in memory.
    public func stateKey(header raw: UnsafeRawBufferPointer, hasher: some HashFunction) -> Hash {
        hasher.begin()
        StateMap.stateKeyPrefix.withUnsafeBytes { hasher.update($0) }
        subjectKey.withUnsafeBytes { hasher.update($0) }
        withUnsafeBytes(of: scopeTag) { hasher.update($0) }
        // A short string with its length byte, which precedes its span.
        func short(_ span: Span) { hasher.update(UnsafeRawBufferPointer(rebasing: raw[Int(span.offset) - 1..<span.range.upperBound])) }
        if scopeTag != 0 { short(sender) }
        if scopeTag == 2 {
            short(port)
            short(purpose)
        }
        return hasher.finish()
    }

    /// The sender id's UTF-8 bytes within `bytes`, the encoding these fields were read from.
    public func senderBytes(in bytes: [UInt8]) -> ArraySlice<UInt8> { bytes[sender.range] }
}

extension ByteReader {
    /// A short string's span, its UTF-8 validated, without building the string.
    mutating func shortStringSpan() throws -> ConsentFields.Span {
        let range = try utf8Range(length: Int(try u8()))
        return ConsentFields.Span(offset: UInt16(range.lowerBound), count: UInt8(range.count))
    }
}
