// The state map: an authenticated map from state key (subject, sender, scope) to the latest event
// for that key, as a binary Merkle trie over 256-bit keys with compressed leaves (a sparse Merkle
// tree in which a subtree holding a single key is represented by that key's leaf; inner nodes with
// one empty child are kept, about 0.44 per key for random keys).
//
//   empty subtree   Hash.zero
//   leaf            H(0x02 ‖ key ‖ i64 index ‖ u8 action ‖ leaf hash)
//   internal node   H(0x03 ‖ left ‖ right)          (never both children empty)
//
// Keys are never removed (a key's latest event always exists), so the trie only grows: an insert
// either replaces a leaf's value or pushes a leaf down until it and the new key diverge. The shape
// depends only on the set of keys, so anyone replaying the log computes the same root.

/// The latest event recorded for a state key.
public struct MapValue: Equatable, Sendable, Codable {
    /// The event's index in the log.
    public var index: Int64
    public var action: ConsentAction
    /// The event's RFC 9162 leaf hash.
    public var leafHash: Hash

    public init(index: Int64, action: ConsentAction, leafHash: Hash) {
        self.index = index
        self.action = action
        self.leafHash = leafHash
    }
}

/// A node position: the first `depth` bits of a key (bits past `depth` are zero).
public struct MapPath: Hashable, Sendable {
    public let depth: Int
    public let prefix: Hash

    /// The root.
    public static let root = MapPath(depth: 0, prefix: .zero)

    init(depth: Int, prefix: Hash) {
        self.depth = depth
        self.prefix = prefix
    }

    /// The child on `bit`'s side.
    public func child(_ bit: Int) -> MapPath {
        precondition(depth < 256, "no children below depth 256")
        var next = prefix
        if bit == 1 {
            let (byte, shift) = (depth / 8, UInt8(depth % 8))
            withUnsafeMutableBytes(of: &next.words) { $0[byte] |= 0x80 >> shift }
        }
        return MapPath(depth: depth + 1, prefix: next)
    }

    /// A compact, unique byte string for storage: the depth, then the prefix bytes it uses.
    public var storageKey: [UInt8] {
        [UInt8(depth)] + prefix.bytes.prefix((depth + 7) / 8)
    }

    /// Inverse of ``storageKey``.
    public init?(storageKey bytes: [UInt8]) {
        guard let depth = bytes.first, bytes.count == 1 + (Int(depth) + 7) / 8 else { return nil }
        var full = Array(bytes.dropFirst()) + [UInt8](repeating: 0, count: 32 - (bytes.count - 1))
        if depth % 8 != 0 { full[Int(depth) / 8] &= 0xff << (8 - depth % 8) }
        self.init(depth: Int(depth), prefix: Hash(bytes: full)!)
    }
}

/// A stored node. Internal nodes keep their children's hashes, so walking a key's path reads one
/// node per level and finds every sibling on the way.
public enum MapNode: Equatable, Sendable {
    case leaf(key: Hash, value: MapValue)
    /// Children hashes; ``Hash/zero`` for an empty child.
    case inner(left: Hash, right: Hash)

    /// The node's hash.
    public func hash(_ hasher: some HashFunction) -> Hash {
        switch self {
        case .leaf(let key, let value): return StateMap.leafHash(key: key, value: value, hasher: hasher)
        case .inner(let left, let right): return StateMap.innerHash(left, right, hasher: hasher)
        }
    }

    /// Storage encoding: 0x02 ‖ key ‖ index ‖ action ‖ leaf hash, or 0x03 ‖ left ‖ right.
    public func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: 74)
        switch self {
        case .leaf(let key, let value):
            w.u8(2)
            w.hash(key)
            w.i64(value.index)
            w.u8(value.action.rawValue)
            w.hash(value.leafHash)
        case .inner(let left, let right):
            w.u8(3)
            w.hash(left)
            w.hash(right)
        }
        return w.bytes
    }

    /// Decodes ``encoded()``.
    public init(decoding bytes: [UInt8]) throws {
        var r = ByteReader(bytes)
        switch try r.u8() {
        case 2:
            let key = try r.hash()
            let index = try r.i64()
            let actionByte = try r.u8()
            guard let action = ConsentAction(rawValue: actionByte) else { throw EntryError("unknown action in map leaf") }
            self = .leaf(key: key, value: MapValue(index: index, action: action, leafHash: try r.hash()))
        case 3:
            self = .inner(left: try r.hash(), right: try r.hash())
        case let tag:
            throw EntryError("unknown map node tag \(tag)")
        }
        try r.finish()
    }
}

