// RFC 6962 / RFC 9162 Merkle tree math over a store of hashes.
//
// Storage layout follows the "stored hash index" numbering of Go's golang.org/x/mod/sumdb/tlog
// (Russ Cox, BSD licence): appending leaf n stores the leaf hash followed by the hash of every
// complete subtree that leaf closes, so a tree of n leaves stores fewer than 2n hashes, each
// written once and never changed. Every proof reads O(log n) of them.

/// Reads stored hashes by their stored hash index (see ``Merkle/storedHashIndex(level:index:)``).
public protocol HashReader {
    /// Returns exactly `indexes.count` hashes, in the order asked, or throws.
    func readHashes(_ indexes: [Int64]) throws -> [Hash]
}

/// Errors from Merkle proof construction and checking.
public struct MerkleError: Error, Equatable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }

    static let proofFailed = MerkleError("invalid Merkle proof")
}

/// RFC 9162 Merkle tree functions: stored hash layout, tree hashes, inclusion and consistency proofs.
public enum Merkle {
    /// The largest power of two strictly less than `n` (n ≥ 2), and its log₂.
    @inlinable static func maxPow2(_ n: Int64) -> (k: Int64, level: Int) {
        precondition(n >= 2, "maxPow2 of \(n)")
        let level = 63 - (n - 1).leadingZeroBitCount
        return (Int64(1) << level, level)
    }

    /// The stored hash index of the subtree at `level` whose leaves start at `index << level`.
    public static func storedHashIndex(level: Int, index: Int64) -> Int64 {
        var n = index
        for _ in 0..<level { n = 2 * n + 1 }
        var i: Int64 = 0
        while n > 0 {
            i += n
            n >>= 1
        }
        return i + Int64(level)
    }

    /// Inverse of ``storedHashIndex(level:index:)``.
    public static func splitStoredHashIndex(_ stored: Int64) -> (level: Int, index: Int64) {
        var n = stored / 2
        var indexN = storedHashIndex(level: 0, index: n)
        precondition(indexN <= stored, "bad math in splitStoredHashIndex")
        while true {
            let x = indexN + 1 + Int64((n + 1).trailingZeroBitCount)
            if x > stored { break }
            n += 1
            indexN = x
        }
        let level = Int(stored - indexN)
        return (level, n >> level)
    }

    /// The number of stored hashes for a tree of `size` leaves.
    public static func storedHashCount(size: Int64) -> Int64 {
        if size == 0 { return 0 }
        var count = storedHashIndex(level: 0, index: size - 1) + 1
        var i = UInt64(size - 1)
        while i & 1 != 0 {
            count += 1
            i >>= 1
        }
        return count
    }

    /// The stored indexes that appending leaf `index` must read: the left siblings it completes.
    public static func storedHashesNeeded(toAppend index: Int64) -> [Int64] {
        let m = (index + 1).trailingZeroBitCount
        var indexes = [Int64](repeating: 0, count: m)
        for i in 0..<m { indexes[m - 1 - i] = storedHashIndex(level: i, index: (index >> i) - 1) }
        return indexes
    }

    /// The hashes to store when appending leaf `index` with hash `leafHash`, given the hashes
    /// listed by ``storedHashesNeeded(toAppend:)`` (in that order). The first is the leaf hash;
    /// they belong at stored indexes `storedHashIndex(level: 0, index: index)` onwards.
    public static func storedHashes(
        toAppend index: Int64, leafHash: Hash, siblings: [Hash], hasher: some HashFunction
    ) -> [Hash] {
        let m = siblings.count
        precondition(m == (index + 1).trailingZeroBitCount, "wrong sibling count")
        var hashes = [leafHash]
        hashes.reserveCapacity(m + 1)
        var h = leafHash
        for i in 0..<m {
            h = hasher.nodeHash(siblings[m - 1 - i], h)
            hashes.append(h)
        }
        return hashes
    }

