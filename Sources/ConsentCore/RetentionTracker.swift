/// Follows a log in order and keeps what retention needs to know about every consent event: its
/// action and time, when the next event of its state key superseded it, whether its body is still
/// stored, and which legal holds are in force. Compaction asks it which bodies are due; an audit asks
/// it whether each purge entry was lawful. Pure: fed with decoded headers, no I/O.
public struct RetentionTracker: Sendable {
    /// What retention needs about one consent event.
    public struct Event: Sendable, Equatable {
        public var action: ConsentAction
        public var recordedAt: Milliseconds
        public var subjectKey: Hash
        public var sender: String
        /// When the next event of the same state key was recorded (nil while this one is current).
        public var supersededAt: Milliseconds?
        /// The body is in the store now (replaying today's store: absent once purged).
        public var stored: Bool
        /// The purge entry that purged the body, if one did.
        public var purgedBy: Int64?

        public init(
            action: ConsentAction, recordedAt: Milliseconds, subjectKey: Hash, sender: String, supersededAt: Milliseconds?,
            stored: Bool, purgedBy: Int64?
        ) {
            self.action = action
            self.recordedAt = recordedAt
            self.subjectKey = subjectKey
            self.sender = sender
            self.supersededAt = supersededAt
            self.stored = stored
            self.purgedBy = purgedBy
        }
    }

    /// Consent events by index, in index order.
    public var events: Events { Events(records: records, senders: senders.names, count: eventCount) }

    /// One slot per entry index: a consent event's facts, or `action == 0` for any other entry. An
    /// array instead of a dictionary, and senders as numbers instead of strings, because the audit's
    /// replay records one event per entry and this was most of its sequential time.
    struct Record: Sendable, Equatable {
        var subjectKey: Hash
        var recordedAt: Milliseconds
        /// `Int64.min`: not superseded.
        var supersededAt: Milliseconds
        /// -1: not purged.
        var purgedBy: Int64
        var sender: UInt32
        /// `ConsentAction.rawValue`; 0 for an index that is not a consent event.
        var action: UInt8
        var stored: Bool

        static let none = Record(
            subjectKey: .zero, recordedAt: 0, supersededAt: .min, purgedBy: -1, sender: 0, action: 0, stored: false)
    }

    private var records: [Record] = []
    private var eventCount = 0
    /// Interned senders: `Record.sender` indexes `senders.names`.
    private var senders = SenderTable()
    private var latestOfKey = HashTable<Int64>()
    /// Holds in force, by the index of the entry that placed them.
    public private(set) var holds: [Int64: HoldTarget] = [:]
    private var heldSubjects: [Hash: Int] = [:]
    private var heldSenders: [String: Int] = [:]
    private var heldPairs: [HoldPair: Int] = [:]
    /// Holds placed and later released, by placing index.
    private var released: Set<Int64> = []

    private struct HoldPair: Hashable {
        var subject: Hash
        var sender: String
    }

    /// The consent events a tracker knows, by entry index (a view: changes to the tracker later do
    /// not show in it).
    public struct Events: Sequence, Sendable, Equatable {
        let records: [Record]
        let senders: [String]
        /// The number of consent events.
        public let count: Int

        /// The consent event at `index`, or nil when `index` is not one.
        public subscript(index: Int64) -> Event? {
            guard index >= 0, index < records.count, records[Int(index)].action != 0 else { return nil }
            return event(records[Int(index)])
        }

        func event(_ r: Record) -> Event {
            Event(
                action: ConsentAction(rawValue: r.action) ?? .revoke, recordedAt: r.recordedAt, subjectKey: r.subjectKey,
                sender: senders[Int(r.sender)], supersededAt: r.supersededAt == .min ? nil : r.supersededAt, stored: r.stored,
                purgedBy: r.purgedBy < 0 ? nil : r.purgedBy)
        }

        /// (index, event) pairs in index order.
        public func makeIterator() -> some IteratorProtocol<(index: Int64, event: Event)> {
            records.indices.lazy.filter { records[$0].action != 0 }.map { (index: Int64($0), event: event(records[$0])) }
                .makeIterator()
        }

        public static func == (lhs: Events, rhs: Events) -> Bool { lhs.count == rhs.count && lhs.elementsEqual(rhs, by: ==) }
    }

    public init() {}

    /// A tracker restored from what an earlier replay saved (an auditor's incremental state):
    /// `events`, `holds` in force and `releasedHolds` as those properties and ``releasedHolds`` were.
    /// It continues with ``consent(_:_:superseding:stored:)`` (the form that does not track keys).
    public init(events: some Sequence<(index: Int64, event: Event)>, holds: [Int64: HoldTarget], releasedHolds: Set<Int64>) {
        for (index, event) in events { store(index, event) }
        self.released = releasedHolds
        for (index, target) in holds {
            self.holds[index] = target
            count(target, by: 1)
        }
    }

    /// The holds placed and later released, by placing index.
    public var releasedHolds: Set<Int64> { released }