/// Reads stored map nodes (synchronously: callers prefetch what an operation needs).
public protocol MapNodeSource {
    /// The node at `path`, or nil when that subtree is empty or lies below a leaf.
    func node(at path: MapPath) throws -> MapNode?
}

/// What a map proof ends in: the key's own leaf, another key's leaf that occupies the key's
/// subtree (so the key is absent), or an empty subtree (absent).
public enum MapTerminal: Equatable, Sendable {
    case leaf(key: Hash, value: MapValue)
    case empty
}

/// A membership or absence proof: the sibling hashes from the root's children down to the
/// terminal's depth, and the terminal.
public struct MapProof: Equatable, Sendable {
    /// `siblings[i]` is the sibling at depth i + 1 (the other child of the node at depth i).
    public var siblings: [Hash]
    public var terminal: MapTerminal

    public init(siblings: [Hash], terminal: MapTerminal) {
        self.siblings = siblings
        self.terminal = terminal
    }
}

/// State-map functions: key derivation, hashing, batch update, lookup, proofs.
public enum StateMap {
    /// The root of the empty map.
    public static let emptyRoot = Hash.zero

    /// Bit `i` (0 = most significant bit of byte 0) of `key`.
    @inlinable public static func bit(_ key: Hash, _ i: Int) -> Int {
        key.withUnsafeBytes { Int($0[i / 8] >> UInt8(7 - i % 8)) & 1 }
    }

