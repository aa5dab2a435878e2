import ConsentCore
import ConsentCrypto

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
    /// Replays the whole stored log: decodes every header, checks the hash chain, every stored
    /// leaf hash and body hash, that `recordedAt` never decreases (and is the same within a batch),
    /// every event's link to the previous event of its state key, every commit entry's event count
    /// and state root (recomputing the state map), that every signed checkpoint verifies and matches
    /// the root recomputed from the entries, and that the stored state map matches. Stops at the
    /// first problem. Holds the state map in memory.
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
        let map = MemoryMapNodes()
        var latest: [Hash: MapValue] = [:]
        var pending: [Hash: MapValue] = [:]
        var batchEvents: UInt32 = 0
        var batchTime: Milliseconds?
        var lastBatchTime: Milliseconds?
        var pepperOf: [String: Hash] = [:]
        var retention = RetentionTracker()
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
                if let batchTime, header.recordedAt != batchTime {
                    return fail("entry \(entry.index): recordedAt differs from the rest of its batch")
                }
                if batchTime == nil, let lastBatchTime, header.recordedAt <= lastBatchTime {
                    return fail("entry \(entry.index): a new batch must be recorded strictly later than the previous one")
                }
                switch header {
                case .consent(let h):
                    if let body = entry.body {
                        guard hasher.hash(body) == h.bodyHash else { return fail("entry \(entry.index): body does not match its hash") }
                        guard let decoded = try? ConsentBody(decoding: body),
                            Derivation.subjectKey(pepper: decoded.pepper, e164: decoded.subject, hasher: hasher) == h.subjectKey
                        else { return fail("entry \(entry.index): body does not open the header's subject key") }
                        // One number, one subject key: a second pepper would hide events from lookups by number.
                        if let known = pepperOf[decoded.subject], known != decoded.pepper {
                            return fail("entry \(entry.index): the number has a different pepper than in earlier entries")
                        }
                        pepperOf[decoded.subject] = decoded.pepper
                        report.bodies += 1
                    }
                    let key = h.stateKey(hasher: hasher)
                    let expected = (pending[key] ?? latest[key]).map { KeyLink(index: $0.index, leafHash: $0.leafHash) }
                    guard h.keyPredecessor == expected else {
                        return fail("entry \(entry.index): link to the previous event of its state key is wrong")
                    }
                    pending[key] = MapValue(index: entry.index, action: h.action, leafHash: leaf)
                    retention.consent(entry.index, h, stateKey: key, stored: entry.body != nil)
                    batchEvents += 1
                    report.events += 1
                    batchTime = h.recordedAt
                case .hold(let h):
                    if let problem = retention.hold(entry.index, h) { return fail("entry \(entry.index): \(problem)") }
                    report.holds += 1
                    batchTime = h.recordedAt
                case .purge(let h):
                    if let problem = retention.purge(entry.index, h) { return fail("entry \(entry.index): \(problem)") }
                    report.purges += 1
                    batchTime = h.recordedAt
                case .commit(let c):
                    guard c.eventCount == batchEvents else {
                        return fail("entry \(entry.index): commit entry counts \(c.eventCount) events, the batch has \(batchEvents)")
                    }
                    let root = try map.update(pending.map { ($0.key, $0.value) }, hasher: hasher)
                    guard root == c.stateRoot else { return fail("entry \(entry.index): state root does not match the replayed state map") }
                    latest.merge(pending) { _, new in new }
                    pending = [:]
                    batchEvents = 0
                    batchTime = nil
                    lastBatchTime = c.recordedAt
                    report.stateRoots += 1
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
        guard batchTime == nil else { return fail("the log ends inside a batch (no commit entry after entry \(head.size - 1))") }
        // A body leaves the store only with a purge entry that names it.
        for (index, event) in retention.events.sorted(by: { $0.key < $1.key }) {
            if event.stored, let purge = event.purgedBy { return fail("entry \(index): body still stored after purge entry \(purge)") }
            if !event.stored, event.purgedBy == nil { return fail("entry \(index): body missing, and no purge entry names it") }
        }
        // The stored Merkle hashes that proofs are built from must agree with the replay.
        let stored = try await store.readHashes(Merkle.treeHashIndexes(size: head.size))
        guard stored == frontier.peaks else { return fail("stored Merkle hashes disagree with the entries") }
        // So must the stored state map: spot-check every key's latest value through the store.
        let rootID = head.mapRootID
        let source = try await readMapPaths(Set(latest.keys), rootID: rootID)
        for (key, value) in latest where try StateMap.lookup(key, rootID: rootID, source: source) != value {
            return fail("the stored state map disagrees with the replay for a state key")
        }
        return report
    }
}
