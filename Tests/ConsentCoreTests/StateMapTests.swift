import ConsentCrypto
import ConsentTestSupport
import Testing

@testable import ConsentCore

@Suite struct StateMapTests {
    let hasher = Digest(.sha256)

    func value(_ i: Int, _ action: ConsentAction = .grant) -> MapValue {
        MapValue(index: Int64(i), action: action, leafHash: hasher.hash([UInt8(i & 0xff), UInt8(i >> 8), 7]))
    }

    /// Keys inserted in random batches: every key looks up, every present and absent key has a proof
    /// that verifies to the right answer, and the root depends only on the final contents.
    @Test func randomBatchesLookupsAndProofs() throws {
        var rng = SplitMix(seed: 42)
        let map = MemoryMapNodes()
        var expected: [Hash: MapValue] = [:]
        let keys = (0..<600).map { hasher.hash([UInt8($0 & 0xff), UInt8($0 >> 8)]) }
        var root = StateMap.emptyRoot
        var step = 0
        while step < 1500 {
            let batchSize = Int(rng.next() % 40) + 1
            var updates: [(key: Hash, value: MapValue)] = []
            for _ in 0..<batchSize {
                let key = keys[Int(rng.next() % UInt64(keys.count))]
                let v = value(step, rng.next() % 2 == 0 ? .grant : .revoke)
                updates.append((key, v))
                expected[key] = v
                step += 1
            }
            let before = map.nodes
            root = try map.update(updates, hasher: hasher)
            #expect(try map.node(map.rootID).hash(hasher) == root)
            // Copy on write: no stored node ever changes.
            for (id, node) in before { #expect(map.nodes[id] == node) }
        }
        // History independence: the same contents inserted at once give the same root.
        let fresh = try MemoryMapNodes().update(expected.map { ($0.key, $0.value) }, hasher: hasher)
        #expect(fresh == root)
        for key in keys {
            #expect(try StateMap.lookup(key, rootID: map.rootID, source: map) == expected[key])
            let proof = try StateMap.prove(key, rootID: map.rootID, source: map)
            #expect(try StateMap.verify(proof, key: key, root: root, hasher: hasher) == expected[key])
            // The same proof does not verify against another root, nor for a different value.
            #expect(throws: MerkleError.self) { try StateMap.verify(proof, key: key, root: hasher.hash([1]), hasher: hasher) }
            if case .leaf(let k, var v) = proof.terminal {
                v.index += 1
                #expect(throws: MerkleError.self) {
                    try StateMap.verify(MapProof(siblings: proof.siblings, terminal: .leaf(key: k, value: v)), key: key, root: root, hasher: hasher)
                }
            }
            // Flipping one bit of any sibling breaks the proof.
            for i in proof.siblings.indices {
                var bad = proof
                bad.siblings[i] = bad.siblings[i].flipping(bit: i % 256)
                #expect(throws: MerkleError.self) { try StateMap.verify(bad, key: key, root: root, hasher: hasher) }
            }
        }
        // Absent keys prove absent; a proof for one key does not pass as another's membership.
        for i in 0..<100 {
            let absent = hasher.hash([UInt8(i), 0xee, 0xee])
            let proof = try StateMap.prove(absent, rootID: map.rootID, source: map)
            #expect(try StateMap.verify(proof, key: absent, root: root, hasher: hasher) == nil)
        }
        // Proofs stay short: about log2(keys) siblings.
        let depths = keys.map { (try? StateMap.prove($0, rootID: map.rootID, source: map).siblings.count) ?? 0 }
        #expect(depths.max()! < 30)
    }

    /// `replaced` names exactly the nodes that leave the map: a store that drops them holds the
    /// nodes reachable from the current root and nothing else, and gives the same roots.
    @Test func replacedNodesAreExactlyTheUnreachableOnes() throws {
        var rng = SplitMix(seed: 7)
        let history = MemoryMapNodes()
        let current = MemoryMapNodes(keepsHistory: false)
        let keys = (0..<400).map { hasher.hash([UInt8($0 & 0xff), UInt8($0 >> 8), 1]) }
        for step in 0..<120 {
            let updates = (0..<Int(rng.next() % 30) + 1).map { i in
                (key: keys[Int(rng.next() % UInt64(keys.count))], value: value(step * 40 + i))
            }
            let root = try history.update(updates, hasher: hasher)
            #expect(try current.update(updates, hasher: hasher) == root)
            var reachable: Set<MapNodeID> = []
            var stack = [current.rootID]
            while let id = stack.popLast() {
                if id == 0 { continue }
                reachable.insert(id)
                if case .inner(_, _, let left, let right) = try current.node(id) { stack += [left, right] }
            }
            #expect(Set(current.nodes.keys) == reachable)
        }
        for key in keys {
            #expect(try StateMap.lookup(key, rootID: current.rootID, source: current)
                == StateMap.lookup(key, rootID: history.rootID, source: history))
        }
    }

    @Test func emptyMapAndNodeEncoding() throws {
        let map = MemoryMapNodes()
        let key = hasher.hash([1])
        let proof = try StateMap.prove(key, rootID: 0, source: map)
        #expect(proof == MapProof(siblings: [], terminal: .empty))
        #expect(try StateMap.verify(proof, key: key, root: StateMap.emptyRoot, hasher: hasher) == nil)
        let leaf = MapNode.leaf(key: key, value: value(3, .revoke))
        #expect(try MapNode(decoding: leaf.encoded()) == leaf)
        let inner = MapNode.inner(left: key, right: .zero, leftID: 7, rightID: 0)
        #expect(try MapNode(decoding: inner.encoded()) == inner)
        #expect(throws: EntryError.self) { try MapNode(decoding: inner.encoded() + [0]) }
        // Fixed-size records: the encoding, then zeros; written in place into a larger buffer.
        let big = MapNode.inner(left: key, right: hasher.hash([2]), leftID: -5, rightID: Int64.max)
        for node in [leaf, inner, big] {
            #expect(node.record() == node.encoded() + [UInt8](repeating: 0, count: MapNode.recordSize - node.encoded().count))
            #expect(try MapNode(record: node.record()[...]) == node)
            var buffer = [UInt8](repeating: 0xff, count: MapNode.recordSize + 3)
            buffer.withUnsafeMutableBytes { node.writeRecord(to: $0) }
            #expect(Array(buffer.prefix(MapNode.recordSize)) == node.record() && buffer.suffix(3) == [0xff, 0xff, 0xff])
        }
        var padded = leaf.record()
        padded[80] = 1
        #expect(throws: EntryError.self) { try MapNode(record: padded[...]) }
    }
}