    /// The stored hash indexes of the complete subtrees of a tree of `size` leaves, largest first:
    /// what ``treeHash(size:hashes:hasher:)`` and ``MerkleFrontier/init(size:peaks:)`` need.
    public static func treeHashIndexes(size: Int64) -> [Int64] {
        subtreeIndexes(lo: 0, hi: size, into: [])
    }

    /// The root hash of the tree of `size` leaves from the hashes at ``treeHashIndexes(size:)``.
    /// The empty tree's root is the hash of the empty string (RFC 9162 §2.1.1).
    public static func treeHash(size: Int64, hashes: [Hash], hasher: some HashFunction) throws -> Hash {
        if size == 0 { return hasher.hash([]) }
        var rest = try checked(hashes, count: treeHashIndexes(size: size).count)[...]
        let h = subtreeHash(lo: 0, hi: size, hashes: &rest, hasher: hasher)
        precondition(rest.isEmpty, "bad index math in treeHash")
        return h
    }

    /// The root hash of the tree of `size` leaves; at most log₂(size) + 1 reads.
    public static func treeHash(size: Int64, reader: some HashReader, hasher: some HashFunction) throws -> Hash {
        try treeHash(size: size, hashes: reader.readHashes(treeHashIndexes(size: size)), hasher: hasher)
    }

    /// The stored hash indexes an inclusion proof of leaf `index` in a tree of `size` needs.
    public static func inclusionProofIndexes(index: Int64, size: Int64) throws -> [Int64] {
        guard index >= 0, size > 0, index < size else {
            throw MerkleError("no inclusion proof for index \(index) in a tree of size \(size)")
        }
        return leafProofIndexes(lo: 0, hi: size, n: index, into: [])
    }

    /// The RFC 9162 inclusion proof (audit path) of leaf `index` in the tree of `size` leaves,
    /// from the hashes at ``inclusionProofIndexes(index:size:)``.
    public static func inclusionProof(index: Int64, size: Int64, hashes: [Hash], hasher: some HashFunction) throws -> [Hash] {
        var rest = try checked(hashes, count: inclusionProofIndexes(index: index, size: size).count)[...]
        let proof = leafProof(lo: 0, hi: size, n: index, hashes: &rest, hasher: hasher)
        precondition(rest.isEmpty, "bad index math in inclusionProof")
        return proof
    }

    /// The RFC 9162 inclusion proof of leaf `index` in the tree of `size` leaves; O(log n) reads.
    public static func inclusionProof(index: Int64, size: Int64, reader: some HashReader, hasher: some HashFunction) throws -> [Hash] {
        let indexes = try inclusionProofIndexes(index: index, size: size)
        return try inclusionProof(index: index, size: size, hashes: reader.readHashes(indexes), hasher: hasher)
    }

    /// The stored hash indexes a consistency proof from `oldSize` to `newSize` needs.
    public static func consistencyProofIndexes(oldSize: Int64, newSize: Int64) throws -> [Int64] {
        guard oldSize >= 1, oldSize <= newSize else {
            throw MerkleError("no consistency proof from size \(oldSize) to size \(newSize)")
        }
        return treeProofIndexes(lo: 0, hi: newSize, n: oldSize, into: [])
    }

    /// The RFC 9162 consistency proof from the tree of `oldSize` leaves to the tree of `newSize`,
    /// from the hashes at ``consistencyProofIndexes(oldSize:newSize:)``.
    public static func consistencyProof(oldSize: Int64, newSize: Int64, hashes: [Hash], hasher: some HashFunction) throws -> [Hash] {
        var rest = try checked(hashes, count: consistencyProofIndexes(oldSize: oldSize, newSize: newSize).count)[...]
        let proof = treeProof(lo: 0, hi: newSize, n: oldSize, hashes: &rest, hasher: hasher)
        precondition(rest.isEmpty, "bad index math in consistencyProof")
        return proof
    }

    /// The RFC 9162 consistency proof from `oldSize` to `newSize`; O(log n) reads.
    public static func consistencyProof(oldSize: Int64, newSize: Int64, reader: some HashReader, hasher: some HashFunction) throws -> [Hash] {
        let indexes = try consistencyProofIndexes(oldSize: oldSize, newSize: newSize)
        return try consistencyProof(oldSize: oldSize, newSize: newSize, hashes: reader.readHashes(indexes), hasher: hasher)
    }

