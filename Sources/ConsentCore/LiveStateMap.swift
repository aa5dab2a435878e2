/// The current version of the state map, held in memory and updated in place: what the log's
/// writer keeps so that a batch's map update reads nothing from storage once the map is loaded.
///
/// It starts as one unloaded node (a *stub*: the stored root's identifier and hash) and loads
/// stored nodes as walks reach them (``advance(_:values:)`` names the stubs they wait for, the
/// caller reads those nodes and hands them to ``load(_:hasher:)``, which checks each node's hash
/// against the one its parent recorded). ``update(_:nextID:hasher:)`` produces exactly the nodes
/// ``StateMap/update(_:rootID:source:nextID:hasher:)`` would (same identifiers, same order), so
/// the stored map is the same whichever computed it.
///
/// Positions in the trie are never removed (keys are never removed), so every in-memory node keeps
/// its slot for good: an update rewrites the slots on its paths and adds slots only for new
/// positions. Not thread-safe.
public final class LiveStateMap {
    enum Kind: UInt8 { case stub, inner, leaf }

    struct Node {
        var hash: Hash
        /// The stored node's identifier.
        var id: MapNodeID
        /// Inner: the children's slots (0 for an empty child). Leaf: `left` is the payload's slot.
        var left: Int32
        var right: Int32
        var kind: Kind
    }

    struct Leaf {
        var key: Hash
        var value: MapValue
    }

    /// A lookup in progress: the key and the slot it has reached at `depth`.
    public struct Walk: Sendable {
        public let key: Hash
        var slot: Int32
        var depth: Int
    }

    /// A stub that a walk waits for: load the stored node `id` into `slot`.
    public struct Stub: Hashable, Sendable {
        public let slot: Int32
        public let id: MapNodeID
    }

    private var nodes = Slab<Node>()
    private var leaves = Slab<Leaf>()
    /// The root's slot; 0 for the empty map.
    private var root: Int32 = 0

    /// The map whose stored root node is `rootID` (0 for the empty map) with hash `rootHash`.
    public init(rootID: MapNodeID, rootHash: Hash) {
        // Slot 0 stands for "empty" in child references.
        _ = nodes.append(Node(hash: .zero, id: 0, left: 0, right: 0, kind: .stub))
        if rootID != 0 { root = nodes.append(Node(hash: rootHash, id: rootID, left: 0, right: 0, kind: .stub)) }
    }

    deinit {
        nodes.deallocate()
        leaves.deallocate()
    }

    /// The stored identifier of the current root (0 for the empty map).
    public var rootID: MapNodeID { root == 0 ? 0 : nodes[root].id }
    /// The current root hash.
    public var rootHash: Hash { root == 0 ? StateMap.emptyRoot : nodes[root].hash }
    /// The root's shape, as a parent one level up would see it: nothing, one leaf (whose hash does not
    /// depend on its depth), or an inner node and its children's hashes (zero for an empty child).
    public enum RootShape: Equatable, Sendable {
        case empty
        case leaf(Hash)
        case inner(left: Hash, right: Hash)
        /// The root is a stored node not loaded yet.
        case unloaded
    }

    /// The root's shape (see ``RootShape``).
    public var rootShape: RootShape {
        guard root != 0 else { return .empty }
        let node = nodes[root]
        switch node.kind {
        case .stub: return .unloaded
        case .leaf: return .leaf(node.hash)
        case .inner: return .inner(left: nodes[node.left].hash, right: nodes[node.right].hash)
        }
    }

    /// The nodes held in memory, loaded or not (about 60 bytes each, plus 80 per leaf).
    public var nodeCount: Int { nodes.count - 1 }

    /// Starts a lookup of each key.
    public func walks(for keys: [Hash]) -> [Walk] {
        root == 0 ? [] : keys.map { Walk(key: $0, slot: root, depth: 0) }
    }

    /// Advances every walk as far as the loaded nodes go. Walks that end are removed (putting the
    /// key's value in `values` when the key is in the map); the others stop at a stub, and the
    /// stubs they wait for are returned (each once).
    public func advance(_ walks: inout [Walk], values: inout [Hash: MapValue]) -> [Stub] {
        var waiting: [Walk] = []
        var stubs: Set<Stub> = []
        for var walk in walks {
            while true {
                let node = nodes[walk.slot]
                if node.kind == .stub {
                    stubs.insert(Stub(slot: walk.slot, id: node.id))
                    waiting.append(walk)
                    break
                }
                if node.kind == .leaf {
                    let leaf = leaves[node.left]
                    if leaf.key == walk.key { values[leaf.key] = leaf.value }
                    break
                }
                let child = StateMap.bit(walk.key, walk.depth) == 0 ? node.left : node.right
                if child == 0 { break }
                walk.slot = child
                walk.depth += 1
            }
        }
        walks = waiting
        return Array(stubs)
    }