    /// Makes room for `count` more entries (a replay that knows how many entries follow).
    public mutating func reserveCapacity(events count: Int) {
        records.reserveCapacity(records.count + count)
    }

    /// Notes whether `index`'s body is in the store now (an auditor re-reading a body a later purge named).
    public mutating func setStored(_ index: Int64, _ stored: Bool) {
        if isEvent(index) { records[Int(index)].stored = stored }
    }

    private func isEvent(_ index: Int64) -> Bool { index >= 0 && index < records.count && records[Int(index)].action != 0 }

    private mutating func store(_ index: Int64, _ event: Event) {
        precondition(index >= records.count, "consent events are recorded in index order")
        if index > records.count { records.append(contentsOf: repeatElement(.none, count: Int(index) - records.count)) }
        records.append(
            Record(
                subjectKey: event.subjectKey, recordedAt: event.recordedAt, supersededAt: event.supersededAt ?? .min,
                purgedBy: event.purgedBy ?? -1, sender: senders.id(event.sender), action: event.action.rawValue, stored: event.stored))
        eventCount += 1
    }

    private mutating func record(
        _ index: Int64, subjectKey: Hash, recordedAt: Milliseconds, action: ConsentAction, sender: UInt32, stored: Bool
    ) {
        precondition(index >= records.count, "consent events are recorded in index order")
        if index > records.count { records.append(contentsOf: repeatElement(.none, count: Int(index) - records.count)) }
        records.append(
            Record(
                subjectKey: subjectKey, recordedAt: recordedAt, supersededAt: .min, purgedBy: -1, sender: sender,
                action: action.rawValue, stored: stored))
        eventCount += 1
    }

    /// Records consent event `index` (with its state key) and supersedes the key's previous event.
    public mutating func consent(_ index: Int64, _ header: ConsentHeader, stateKey: Hash, stored: Bool) {
        let previous = latestOfKey.updateValue(index, forKey: stateKey)
        consent(index, header, superseding: previous, stored: stored)
    }

    /// Records consent event `index`, which supersedes consent event `previous` (the latest earlier
    /// event of its state key, which the caller tracks: an audit's replay has it already), or none.
    /// A tracker fed this way does not track keys itself: use one form of `consent` per tracker.
    public mutating func consent(_ index: Int64, _ header: ConsentHeader, superseding previous: Int64?, stored: Bool) {
        if let previous, isEvent(previous) { records[Int(previous)].supersededAt = header.recordedAt }
        record(
            index, subjectKey: header.subjectKey, recordedAt: header.recordedAt, action: header.action, sender: senders.id(header.sender),
            stored: stored)
    }

    /// ``consent(_:_:superseding:stored:)`` for a header read in place (``ConsentFields``): the
    /// sender is given and looked up by its UTF-8 bytes, no string is built.
    public mutating func consent(
        _ index: Int64, subjectKey: Hash, recordedAt: Milliseconds, action: ConsentAction, senderUTF8: UnsafeRawBufferPointer,
        superseding previous: Int64?, stored: Bool
    ) {
        if let previous, isEvent(previous) { records[Int(previous)].supersededAt = recordedAt }
        record(index, subjectKey: subjectKey, recordedAt: recordedAt, action: action, sender: senders.id(utf8: senderUTF8), stored: stored)
    }

    /// Records hold entry `index`; returns what is wrong with it (a release of an entry that is not a
    /// hold in force), or nil.
    public mutating func hold(_ index: Int64, _ header: HoldHeader) -> String? {
        switch header.action {
        case .place(let target, _, _):
            holds[index] = target
            count(target, by: 1)
        case .release(let placedAt, _, _):
            guard let target = holds.removeValue(forKey: placedAt) else {
                return released.contains(placedAt)
                    ? "releases the hold of entry \(placedAt), which was already released"
                    : "releases entry \(placedAt), which is not a hold placed earlier"
            }
            released.insert(placedAt)
            count(target, by: -1)
        }
        return nil
    }

    private mutating func count(_ target: HoldTarget, by delta: Int) {
        switch target {
        case .subject(let s): heldSubjects[s, default: 0] += delta
        case .sender(let s): heldSenders[s, default: 0] += delta
        case .subjectSender(let subject, let sender): heldPairs[HoldPair(subject: subject, sender: sender), default: 0] += delta
        }
    }

    /// Whether a hold in force covers `event`'s body.
    public func isHeld(_ event: Event) -> Bool {
        heldSubjects[event.subjectKey, default: 0] > 0 || heldSenders[event.sender, default: 0] > 0
            || heldPairs[HoldPair(subject: event.subjectKey, sender: event.sender), default: 0] > 0
    }

    /// The earliest time `event`'s body may be purged under `period` (nil: kept, the grant is current).
    public func retainUntil(_ event: Event, period: RetentionPeriod) -> Milliseconds? {
        Retention.retainUntil(action: event.action, recordedAt: event.recordedAt, supersededAt: event.supersededAt, period: period)
    }

