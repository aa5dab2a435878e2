import ConsentCore
import ConsentVerifier

/// A ledger store as an audit source (`audit --data DIR`, `check`): the stored entries, bodies,
/// checkpoints and Merkle hashes, read up to the head the store had when the source was made.
public struct StoreAuditSource: AuditSource {
    public let store: any LedgerStore
    public let head: StoreHead
    /// The size of the newest checkpoint at `head`: later checkpoints (appends after the source was
    /// made) are not served, so a live log is audited as of one moment.
    let upto: Int64

    public init(store: any LedgerStore) async throws {
        self.store = store
        head = try await store.head()
        let size = (try? SignedNote(parsing: head.checkpointNote)).flatMap { try? Checkpoint(text: $0.text) }?.size ?? head.size
        upto = max(size, head.size)
    }

    public func latestCheckpoint() async throws -> String { head.checkpointNote }

    static func body(_ entry: StoredEntry) -> AuditBody {
        if let body = entry.body { return .present(body) }
        if let purge = entry.purgedBy { return .purged(by: purge) }
        return .none
    }

    public func entries(_ range: Range<Int64>) async throws -> [AuditEntry] {
        let clipped = range.lowerBound..<min(range.upperBound, max(range.lowerBound, upto))
        return try await store.entries(clipped).map {
            AuditEntry(index: $0.index, header: $0.header, leafHash: $0.leafHash, body: Self.body($0))
        }
    }

    public func checkpoints(_ sizes: ClosedRange<Int64>) async throws -> [(size: Int64, note: String)] {
        guard sizes.lowerBound <= upto else { return [] }
        return try await store.checkpoints(sizes.lowerBound...min(sizes.upperBound, upto))
    }

    public func readHashes(_ indexes: [Int64]) async throws -> [Hash] {
        try await store.readHashes(indexes)
    }

    public func bodies(at indexes: [Int64]) async throws -> [Int64: AuditBody] {
        try await store.entries(at: indexes).mapValues(Self.body)
    }
}
