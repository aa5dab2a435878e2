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

/// The identifier of a stored map node; 0 means none (an empty subtree or the empty map).
///
/// Nodes are immutable: an update writes new nodes (copy on write along the updated paths) with
/// fresh, increasing identifiers, so every earlier root stays readable and stores only ever append.
public typealias MapNodeID = Int64

/// A stored node. Inner nodes keep their children's hashes and identifiers, so walking a key's
/// path reads one node per level and finds every sibling on the way.
public enum MapNode: Equatable, Sendable {
    case leaf(key: Hash, value: MapValue)
    /// Children hashes (``Hash/zero`` for an empty child) and identifiers (0 for an empty child).
    case inner(left: Hash, right: Hash, leftID: MapNodeID, rightID: MapNodeID)

    /// The node's hash (identifiers are storage details and not hashed).
    public func hash(_ hasher: some HashFunction) -> Hash {
        switch self {
        case .leaf(let key, let value): return StateMap.leafHash(key: key, value: value, hasher: hasher)
        case .inner(let left, let right, _, _): return StateMap.innerHash(left, right, hasher: hasher)
        }
    }

    /// Storage encoding: 0x02 ‖ key ‖ index ‖ action ‖ leaf hash, or 0x03 ‖ left ‖ right ‖ left id ‖ right id.
    public func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: 81)
        switch self {
        case .leaf(let key, let value):
            w.u8(2)
            w.hash(key)
            w.i64(value.index)
            w.u8(value.action.rawValue)
            w.hash(value.leafHash)
        case .inner(let left, let right, let leftID, let rightID):
            w.u8(3)
            w.hash(left)
            w.hash(right)
            w.i64(leftID)
            w.i64(rightID)
        }
        return w.bytes
    }

    /// The size of a fixed-size storage record: ``encoded()`` padded with zeros (an inner node needs all 81).
    public static let recordSize = 81

    /// ``encoded()`` padded with zeros to ``recordSize``.
    public func record() -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: MapNode.recordSize) { buffer, count in
            writeRecord(to: UnsafeMutableRawBufferPointer(buffer))
            count = MapNode.recordSize
        }
    }

    /// Writes ``record()`` into the first ``recordSize`` bytes of `buffer`, allocating nothing (a
    /// batch writes a hundred thousand nodes).
    public func writeRecord(to buffer: UnsafeMutableRawBufferPointer) {
        precondition(buffer.count >= MapNode.recordSize)
        func put(_ h: Hash, at offset: Int) {
            h.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: buffer[offset..<offset + 32]).copyMemory(from: $0) }
        }
        func put(_ v: Int64, at offset: Int) {
            for i in 0..<8 { buffer[offset + i] = UInt8(truncatingIfNeeded: UInt64(bitPattern: v) >> UInt64(56 - 8 * i)) }
        }
        switch self {
        case .leaf(let key, let value):
            buffer[0] = 2
            put(key, at: 1)
            put(value.index, at: 33)
            buffer[41] = value.action.rawValue
            put(value.leafHash, at: 42)
            for i in 74..<MapNode.recordSize { buffer[i] = 0 }
        case .inner(let left, let right, let leftID, let rightID):
            buffer[0] = 3
            put(left, at: 1)
            put(right, at: 33)
            put(leftID, at: 65)
            put(rightID, at: 73)
        }
    }

    /// Decodes ``record()``: the encoding, then only zeros.
    public init(record bytes: ArraySlice<UInt8>) throws {
        guard bytes.count == MapNode.recordSize, let tag = bytes.first else { throw EntryError("map node record has the wrong size") }
        let length = tag == 2 ? 74 : MapNode.recordSize
        guard bytes.dropFirst(length).allSatisfy({ $0 == 0 }) else { throw EntryError("map node record has non-zero padding") }
        try self.init(decoding: Array(bytes.prefix(length)))
    }

    /// Decodes ``encoded()``.
    public init(decoding bytes: [UInt8]) throws {
        self = try ByteReader.reading(bytes) { r in
            let node: MapNode
            switch try r.u8() {
            case 2:
                let key = try r.hash()
                let index = try r.i64()
                let actionByte = try r.u8()
                guard let action = ConsentAction(rawValue: actionByte) else { throw EntryError("unknown action in map leaf") }
                node = .leaf(key: key, value: MapValue(index: index, action: action, leafHash: try r.hash()))
            case 3:
                let left = try r.hash()
                let right = try r.hash()
                node = .inner(left: left, right: right, leftID: try r.i64(), rightID: try r.i64())
            case let tag:
                throw EntryError("unknown map node tag \(tag)")
            }
            try r.finish()
            return node
        }
    }
}

