import ConsentCore
import ConsentCrypto
import ConsentStoreSQLite
import ConsentVerifier
import ConsentTestSupport
import Foundation
import Synchronization
import Testing

@testable import ConsentLedger

@Suite struct CompactionTests {
    /// What the test itself remembers of each event it appended (the oracle's input).
    struct Appended {
        var index: Int64
        var action: ConsentAction
        var recordedAt: Milliseconds
        var key: String
        var subject: Int
        var sender: String
    }

    /// A hold the test placed, with the times it was in force.
    struct PlacedHold {
        var index: Int64
        var subject: Int?
        var sender: String?
        var placedAt: Milliseconds
        var releasedAt: Milliseconds?

        func covers(_ e: Appended, at t: Milliseconds) -> Bool {
            guard placedAt <= t, releasedAt.map({ t < $0 }) ?? true else { return false }
            return (subject == nil || subject == e.subject) && (sender == nil || sender == e.sender)
        }
    }

    static let day: Milliseconds = 86_400_000

    /// The oracle: when `e`'s body may first be purged, from the test's own record of the history.
    static func retainUntil(_ e: Appended, in events: [Appended], period: RetentionPeriod) -> Milliseconds? {
        let successor = events.first { $0.key == e.key && $0.index > e.index }
        return Retention.retainUntil(action: e.action, recordedAt: e.recordedAt, supersededAt: successor?.recordedAt, period: period)
    }

