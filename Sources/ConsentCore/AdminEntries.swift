// Administrative entries of the log's entry encoding, version 1 (issue 4; docs/ADMIN-ENTRIES-DRAFT.md):
// legal holds (kind 0x03) and purge records (kind 0x04). Like commit entries they are headers only,
// with no body. Each type encodes and decodes the fields after the common prefix (version, kind,
// previous leaf hash, recordedAt), which ``EntryHeader`` writes and reads for every kind.

/// What a hold covers.
public enum HoldTarget: Equatable, Hashable, Sendable {
    /// Every body of one subject (the derived subject key), whichever sender recorded it.
    case subject(Hash)
    /// Every body recorded by one sender (a sender id, as ``EventValidator/isValidSenderID(_:)``).
    case sender(String)
    /// The bodies of one subject recorded by one sender.
    case subjectSender(Hash, String)

    /// The subject key, for a subject or (subject, sender) hold.
    public var subjectKey: Hash? {
        switch self {
        case .subject(let key), .subjectSender(let key, _): return key
        case .sender: return nil
        }
    }

    /// The sender id, for a sender or (subject, sender) hold.
    public var sender: String? {
        switch self {
        case .sender(let sender), .subjectSender(_, let sender): return sender
        case .subject: return nil
        }
    }

    /// The target kind byte: 1 subject, 2 sender, 3 subject and sender.
    var tag: UInt8 {
        switch self {
        case .subject: return 1
        case .sender: return 2
        case .subjectSender: return 3
        }
    }
}

/// Placing or releasing a legal hold.
public enum HoldAction: Equatable, Sendable {
    /// A new hold on `target`.
    case place(target: HoldTarget, reason: String, reference: String)
    /// The end of the hold placed by the hold entry at index `placedAt`.
    case release(placedAt: Int64, reason: String, reference: String)

    /// Why the hold was placed or released (1–1,000 UTF-8 bytes, no control characters, no personal data).
    public var reason: String {
        switch self {
        case .place(_, let reason, _), .release(_, let reason, _): return reason
        }
    }

    /// The external reference, e.g. a 12321 complaint number (1–64 bytes of printable ASCII, 0x21–0x7e).
    public var reference: String {
        switch self {
        case .place(_, _, let reference), .release(_, _, let reference): return reference
        }
    }
}

/// Kind 0x03: a legal hold placed or released (e.g. a 12321 complaint under investigation). A held
/// body is never purged, whatever its age.
///
/// A hold entry has no body: it is kept forever and served with the headers, so its `reason` and
/// `reference` must not contain personal data (no phone number, no name). The subject is named by its
/// derived subject key only.
///
/// Fields after the common prefix: `u8` action (1 place, 2 release); for a place, `u8` target kind
/// (1 subject, 2 sender, 3 subject and sender), the 32-byte subject key (kinds 1 and 3) and the sender
/// as a short string (kinds 2 and 3); for a release, `placedAt` as `i64` (≥ 0); then, for both, the
/// reason as a long string (`u16` length, 1–1,000 bytes of UTF-8 without C0 controls or DEL) and the
/// reference as a short string (1–64 bytes of 0x21–0x7e).
public struct HoldHeader: Equatable, Sendable {
    /// Leaf hash of the previous entry: the hash chain.
    public var previousLeafHash: Hash
    /// When the log sequenced the entry.
    public var recordedAt: Milliseconds
    public var action: HoldAction

    /// The entry kind byte of a hold entry.
    public static let kindByte: UInt8 = 3
    /// The longest reason, in UTF-8 bytes.
    public static let maximumReasonBytes = 1_000
    /// The longest reference, in bytes.
    public static let maximumReferenceBytes = 64

    public init(previousLeafHash: Hash, recordedAt: Milliseconds, action: HoldAction) {
        self.previousLeafHash = previousLeafHash
        self.recordedAt = recordedAt
        self.action = action
    }

    /// Whether `reason` is 1–1,000 UTF-8 bytes with no C0 control character (U+0000–U+001F) and no DEL
    /// (U+007F). Other characters, including non-ASCII text and C1 controls, are allowed.
    public static func isValidReason(_ reason: String) -> Bool {
        AdminText.reasonProblem(Array(reason.utf8), field: "reason") == nil
    }

    /// Whether `reference` is 1–64 bytes, each printable ASCII other than space (0x21–0x7e).
    public static func isValidReference(_ reference: String) -> Bool {
        AdminText.referenceProblem(Array(reference.utf8)) == nil
    }

