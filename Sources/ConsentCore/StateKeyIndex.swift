/// The latest event of every state key, in a hash table keyed by the full 32-byte state key: what
/// the send gate reads to answer "may I send now?" for millions of numbers. A lookup costs one or
/// two cache misses, where a walk down the state map costs one per level (about 20 at 10^6 keys).
///
/// It is a cache of the state map's leaves, not an authenticated structure: answers with proofs
/// come from the map. State keys are hash outputs, so their first word spreads them evenly; the
/// table probes linearly and doubles when 70% full. Keys are compared in full: no answer rests on
/// a fingerprint. Concurrent reads are safe; writes are not.
public struct StateKeyIndex: Sendable {
    struct Slot: Sendable {
        var key: Hash
        /// 0 for an empty slot; otherwise `index << 2 | action.rawValue` (actions are 1 and 2).
        var packed: UInt64
    }

    private var slots: [Slot]
    private var mask: Int
    /// The number of keys held.
    public private(set) var count = 0

    /// An empty index with room for `capacity` keys before it grows.
    public init(capacity: Int = 1024) {
        var size = 16
        while size * 7 / 10 < capacity { size *= 2 }
        slots = Array(repeating: Slot(key: .zero, packed: 0), count: size)
        mask = size - 1
    }

    /// Records `index` and `action` as the latest event of `key`, replacing what it held.
    public mutating func set(_ key: Hash, index: Int64, action: ConsentAction) {
        precondition(index >= 0 && index < 1 << 61, "entry index out of range")
        if (count + 1) * 10 > slots.count * 7 { grow() }
        let packed = UInt64(index) << 2 | UInt64(action.rawValue)
        var i = Int(truncatingIfNeeded: key.words.0) & mask
        while slots[i].packed != 0 {
            if slots[i].key == key {
                slots[i].packed = packed
                return
            }
            i = (i + 1) & mask
        }
        slots[i] = Slot(key: key, packed: packed)
        count += 1
    }

    /// The latest event of `key`, or nil when the key has no event.
    @inlinable public func lookup(_ key: Hash) -> (index: Int64, action: ConsentAction)? {
        lookupPacked(key).flatMap(Self.unpack)
    }

    /// The latest event of each of `keys`, packed (``unpack(_:)``; 0 for a key without one), in
    /// one tight loop so that the processor overlaps the table's cache misses.
    public func lookupPacked(_ keys: UnsafeBufferPointer<Hash>, into packed: UnsafeMutableBufferPointer<UInt64>) {
        precondition(packed.count >= keys.count)
        slots.withUnsafeBufferPointer { slots in
            for (n, key) in keys.enumerated() {
                var i = Int(truncatingIfNeeded: key.words.0) & mask
                var found: UInt64 = 0
                while slots[i].packed != 0 {
                    if slots[i].key == key {
                        found = slots[i].packed
                        break
                    }
                    i = (i + 1) & mask
                }
                packed[n] = found
            }
        }
    }

    /// A packed value as index and action; nil for 0 (no event).
    @inlinable public static func unpack(_ packed: UInt64) -> (index: Int64, action: ConsentAction)? {
        packed == 0 ? nil : (Int64(packed >> 2), ConsentAction(rawValue: UInt8(packed & 3)) ?? .revoke)
    }

    @usableFromInline func lookupPacked(_ key: Hash) -> UInt64? {
        slots.withUnsafeBufferPointer { slots in
            var i = Int(truncatingIfNeeded: key.words.0) & mask
            while slots[i].packed != 0 {
                if slots[i].key == key { return slots[i].packed }
                i = (i + 1) & mask
            }
            return nil
        }
    }

    private mutating func grow() {
        let old = slots
        slots = Array(repeating: Slot(key: .zero, packed: 0), count: old.count * 2)
        mask = slots.count - 1
        count = 0
        for slot in old where slot.packed != 0 {
            var i = Int(truncatingIfNeeded: slot.key.words.0) & mask
            while slots[i].packed != 0 { i = (i + 1) & mask }
            slots[i] = slot
            count += 1
        }
    }
}
