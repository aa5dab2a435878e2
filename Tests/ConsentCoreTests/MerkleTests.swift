import ConsentCrypto
import ConsentTestSupport
import Foundation
import Testing

@testable import ConsentCore

/// An in-memory stored-hash array, the simplest ``HashReader``.
final class MemoryHashes: HashReader {
    var stored: [Hash] = []
    var reads = 0
    func readHashes(_ indexes: [Int64]) throws -> [Hash] {
        reads += indexes.count
        return try indexes.map { i in
            guard i >= 0, i < stored.count else { throw MerkleError("no hash \(i)") }
            return stored[Int(i)]
        }
    }
}

/// RFC 9162 §2.1 definitions, computed directly (memoised), as the oracle.
struct BruteForceTree {
    let leaves: [Hash]
    let hasher: Digest
    private var memo: [Int: Hash] = [:]

    init(leaves: [Hash], hasher: Digest) {
        self.leaves = leaves
        self.hasher = hasher
    }

    /// MTH(D[lo..<hi]).
    mutating func mth(_ lo: Int, _ hi: Int) -> Hash {
        if hi - lo == 1 { return leaves[lo] }
        let key = lo << 20 | hi
        if let h = memo[key] { return h }
        var k = 1
        while k << 1 < hi - lo { k <<= 1 }
        let h = hasher.nodeHash(mth(lo, lo + k), mth(lo + k, hi))
        memo[key] = h
        return h
    }

    /// PATH(m, D[lo..<hi]).
    mutating func path(_ m: Int, _ lo: Int, _ hi: Int) -> [Hash] {
        if hi - lo == 1 { return [] }
        var k = 1
        while k << 1 < hi - lo { k <<= 1 }
        if m < k { return path(m, lo, lo + k) + [mth(lo + k, hi)] }
        return path(m - k, lo + k, hi) + [mth(lo, lo + k)]
    }

    /// SUBPROOF(m, D[lo..<hi], b).
    mutating func subproof(_ m: Int, _ lo: Int, _ hi: Int, _ b: Bool) -> [Hash] {
        let n = hi - lo
        if m == n { return b ? [] : [mth(lo, hi)] }
        var k = 1
        while k << 1 < n { k <<= 1 }
        if m <= k { return subproof(m, lo, lo + k, b) + [mth(lo + k, hi)] }
        return subproof(m - k, lo + k, hi, false) + [mth(lo, lo + k)]
    }
}

@Suite struct MerkleTests {
    let hasher = Digest(.sha256)

    struct Vectors: Decodable {
        struct Inclusion: Decodable { var index: Int64; var size: Int64; var proof: [Hash] }
        struct Consistency: Decodable { var old: Int64; var new: Int64; var proof: [Hash] }
        var leaves: [String]
        var leafHashes: [Hash]
        var roots: [Hash]
        var inclusion: [Inclusion]
        var consistency: [Consistency]
    }

    @Test func publishedRFC6962Vectors() throws {
        // The roots Certificate Transparency publishes for its eight reference leaves.
        let published = [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        ].map { Hash(hex: $0)! }
        // Proofs made by Go's sumdb/tlog (tools/interop/genvectors).
        let vectors = try Fixtures.load("merkle-vectors.json", as: Vectors.self)
        #expect(Array(vectors.roots.dropFirst()) == published)
        let store = MemoryHashes()
        var frontier = MerkleFrontier()
        #expect(frontier.root(hasher: hasher) == vectors.roots[0])
        for (i, leafHex) in vectors.leaves.enumerated() {
            let leaf = hasher.leafHash(Hex.decode(leafHex)!)
            #expect(leaf == vectors.leafHashes[i])
            store.stored += frontier.append(leafHash: leaf, hasher: hasher)
            #expect(try Merkle.treeHash(size: Int64(i + 1), reader: store, hasher: hasher) == published[i])
            #expect(frontier.root(hasher: hasher) == published[i])
        }
        for v in vectors.inclusion {
            #expect(try Merkle.inclusionProof(index: v.index, size: v.size, reader: store, hasher: hasher) == v.proof)
            try Merkle.verifyInclusion(
                index: v.index, size: v.size, leafHash: vectors.leafHashes[Int(v.index)], proof: v.proof,
                root: vectors.roots[Int(v.size)], hasher: hasher)
        }
        for v in vectors.consistency {
            #expect(try Merkle.consistencyProof(oldSize: v.old, newSize: v.new, reader: store, hasher: hasher) == v.proof)
            try Merkle.verifyConsistency(
                oldSize: v.old, newSize: v.new, oldRoot: vectors.roots[Int(v.old)], newRoot: vectors.roots[Int(v.new)],
                proof: v.proof, hasher: hasher)
        }
    }

