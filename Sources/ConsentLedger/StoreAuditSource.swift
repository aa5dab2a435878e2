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

    static func auditEntry(_ entry: StoredEntry) -> AuditEntry {
        AuditEntry(index: entry.index, header: entry.header, leafHash: entry.leafHash, body: body(entry))
    }

    /// `range` up to the head the source was made at.
    func clipped(_ range: Range<Int64>) -> Range<Int64> { range.lowerBound..<min(range.upperBound, max(range.lowerBound, upto)) }

    public func entries(_ range: Range<Int64>) async throws -> [AuditEntry] {
        try await store.entries(clipped(range)).map(Self.auditEntry)
    }

    public func page(_ range: Range<Int64>) async throws -> AuditPage { try await store.auditPage(clipped(range)) }

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

extension LedgerStore {
    public func auditPage(_ range: Range<Int64>) async throws -> AuditPage {
        AuditPage(try await entries(range).map(StoreAuditSource.auditEntry))
    }
}
