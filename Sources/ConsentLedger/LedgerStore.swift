import ConsentCore
import ConsentVerifier
import Foundation

/// A log's fixed parameters, written once at creation.
public struct LogParameters: Codable, Sendable, Equatable {
    /// The checkpoint origin and signing key name.
    public var origin: String
    /// The hash and signature suite.
    public var suite: Suite
    /// When the log was created.
    public var createdAt: Milliseconds
    /// How long bodies are kept (`minimum`, at least five calendar months) and when compaction
    /// purges them (`purgeAfter`). Absent in logs created before retention existed: the default.
    public var retention: RetentionSetting?

    public init(origin: String, suite: Suite, createdAt: Milliseconds, retention: RetentionSetting? = nil) {
        self.origin = origin
        self.suite = suite
        self.createdAt = createdAt
        self.retention = retention
    }

    /// The log's retention policy.
    public var retentionPolicy: RetentionPolicy {
        get throws {
            guard let retention else { return .default }
            do { return try RetentionPolicy(minimum: retention.minimum, purgeAfter: retention.purgeAfter) } catch {
                throw LedgerError.corrupt("the log's retention setting is invalid: \(error)")
            }
        }
    }
}

/// The stored form of a ``RetentionPolicy``: ISO 8601 periods.
public struct RetentionSetting: Codable, Sendable, Equatable {
    public var minimum: RetentionPeriod
    public var purgeAfter: RetentionPeriod

    public init(_ policy: RetentionPolicy) {
        minimum = policy.minimum
        purgeAfter = policy.purgeAfter
    }
}

/// One entry ready to be stored.
public struct NewEntry: Sendable {
    /// The encoded header (the leaf data).
    public var header: [UInt8]
    /// The hashes stored for this leaf: its leaf hash, then the subtrees it completes.
    public var storedHashes: [Hash]
    /// The encoded body, for entries that have one.
    public var body: [UInt8]?
    /// The idempotency key hash, unique across the log.
    public var idempotencyKeyHash: Hash?
    /// The subject key of a consent event, indexed for ``LedgerStore/entries(forSubject:)``.
    public var subjectKey: Hash?

    public init(header: [UInt8], storedHashes: [Hash], body: [UInt8]?, idempotencyKeyHash: Hash?, subjectKey: Hash?) {
        self.header = header
        self.storedHashes = storedHashes
        self.body = body
        self.idempotencyKeyHash = idempotencyKeyHash
        self.subjectKey = subjectKey
    }
}

/// A batch of entries appended atomically together with the checkpoint that covers them.
public struct CommitBatch: Sendable {
    /// The index of the first entry; must equal the log's size when committed.
    public var firstIndex: Int64
    public var entries: [NewEntry]
    /// The signed checkpoint note for the tree after this batch.
    public var checkpointNote: String
    /// New state-map nodes (identifiers above every stored one; nodes are never rewritten).
    public var mapNodes: [(id: MapNodeID, node: MapNode)]
    /// The state map's root node after the batch (0 for the empty map).
    public var mapRootID: MapNodeID
    /// Bodies the batch deletes, each with the index of the purge entry (in the batch) that names it.
    public var purgedBodies: [PurgedBody] = []

    public init(
        firstIndex: Int64, entries: [NewEntry], checkpointNote: String, mapNodes: [(id: MapNodeID, node: MapNode)] = [],
        mapRootID: MapNodeID = 0, purgedBodies: [PurgedBody] = []
    ) {
        self.purgedBodies = purgedBodies
        self.firstIndex = firstIndex
        self.entries = entries
        self.checkpointNote = checkpointNote
        self.mapNodes = mapNodes
        self.mapRootID = mapRootID
    }

    /// The tree size after the batch.
    public var newSize: Int64 { firstIndex + Int64(entries.count) }
}

/// The end of a batch, delivered by the ledger while the store writes the batch's beginning
/// (``LedgerStore/commit(firstIndex:leading:rest:)``).
public final class BatchCompletion: @unchecked Sendable {
    private let ready = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var result: Result<CommitBatch, any Error>?

