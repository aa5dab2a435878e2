import ConsentCore
import ConsentCrypto

/// What a compaction run found and did.
public struct CompactionReport: Sendable, Codable, Equatable {
    /// The time the run applied the policy at (its purge entries' `recordedAt`).
    public var now: Milliseconds
    /// The policy applied.
    public var retention: RetentionPeriod
    public var purgeAfter: RetentionPeriod
    /// Consent events whose bodies were looked at (those with a stored body).
    public var examined: Int
    /// Bodies purged by this run (or that would be, with `dryRun`).
    public var purged: Int
    /// Bodies kept, and why.
    public var kept: Int
    public var keptCurrent: Int
    public var keptRetained: Int
    public var keptHeld: Int
    /// The purge entries appended (empty for a dry run or when nothing was due).
    public var purgeEntries: [Int64]
    public var dryRun: Bool
    /// Bytes of database file before and after (after space was reclaimed).
    public var bytesBefore: Int64?
    public var bytesAfter: Int64?
}

extension Ledger {
    /// Feeds entries `range` of the log to `tracker`. A hold or purge that the tracker finds wrong
    /// means a damaged log: it throws.
    nonisolated func track(_ range: Range<Int64>, into tracker: inout RetentionTracker, pageSize: Int64 = 20_000,
        progress: (@Sendable (Int64, Int64) -> Void)? = nil) async throws
    {
        let hasher = Digest(suite: parameters.suite)
        var start = range.lowerBound
        while start < range.upperBound {
            let page = try await store.entries(start..<min(start + pageSize, range.upperBound))
            guard !page.isEmpty else { throw LedgerError.corrupt("entries from index \(start) are missing") }
            for entry in page {
                switch try EntryHeader(decoding: entry.header) {
                case .consent(let h): tracker.consent(entry.index, h, stateKey: h.stateKey(hasher: hasher), stored: entry.body != nil)
                case .hold(let h):
                    if let problem = tracker.hold(entry.index, h) { throw LedgerError.corrupt("entry \(entry.index): \(problem)") }
                case .purge(let h):
                    if let problem = tracker.purge(entry.index, h) { throw LedgerError.corrupt("entry \(entry.index): \(problem)") }
                case .commit: break
                }
            }
            start += Int64(page.count)
            progress?(start, range.upperBound)
        }
    }

    /// The retention state of the whole log, replayed from its headers (and which bodies are stored).
    public nonisolated func retentionState(progress: (@Sendable (Int64, Int64) -> Void)? = nil) async throws
        -> (tracker: RetentionTracker, size: Int64)
    {
        let size = try await store.head().size
        var tracker = RetentionTracker()
        try await track(0..<size, into: &tracker, progress: progress)
        return (tracker, size)
    }

