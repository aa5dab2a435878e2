/// A hash table keyed by full 32-byte ``Hash`` values: open addressing with linear probing in one
/// flat array, doubling when 70% full, no deletion. It does what `Dictionary<Hash, Value>` does for
/// the audit's replay (one to three table operations per entry, on millions of keys) with one
/// probe sequence per operation and no per-operation hashing of a `Hasher`.
///
/// Slots are chosen by ``Hash/_rawHashValue(seed:)``, a keyed hash with per-process random
/// multipliers, so keys chosen to collide (a forged log's idempotency key hashes) cluster no more
/// than random ones. Keys are compared in full. Iteration order is unspecified.
public struct HashTable<Value>: Sequence {
    @usableFromInline struct Slot {
        @usableFromInline var key: Hash
        /// nil: an empty slot.
        @usableFromInline var value: Value?

        @inlinable init(key: Hash, value: Value?) {
            self.key = key
            self.value = value
        }
    }

    @usableFromInline var slots: [Slot]
    @usableFromInline var mask: Int
    @usableFromInline var storedCount = 0
    /// What ``updateValues(_:)`` read ahead; nothing reads it.
    @usableFromInline var probeReads: UInt64 = 0
    /// Called with the memory of each slot array of ``largeMemory`` bytes or more that the table
    /// allocates from now on, before it is first written: tables of millions of keys read at random
    /// cost fewer page faults and TLB misses in huge pages, which a hook can ask the system for (an
    /// audit does). Nil by default.
    public var prepareLargeMemory: (@Sendable (UnsafeMutableRawBufferPointer) -> Void)?
    /// The size from which slot arrays are handed to ``prepareLargeMemory``.
    public static var largeMemory: Int { 4 << 20 }
    /// The number of keys held.
    @inlinable public var count: Int { storedCount }

    /// An empty table with room for `capacity` keys before it grows.
    @inlinable public init(capacity: Int = 0) {
        let size = Self.slotCount(for: capacity)
        slots = Self.emptySlots(size, prepare: nil)
        mask = size - 1
    }

    /// `count` empty slots, their memory first handed to `prepare` when it is large enough.
    @usableFromInline static func emptySlots(_ count: Int, prepare: (@Sendable (UnsafeMutableRawBufferPointer) -> Void)?) -> [Slot] {
        [Slot](unsafeUninitializedCapacity: count) { buffer, initialized in
            if let prepare, count * MemoryLayout<Slot>.stride >= largeMemory { prepare(UnsafeMutableRawBufferPointer(buffer)) }
            buffer.initialize(repeating: Slot(key: .zero, value: nil))
            initialized = count
        }
    }

    /// Whether the table holds no key.
    @inlinable public var isEmpty: Bool { count == 0 }

    /// How many keys the table holds before it grows.
    @inlinable public var capacity: Int { slots.count * 7 / 10 }

    @inlinable static func slotCount(for capacity: Int) -> Int {
        var size = 16
        while size * 7 / 10 < capacity { size *= 2 }
        return size
    }

    @inlinable static func slotIndex(_ key: Hash, _ mask: Int) -> Int { key._rawHashValue(seed: 0) & mask }

    /// The value of `key`, or nil.
    @inlinable public subscript(key: Hash) -> Value? {
        let mask = self.mask
        return slots.withUnsafeBufferPointer { slots in
            var i = Self.slotIndex(key, mask)
            while let value = slots[i].value {
                if slots[i].key == key { return value }
                i = (i + 1) & mask
            }
            return nil
        }
    }

    /// Sets `key`'s value; returns the value it replaced, or nil for a new key.
    @inlinable @discardableResult public mutating func updateValue(_ value: Value, forKey key: Hash) -> Value? {
        if (count + 1) * 10 > slots.count * 7 { grow(to: slots.count * 2) }
        let mask = self.mask
        let old: Value? = slots.withUnsafeMutableBufferPointer { slots in
            Self.set(value, forKey: key, in: slots, from: Self.slotIndex(key, mask), mask: mask)
        }
        if old == nil { storedCount += 1 }
        return old
    }