    /// Throws the ``EntryError`` the decoder would throw for these fields: an invalid sender id, a
    /// negative `placedAt`, or an invalid reason or reference.
    public func validate() throws {
        switch action {
        case .place(let target, _, _):
            if let sender = target.sender, !EventValidator.isValidSenderID(sender) {
                throw EntryError("hold: invalid sender id in the target (1-64 of A-Z a-z 0-9 . _ -)")
            }
        case .release(let placedAt, _, _):
            guard placedAt >= 0 else { throw EntryError("hold release: negative placedAt \(placedAt)") }
        }
        if let problem = AdminText.reasonProblem(Array(action.reason.utf8), field: "reason") {
            throw EntryError("hold: \(problem)")
        }
        if let problem = AdminText.referenceProblem(Array(action.reference.utf8)) { throw EntryError("hold: \(problem)") }
    }

    /// Writes the fields after the common prefix. The fields must be valid (``validate()``): an entry the
    /// decoder would refuse must never reach an append-only log, so this traps instead.
    func encodeFields(into w: inout ByteWriter) {
        do { try validate() } catch { preconditionFailure("refusing to encode an invalid hold entry: \(error)") }
        switch action {
        case .place(let target, let reason, let reference):
            w.u8(1)
            w.u8(target.tag)
            if let key = target.subjectKey { w.hash(key) }
            if let sender = target.sender { w.shortString(sender) }
            w.longString(reason)
            w.shortString(reference)
        case .release(let placedAt, let reason, let reference):
            w.u8(2)
            w.i64(placedAt)
            w.longString(reason)
            w.shortString(reference)
        }
    }

    /// Reads the fields after the common prefix, to the end of `r`, rejecting truncation, trailing bytes
    /// and anything ``encodeFields(into:)`` would not write.
    static func decodeFields(previousLeafHash: Hash, recordedAt: Milliseconds, from r: inout ByteReader) throws -> HoldHeader {
        let action: HoldAction
        switch try r.u8() {
        case 1:
            let target: HoldTarget
            switch try r.u8() {
            case 1: target = .subject(try r.hash())
            case 2: target = .sender(try r.holdSender())
            case 3:
                let key = try r.hash()
                target = .subjectSender(key, try r.holdSender())
            case let other: throw EntryError("hold: unknown target kind \(other) at byte \(r.offset - 1)")
            }
            let reason = try r.holdReason()
            action = .place(target: target, reason: reason, reference: try r.holdReference())
        case 2:
            let at = r.offset
            let placedAt = try r.i64()
            guard placedAt >= 0 else { throw EntryError("hold release: negative placedAt \(placedAt) at byte \(at)") }
            let reason = try r.holdReason()
            action = .release(placedAt: placedAt, reason: reason, reference: try r.holdReference())
        case let other: throw EntryError("hold: unknown action \(other) at byte \(r.offset - 1) (1 place, 2 release)")
        }
        try r.finish()
        return HoldHeader(previousLeafHash: previousLeafHash, recordedAt: recordedAt, action: action)
    }
}

/// Kind 0x04: bodies purged by compaction, and the retention policy that allowed it.
///
/// Fields after the common prefix: the policy's `minimum` as `u16` months and `u32` days, `purgeAfter`
/// the same, then `u32` count (1–10,000), then the purged entries' indexes, strictly increasing: the
/// first as an unsigned LEB128 varint, each next one as the varint of its (positive) difference from
/// the previous one. Varints are canonical (no redundant trailing zero group) and at most `Int64.max`.
public struct PurgeHeader: Equatable, Sendable {
    /// Leaf hash of the previous entry: the hash chain.
    public var previousLeafHash: Hash
    /// When the log sequenced the entry: the purge's time, from which the policy was applied.
    public var recordedAt: Milliseconds
    /// The policy's retention minimum (at least ``RetentionPeriod/floor``).
    public var minimum: RetentionPeriod
    /// The policy's purge-after period (at least `minimum`).
    public var purgeAfter: RetentionPeriod
    /// Indexes of the entries whose bodies were purged, strictly increasing, 1...maximumCount of them.
    public var purged: [Int64]

    /// The most indexes one purge entry lists; a larger purge writes several entries.
    public static let maximumCount = 10_000
    /// The entry kind byte of a purge entry.
    public static let kindByte: UInt8 = 4