    /// Purges every body whose purge time under the log's policy has come at `now` (default: the
    /// log's clock) and that no hold covers. Appends purge entries of at most
    /// ``PurgeHeader/maximumCount`` indexes, each in its own batch that also deletes those bodies,
    /// so a run killed at any point leaves whole purges only and a rerun finishes the work. Before
    /// each purge, entries appended since the scan are applied (a hold placed meanwhile wins). `now`
    /// may not be earlier than the log's latest entry; a run for a later time records its purges at
    /// that time, moving the log's clock forward. Headers, roots and proofs are unchanged.
    public func compact(
        now requested: Milliseconds? = nil, dryRun: Bool = false, batchSize: Int = PurgeHeader.maximumCount, vacuum: Bool = false,
        progress: (@Sendable (String, Int64, Int64) -> Void)? = nil
    ) async throws -> CompactionReport {
        guard isWriter || dryRun else { throw LedgerError.invalidRequest("compaction needs the writer lock") }
        guard (1...PurgeHeader.maximumCount).contains(batchSize) else {
            throw LedgerError.invalidRequest("a purge entry names 1-\(PurgeHeader.maximumCount) entries, not \(batchSize)")
        }
        if let requested, requested < lastRecordedTime {
            throw LedgerError.invalidRequest(
                "--now \(RFC3339.format(requested)) is earlier than the log's latest entry (\(RFC3339.format(lastRecordedTime)))")
        }
        let now = requested ?? self.now
        let policy = try parameters.retentionPolicy
        var (tracker, scanned) = try await retentionState { done, total in progress?("scanning", done, total) }
        var report = CompactionReport(
            now: now, retention: policy.minimum, purgeAfter: policy.purgeAfter, examined: 0, purged: 0, kept: 0, keptCurrent: 0,
            keptRetained: 0, keptHeld: 0, purgeEntries: [], dryRun: dryRun)
        var due: [Int64] = []
        for (index, event) in tracker.events where event.stored && event.purgedBy == nil {
            report.examined += 1
            switch tracker.verdict(event, at: now, policy: policy) {
            case .due: due.append(index)
            case .current: report.keptCurrent += 1
            case .retained: report.keptRetained += 1
            case .held: report.keptHeld += 1
            case .absent: break
            }
        }
        due.sort()
        report.purged = due.count
        report.kept = report.examined - due.count
        guard !dryRun, !due.isEmpty else { return report }
        report.bytesBefore = try? await store.databaseBytes()
        var done: Int64 = 0
        for start in stride(from: 0, to: due.count, by: batchSize) {
            let candidates = due[start..<min(start + batchSize, due.count)]
            var purgedNow: [Int64] = []
            let indexes = try await appendAdministrative(at: now) { size in
                // Whatever was appended since the scan (a hold, say) counts before purging.
                try await self.track(scanned..<size, into: &tracker)
                scanned = size
                purgedNow = candidates.filter { tracker.events[$0].map { tracker.verdict($0, at: now, policy: policy) == .due } ?? false }
                guard !purgedNow.isEmpty else { return [] }
                return [.purge(PurgeHeader(previousLeafHash: .zero, recordedAt: now, policy: policy, purged: purgedNow))]
            }
            report.purgeEntries += indexes
            if indexes.isEmpty {
                report.purged -= candidates.count
            } else {
                report.purged -= candidates.count - purgedNow.count
                for index in purgedNow { tracker.markPurged(index, by: indexes[0]) }
                scanned += Int64(indexes.count) + 1
            }
            done += Int64(candidates.count)
            progress?("purging", done, Int64(due.count))
        }
        report.kept = report.examined - report.purged
        progress?("reclaiming space", 0, 1)
        try await store.reclaimSpace(rebuild: vacuum)
        report.bytesAfter = try? await store.databaseBytes()
        return report
    }

    /// Changes the log's retention policy for future compactions: the minimum only upwards (at least
    /// as long from every start date). Takes effect when the log is next opened.
    public static func changeRetention(directory: DataDirectory, store: any LedgerStore, to policy: RetentionPolicy) async throws {
        let lock = try directory.lockForWriting()
        defer { withExtendedLifetime(lock) {} }
        guard let parameters = try await store.parameters() else { throw StoreError.notInitialized }
        do { try parameters.retentionPolicy.allowsChange(to: policy) } catch let error as RetentionError {
            throw LedgerError.invalidRequest(error.description)
        }
        try await store.setRetention(RetentionSetting(policy))
    }

    /// Places a legal hold: until it is released, compaction purges no body it covers.
    public func placeHold(_ target: HoldTarget, reason: String, reference: String) async throws -> Int64 {
        try await appendAdministrative { _ in
            [.hold(HoldHeader(previousLeafHash: .zero, recordedAt: 0, action: .place(target: target, reason: reason, reference: reference)))]
        }[0]
    }

