import ConsentCore
import ConsentCrypto
import ConsentTestSupport
import Synchronization
import Testing

@Suite struct HashTableTests {
    static func keys(_ n: Int) -> [Hash] {
        let hasher = Digest(.sha256)
        return (0..<n).map { hasher.hash([UInt8(truncatingIfNeeded: $0), UInt8(truncatingIfNeeded: $0 >> 8)]) }
    }

    /// Random inserts and overwrites, through several growths, agree with a dictionary, including
    /// what `updateValue` returns; keys that differ from a present one in the last byte are absent.
    @Test func agreesWithADictionary() {
        var rng = SplitMix(seed: 5)
        var table = HashTable<Int64>()
        var oracle: [Hash: Int64] = [:]
        let keys = Self.keys(6000)
        for step in 0..<25_000 {
            let key = keys[Int(rng.next() % UInt64(keys.count))]
            let value = Int64(rng.next() % (1 << 40))
            let replaced = table.updateValue(value, forKey: key)
            #expect(replaced == oracle.updateValue(value, forKey: key))
            if step % 1009 == 0 { #expect(table.count == oracle.count) }
        }
        #expect(table.count == oracle.count)
        for key in keys {
            #expect(table[key] == oracle[key])
            var bytes = key.bytes
            bytes[31] ^= 1
            if let other = Hash(bytes: bytes), oracle[other] == nil { #expect(table[other] == nil) }
        }
        #expect(Set(table.keys) == Set(oracle.keys))
        var visited: [Hash: Int64] = [:]
        for (key, value) in table {
            let earlier = visited.updateValue(value, forKey: key)
            #expect(earlier == nil)
        }
        #expect(visited == oracle)
    }

    /// Batch updates (with repeated keys inside one batch, and batches that make the table grow)
    /// return and leave exactly what one update after another does.
    @Test func batchUpdatesAgreeWithSingleUpdates() {
        var rng = SplitMix(seed: 11)
        let keys = Self.keys(5000)
        var batched = HashTable<Int64>()
        var single = HashTable<Int64>()
        var batchedSet = HashSet()
        var singleSet = HashSet()
        for round in 0..<40 {
            let pairs = (0..<(round * 37 % 700)).map { _ in (key: keys[Int(rng.next() % 5000)], value: Int64(rng.next() % 1000)) }
            #expect(batched.updateValues(pairs) == pairs.map { single.updateValue($0.value, forKey: $0.key) })
            #expect(batchedSet.insert(contentsOf: pairs.map(\.key)) == pairs.map { singleSet.insert($0.key) })
            #expect(batched == single)
            #expect(batched.count == single.count && batchedSet.count == singleSet.count)
        }
        #expect(Set(batchedSet.keys) == Set(singleSet.keys))
    }

    /// Equality ignores table order and capacity, and sees a changed value or a missing key.
    @Test func equalityIsByContent() {
        let keys = Self.keys(300)
        var a = HashTable<Int>(capacity: 1000)
        var b = HashTable<Int>()
        for (i, key) in keys.enumerated() { a.updateValue(i, forKey: key) }
        for (i, key) in keys.enumerated().reversed() { b.updateValue(i, forKey: key) }
        #expect(a == b)
        b.updateValue(-1, forKey: keys[7])
        #expect(a != b)
        var c = HashTable<Int>()
        for (i, key) in keys.dropLast().enumerated() { c.updateValue(i, forKey: key) }
        #expect(a != c)
    }

    /// A set reports whether an insert was new; reserving capacity keeps every key.
    @Test func setInsertAndReserve() {
        let keys = Self.keys(2000)
        var set = HashSet()
        let fresh = keys.map { set.insert($0) }
        let again = keys.prefix(50).map { set.insert($0) }
        #expect(fresh.allSatisfy { $0 })
        #expect(again.allSatisfy { !$0 })
        set.reserveCapacity(100_000)
        #expect(set.count == keys.count)
        #expect(keys.allSatisfy(set.contains))
        #expect(!set.contains(Hash.zero))
        #expect(HashSet().isEmpty)
    }

    /// Slot arrays of 4 MiB and more are handed to the table's memory hook before they are
    /// written, the whole array; smaller ones are not; what the hook does leaves the table working.
    @Test func largeSlotArraysAreHandedToTheMemoryHook() {
        final class Offers: Sendable {
            let sizes = Mutex<[Int]>([])
        }
        let offers = Offers()
        let hook: @Sendable (UnsafeMutableRawBufferPointer) -> Void = { memory in
            // Garbage: the slots must be initialised after the hook.
            memory.initializeMemory(as: UInt8.self, repeating: 0xA5)
            offers.sizes.withLock { $0.append(memory.count) }
        }
        var small = HashTable<Hash>()
        small.prepareLargeMemory = hook
        small.reserveCapacity(1000)
        #expect(offers.sizes.withLock { $0 }.isEmpty)
        var table = HashTable<Hash>()
        table.prepareLargeMemory = hook
        table.reserveCapacity(100_000)  // 2^18 slots of a key and an optional hash
        let sizes = offers.sizes.withLock { $0 }
        #expect(sizes.count == 1 && sizes[0] % (1 << 18) == 0 && sizes[0] / (1 << 18) >= 65)
        #expect(sizes[0] >= HashTable<Hash>.largeMemory)
        let keys = Self.keys(1000)
        for key in keys { table.updateValue(key, forKey: key) }
        #expect(table.count == keys.count && keys.allSatisfy { table[$0] == $0 } && table[.zero] == nil && small.isEmpty)
    }
}