    public init(
        previousLeafHash: Hash, recordedAt: Milliseconds, minimum: RetentionPeriod, purgeAfter: RetentionPeriod, purged: [Int64]
    ) {
        self.previousLeafHash = previousLeafHash
        self.recordedAt = recordedAt
        self.minimum = minimum
        self.purgeAfter = purgeAfter
        self.purged = purged
    }

    /// A purge under `policy`.
    public init(previousLeafHash: Hash, recordedAt: Milliseconds, policy: RetentionPolicy, purged: [Int64]) {
        self.init(
            previousLeafHash: previousLeafHash, recordedAt: recordedAt, minimum: policy.minimum, purgeAfter: policy.purgeAfter,
            purged: purged)
    }

    /// The policy the purge was made under (nil if the periods do not form a valid policy).
    public var policy: RetentionPolicy? { try? RetentionPolicy(minimum: minimum, purgeAfter: purgeAfter) }

    /// Throws the ``EntryError`` the decoder would throw for these fields: a policy that is not a valid
    /// ``RetentionPolicy``, no indexes or more than ``maximumCount``, or indexes that are negative or not
    /// strictly increasing.
    public func validate() throws {
        try Self.checkPolicy(minimum: minimum, purgeAfter: purgeAfter)
        guard (1...Self.maximumCount).contains(purged.count) else {
            throw EntryError("purge: \(purged.count) indexes; a purge entry lists 1-\(Self.maximumCount)")
        }
        guard purged[0] >= 0 else { throw EntryError("purge: negative index \(purged[0])") }
        for i in 1..<purged.count where purged[i] <= purged[i - 1] {
            throw EntryError("purge: indexes not strictly increasing at item \(i) (\(purged[i - 1]), then \(purged[i]))")
        }
    }

    /// Writes the fields after the common prefix. The fields must be valid (``validate()``): an entry the
    /// decoder would refuse must never reach an append-only log, so this traps instead.
    func encodeFields(into w: inout ByteWriter) {
        do { try validate() } catch { preconditionFailure("refusing to encode an invalid purge entry: \(error)") }
        w.u16(UInt16(minimum.months))
        w.u32(UInt32(minimum.days))
        w.u16(UInt16(purgeAfter.months))
        w.u32(UInt32(purgeAfter.days))
        w.u32(UInt32(purged.count))
        var previous: Int64 = 0
        for (i, index) in purged.enumerated() {
            w.canonicalUleb128(UInt64(i == 0 ? index : index - previous))
            previous = index
        }
    }

    /// Reads the fields after the common prefix, to the end of `r`, rejecting truncation, trailing bytes
    /// and anything ``encodeFields(into:)`` would not write.
    static func decodeFields(previousLeafHash: Hash, recordedAt: Milliseconds, from r: inout ByteReader) throws -> PurgeHeader {
        let minimum = try r.retentionPeriod(field: "minimum")
        let purgeAfter = try r.retentionPeriod(field: "purgeAfter")
        try checkPolicy(minimum: minimum, purgeAfter: purgeAfter)
        let countAt = r.offset
        let count = try r.u32()
        guard count >= 1, count <= UInt32(maximumCount) else {
            throw EntryError("purge: count \(count) at byte \(countAt); a purge entry lists 1-\(maximumCount) indexes")
        }
        var purged: [Int64] = []
        // Each varint takes at least one byte, so a count beyond the remaining bytes is truncation anyway.
        purged.reserveCapacity(min(Int(count), r.count - r.offset))
        for i in 0..<Int(count) {
            let at = r.offset
            let value = Int64(try r.canonicalUleb128())  // at most Int64.max
            if i == 0 {
                purged.append(value)
            } else {
                guard value > 0 else { throw EntryError("purge: zero delta at item \(i) (byte \(at)): indexes must strictly increase") }
                let (next, overflow) = purged[i - 1].addingReportingOverflow(value)
                guard !overflow else { throw EntryError("purge: index overflow at item \(i) (byte \(at)): beyond Int64.max") }
                purged.append(next)
            }
        }
        try r.finish()
        return PurgeHeader(
            previousLeafHash: previousLeafHash, recordedAt: recordedAt, minimum: minimum, purgeAfter: purgeAfter, purged: purged)
    }

    private static func checkPolicy(minimum: RetentionPeriod, purgeAfter: RetentionPeriod) throws {
        do {
            _ = try RetentionPolicy(minimum: minimum, purgeAfter: purgeAfter)
        } catch {
            throw EntryError("purge: invalid retention policy: \(error.message)")
        }
    }
}