/// Reads stored map nodes (synchronously: callers prefetch what an operation needs).
public protocol MapNodeSource {
    /// The node with identifier `id`; throws when it is not available.
    func node(_ id: MapNodeID) throws -> MapNode
}

/// The result of a map update: the new root and the nodes to store.
public struct MapUpdate: Sendable {
    public var root: Hash
    public var rootID: MapNodeID
    /// New nodes, identifiers increasing from the `nextID` the update was given.
    public var nodes: [(id: MapNodeID, node: MapNode)]
    /// The nodes of the old map that are not part of the new one (each replaced by a new node).
    public var replaced: [MapNodeID] = []
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
        // The same bytes as ``scopeBytes(sender:scope:)``, written into one buffer on the stack: this
        // runs once per event in an audit.
        withUnsafeTemporaryAllocation(byteCount: stateKeyPrefix.count + 32 + 1 + 3 * 256, alignment: 8) { buffer in
            var n = 0
            func put(_ bytes: UnsafeRawBufferPointer) {
                UnsafeMutableRawBufferPointer(rebasing: buffer[n..<n + bytes.count]).copyMemory(from: bytes)
                n += bytes.count
            }
            func short(_ s: String) {
                var s = s
                s.withUTF8 { utf8 in
                    precondition(utf8.count <= 255, "short string over 255 bytes")
                    buffer[n] = UInt8(utf8.count)
                    n += 1
                    put(UnsafeRawBufferPointer(utf8))
                }
            }
            stateKeyPrefix.withUnsafeBytes { put($0) }
            subjectKey.withUnsafeBytes { put($0) }
            switch scope {
            case .global:
                buffer[n] = 0
                n += 1
            case .sender:
                buffer[n] = 1
                n += 1
                short(sender)
            case .narrowed(let port, let purpose):
                buffer[n] = 2
                n += 1
                short(sender)
                short(port ?? "")
                short(purpose ?? "")
            }
            return hasher.hash(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        }
    }

    /// The part of a state key's input after the subject key: the encoded scope. The same for every
    /// subject, so callers deriving many keys for one sender and scope encode it once.
    public static func scopeBytes(sender: String, scope: Scope) -> [UInt8] {
        var w = ByteWriter(capacity: 64)
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
        return w.bytes
    }

    @usableFromInline static let stateKeyPrefix = Array("consent-ledger/state-key/v1".utf8) + [0]

    /// ``stateKey(subjectKey:sender:scope:hasher:)`` from the encoded scope (``scopeBytes(sender:scope:)``),
    /// hashed in place: no allocation.
    @inlinable public static func stateKey(subjectKey: Hash, scopeBytes: [UInt8], hasher: some HashFunction) -> Hash {
        hasher.begin()
        stateKeyPrefix.withUnsafeBytes { hasher.update($0) }
        subjectKey.withUnsafeBytes { hasher.update($0) }
        scopeBytes.withUnsafeBytes { hasher.update($0) }
        return hasher.finish()
    }