    // MARK: Verification (RFC 9162 §2.1.3.2 and §2.1.4.2, written independently of generation)

    /// The root that `proof` implies for leaf `index` with hash `leafHash` in a tree of `size`;
    /// throws when the proof has the wrong length for that position.
    public static func rootFromInclusionProof(
        index: Int64, size: Int64, leafHash: Hash, proof: [Hash], hasher: some HashFunction
    ) throws -> Hash {
        guard index >= 0, index < size else { throw MerkleError("index \(index) is not below size \(size)") }
        var fn = index
        var sn = size - 1
        var r = leafHash
        for p in proof {
            guard sn != 0 else { throw MerkleError.proofFailed }
            if fn & 1 == 1 || fn == sn {
                r = hasher.nodeHash(p, r)
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 {
                        fn >>= 1
                        sn >>= 1
                    }
                }
            } else {
                r = hasher.nodeHash(r, p)
            }
            fn >>= 1
            sn >>= 1
        }
        guard sn == 0 else { throw MerkleError.proofFailed }
        return r
    }

    /// Checks that leaf `index` with hash `leafHash` is in the tree of `size` leaves with root `root`.
    public static func verifyInclusion(
        index: Int64, size: Int64, leafHash: Hash, proof: [Hash], root: Hash, hasher: some HashFunction
    ) throws {
        let computed = try rootFromInclusionProof(index: index, size: size, leafHash: leafHash, proof: proof, hasher: hasher)
        guard computed == root else { throw MerkleError.proofFailed }
    }

    /// Checks that the tree of `oldSize` leaves with root `oldRoot` is a prefix of the tree of
    /// `newSize` leaves with root `newRoot`.
    public static func verifyConsistency(
        oldSize: Int64, newSize: Int64, oldRoot: Hash, newRoot: Hash, proof: [Hash], hasher: some HashFunction
    ) throws {
        guard oldSize >= 1, oldSize <= newSize else {
            throw MerkleError("no consistency proof from size \(oldSize) to size \(newSize)")
        }
        if oldSize == newSize {
            guard proof.isEmpty, oldRoot == newRoot else { throw MerkleError.proofFailed }
            return
        }
        var path = proof[...]
        var seed: Hash
        if oldSize & (oldSize - 1) == 0 {
            seed = oldRoot
        } else {
            guard let first = path.popFirst() else { throw MerkleError.proofFailed }
            seed = first
        }
        var fn = oldSize - 1
        var sn = newSize - 1
        while fn & 1 == 1 {
            fn >>= 1
            sn >>= 1
        }
        var fr = seed
        var sr = seed
        for c in path {
            guard sn != 0 else { throw MerkleError.proofFailed }
            if fn & 1 == 1 || fn == sn {
                fr = hasher.nodeHash(c, fr)
                sr = hasher.nodeHash(c, sr)
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 {
                        fn >>= 1
                        sn >>= 1
                    }
                }
            } else {
                sr = hasher.nodeHash(sr, c)
            }
            fn >>= 1
            sn >>= 1
        }
        guard sn == 0, fr == oldRoot, sr == newRoot else { throw MerkleError.proofFailed }
    }

    // MARK: Private recursion (after Go's sumdb/tlog)

    private static func checked(_ hashes: [Hash], count: Int) throws -> [Hash] {
        guard hashes.count == count else {
            throw MerkleError("hash reader returned \(hashes.count) hashes for \(count) indexes")
        }
        return hashes
    }

    private static func subtreeIndexes(lo: Int64, hi: Int64, into need: [Int64]) -> [Int64] {
        var need = need
        var lo = lo
        while lo < hi {
            let (k, level) = maxPow2(hi - lo + 1)
            precondition(lo & (k - 1) == 0, "bad math in subtreeIndexes")
            need.append(storedHashIndex(level: level, index: lo >> level))
            lo += k
        }
        return need
    }

    private static func subtreeHash(
        lo: Int64, hi: Int64, hashes: inout ArraySlice<Hash>, hasher: some HashFunction
    ) -> Hash {
        var numTree = 0
        var lo = lo
        while lo < hi {
            let (k, _) = maxPow2(hi - lo + 1)
            precondition(lo & (k - 1) == 0, "bad math in subtreeHash")
            numTree += 1
            lo += k
        }
        precondition(hashes.count >= numTree, "bad index math in subtreeHash")
        let start = hashes.startIndex
        var h = hashes[start + numTree - 1]
        var i = numTree - 2
        while i >= 0 {
            h = hasher.nodeHash(hashes[start + i], h)
            i -= 1
        }
        hashes = hashes.dropFirst(numTree)
        return h
    }

    private static func leafProofIndexes(lo: Int64, hi: Int64, n: Int64, into need: [Int64]) -> [Int64] {
        precondition(lo <= n && n < hi, "bad math in leafProofIndexes")
        if lo + 1 == hi { return need }
        let (k, _) = maxPow2(hi - lo)
        if n < lo + k {
            return subtreeIndexes(lo: lo + k, hi: hi, into: leafProofIndexes(lo: lo, hi: lo + k, n: n, into: need))
        } else {
            return leafProofIndexes(lo: lo + k, hi: hi, n: n, into: subtreeIndexes(lo: lo, hi: lo + k, into: need))
        }
    }

    private static func leafProof(
        lo: Int64, hi: Int64, n: Int64, hashes: inout ArraySlice<Hash>, hasher: some HashFunction
    ) -> [Hash] {
        if lo + 1 == hi { return [] }
        let (k, _) = maxPow2(hi - lo)
        var proof: [Hash]
        let th: Hash
        if n < lo + k {
            proof = leafProof(lo: lo, hi: lo + k, n: n, hashes: &hashes, hasher: hasher)
            th = subtreeHash(lo: lo + k, hi: hi, hashes: &hashes, hasher: hasher)
        } else {
            th = subtreeHash(lo: lo, hi: lo + k, hashes: &hashes, hasher: hasher)
            proof = leafProof(lo: lo + k, hi: hi, n: n, hashes: &hashes, hasher: hasher)
        }
        proof.append(th)
        return proof
    }

    private static func treeProofIndexes(lo: Int64, hi: Int64, n: Int64, into need: [Int64]) -> [Int64] {
        precondition(lo < n && n <= hi, "bad math in treeProofIndexes")
        if n == hi {
            return lo == 0 ? need : subtreeIndexes(lo: lo, hi: hi, into: need)
        }
        let (k, _) = maxPow2(hi - lo)
        if n <= lo + k {
            return subtreeIndexes(lo: lo + k, hi: hi, into: treeProofIndexes(lo: lo, hi: lo + k, n: n, into: need))
        } else {
            return treeProofIndexes(lo: lo + k, hi: hi, n: n, into: subtreeIndexes(lo: lo, hi: lo + k, into: need))
        }
    }

    private static func treeProof(
        lo: Int64, hi: Int64, n: Int64, hashes: inout ArraySlice<Hash>, hasher: some HashFunction
    ) -> [Hash] {
        if n == hi {
            if lo == 0 { return [] }
            return [subtreeHash(lo: lo, hi: hi, hashes: &hashes, hasher: hasher)]
        }
        let (k, _) = maxPow2(hi - lo)
        var proof: [Hash]
        let th: Hash
        if n <= lo + k {
            proof = treeProof(lo: lo, hi: lo + k, n: n, hashes: &hashes, hasher: hasher)
            th = subtreeHash(lo: lo + k, hi: hi, hashes: &hashes, hasher: hasher)
        } else {
            th = subtreeHash(lo: lo, hi: lo + k, hashes: &hashes, hasher: hasher)
            proof = treeProof(lo: lo + k, hi: hi, n: n, hashes: &hashes, hasher: hasher)
        }
        proof.append(th)
        return proof
    }
}
