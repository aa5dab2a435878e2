import ConsentCore
import ConsentStoreSQLite
import Synchronization
import Testing

@testable import ConsentLedger

/// A store that forwards to SQLite but fails the commits it is told to fail, writing nothing.
final class FlakyStore: LedgerStore {
    let inner: SQLiteStore
    /// Commits still to let through before failing one (-1: never fail).
    let failAfter = Mutex(-1)
    /// State-map nodes read so far.
    let mapNodesRead = Mutex(0)

    init(_ inner: SQLiteStore) { self.inner = inner }

    struct Injected: Error {}

    func commit(firstIndex: Int64, leading: [NewEntry], rest: BatchCompletion) async throws {
        let fail = failAfter.withLock { n in
            defer { if n >= 0 { n -= 1 } }
            return n == 0
        }
        if fail { throw Injected() }
        try await inner.commit(firstIndex: firstIndex, leading: leading, rest: rest)
    }

    func parameters() async throws -> LogParameters? { try await inner.parameters() }
    func initialize(_ parameters: LogParameters, checkpointNote: String) async throws {
        try await inner.initialize(parameters, checkpointNote: checkpointNote)
    }
    func setRetention(_ retention: RetentionSetting) async throws { try await inner.setRetention(retention) }
    func head() async throws -> StoreHead { try await inner.head() }
    func commit(_ batch: CommitBatch) async throws { try await inner.commit(batch) }
    func readHashes(_ indexes: [Int64]) async throws -> [Hash] { try await inner.readHashes(indexes) }
    func entries(_ range: Range<Int64>) async throws -> [StoredEntry] { try await inner.entries(range) }
    func entries(at indexes: [Int64]) async throws -> [Int64: StoredEntry] { try await inner.entries(at: indexes) }
    func entries(withIdempotencyKeys keys: [Hash]) async throws -> [Hash: StoredEntry] {
        try await inner.entries(withIdempotencyKeys: keys)
    }
    func checkpoint(size: Int64) async throws -> String? { try await inner.checkpoint(size: size) }
    func entries(forSubject subjectKey: Hash) async throws -> [StoredEntry] { try await inner.entries(forSubject: subjectKey) }
    func mapNodes(_ ids: [MapNodeID]) async throws -> [MapNodeID: MapNode] {
        mapNodesRead.withLock { $0 += ids.count }
        return try await inner.mapNodes(ids)
    }
    func mapRoot(size: Int64) async throws -> MapNodeID? { try await inner.mapRoot(size: size) }
    func checkpoints(_ sizes: ClosedRange<Int64>) async throws -> [(size: Int64, note: String)] {
        try await inner.checkpoints(sizes)
    }
    func durableMapRoot() async throws -> DurableMapRoot { try await inner.durableMapRoot() }
    func restoreMapNodes(_ nodes: [(id: MapNodeID, node: MapNode)]) async throws { try await inner.restoreMapNodes(nodes) }
    func reclaimSpace(rebuild: Bool) async throws { try await inner.reclaimSpace(rebuild: rebuild) }
    func databaseBytes() async throws -> Int64 { try await inner.databaseBytes() }
}

/// The writer's in-memory state map: updated in place, so it must be dropped whenever it may have
/// moved ahead of the stored map.
@Suite struct LiveMapTests {
    /// A batch whose commit fails after its map update was computed leaves no trace in the map: the
    /// batches after it commit the roots a replay of the log computes.
    @Test func aFailedCommitLeavesNoTraceInTheMap() async throws {
        let dir = TempDirectory()
        let clock = TestClock()
        let sqlite = try SQLiteStore(directory: dir.directory)
        let store = FlakyStore(sqlite)
        _ = try await Ledger.create(directory: dir.directory, store: store, origin: "test.example/log", suite: .sha256Ed25519, clock: clock.now)
        let ledger = try await Ledger.open(directory: dir.directory, store: store, clock: clock.now)
        _ = try await ledger.append((0..<50).map { try event($0) })
        store.failAfter.withLock { $0 = 0 }
        // New keys and an existing one: both would change the map.
        await #expect(throws: FlakyStore.Injected.self) { try await ledger.append((45..<80).map { try event($0, action: "revoke") }) }
        _ = try await ledger.append((60..<70).map { try event($0) })
        _ = try await ledger.append([try event(3, action: "revoke")])
        let report = try await ledger.checkIntegrity()
        #expect(report.ok, "\(report.problem ?? "")")
        #expect(report.stateRoots == 3)
        // The failed batch's revocations were never recorded.
        let answer = try await ledger.answer(
            ConsentQuestion(subject: try PhoneNumber(normalizing: "13800130075"), sender: "s1", port: nil, purpose: nil, at: clock.now()))
        #expect(answer.decision == .neverAsked)
    }

    /// With a limit of a few nodes the map starts over after every batch and reloads what each batch
    /// needs from the store: the roots stay right.
    @Test func aMapOverItsLimitReloadsFromTheStore() async throws {
        let dir = TempDirectory()
        let clock = TestClock()
        let store = try SQLiteStore(directory: dir.directory)
        _ = try await Ledger.create(directory: dir.directory, store: store, origin: "test.example/log", suite: .sha256Ed25519, clock: clock.now)
        let ledger = try await Ledger.open(directory: dir.directory, store: store, clock: clock.now, liveMapLimit: 16)
        for batch in 0..<20 {
            _ = try await ledger.append((0..<25).map { try event((batch * 37 + $0 * 11) % 200, action: $0 % 4 == 0 ? "revoke" : "grant") })
        }
        let report = try await ledger.checkIntegrity()
        #expect(report.ok, "\(report.problem ?? "")")
        #expect(report.stateRoots == 20)
    }
}