    /// Random histories with holds and compaction runs at random times: nothing is ever purged before
    /// its time or while held, and (purging as soon as allowed) every due, unheld body is gone after a
    /// run. The log still checks and answers the same questions the same way.
    @Test(arguments: [1, 2, 3])
    func compactionPurgesOnlyWhatIsDue(seed: UInt64) async throws {
        var random = SplitMix(seed: seed)
        let dir = TempDirectory()
        let clock = TestClock()
        let ledger = try await makeLedger(dir, clock: clock)
        let senders = ["s1", "s2", "s3"]
        var events: [Appended] = []
        var holds: [PlacedHold] = []
        var purgedEarlier: Set<Int64> = []
        var keptByHold = 0
        var time = clock.value.withLock { $0 }
        let questions = try (0..<8).map { n in
            ConsentQuestion(subject: try PhoneNumber(normalizing: "1380013" + String(format: "%04d", n)), sender: senders[n % 3], at: .max)
        }
        for round in 0..<12 {
            // A few batches of events, days to weeks apart.
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                time += Milliseconds.random(in: Self.day...(40 * Self.day), using: &random)
                clock.set(time)
                var batch: [ValidatedEvent] = []
                var shapes: [(Int, String, String)] = []
                for _ in 0..<Int.random(in: 1...6, using: &random) {
                    let subject = Int.random(in: 0..<8, using: &random)
                    let sender = senders[Int.random(in: 0..<3, using: &random)]
                    let action = Bool.random(using: &random) ? "grant" : "revoke"
                    batch.append(try event(subject, sender: sender, action: action))
                    shapes.append((subject, sender, action))
                }
                let receipts = try await ledger.append(batch)
                for (receipt, shape) in zip(receipts, shapes) where !receipt.duplicate {
                    events.append(
                        Appended(
                            index: receipt.index, action: shape.2 == "grant" ? .grant : .revoke, recordedAt: receipt.recordedAt,
                            key: "\(shape.0)/\(shape.1)", subject: shape.0, sender: shape.1))
                }
            }
            // Sometimes a hold is placed or released.
            if Int.random(in: 0..<3, using: &random) == 0 {
                let subject: Int? = Bool.random(using: &random) ? Int.random(in: 0..<8, using: &random) : nil
                let sender: String? = subject == nil || Bool.random(using: &random) ? senders[Int.random(in: 0..<3, using: &random)] : nil
                var key: Hash?
                if let subject { key = await ledger.subjectKey(of: try PhoneNumber(normalizing: "1380013" + String(format: "%04d", subject))).key }
                let target: HoldTarget =
                    switch (key, sender) {
                    case (let k?, let s?): .subjectSender(k, s)
                    case (let k?, nil): .subject(k)
                    default: .sender(sender!)
                    }
                let index = try await ledger.placeHold(target, reason: "complaint under investigation 投诉", reference: "12321-\(round)")
                holds.append(PlacedHold(index: index, subject: subject, sender: sender, placedAt: await ledger.lastRecordedTime, releasedAt: nil))
            }
            if let open = holds.indices.filter({ holds[$0].releasedAt == nil }).randomElement(using: &random), Bool.random(using: &random) {
                _ = try await ledger.releaseHold(placedAt: holds[open].index, reason: "closed", reference: "12321-done-\(round)")
                holds[open].releasedAt = await ledger.lastRecordedTime
            }
            // A compaction run now or up to a year ahead.
            let before = try await questions.asyncMap { try await ledger.answer($0) }
            let now = await ledger.lastRecordedTime + Milliseconds.random(in: 0...(365 * Self.day), using: &random)
            let report = try await ledger.compact(now: now)
            time = max(time, await ledger.lastRecordedTime)

            let stored = try await ledger.store.entries(at: events.map(\.index))
            let purgeTime = await ledger.lastRecordedTime
            for e in events {
                let due = Self.retainUntil(e, in: events, period: .floor).map { $0 <= now } ?? false
                let held = holds.contains { $0.covers(e, at: purgeTime) }
                let present = stored[e.index]?.body != nil
                // Purging as soon as allowed: due and unheld bodies are gone, all others stay (unless
                // an earlier run purged them, before a hold that covers them now).
                let expected = !purgedEarlier.contains(e.index) && !(due && !held)
                #expect(present == expected, "seed \(seed) round \(round): entry \(e.index) due \(due) held \(held)")
                if !present { purgedEarlier.insert(e.index) }
                if due && held && present { keptByHold += 1 }
            }
            #expect(report.kept + report.purged == report.examined)
            let check = try await ledger.checkIntegrity()
            #expect(check.ok, "\(check.problem ?? "")")
            for (q, answer) in zip(questions, before) {
                // The same decision and deciding event (the time answered for moved with the purge's commit).
                let after = try await ledger.answer(q)
                #expect(after.decision == answer.decision && after.deciding == answer.deciding)
            }
        }
        // Every purge entry in the log was lawful by the oracle, at its own time.
        let size = await ledger.size
        let all = try await ledger.store.entries(0..<size)
        var purges = 0
        for entry in all {
            guard case .purge(let p) = try EntryHeader(decoding: entry.header) else { continue }
            purges += 1
            for index in p.purged {
                let e = try #require(events.first { $0.index == index })
                let history = events.filter { $0.index < entry.index }
                let until = try #require(Self.retainUntil(e, in: history, period: p.minimum))
                #expect(until <= p.recordedAt)
                #expect(!holds.contains { $0.covers(e, at: p.recordedAt) })
            }
        }
        #expect(purges > 0)
        #expect(keptByHold > 0, "the history never had a due body under a hold")
    }

    /// The audit catches a body removed without a purge entry, and a purge before its time.
    @Test func checkCatchesUnlawfulPurges() async throws {
        let dir = TempDirectory()
        let clock = TestClock()
        let ledger = try await makeLedger(dir, clock: clock)
        _ = try await ledger.append([try event(1, action: "revoke"), try event(2, action: "grant")])
        // Deleting a body behind the ledger's back.
        let db = dir.directory.path(SQLiteStore.fileName)
        #expect(try runProcess("/usr/bin/sqlite3", [db, "DELETE FROM bodies WHERE idx = 0"]) == 0)
        let report = try await ledger.checkIntegrity()
        #expect(report.problem == "entry 0: body missing, and no purge entry names it")

        // A purge entry appended before the revocation's five months are up is refused by the audit.
        let other = TempDirectory()
        let second = try await makeLedger(other, clock: clock)
        _ = try await second.append([try event(1, action: "revoke")])
        _ = try await second.appendAdministrative { _ in
            [.purge(PurgeHeader(previousLeafHash: .zero, recordedAt: 0, policy: .default, purged: [0]))]
        }
        let bad = try await second.checkIntegrity()
        #expect(bad.problem?.hasPrefix("entry 2: purges entry 0 before its retention ends") == true, "\(bad.problem ?? "nil")")
    }

    /// A hold placed while clients append without pause gets in after the batch being committed,
    /// not after the clients stop.
    @Test func holdsAreNotStarvedByAppends() async throws {
        let dir = TempDirectory()
        let ledger = try await makeLedger(dir)
        final class Counter: Sendable { let value = Mutex(0) }
        let appended = Counter()
        let rounds = 150
        try await withThrowingTaskGroup(of: Void.self) { group in
            for client in 0..<4 {
                group.addTask {
                    for n in 0..<rounds {
                        _ = try await ledger.append([try event(client * 1000 + n)])
                        appended.value.withLock { $0 += 1 }
                    }
                }
            }
            group.addTask {
                while appended.value.withLock({ $0 }) < 20 { try await Task.sleep(nanoseconds: 1_000_000) }
                _ = try await ledger.placeHold(.sender("s1"), reason: "complaint", reference: "12321-1")
                let done = appended.value.withLock { $0 }
                #expect(done < 4 * rounds, "the hold waited for every append (\(done))")
            }
            try await group.waitForAll()
        }
        #expect(try await ledger.checkIntegrity().ok)
    }

    @Test func nowBeforeTheLatestEntryIsRefused() async throws {
        let dir = TempDirectory()
        let clock = TestClock()
        let ledger = try await makeLedger(dir, clock: clock)
        _ = try await ledger.append([try event(1, action: "revoke")])
        let latest = await ledger.lastRecordedTime
        await #expect(throws: LedgerError.self) { _ = try await ledger.compact(now: latest - 1) }
        // Five calendar months later (China Standard Time) the revocation's body is due, not a day before.
        let period = RetentionPeriod.floor
        let dry = try await ledger.compact(now: period.added(to: latest) - 1, dryRun: true)
        #expect(dry.purged == 0 && dry.keptRetained == 1)
        let run = try await ledger.compact(now: period.added(to: latest))
        #expect(run.purged == 1 && run.purgeEntries == [2])
        #expect(await ledger.lastRecordedTime == period.added(to: latest))
        #expect(try await ledger.compact().purged == 0)  // idempotent

        // A bundle for the purged revocation still proves the refusal and says which purge took its body.
        let question = ConsentQuestion(subject: try PhoneNumber(normalizing: "13800130001"), sender: "s1", at: .max)
        let bundle = try await ledger.proveConsent(question, includeBodies: true)
        let verified = try LogVerifier(key: ledger.verifier).verify(bundle)
        #expect(verified.decision == .refused && verified.deciding?.index == 0)
        #expect(verified.purgedBodies[0]?.purgeEntry == 2 && verified.purgedBodies[0]?.at == period.added(to: latest))
        #expect(bundle.entries.first { $0.index == 0 }?.body == nil)
        // The purge notice cannot be forged: it must name a purge entry in the bundle that lists the entry.
        var forged = bundle
        forged.entries.removeAll { $0.index == 2 }
        #expect(throws: (any Error).self) { try LogVerifier(key: ledger.verifier).verify(forged) }
        forged = bundle
        if let i = forged.entries.firstIndex(where: { $0.index == 0 }) { forged.entries[i].bodyPurgedBy = 1 }
        #expect(throws: (any Error).self) { try LogVerifier(key: ledger.verifier).verify(forged) }
    }
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var out: [T] = []
        for e in self { out.append(try await transform(e)) }
        return out
    }
}
