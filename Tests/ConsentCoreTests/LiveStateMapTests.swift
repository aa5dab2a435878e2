import ConsentCrypto
import ConsentTestSupport
import Testing

@testable import ConsentCore

@Suite struct LiveStateMapTests {
    let hasher = Digest(.sha256)

    func value(_ i: Int) -> MapValue {
        MapValue(index: Int64(i), action: i % 3 == 0 ? .revoke : .grant, leafHash: hasher.hash([UInt8(i & 0xff), UInt8(i >> 8), 9]))
    }

    /// Walks `keys` to the end, loading stubs from `stored` as a ledger loads them from its store;
    /// returns the values found and how many nodes were loaded.
    func lookUp(_ keys: [Hash], in live: LiveStateMap, stored: MemoryMapNodes) throws -> (values: [Hash: MapValue], loaded: Int) {
        var walks = live.walks(for: keys)
        var values: [Hash: MapValue] = [:]
        var loaded = 0
        while true {
            let stubs = live.advance(&walks, values: &values)
            if stubs.isEmpty { break }
            try live.load(stubs.map { ($0, try stored.node($0.id)) }, hasher: hasher)
            loaded += stubs.count
        }
        #expect(walks.isEmpty)
        return (values, loaded)
    }

    /// Random batches applied to the in-memory map and to the stored map: the same root, the same new
    /// nodes with the same identifiers, the same replaced nodes, the same lookups. Part of the way
    /// through, the live map is dropped and restarted from the stored root, as after a restart.
    @Test func updatesMatchTheStoredMapNodeForNode() throws {
        var rng = SplitMix(seed: 11)
        let stored = MemoryMapNodes()
        var live = LiveStateMap(rootID: 0, rootHash: StateMap.emptyRoot)
        let keys = (0..<500).map { hasher.hash([UInt8($0 & 0xff), UInt8($0 >> 8), 2]) }
        var next: MapNodeID = 1
        var expected: [Hash: MapValue] = [:]
        for step in 0..<150 {
            if step == 70 { live = LiveStateMap(rootID: stored.rootID, rootHash: try stored.node(stored.rootID).hash(hasher)) }
            let updates = (0..<Int(rng.next() % 40) + 1).map { i in
                (key: keys[Int(rng.next() % UInt64(keys.count))], value: value(step * 50 + i))
            }
            let (found, _) = try lookUp(updates.map(\.key), in: live, stored: stored)
            for u in updates { #expect(found[u.key] == expected[u.key]) }
            let reference = try StateMap.update(updates, rootID: stored.rootID, source: stored, nextID: next, hasher: hasher)
            let mine = try live.update(updates, nextID: next, hasher: hasher)
            #expect(mine.root == reference.root)
            #expect(mine.rootID == reference.rootID)
            #expect(mine.nodes.map(\.id) == reference.nodes.map(\.id))
            #expect(mine.nodes.map(\.node) == reference.nodes.map(\.node))
            #expect(mine.replaced == reference.replaced)
            #expect(try stored.update(updates, hasher: hasher) == mine.root)
            #expect(live.rootHash == mine.root && live.rootID == stored.rootID)
            next += Int64(mine.nodes.count)
            for u in updates { expected[u.key] = u.value }
        }
        // Every key, present or absent, looks up the same in both.
        let absent = (0..<50).map { hasher.hash([UInt8($0), 0xaa]) }
        let (found, loaded) = try lookUp(keys + absent, in: live, stored: stored)
        #expect(loaded > 0)  // the keys untouched since the restart were still stubs
        #expect(found == expected)
        // An empty update changes nothing.
        let none = try live.update([], nextID: next, hasher: hasher)
        #expect(none.root == live.rootHash && none.nodes.isEmpty)
    }

    /// A stored node that does not hash to what its parent recorded is refused.
    @Test func aStoredNodeThatDoesNotMatchItsParentIsRefused() throws {
        let stored = MemoryMapNodes()
        let keys = (0..<20).map { hasher.hash([UInt8($0), 3]) }
        let root = try stored.update(keys.enumerated().map { ($1, value($0)) }, hasher: hasher)
        let live = LiveStateMap(rootID: stored.rootID, rootHash: root)
        var walks = live.walks(for: [keys[0]])
        var values: [Hash: MapValue] = [:]
        let stubs = live.advance(&walks, values: &values)
        #expect(stubs.count == 1)
        guard case .inner(let l, let r, let lid, let rid) = try stored.node(stubs[0].id) else {
            Issue.record("the root of 20 keys is an inner node")
            return
        }
        let forged = MapNode.inner(left: r, right: l, leftID: lid, rightID: rid)
        #expect(throws: EntryError.self) { try live.load([(stubs[0], forged)], hasher: self.hasher) }
        // Updating through a node that was never loaded is refused too.
        #expect(throws: EntryError.self) { try live.update([(keys[0], value(99))], nextID: 100, hasher: self.hasher) }
    }
}