    /// Records purge entry `index`, checking that it was lawful: every listed entry is a consent
    /// event whose body was not purged before, was past its `retainUntil` under the purge's minimum
    /// at the purge's time, and was not held. Returns the first problem, or nil.
    public mutating func purge(_ index: Int64, _ header: PurgeHeader) -> String? {
        for purged in header.purged {
            guard isEvent(purged) else { return "purges entry \(purged), which is not an earlier consent event" }
            let event = events.event(records[Int(purged)])
            if let earlier = event.purgedBy { return "purges entry \(purged), whose body entry \(earlier) purged already" }
            guard let until = retainUntil(event, period: header.minimum) else {
                return "purges entry \(purged), a grant that is still the current state of its key"
            }
            guard until <= header.recordedAt else {
                return "purges entry \(purged) before its retention ends (\(RFC3339.format(until)))"
            }
            guard !isHeld(event) else { return "purges entry \(purged), whose body is under a legal hold" }
            records[Int(purged)].purgedBy = index
        }
        return nil
    }

    /// Notes that `index`'s body was purged by entry `purge`, which the caller appended.
    public mutating func markPurged(_ index: Int64, by purge: Int64) {
        guard isEvent(index) else { return }
        records[Int(index)].stored = false
        records[Int(index)].purgedBy = purge
    }

    /// Why a body is kept or purged at a given time.
    public enum Verdict: String, Sendable, Codable, CaseIterable {
        /// Past its purge time and not held.
        case due
        /// A grant that is still the current state of its key.
        case current
        /// Its retention (or purge-after period) has not ended.
        case retained
        /// A legal hold covers it.
        case held
        /// No body (purged already, or missing).
        case absent
    }

    /// The verdict for `event`'s body at `now` under `policy`: due once `now` reaches the end of the
    /// `purgeAfter` period (never before the `minimum`, which `purgeAfter` is at least).
    public func verdict(_ event: Event, at now: Milliseconds, policy: RetentionPolicy) -> Verdict {
        guard event.stored, event.purgedBy == nil else { return .absent }
        guard let until = retainUntil(event, period: policy.purgeAfter) else { return .current }
        guard until <= now else { return .retained }
        return isHeld(event) ? .held : .due
    }
}

/// Sender ids interned as numbers 0, 1, 2, … in order of first sight, looked up by their UTF-8
/// bytes: open addressing over the numbers, slots chosen by a keyed hash (so names chosen to pile
/// up in one probe sequence cannot be chosen), bytes compared in full.
struct SenderTable: Sendable {
    private(set) var names: [String] = []
    private var utf8: [[UInt8]] = []
    /// Sender numbers; `empty` for a free slot. At most half full.
    private var slots = [UInt32](repeating: SenderTable.empty, count: 16)
    private static let empty = UInt32.max

    /// The number of `name`, interned if new.
    mutating func id(_ name: String) -> UInt32 {
        var name = name
        return name.withUTF8 { id(utf8: UnsafeRawBufferPointer($0)) }
    }

    /// The number of the sender whose UTF-8 is `bytes`, interned if new.
    mutating func id(utf8 bytes: UnsafeRawBufferPointer) -> UInt32 {
        let mask = slots.count - 1
        var i = Self.slot(bytes, mask)
        while slots[i] != Self.empty {
            let id = slots[i]
            if utf8[Int(id)].withUnsafeBytes({ $0.elementsEqual(bytes) }) { return id }
            i = (i + 1) & mask
        }
        let id = UInt32(names.count)
        names.append(String(decoding: bytes, as: UTF8.self))
        utf8.append(Array(bytes))
        slots[i] = id
        if names.count * 2 > slots.count { rehash() }
        return id
    }

    /// A multiply-xorshift over the name's 8-byte words, keyed with per-process random values (those
    /// of ``Hash/_rawHashValue(seed:)``): SipHash through `Hasher` was a tenth of the audit's
    /// sequential checks. A collision costs a probe, never a wrong answer.
    private static func slot(_ bytes: UnsafeRawBufferPointer, _ mask: Int) -> Int {
        let k = HashTableKeys.shared
        var h = k.8 ^ UInt64(bytes.count)
        var offset = 0
        while offset < bytes.count {
            var word: UInt64 = 0
            withUnsafeMutableBytes(of: &word) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[offset..<min(offset + 8, bytes.count)])) }
            h = (h ^ word) &* (k.0 | 1)
            h ^= h >> 29
            offset += 8
        }
        h &*= 0xff51_afd7_ed55_8ccd
        h ^= h >> 33
        return Int(truncatingIfNeeded: h) & mask
    }

    private mutating func rehash() {
        slots = [UInt32](repeating: Self.empty, count: slots.count * 2)
        let mask = slots.count - 1
        for (id, name) in utf8.enumerated() {
            var i = name.withUnsafeBytes { Self.slot($0, mask) }
            while slots[i] != Self.empty { i = (i + 1) & mask }
            slots[i] = UInt32(id)
        }
    }
}