    public init() {}

    /// Delivers the rest of the batch: its `firstIndex` follows the leading entries.
    public func succeed(_ rest: CommitBatch) { complete(.success(rest)) }

    /// Abandons the batch: the store writes nothing.
    public func fail(_ error: any Error) { complete(.failure(error)) }

    private func complete(_ value: Result<CommitBatch, any Error>) {
        let first = lock.withLock {
            guard result == nil else { return false }
            result = value
            return true
        }
        if first { ready.signal() }
    }

    /// Blocks the calling thread until the rest is delivered. For a store's own database thread,
    /// never a Swift concurrency thread.
    public func wait() throws -> CommitBatch {
        ready.wait()
        ready.signal()
        return try lock.withLock { result! }.get()
    }
}

/// A body deleted by a purge entry.
public struct PurgedBody: Sendable, Equatable {
    /// The entry whose body is deleted.
    public var index: Int64
    /// The purge entry that names it.
    public var purgeEntry: Int64

    public init(index: Int64, purgeEntry: Int64) {
        self.index = index
        self.purgeEntry = purgeEntry
    }
}

/// An entry as stored.
public struct StoredEntry: Sendable, Equatable {
    public var index: Int64
    public var header: [UInt8]
    public var leafHash: Hash
    /// The body, or nil when the entry has none (or it was purged).
    public var body: [UInt8]?
    /// The purge entry that deleted the body, when one did.
    public var purgedBy: Int64?

    public init(index: Int64, header: [UInt8], leafHash: Hash, body: [UInt8]?, purgedBy: Int64? = nil) {
        self.index = index
        self.header = header
        self.leafHash = leafHash
        self.body = body
        self.purgedBy = purgedBy
    }
}

/// What the store knows about the end of the log.
public struct StoreHead: Sendable, Equatable {
    public var size: Int64
    /// The last entry's encoded header (nil for the empty log).
    public var lastHeader: [UInt8]?
    /// The last entry's leaf hash (``Hash/zero`` for the empty log).
    public var lastLeafHash: Hash
    /// The newest signed checkpoint note.
    public var checkpointNote: String
    /// The state map's current root node (0 for the empty map).
    public var mapRootID: MapNodeID
    /// One above the highest stored map node identifier.
    public var nextMapNodeID: MapNodeID

    public init(
        size: Int64, lastHeader: [UInt8]?, lastLeafHash: Hash, checkpointNote: String, mapRootID: MapNodeID = 0,
        nextMapNodeID: MapNodeID = 1
    ) {
        self.size = size
        self.lastHeader = lastHeader
        self.lastLeafHash = lastLeafHash
        self.checkpointNote = checkpointNote
        self.mapRootID = mapRootID
        self.nextMapNodeID = nextMapNodeID
    }
}

/// Errors a store reports in terms of the log.
public enum StoreError: Error, Equatable, CustomStringConvertible {
    /// The batch does not start at the end of the log (another writer, or a bug).
    case notAtEnd(expected: Int64, got: Int64)
    /// An idempotency key hash already exists.
    case duplicateIdempotencyKey
    /// The store holds no log.
    case notInitialized
    /// The store already holds a log.
    case alreadyInitialized
    /// A hash or entry the log must have is missing: the store is damaged.
    case missing(String)

    public var description: String {
        switch self {
        case .notAtEnd(let expected, let got): return "batch starts at index \(got) but the log has \(expected) entries"
        case .duplicateIdempotencyKey: return "idempotency key already used"
        case .notInitialized: return "no ledger here (run `consent-ledger init` first)"
        case .alreadyInitialized: return "a ledger already exists here"
        case .missing(let what): return "store is damaged: \(what) is missing"
        }
    }
}

