import ConsentCore
import ConsentCrypto

/// What ``Ledger/checkIntegrity(progress:)`` found.
public struct IntegrityReport: Sendable, Codable, Equatable {
    /// Entries replayed.
    public var entries: Int64
    /// Signed checkpoints whose signature and root were checked.
    public var checkpoints: Int
    /// Bodies present whose hash was checked against their header.
    public var bodies: Int64
    /// The first problem found, naming the entry index; nil when everything holds.
    public var problem: String?

    public var ok: Bool { problem == nil }
}

extension Ledger {
    /// Replays the whole stored log: decodes every header, checks the hash chain, every stored
    /// leaf hash and body hash, that `recordedAt` never decreases, and that every signed checkpoint
    /// verifies and matches the root recomputed from the entries. Stops at the first problem.
    public nonisolated func checkIntegrity(pageSize: Int64 = 10_000, progress: (@Sendable (Int64, Int64) -> Void)? = nil) async throws
        -> IntegrityReport
    {
        let head = try await store.head()
        let hasher = Digest(suite: parameters.suite)
        var report = IntegrityReport(entries: 0, checkpoints: 0, bodies: 0, problem: nil)
        func fail(_ text: String) -> IntegrityReport {
            report.problem = text
            return report
        }
        var frontier = MerkleFrontier()
        var previous = Hash.zero
        var lastTime = parameters.createdAt
        var checkpoints = try await store.checkpoints(0...head.size)[...]
        func checkCheckpoints() -> String? {
            while let next = checkpoints.first, next.size <= frontier.size {
                checkpoints.removeFirst()
                guard next.size == frontier.size else { continue }
                guard let checkpoint = try? verifier.openCheckpoint(next.note) else {
                    return "checkpoint at size \(next.size) does not verify with the log's key"
                }
                guard checkpoint.size == next.size, checkpoint.rootHash == frontier.root(hasher: hasher) else {
                    return "checkpoint at size \(next.size) does not match the root recomputed from entries 0..<\(next.size)"
                }
                report.checkpoints += 1
            }
            return nil
        }
        if let problem = checkCheckpoints() { return fail(problem) }
        var start: Int64 = 0
        while start < head.size {
            let page = try await store.entries(start..<min(start + pageSize, head.size))
            guard !page.isEmpty else { return fail("entries from index \(start) are missing") }
            for entry in page {
                guard entry.index == frontier.size else { return fail("entry \(frontier.size) is missing") }
                let header: EntryHeader
                do { header = try EntryHeader(decoding: entry.header) } catch {
                    return fail("entry \(entry.index): header does not decode: \(error)")
                }
                let leaf = hasher.leafHash(entry.header)
                guard leaf == entry.leafHash else { return fail("entry \(entry.index): stored leaf hash is not the hash of its header") }
                guard header.previousLeafHash == previous else { return fail("entry \(entry.index): hash chain broken (previous leaf hash differs)") }
                guard header.recordedAt >= lastTime else { return fail("entry \(entry.index): recordedAt goes back in time") }
                if case .consent(let h) = header, let body = entry.body {
                    guard hasher.hash(body) == h.bodyHash else { return fail("entry \(entry.index): body does not match its hash") }
                    report.bodies += 1
                }
                frontier.append(leafHash: leaf, hasher: hasher)
                previous = leaf
                lastTime = header.recordedAt
                report.entries += 1
                if let problem = checkCheckpoints() { return fail(problem) }
            }
            start += Int64(page.count)
            progress?(start, head.size)
        }
        // The stored Merkle hashes that proofs are built from must agree with the replay.
        let stored = try await store.readHashes(Merkle.treeHashIndexes(size: head.size))
        guard stored == frontier.peaks else { return fail("stored Merkle hashes disagree with the entries") }
        return report
    }
}