/// The text rules of hold entries, shared by ``HoldHeader/validate()`` and the decoder.
private enum AdminText {
    /// Why `utf8` is not a valid reason, or nil. Expects valid UTF-8 (a `String`'s or already checked).
    static func reasonProblem(_ utf8: [UInt8], field: String) -> String? {
        guard !utf8.isEmpty else { return "empty \(field)" }
        guard utf8.count <= HoldHeader.maximumReasonBytes else {
            return "\(field) of \(utf8.count) bytes, over \(HoldHeader.maximumReasonBytes)"
        }
        // In valid UTF-8, bytes below 0x80 only ever encode ASCII characters themselves.
        if let i = utf8.firstIndex(where: { $0 < 0x20 || $0 == 0x7f }) {
            return "\(field) contains control character 0x\(Hex.encode([utf8[i]])) at offset \(i)"
        }
        return nil
    }

    /// Why `bytes` is not a valid reference, or nil.
    static func referenceProblem(_ bytes: [UInt8]) -> String? {
        guard !bytes.isEmpty else { return "empty reference" }
        guard bytes.count <= HoldHeader.maximumReferenceBytes else {
            return "reference of \(bytes.count) bytes, over \(HoldHeader.maximumReferenceBytes)"
        }
        if let i = bytes.firstIndex(where: { $0 < 0x21 || $0 > 0x7e }) {
            return "reference byte 0x\(Hex.encode([bytes[i]])) at offset \(i) is not printable ASCII (0x21-0x7e)"
        }
        return nil
    }
}

extension ByteWriter {
    /// An unsigned LEB128 varint: 7 bits per byte, least significant group first, the high bit set on
    /// every byte but the last; the shortest form (zero is the single byte 0x00).
    fileprivate mutating func canonicalUleb128(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            u8(UInt8(v & 0x7f) | 0x80)
            v >>= 7
        }
        u8(UInt8(v))
    }
}

extension ByteReader {
    /// A canonical unsigned LEB128 varint of at most `Int64.max` (at most 9 bytes): rejects a last byte
    /// of zero after other bytes (an overlong form) and a tenth byte (a value of 2^63 or more).
    fileprivate mutating func canonicalUleb128() throws -> UInt64 {
        let start = offset
        var value: UInt64 = 0
        for group in 0..<9 {
            let byte = try u8()
            value |= UInt64(byte & 0x7f) << UInt64(7 * group)
            if byte & 0x80 == 0 {
                guard byte != 0 || group == 0 else { throw EntryError("non-canonical (overlong) varint at byte \(start)") }
                return value
            }
        }
        throw EntryError("varint at byte \(start) is over Int64.max")
    }

    fileprivate mutating func retentionPeriod(field: String) throws -> RetentionPeriod {
        let at = offset
        let months = Int(try u16())
        let days = Int(try u32())
        guard months <= RetentionPeriod.maximumMonths, days <= RetentionPeriod.maximumDays else {
            throw EntryError(
                "purge: \(field) of \(months) months and \(days) days at byte \(at) is out of range "
                    + "(at most \(RetentionPeriod.maximumMonths) months and \(RetentionPeriod.maximumDays) days)")
        }
        return RetentionPeriod(months: months, days: days)
    }

    fileprivate mutating func holdSender() throws -> String {
        let at = offset
        let sender = try shortString()
        guard EventValidator.isValidSenderID(sender) else {
            throw EntryError("hold: invalid sender id at byte \(at) (1-64 of A-Z a-z 0-9 . _ -)")
        }
        return sender
    }

    fileprivate mutating func holdReason() throws -> String {
        let at = offset
        let length = Int(try u16())
        guard (1...HoldHeader.maximumReasonBytes).contains(length) else {
            throw EntryError("hold: reason length \(length) at byte \(at); a reason is 1-\(HoldHeader.maximumReasonBytes) bytes")
        }
        let reason = try string(length: length)
        if let problem = AdminText.reasonProblem(Array(reason.utf8), field: "reason") {
            throw EntryError("hold: \(problem) (the reason starts at byte \(at + 2))")
        }
        return reason
    }

    fileprivate mutating func holdReference() throws -> String {
        let at = offset
        let length = Int(try u8())
        let bytes = Array(try take(length))
        if let problem = AdminText.referenceProblem(bytes) {
            throw EntryError("hold: \(problem) (the reference starts at byte \(at + 1))")
        }
        return String(decoding: bytes, as: UTF8.self)  // printable ASCII, checked above
    }
}
