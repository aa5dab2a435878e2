/// The right edge of a Merkle tree: the roots of its complete subtrees, largest first.
///
/// It is all an appender needs: appending computes the hashes to store and the new root without
/// reading storage. Its hashes are exactly the stored hashes ``Merkle/treeHashIndexes(size:)`` names.
public struct MerkleFrontier: Equatable, Sendable {
    /// The number of leaves.
    public private(set) var size: Int64
    /// Roots of the complete subtrees, largest (leftmost) first; one per set bit of `size`.
    public private(set) var peaks: [Hash]

    /// The frontier of the empty tree.
    public init() {
        size = 0
        peaks = []
    }

    /// A frontier from its peaks, as read from storage at ``Merkle/treeHashIndexes(size:)``.
    public init(size: Int64, peaks: [Hash]) throws {
        guard size >= 0, peaks.count == size.nonzeroBitCount else {
            throw MerkleError("a tree of size \(size) has \(size.nonzeroBitCount) peaks, not \(peaks.count)")
        }
        self.size = size
        self.peaks = peaks
    }

    /// Appends a leaf and returns the hashes to store for it: the leaf hash, then each subtree it completes
    /// (stored at consecutive indexes from `Merkle.storedHashIndex(level: 0, index: oldSize)`).
    @discardableResult
    public mutating func append(leafHash: Hash, hasher: some HashFunction) -> [Hash] {
        let completed = (size + 1).trailingZeroBitCount
        var stored = [leafHash]
        stored.reserveCapacity(completed + 1)
        var h = leafHash
        for _ in 0..<completed {
            h = hasher.nodeHash(peaks.removeLast(), h)
            stored.append(h)
        }
        peaks.append(h)
        size += 1
        return stored
    }

    /// ``append(leafHash:hasher:)`` for a caller that does not want the stored hashes: no array.
    public mutating func appendLeaf(_ leafHash: Hash, hasher: some HashFunction) {
        var h = leafHash
        for _ in 0..<(size + 1).trailingZeroBitCount { h = hasher.nodeHash(peaks.removeLast(), h) }
        peaks.append(h)
        size += 1
    }

    /// The RFC 9162 root hash (the empty tree's is H of the empty string).
    public func root(hasher: some HashFunction) -> Hash {
        guard var h = peaks.last else { return hasher.hash([]) }
        for peak in peaks.dropLast().reversed() { h = hasher.nodeHash(peak, h) }
        return h
    }
}

extension Merkle {
    /// The leaf whose append stored the hash at `storedIndex`, and the position of that hash
    /// among the hashes stored for that leaf (0 is the leaf hash itself).
    public static func storingLeaf(ofStoredIndex storedIndex: Int64) -> (leaf: Int64, position: Int) {
        let (level, index) = splitStoredHashIndex(storedIndex)
        return (((index + 1) << level) - 1, level)
    }
}