    /// Sets `key`'s value in `slots` (not full), probing from slot `start`; returns the value it
    /// replaced, or nil for a new key (the caller counts it).
    @inlinable static func set(
        _ value: Value, forKey key: Hash, in slots: UnsafeMutableBufferPointer<Slot>, from start: Int, mask: Int
    ) -> Value? {
        var i = start
        while let old = slots[i].value {
            if slots[i].key == key {
                slots[i].value = value
                return old
            }
            i = (i + 1) & mask
        }
        slots[i] = Slot(key: key, value: value)
        return nil
    }

    /// Sets each pair's value in turn and returns the values they replaced (nil for a new key), as
    /// ``updateValue(_:forKey:)`` for each pair would, but faster on a table too large for the
    /// caches: every probe's first slot is computed and read first, in a loop where no read waits
    /// for another, so their cache misses overlap; the updates then find most slots in cache.
    @inlinable public mutating func updateValues(_ pairs: [(key: Hash, value: Value)]) -> [Value?] {
        reserveCapacity(count + pairs.count)
        let mask = self.mask
        let starts = pairs.map { Self.slotIndex($0.key, mask) }
        var added = 0
        var sum: UInt64 = 0
        let replaced = slots.withUnsafeMutableBufferPointer { slots in
            for start in starts { sum &+= slots[start].key.words.0 }
            return (0..<pairs.count).map { n -> Value? in
                let old = Self.set(pairs[n].value, forKey: pairs[n].key, in: slots, from: starts[n], mask: mask)
                if old == nil { added += 1 }
                return old
            }
        }
        storedCount += added
        // Kept, so that the first loop's reads are not optimised away.
        probeReads &+= sum
        return replaced
    }

    /// Makes room for `capacity` keys in all before the table grows again.
    @inlinable public mutating func reserveCapacity(_ capacity: Int) {
        let size = Self.slotCount(for: capacity)
        if size > slots.count { grow(to: size) }
    }

    @usableFromInline mutating func grow(to size: Int) {
        let old = slots
        slots = Self.emptySlots(size, prepare: prepareLargeMemory)
        let mask = size - 1
        self.mask = mask
        slots.withUnsafeMutableBufferPointer { slots in
            for slot in old where slot.value != nil {
                var i = Self.slotIndex(slot.key, mask)
                while slots[i].value != nil { i = (i + 1) & mask }
                slots[i] = slot
            }
        }
    }

    /// The keys held, in table order.
    public var keys: some Sequence<Hash> { slots.lazy.filter { $0.value != nil }.map(\.key) }

    /// The (key, value) pairs, in table order.
    public func makeIterator() -> some IteratorProtocol<(key: Hash, value: Value)> {
        slots.lazy.compactMap { slot in slot.value.map { (key: slot.key, value: $0) } }.makeIterator()
    }
}

extension HashTable: Sendable where Value: Sendable {}
extension HashTable.Slot: Sendable where Value: Sendable {}

extension HashTable: Equatable where Value: Equatable {
    /// The same keys with the same values (whatever the table order).
    public static func == (lhs: HashTable, rhs: HashTable) -> Bool {
        lhs.count == rhs.count && lhs.allSatisfy { rhs[$0.key] == $0.value }
    }
}

extension HashTable where Value == Void {
    /// Adds `key`; false when it was there already.
    @inlinable @discardableResult public mutating func insert(_ key: Hash) -> Bool { updateValue((), forKey: key) == nil }

    /// Whether `key` is held.
    @inlinable public func contains(_ key: Hash) -> Bool { self[key] != nil }

    /// Adds each key in turn; for each, false when it was there already (``updateValues(_:)``).
    @inlinable public mutating func insert(contentsOf keys: [Hash]) -> [Bool] {
        updateValues(keys.map { (key: $0, value: ()) }).map { $0 == nil }
    }
}

/// A set of hashes: ``HashTable`` without values.
public typealias HashSet = HashTable<Void>