    /// Releases the hold placed by entry `placedAt` (which must be a hold in force).
    public func releaseHold(placedAt: Int64, reason: String, reference: String) async throws -> Int64 {
        // The whole log is read before appends are held off; only what came since, after.
        var (tracker, scanned) = try await retentionState()
        return try await appendAdministrative { size in
            try await self.track(scanned..<size, into: &tracker)
            guard tracker.holds[placedAt] != nil else {
                throw LedgerError.invalidRequest("entry \(placedAt) is not a hold in force (see `hold list`)")
            }
            return [.hold(HoldHeader(previousLeafHash: .zero, recordedAt: 0, action: .release(placedAt: placedAt, reason: reason, reference: reference)))]
        }[0]
    }
}

/// A legal hold in force.
public struct HoldInForce: Sendable, Codable, Equatable {
    /// The entry that placed it.
    public var index: Int64
    public var placedAt: String
    public var subjectKey: Hash?
    public var sender: String?
    public var reason: String
    public var reference: String
}

/// Per sender: the bodies (consent certificates) the log holds and when they fall due.
public struct RetentionReport: Sendable, Codable, Equatable {
    public struct Sender: Sendable, Codable, Equatable {
        public var sender: String
        /// Bodies stored.
        public var certificates: Int
        /// Of which: grants still current (kept while current), and bodies a hold covers.
        public var current: Int
        public var held: Int
        /// Bodies already purged.
        public var purged: Int
        /// The earliest time one of its stored, unheld bodies is due for purging (nil: none is).
        public var earliestDue: String?
        /// Bodies due at the report's time (the next compaction purges them).
        public var dueNow: Int
    }

    public var at: String
    public var retention: RetentionPeriod
    public var purgeAfter: RetentionPeriod
    public var senders: [Sender]
    public var holds: [HoldInForce]
}

extension Ledger {
    /// The holds in force, oldest first.
    public nonisolated func holdsInForce() async throws -> [HoldInForce] {
        if !(await isWriter) { try await refresh() }
        return try await holds(in: try await retentionState().tracker)
    }

    private nonisolated func holds(in tracker: RetentionTracker) async throws -> [HoldInForce] {
        let read = try await store.entries(at: Array(tracker.holds.keys))
        return try tracker.holds.keys.sorted().map { index in
            guard let entry = read[index], case .hold(let h) = try EntryHeader(decoding: entry.header),
                case .place(let target, let reason, let reference) = h.action
            else { throw LedgerError.corrupt("entry \(index) is not a hold") }
            return HoldInForce(
                index: index, placedAt: RFC3339.format(h.recordedAt), subjectKey: target.subjectKey, sender: target.sender,
                reason: reason, reference: reference)
        }
    }

    /// Per sender: certificates held, current, held by a hold, purged, and the earliest due purge, at `now`.
    public func retentionReport(now: Milliseconds? = nil) async throws -> RetentionReport {
        if !isWriter { try await refresh() }
        let now = now ?? self.now
        let policy = try parameters.retentionPolicy
        let (tracker, _) = try await retentionState()
        var senders: [String: RetentionReport.Sender] = [:]
        var earliest: [String: Milliseconds] = [:]
        for (_, event) in tracker.events {
            var s = senders[event.sender] ?? .init(sender: event.sender, certificates: 0, current: 0, held: 0, purged: 0, earliestDue: nil, dueNow: 0)
            if event.purgedBy != nil {
                s.purged += 1
            } else if event.stored {
                s.certificates += 1
                switch tracker.verdict(event, at: now, policy: policy) {
                case .current: s.current += 1
                case .held: s.held += 1
                case .due: s.dueNow += 1
                case .retained, .absent: break
                }
                if !tracker.isHeld(event), let due = tracker.retainUntil(event, period: policy.purgeAfter) {
                    earliest[event.sender] = min(earliest[event.sender] ?? .max, due)
                }
            }
            senders[event.sender] = s
        }
        for (sender, due) in earliest { senders[sender]?.earliestDue = RFC3339.format(due) }
        return RetentionReport(
            at: RFC3339.format(now), retention: policy.minimum, purgeAfter: policy.purgeAfter,
            senders: senders.values.sorted { $0.sender < $1.sender }, holds: try await holds(in: tracker))
    }
}