    /// The root, when it is still an unloaded stub (a map nothing has walked yet).
    public var rootStub: Stub? {
        root != 0 && nodes[root].kind == .stub ? Stub(slot: root, id: nodes[root].id) : nil
    }

    /// Replaces stubs by their stored nodes and returns the stubs this created for their children.
    /// Throws, changing nothing for that node, when a node's hash is not the one its parent recorded.
    @discardableResult
    public func load(_ loaded: [(stub: Stub, node: MapNode)], hasher: some HashFunction) throws -> [Stub] {
        var created: [Stub] = []
        for (stub, node) in loaded {
            let current = nodes[stub.slot]
            guard current.kind == .stub, current.id == stub.id else { continue }
            guard node.hash(hasher) == current.hash else {
                throw EntryError("stored state map node \(stub.id) does not match the hash its parent recorded")
            }
            switch node {
            case .leaf(let key, let value):
                let payload = leaves.append(Leaf(key: key, value: value))
                nodes[stub.slot] = Node(hash: current.hash, id: current.id, left: payload, right: 0, kind: .leaf)
            case .inner(let left, let right, let leftID, let rightID):
                let l = leftID == 0 ? 0 : nodes.append(Node(hash: left, id: leftID, left: 0, right: 0, kind: .stub))
                let r = rightID == 0 ? 0 : nodes.append(Node(hash: right, id: rightID, left: 0, right: 0, kind: .stub))
                nodes[stub.slot] = Node(hash: current.hash, id: current.id, left: l, right: r, kind: .inner)
                if l != 0 { created.append(Stub(slot: l, id: leftID)) }
                if r != 0 { created.append(Stub(slot: r, id: rightID)) }
            }
        }
        return created
    }

    /// Applies `updates` (any order; a key given twice keeps its last value) in place and returns the
    /// new nodes to store, numbered from `nextID`, and the stored nodes they replace. Every node on
    /// an updated path must be loaded (walk the keys first); otherwise this throws, and the map is
    /// left part-updated: discard it.
    public func update(_ updates: [(key: Hash, value: MapValue)], nextID: MapNodeID, hasher: some HashFunction) throws -> MapUpdate {
        let sorted = StateMap.latestSorted(updates)
        if sorted.isEmpty { return MapUpdate(root: rootHash, rootID: rootID, nodes: []) }
        var writer = StateMap.NodeWriter(nextID: nextID)
        root = try apply(sorted[...], depth: 0, slot: root, hasher: hasher, writer: &writer)
        return MapUpdate(root: rootHash, rootID: rootID, nodes: writer.nodes, replaced: writer.replaced)
    }

    /// ``update(_:nextID:hasher:)`` for a caller that needs only the new root (an audit recomputing
    /// state roots): the same nodes are built, numbered and hashed, but not collected, which cost
    /// more than hashing them. Returns the new root and the next unused identifier.
    public func updateRoot(
        _ updates: [(key: Hash, value: MapValue)], nextID: MapNodeID, hasher: some HashFunction
    ) throws -> (root: Hash, nextID: MapNodeID) {
        let sorted = StateMap.latestSorted(updates)
        if sorted.isEmpty { return (rootHash, nextID) }
        var writer = StateMap.NodeWriter(nextID: nextID)
        writer.recording = false
        root = try apply(sorted[...], depth: 0, slot: root, hasher: hasher, writer: &writer)
        return (rootHash, writer.nextID)
    }