    /// H(0x02 ‖ key ‖ i64 index ‖ u8 action ‖ leaf hash).
    public static func leafHash(key: Hash, value: MapValue, hasher: some HashFunction) -> Hash {
        withUnsafeTemporaryAllocation(byteCount: 74, alignment: 8) { buffer in
            buffer[0] = 2
            key.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: buffer[1..<33]).copyMemory(from: $0) }
            let index = UInt64(bitPattern: value.index)
            for i in 0..<8 { buffer[33 + i] = UInt8(truncatingIfNeeded: index >> UInt64(56 - 8 * i)) }
            buffer[41] = value.action.rawValue
            value.leafHash.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: buffer[42..<74]).copyMemory(from: $0) }
            return hasher.hash(UnsafeRawBufferPointer(buffer))
        }
    }

    /// H(0x03 ‖ left ‖ right).
    public static func innerHash(_ left: Hash, _ right: Hash, hasher: some HashFunction) -> Hash {
        withUnsafeTemporaryAllocation(byteCount: 65, alignment: 8) { buffer in
            buffer[0] = 3
            left.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: buffer[1..<33]).copyMemory(from: $0) }
            right.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: buffer[33..<65]).copyMemory(from: $0) }
            return hasher.hash(UnsafeRawBufferPointer(buffer))
        }
    }

    /// The state key of an event or query: H("consent-ledger/state-key/v1" ‖ 0x00 ‖ subject key ‖ scope),
    /// where the scope is 0x00 (global), 0x01 ‖ sender, or 0x02 ‖ sender ‖ port ‖ purpose (short strings,
    /// empty when absent).
    public static func stateKey(subjectKey: Hash, sender: String, scope: Scope, hasher: some HashFunction) -> Hash {
        var w = ByteWriter(capacity: 128)
        w.raw(Array("consent-ledger/state-key/v1".utf8))
        w.u8(0)
        w.hash(subjectKey)
        switch scope {
        case .global: w.u8(0)
        case .sender:
            w.u8(1)
            w.shortString(sender)
        case .narrowed(let port, let purpose):
            w.u8(2)
            w.shortString(sender)
            w.shortString(port ?? "")
            w.shortString(purpose ?? "")
        }
        return hasher.hash(w.bytes)
    }

    /// The paths a lookup of `key` visits, given the nodes read so far; nil once the walk has ended.
    /// Used to prefetch level by level: ask for `nextPath`, read it, ask again.
    public static func nextPath(for key: Hash, after path: MapPath, node: MapNode?) -> MapPath? {
        guard case .inner(let left, let right) = node else { return nil }
        let b = bit(key, path.depth)
        return (b == 0 ? left : right) == .zero ? nil : path.child(b)
    }

    /// The value stored for `key`, or nil.
    public static func lookup(_ key: Hash, source: some MapNodeSource) throws -> MapValue? {
        var path = MapPath.root
        var node = try source.node(at: path)
        while true {
            switch node {
            case nil: return nil
            case .leaf(let k, let value)?: return k == key ? value : nil
            case .inner?:
                guard let next = nextPath(for: key, after: path, node: node) else { return nil }
                path = next
                node = try source.node(at: path)
                guard node != nil else { throw EntryError("state map is missing the node at depth \(path.depth)") }
            }
        }
    }

    /// A membership or absence proof for `key`; one node read per level.
    public static func prove(_ key: Hash, source: some MapNodeSource) throws -> MapProof {
        var siblings: [Hash] = []
        var path = MapPath.root
        var node = try source.node(at: path)
        while true {
            switch node {
            case nil: return MapProof(siblings: siblings, terminal: .empty)
            case .leaf(let k, let value)?: return MapProof(siblings: siblings, terminal: .leaf(key: k, value: value))
            case .inner(let left, let right)?:
                let b = bit(key, path.depth)
                siblings.append(b == 0 ? right : left)
                let child = b == 0 ? left : right
                path = path.child(b)
                if child == .zero { return MapProof(siblings: siblings, terminal: .empty) }
                node = try source.node(at: path)
                guard node != nil else { throw EntryError("state map is missing the node at depth \(path.depth)") }
            }
        }
    }

    /// Checks `proof` for `key` against `root` and returns the key's value, or nil when the proof
    /// shows the key is absent. Throws when the proof does not lead to `root` or is malformed.
    public static func verify(_ proof: MapProof, key: Hash, root: Hash, hasher: some HashFunction) throws -> MapValue? {
        let depth = proof.siblings.count
        guard depth <= 256 else { throw MerkleError("map proof deeper than 256") }
        var h: Hash
        var value: MapValue?
        switch proof.terminal {
        case .empty:
            h = .zero
        case .leaf(let k, let v):
            // The leaf must sit in the key's subtree at this depth.
            for i in 0..<depth where bit(k, i) != bit(key, i) { throw MerkleError("map proof leaf is not on the key's path") }
            h = leafHash(key: k, value: v, hasher: hasher)
            value = k == key ? v : nil
        }
        for i in stride(from: depth - 1, through: 0, by: -1) {
            let sibling = proof.siblings[i]
            guard !(h == .zero && sibling == .zero) else { throw MerkleError("map proof has a node with two empty children") }
            h = bit(key, i) == 0 ? innerHash(h, sibling, hasher: hasher) : innerHash(sibling, h, hasher: hasher)
        }
        guard h == root else { throw MerkleError("map proof does not lead to the state root") }
        return value
    }

    /// Applies `updates` (any order; a key given twice keeps its last value) to the map whose nodes
    /// `source` reads, and returns the new root and the nodes to write. Every node the update reads
    /// lies on the path of an updated key (see ``nextPath(for:after:node:)`` to prefetch them).
    public static func update(
        _ updates: [(key: Hash, value: MapValue)], source: some MapNodeSource, hasher: some HashFunction
    ) throws -> (root: Hash, writes: [MapPath: MapNode]) {
        var latest: [Hash: MapValue] = [:]
        for u in updates { latest[u.key] = u.value }
        let sorted = latest.sorted { $0.key < $1.key }.map { (key: $0.key, value: $0.value) }
        var writes: [MapPath: MapNode] = [:]
        let current = try source.node(at: .root)
        if sorted.isEmpty { return (current?.hash(hasher) ?? emptyRoot, [:]) }
        let root = try apply(sorted[...], at: .root, current: current, source: source, hasher: hasher, writes: &writes)
        return (root, writes)
    }

    private static func apply(
        _ updates: ArraySlice<(key: Hash, value: MapValue)>, at path: MapPath, current: MapNode?, source: some MapNodeSource,
        hasher: some HashFunction, writes: inout [MapPath: MapNode]
    ) throws -> Hash {
        switch current {
        case nil:
            return build(updates, at: path, hasher: hasher, writes: &writes)
        case .leaf(let key, let value)?:
            var all = Array(updates)
            if !all.contains(where: { $0.key == key }) {
                all.append((key, value))
                all.sort { $0.key < $1.key }
            }
            return build(all[...], at: path, hasher: hasher, writes: &writes)
        case .inner(let left, let right)?:
            let split = updates.firstIndex { bit($0.key, path.depth) == 1 } ?? updates.endIndex
            var newLeft = left
            var newRight = right
            if split > updates.startIndex {
                let child = path.child(0)
                let node = left == .zero ? nil : try required(source, child)
                newLeft = try apply(updates[..<split], at: child, current: node, source: source, hasher: hasher, writes: &writes)
            }
            if split < updates.endIndex {
                let child = path.child(1)
                let node = right == .zero ? nil : try required(source, child)
                newRight = try apply(updates[split...], at: child, current: node, source: source, hasher: hasher, writes: &writes)
            }
            let node = MapNode.inner(left: newLeft, right: newRight)
            writes[path] = node
            return node.hash(hasher)
        }
    }

    private static func required(_ source: some MapNodeSource, _ path: MapPath) throws -> MapNode {
        guard let node = try source.node(at: path) else { throw EntryError("state map is missing the node at depth \(path.depth)") }
        return node
    }

    /// Builds the subtree for `entries` (sorted, unique, all sharing `path`'s prefix) where nothing was stored.
    private static func build(
        _ entries: ArraySlice<(key: Hash, value: MapValue)>, at path: MapPath, hasher: some HashFunction,
        writes: inout [MapPath: MapNode]
    ) -> Hash {
        if entries.count == 1 {
            let node = MapNode.leaf(key: entries.first!.key, value: entries.first!.value)
            writes[path] = node
            return node.hash(hasher)
        }
        let split = entries.firstIndex { bit($0.key, path.depth) == 1 } ?? entries.endIndex
        let left = split > entries.startIndex ? build(entries[..<split], at: path.child(0), hasher: hasher, writes: &writes) : .zero
        let right = split < entries.endIndex ? build(entries[split...], at: path.child(1), hasher: hasher, writes: &writes) : .zero
        let node = MapNode.inner(left: left, right: right)
        writes[path] = node
        return node.hash(hasher)
    }
}

/// A ``MapNodeSource`` over a dictionary, overlaid on another source: what an update writes.
public struct MapNodeOverlay<Base: MapNodeSource>: MapNodeSource {
    public var writes: [MapPath: MapNode]
    public let base: Base

    public init(base: Base, writes: [MapPath: MapNode] = [:]) {
        self.base = base
        self.writes = writes
    }

    public func node(at path: MapPath) throws -> MapNode? {
        if let node = writes[path] { return node }
        return try base.node(at: path)
    }
}

/// An in-memory map node store (tests, auditors replaying a log).
public final class MemoryMapNodes: MapNodeSource {
    public private(set) var nodes: [MapPath: MapNode] = [:]
    public init() {}
    public func node(at path: MapPath) throws -> MapNode? { nodes[path] }
    /// Stores the writes of an update.
    public func apply(_ writes: [MapPath: MapNode]) { nodes.merge(writes) { _, new in new } }
}