    /// The next node a lookup of `key` reads after `node` at `depth`, or nil when the walk ends
    /// there. Used to prefetch level by level.
    public static func nextNode(for key: Hash, depth: Int, node: MapNode) -> MapNodeID? {
        guard case .inner(_, _, let leftID, let rightID) = node else { return nil }
        let child = bit(key, depth) == 0 ? leftID : rightID
        return child == 0 ? nil : child
    }

    /// The value stored for `key` in the map whose root node is `rootID`, or nil.
    public static func lookup(_ key: Hash, rootID: MapNodeID, source: some MapNodeSource) throws -> MapValue? {
        var id = rootID
        var depth = 0
        while id != 0 {
            let node = try source.node(id)
            if case .leaf(let k, let value) = node { return k == key ? value : nil }
            guard let next = nextNode(for: key, depth: depth, node: node) else { return nil }
            id = next
            depth += 1
        }
        return nil
    }

    /// A membership or absence proof for `key`; one node read per level.
    public static func prove(_ key: Hash, rootID: MapNodeID, source: some MapNodeSource) throws -> MapProof {
        var siblings: [Hash] = []
        var id = rootID
        var depth = 0
        while id != 0 {
            switch try source.node(id) {
            case .leaf(let k, let value):
                return MapProof(siblings: siblings, terminal: .leaf(key: k, value: value))
            case .inner(let left, let right, let leftID, let rightID):
                let b = bit(key, depth)
                siblings.append(b == 0 ? right : left)
                id = b == 0 ? leftID : rightID
                depth += 1
            }
        }
        return MapProof(siblings: siblings, terminal: .empty)
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

    /// Applies `updates` (any order; a key given twice keeps its last value) to the map whose root
    /// node is `rootID` (0 for the empty map). Returns the new root and the new nodes, numbered from
    /// `nextID`; existing nodes are never changed. Every node read lies on an updated key's path.
    public static func update(
        _ updates: [(key: Hash, value: MapValue)], rootID: MapNodeID, source: some MapNodeSource, nextID: MapNodeID,
        hasher: some HashFunction
    ) throws -> MapUpdate {
        let sorted = latestSorted(updates)
        if sorted.isEmpty {
            return MapUpdate(root: rootID == 0 ? emptyRoot : try source.node(rootID).hash(hasher), rootID: rootID, nodes: [])
        }
        var writer = NodeWriter(nextID: nextID)
        let (root, id) = try apply(sorted[...], depth: 0, current: rootID, source: source, hasher: hasher, writer: &writer)
        return MapUpdate(root: root, rootID: id, nodes: writer.nodes, replaced: writer.replaced)
    }

    // Shared by this update and ``LiveStateMap/update(_:nextID:hasher:)``, which must agree node for node.

    /// The updates sorted by key, each key once with its last value.
    static func latestSorted(_ updates: [(key: Hash, value: MapValue)]) -> [(key: Hash, value: MapValue)] {
        var latest: [Hash: MapValue] = [:]
        latest.reserveCapacity(updates.count)
        for u in updates { latest[u.key] = u.value }
        return latest.sorted { $0.key < $1.key }
    }

    /// The updates reaching an existing leaf, plus that leaf's own entry unless an update replaces it, sorted.
    static func merging(
        _ updates: ArraySlice<(key: Hash, value: MapValue)>, leaf: (key: Hash, value: MapValue)
    ) -> [(key: Hash, value: MapValue)] {
        var all = Array(updates)
        if !all.contains(where: { $0.key == leaf.key }) {
            all.append(leaf)
            all.sort { $0.key < $1.key }
        }
        return all
    }

    /// Where sorted entries sharing their first `depth` bits split into the left (bit 0) and right subtrees.
    static func splitIndex(_ entries: ArraySlice<(key: Hash, value: MapValue)>, depth: Int) -> Int {
        entries.firstIndex { bit($0.key, depth) == 1 } ?? entries.endIndex
    }

    /// Collects new nodes and numbers them.
    struct NodeWriter {
        var nextID: MapNodeID
        var nodes: [(id: MapNodeID, node: MapNode)] = []
        var replaced: [MapNodeID] = []
        /// Whether to collect the new nodes (a caller that only wants the root does not).
        var recording = true

        mutating func add(_ node: MapNode, _ hasher: some HashFunction) -> (Hash, MapNodeID) {
            let id = nextID
            nextID += 1
            if recording { nodes.append((id, node)) }
            return (node.hash(hasher), id)
        }
    }

    private static func apply(
        _ updates: ArraySlice<(key: Hash, value: MapValue)>, depth: Int, current: MapNodeID, source: some MapNodeSource,
        hasher: some HashFunction, writer: inout NodeWriter
    ) throws -> (Hash, MapNodeID) {
        if current == 0 { return build(updates, depth: depth, hasher: hasher, writer: &writer) }
        // Every existing node on an updated path is rewritten.
        writer.replaced.append(current)
        switch try source.node(current) {
        case .leaf(let key, let value):
            return build(merging(updates, leaf: (key, value))[...], depth: depth, hasher: hasher, writer: &writer)
        case .inner(var left, var right, var leftID, var rightID):
            let split = splitIndex(updates, depth: depth)
            if split > updates.startIndex {
                (left, leftID) = try apply(updates[..<split], depth: depth + 1, current: leftID, source: source, hasher: hasher, writer: &writer)
            }
            if split < updates.endIndex {
                (right, rightID) = try apply(updates[split...], depth: depth + 1, current: rightID, source: source, hasher: hasher, writer: &writer)
            }
            return writer.add(.inner(left: left, right: right, leftID: leftID, rightID: rightID), hasher)
        }
    }

    /// Builds the subtree for `entries` (sorted, unique, sharing the first `depth` bits) from nothing.
    private static func build(
        _ entries: ArraySlice<(key: Hash, value: MapValue)>, depth: Int, hasher: some HashFunction, writer: inout NodeWriter
    ) -> (Hash, MapNodeID) {
        if entries.count == 1 { return writer.add(.leaf(key: entries.first!.key, value: entries.first!.value), hasher) }
        let split = splitIndex(entries, depth: depth)
        let (left, leftID) = split > entries.startIndex ? build(entries[..<split], depth: depth + 1, hasher: hasher, writer: &writer) : (.zero, 0)
        let (right, rightID) = split < entries.endIndex ? build(entries[split...], depth: depth + 1, hasher: hasher, writer: &writer) : (.zero, 0)
        return writer.add(.inner(left: left, right: right, leftID: leftID, rightID: rightID), hasher)
    }
}

/// An in-memory map node store (tests, auditors replaying a log).
public final class MemoryMapNodes: MapNodeSource {
    public private(set) var nodes: [MapNodeID: MapNode] = [:]
    /// The current root node (0 for the empty map).
    public private(set) var rootID: MapNodeID = 0
    private var next: MapNodeID = 1
    private let keepsHistory: Bool

    /// With `keepsHistory` false, only the current map's nodes are kept (earlier roots become unreadable).
    public init(keepsHistory: Bool = true) {
        self.keepsHistory = keepsHistory
    }

    public func node(_ id: MapNodeID) throws -> MapNode {
        guard let node = nodes[id] else { throw EntryError("state map node \(id) is missing") }
        return node
    }

    /// Applies `updates` and keeps the result.
    @discardableResult
    public func update(_ updates: [(key: Hash, value: MapValue)], hasher: some HashFunction) throws -> Hash {
        let result = try StateMap.update(updates, rootID: rootID, source: self, nextID: next, hasher: hasher)
        if !keepsHistory { for id in result.replaced { nodes[id] = nil } }
        for (id, node) in result.nodes { nodes[id] = node }
        next += Int64(result.nodes.count)
        rootID = result.rootID
        return result.root
    }
}