    private func apply(
        _ updates: ArraySlice<(key: Hash, value: MapValue)>, depth: Int, slot: Int32, hasher: some HashFunction,
        writer: inout StateMap.NodeWriter
    ) throws -> Int32 {
        if slot == 0 { return build(updates, depth: depth, reuse: 0, payload: nil, hasher: hasher, writer: &writer) }
        let node = nodes[slot]
        switch node.kind {
        case .stub:
            throw EntryError("state map node \(node.id) is on an updated path but was not loaded")
        case .leaf:
            writer.replaced.append(node.id)
            let existing = leaves[node.left]
            let all = StateMap.merging(updates, leaf: (existing.key, existing.value))
            return build(all[...], depth: depth, reuse: slot, payload: node.left, hasher: hasher, writer: &writer)
        case .inner:
            writer.replaced.append(node.id)
            var left = node.left
            var right = node.right
            let split = StateMap.splitIndex(updates, depth: depth)
            if split > updates.startIndex {
                left = try apply(updates[..<split], depth: depth + 1, slot: left, hasher: hasher, writer: &writer)
            }
            if split < updates.endIndex {
                right = try apply(updates[split...], depth: depth + 1, slot: right, hasher: hasher, writer: &writer)
            }
            writeInner(slot: slot, left: left, right: right, hasher: hasher, writer: &writer)
            return slot
        }
    }

    /// Builds the subtree for `entries` (sorted, unique, sharing the first `depth` bits) from nothing,
    /// its top node in slot `reuse` (a new slot when 0). The leaf whose key is in leaf payload slot
    /// `payload` (a leaf pushed down by the update) keeps that payload slot.
    private func build(
        _ entries: ArraySlice<(key: Hash, value: MapValue)>, depth: Int, reuse: Int32, payload: Int32?, hasher: some HashFunction,
        writer: inout StateMap.NodeWriter
    ) -> Int32 {
        let slot = reuse != 0 ? reuse : nodes.append(Node(hash: .zero, id: 0, left: 0, right: 0, kind: .stub))
        if entries.count == 1 {
            let entry = entries.first!
            let (hash, id) = writer.add(.leaf(key: entry.key, value: entry.value), hasher)
            let leaf = Leaf(key: entry.key, value: entry.value)
            let payloadSlot: Int32
            if let payload, leaves[payload].key == entry.key {
                leaves[payload] = leaf
                payloadSlot = payload
            } else {
                payloadSlot = leaves.append(leaf)
            }
            nodes[slot] = Node(hash: hash, id: id, left: payloadSlot, right: 0, kind: .leaf)
            return slot
        }
        let split = StateMap.splitIndex(entries, depth: depth)
        let left = split > entries.startIndex
            ? build(entries[..<split], depth: depth + 1, reuse: 0, payload: payload, hasher: hasher, writer: &writer) : 0
        let right = split < entries.endIndex
            ? build(entries[split...], depth: depth + 1, reuse: 0, payload: payload, hasher: hasher, writer: &writer) : 0
        writeInner(slot: slot, left: left, right: right, hasher: hasher, writer: &writer)
        return slot
    }

    /// Writes the inner node over the children in `left` and `right` into `slot` and emits it.
    private func writeInner(slot: Int32, left: Int32, right: Int32, hasher: some HashFunction, writer: inout StateMap.NodeWriter) {
        let l = nodes[left]
        let r = nodes[right]
        // Slot 0 has hash zero and identifier 0: exactly what an empty child records.
        let (hash, id) = writer.add(.inner(left: l.hash, right: r.hash, leftID: l.id, rightID: r.id), hasher)
        nodes[slot] = Node(hash: hash, id: id, left: left, right: right, kind: .inner)
    }
}

/// A growable array of trivial values addressed by 32-bit slots, without copy-on-write or
/// exclusivity checks on access (it lives inside one class instance).
struct Slab<Element> {
    private var base: UnsafeMutablePointer<Element>
    private var capacity: Int
    private(set) var count = 0

    init() {
        capacity = 1024
        base = .allocate(capacity: capacity)
    }

    subscript(slot: Int32) -> Element {
        get { base[Int(slot)] }
        nonmutating set { base[Int(slot)] = newValue }
    }

    /// Appends `element` and returns its slot.
    mutating func append(_ element: Element) -> Int32 {
        if count == capacity {
            let grown = UnsafeMutablePointer<Element>.allocate(capacity: capacity * 2)
            grown.moveInitialize(from: base, count: count)
            base.deallocate()
            base = grown
            capacity *= 2
        }
        (base + count).initialize(to: element)
        count += 1
        precondition(count <= Int(Int32.max), "state map too large for 32-bit slots")
        return Int32(count - 1)
    }

    /// Frees the storage (the elements are trivial: nothing to deinitialise).
    func deallocate() { base.deallocate() }
}