/// Durable storage for one log. Shaped by what the ledger needs, not by tables: commit a batch
/// atomically and durably, read hashes for proofs, read entries, look up idempotency keys.
///
/// Every implementation runs the same conformance tests (`StoreConformance`).
public protocol LedgerStore: Sendable {
    /// The log's parameters, or nil when the store is empty.
    func parameters() async throws -> LogParameters?
    /// Writes the parameters and the empty tree's checkpoint; fails if a log exists.
    func initialize(_ parameters: LogParameters, checkpointNote: String) async throws
    /// Replaces the parameters' retention setting (everything else is fixed for the log's life).
    func setRetention(_ retention: RetentionSetting) async throws
    /// The end of the log.
    func head() async throws -> StoreHead
    /// Appends a batch in one transaction and returns only once it is durable.
    /// Fails without writing anything if `batch.firstIndex` is not the current size.
    func commit(_ batch: CommitBatch) async throws
    /// Like ``commit(_:)`` for a batch whose end is still being computed: writes `leading` (the
    /// batch's first entries, from `firstIndex`) while the caller computes the rest, then waits for
    /// `rest` (the remaining entries, checkpoint and map nodes) and commits everything in one
    /// transaction. If `rest` fails, nothing is written.
    func commit(firstIndex: Int64, leading: [NewEntry], rest: BatchCompletion) async throws
    /// Hashes by stored hash index; exactly one per index, in order.
    func readHashes(_ indexes: [Int64]) async throws -> [Hash]
    /// Entries `range`, in order (fewer if the log is shorter).
    func entries(_ range: Range<Int64>) async throws -> [StoredEntry]
    /// ``entries(_:)`` as an audit page (one buffer; a store that can build it directly saves two
    /// allocations per entry).
    func auditPage(_ range: Range<Int64>) async throws -> AuditPage
    /// The entries at these indexes, with their bodies, by index (indexes past the end are left out).
    func entries(at indexes: [Int64]) async throws -> [Int64: StoredEntry]
    /// The entries already holding these idempotency key hashes (bodies not loaded).
    func entries(withIdempotencyKeys keys: [Hash]) async throws -> [Hash: StoredEntry]
    /// The checkpoint note signed at tree size `size`, if one was.
    func checkpoint(size: Int64) async throws -> String?
    /// Entries that may belong to a subject (an index on part of the subject key: callers filter
    /// on the decoded header), in log order.
    func entries(forSubject subjectKey: Hash) async throws -> [StoredEntry]
    /// The stored state-map nodes with these identifiers (unknown ones are left out).
    func mapNodes(_ ids: [MapNodeID]) async throws -> [MapNodeID: MapNode]
    /// The state map's root node after the batch that ended at tree size `size`, if one did.
    func mapRoot(size: Int64) async throws -> MapNodeID?
    /// Every checkpoint signed at a size in `sizes`, by size.
    func checkpoints(_ sizes: ClosedRange<Int64>) async throws -> [(size: Int64, note: String)]
    /// The newest batch whose state-map nodes are all known to be durable. A store may make map
    /// nodes durable after the commit that refers to them (they are derived from the entries); after
    /// a crash the ledger recomputes the nodes of later batches with ``restoreMapNodes(_:)``.
    func durableMapRoot() async throws -> DurableMapRoot
    /// Writes state-map nodes recomputed from the entries, at their identifiers (which the store
    /// already committed), and makes them durable.
    func restoreMapNodes(_ nodes: [(id: MapNodeID, node: MapNode)]) async throws
    /// Returns the space freed by deleted bodies to the file system. `rebuild` also repacks
    /// partly emptied pages (slower, and blocks appends while it runs).
    func reclaimSpace(rebuild: Bool) async throws
    /// The bytes the store's database occupies on disk.
    func databaseBytes() async throws -> Int64
}

/// A batch boundary whose state-map nodes are durable.
public struct DurableMapRoot: Sendable, Equatable {
    /// The tree size after the batch (0: no batch, the empty map).
    public var size: Int64
    /// The map's root node then (0 for the empty map).
    public var rootID: MapNodeID
    /// One above the highest node identifier the map used then.
    public var nextID: MapNodeID

    public init(size: Int64, rootID: MapNodeID, nextID: MapNodeID) {
        self.size = size
        self.rootID = rootID
        self.nextID = nextID
    }
}
