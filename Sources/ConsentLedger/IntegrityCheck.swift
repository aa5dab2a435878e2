import ConsentCore
import ConsentCrypto
import ConsentVerifier

/// What ``Ledger/checkIntegrity(progress:)`` found.
public struct IntegrityReport: Sendable, Codable, Equatable {
    /// Entries replayed.
    public var entries: Int64
    /// Consent events among them.
    public var events: Int64 = 0
    /// Signed checkpoints whose signature and root were checked.
    public var checkpoints: Int
    /// Bodies present whose hash was checked against their header.
    public var bodies: Int64
    /// Commit entries whose state root was recomputed by replaying the state map.
    public var stateRoots: Int64 = 0
    /// Hold entries and purge entries checked (a purge is lawful: nothing before its time or held).
    public var holds: Int64 = 0
    public var purges: Int64 = 0
    /// The first problem found, naming the entry index; nil when everything holds.
    public var problem: String?

    public var ok: Bool { problem == nil }
}

extension Ledger {
    /// Replays the whole stored log with the audit engine (``LogAudit``, the same checks
    /// `consent-ledger audit` makes, with the log's own key): every header decodes, the hash chain,
    /// every stored leaf hash and body hash, that `recordedAt` never decreases (and is the same
    /// within a batch), every event's link to the previous event of its state key, unique
    /// idempotency keys, every commit entry's event count and state root (recomputing the state
    /// map), every signed checkpoint, lawful holds and purges, and the stored Merkle hashes. Then
    /// checks what only the store has: that the stored state map matches the replay for every key.
    /// Stops at the first problem. Holds the state map in memory.
    public nonisolated func checkIntegrity(pageSize: Int64 = 8192, progress: (@Sendable (Int64, Int64) -> Void)? = nil) async throws
        -> IntegrityReport
    {
        let source = try await StoreAuditSource(store: store)
        var options = AuditOptions(pageSize: pageSize, notBefore: parameters.createdAt)
        options.askForHugePages()
        let audit = LogAudit(verifier: verifier, options: options)
        let (result, state) = try await audit.run(source: source, progress: progress)
        var report = IntegrityReport(
            entries: result.entries, checkpoints: Int(result.checkpoints), bodies: result.bodies, problem: result.problem)
        report.events = result.events
        report.stateRoots = result.stateRoots
        report.holds = result.holds
        report.purges = result.purges
        guard let state else { return report }
        // The stored state map must agree with the replay: look up every key's latest value through the store.
        let rootID = source.head.mapRootID
        let mapSource = try await readMapPaths(Set(state.latest.keys), rootID: rootID)
        for (key, value) in state.latest where try StateMap.lookup(key, rootID: rootID, source: mapSource) != value {
            report.problem = "the stored state map disagrees with the replay for a state key"
            return report
        }
        return report
    }
}