    /// Grows a tree leaf by leaf to 300 and checks every root, every inclusion proof and every
    /// consistency proof at every size against the RFC definitions.
    @Test func everyProofAtEverySizeUpTo300() throws {
        let n = 300
        let leaves = (0..<n).map { hasher.leafHash([UInt8(truncatingIfNeeded: $0), UInt8($0 >> 8)]) }
        var oracle = BruteForceTree(leaves: leaves, hasher: hasher)
        let store = MemoryHashes()
        var frontier = MerkleFrontier()
        var roots: [Hash] = [hasher.hash([])]
        for size in 1...n {
            store.stored += frontier.append(leafHash: leaves[size - 1], hasher: hasher)
            #expect(Int64(store.stored.count) == Merkle.storedHashCount(size: Int64(size)))
            let root = oracle.mth(0, size)
            roots.append(root)
            #expect(frontier.root(hasher: hasher) == root)
            #expect(try Merkle.treeHash(size: Int64(size), reader: store, hasher: hasher) == root)
            #expect(try MerkleFrontier(size: Int64(size), peaks: store.readHashes(Merkle.treeHashIndexes(size: Int64(size)))) == frontier)
            for index in 0..<size {
                let proof = try Merkle.inclusionProof(index: Int64(index), size: Int64(size), reader: store, hasher: hasher)
                #expect(proof == oracle.path(index, 0, size))
                try Merkle.verifyInclusion(
                    index: Int64(index), size: Int64(size), leafHash: leaves[index], proof: proof, root: root, hasher: hasher)
            }
            for old in 1...size {
                let proof = try Merkle.consistencyProof(oldSize: Int64(old), newSize: Int64(size), reader: store, hasher: hasher)
                #expect(proof == oracle.subproof(old, 0, size, true))
                try Merkle.verifyConsistency(
                    oldSize: Int64(old), newSize: Int64(size), oldRoot: roots[old], newRoot: root, proof: proof, hasher: hasher)
            }
        }
    }

    /// Every single-bit change of a proof hash, the index or the root is rejected; so are a
    /// dropped, an added and a duplicated proof hash.
    @Test func everySingleBitChangeIsRejected() throws {
        let n = 40
        let leaves = (0..<n).map { hasher.leafHash([UInt8($0)]) }
        let store = MemoryHashes()
        var frontier = MerkleFrontier()
        var roots = [hasher.hash([])]
        for leaf in leaves {
            store.stored += frontier.append(leafHash: leaf, hasher: hasher)
            roots.append(frontier.root(hasher: hasher))
        }
        for size in 1...n {
            let root = roots[size]
            for index in 0..<size {
                let proof = try Merkle.inclusionProof(index: Int64(index), size: Int64(size), reader: store, hasher: hasher)
                func rejects(_ i: Int64, _ p: [Hash], _ r: Hash, _ leaf: Hash) -> Bool {
                    (try? Merkle.verifyInclusion(index: i, size: Int64(size), leafHash: leaf, proof: p, root: r, hasher: hasher)) == nil
                }
                for (k, h) in proof.enumerated() {
                    for bit in 0..<256 {
                        var p = proof
                        p[k] = h.flipping(bit: bit)
                        #expect(rejects(Int64(index), p, root, leaves[index]))
                    }
                }
                for bit in 0..<63 { #expect(rejects(Int64(index) ^ (1 << bit), proof, root, leaves[index])) }
                for bit in 0..<256 {
                    #expect(rejects(Int64(index), proof, root.flipping(bit: bit), leaves[index]))
                    #expect(rejects(Int64(index), proof, root, leaves[index].flipping(bit: bit)))
                }
                #expect(rejects(Int64(index), proof + [root], root, leaves[index]))
                if !proof.isEmpty {
                    #expect(rejects(Int64(index), Array(proof.dropLast()), root, leaves[index]))
                    #expect(rejects(Int64(index), [proof[0]] + proof, root, leaves[index]))
                }
            }
            for old in 1..<size {
                let proof = try Merkle.consistencyProof(oldSize: Int64(old), newSize: Int64(size), reader: store, hasher: hasher)
                func rejects(_ o: Int64, _ p: [Hash], _ oldRoot: Hash, _ newRoot: Hash) -> Bool {
                    (try? Merkle.verifyConsistency(oldSize: o, newSize: Int64(size), oldRoot: oldRoot, newRoot: newRoot, proof: p, hasher: hasher)) == nil
                }
                for (k, h) in proof.enumerated() {
                    for bit in stride(from: 0, to: 256, by: 7) {
                        var p = proof
                        p[k] = h.flipping(bit: bit)
                        #expect(rejects(Int64(old), p, roots[old], roots[size]))
                    }
                }
                for bit in stride(from: 0, to: 256, by: 7) {
                    #expect(rejects(Int64(old), proof, roots[old].flipping(bit: bit), roots[size]))
                    #expect(rejects(Int64(old), proof, roots[old], roots[size].flipping(bit: bit)))
                }
                #expect(rejects(Int64(old), proof + [roots[1]], roots[old], roots[size]))
                #expect(rejects(Int64(old), Array(proof.dropLast()), roots[old], roots[size]))
                // A different old size with the same proof and roots is rejected too.
                for bit in 0..<10 where Int64(old) ^ (1 << bit) >= 1 && Int64(old) ^ (1 << bit) <= Int64(size) {
                    #expect(rejects(Int64(old) ^ (1 << bit), proof, roots[old], roots[size]))
                }
            }
        }
    }

    @Test func storedHashIndexRoundTrips() {
        for level in 0..<8 {
            for index in Int64(0)..<200 {
                let stored = Merkle.storedHashIndex(level: level, index: index)
                let (l, i) = Merkle.splitStoredHashIndex(stored)
                #expect(l == level && i == index)
                let (leaf, position) = Merkle.storingLeaf(ofStoredIndex: stored)
                #expect(position == level)
                #expect(Merkle.storedHashIndex(level: 0, index: leaf) + Int64(position) == stored)
            }
        }
    }

    @Test func proofsReadLogarithmicallyManyHashes() throws {
        let store = MemoryHashes()
        var frontier = MerkleFrontier()
        for i in 0..<5000 { store.stored += frontier.append(leafHash: hasher.leafHash([UInt8(i & 0xff), UInt8(i >> 8)]), hasher: hasher) }
        store.reads = 0
        _ = try Merkle.inclusionProof(index: 1234, size: 5000, reader: store, hasher: hasher)
        #expect(store.reads <= 2 * 13)
        store.reads = 0
        _ = try Merkle.consistencyProof(oldSize: 1234, newSize: 5000, reader: store, hasher: hasher)
        #expect(store.reads <= 2 * 13)
    }
}

extension Hash {
    /// The hash with one bit inverted.
    func flipping(bit: Int) -> Hash {
        var bytes = self.bytes
        bytes[bit / 8] ^= 1 << (bit % 8)
        return Hash(bytes: bytes)!
    }
}

