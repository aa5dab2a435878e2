import ConsentCore
import ConsentCrypto
import ConsentTestSupport
import ConsentStoreSQLite
import ConsentVerifier
import Foundation
import Testing

@testable import ConsentLedger

let subjects = (0..<25).map { "1390013" + String(format: "%04d", $0 * 37) }
let senders = ["bank", "shop", "telco"]
let ports = ["10690001", "10690002"]
let purposes = ["promo", "news"]

/// A random event over a small universe, so that keys collide often.
func randomEvent(_ rng: inout SplitMix) throws -> ValidatedEvent {
    let scopeKind = rng.next() % 6
    var input = EventInput(
        sender: rng.pick(senders), subject: rng.pick(subjects), action: rng.next() % 2 == 0 ? "grant" : "revoke")
    switch scopeKind {
    case 0:
        input.action = "revoke"
        input.scope = "global"
    case 1: input.port = rng.pick(ports)
    case 2: input.purpose = rng.pick(purposes)
    case 3:
        input.port = rng.pick(ports)
        input.purpose = rng.pick(purposes)
    default: break
    }
    return try EventValidator().validate(input, now: 1_795_435_200_000)
}

@Suite struct ConsentProofTests {
    /// Random histories with random batch boundaries and times: for random questions, the ledger's
    /// answer equals a brute-force replay of the log, every proof bundle verifies offline, and the
    /// verified decision is the replay's.
    @Test(arguments: [UInt64(1), 2])
    func answersAndBundlesMatchTheReplayOracle(seed: UInt64) async throws {
        var rng = SplitMix(seed: seed)
        let dir = TempDirectory()
        let clock = TestClock()
        let ledger = try await makeLedger(dir, clock: clock)
        var times: [Milliseconds] = []
        var now: Milliseconds = 1_795_435_200_000
        var count = 0
        while count < 1200 {
            now += Milliseconds(rng.next() % 5000) + 1
            clock.set(now)
            let size = Int(rng.next() % 40) + 1
            _ = try await ledger.append((0..<size).map { _ in try randomEvent(&rng) })
            count += size
            times.append(await ledger.latestCommitTime!)
        }
        let size = await ledger.size
        let entries = try await ledger.store.entries(0..<size).map { (index: $0.index, header: try EntryHeader(decoding: $0.header)) }
        let hasher = Digest(.sha256)
        let verifier = LogVerifier(key: ledger.verifier)
        var decisions: [ConsentDecision: Int] = [:]
        for q in 0..<250 {
            // Times before, between, exactly at and after batches.
            let t: Milliseconds =
                switch q % 4 {
                case 0: rng.pick(times)
                case 1: rng.pick(times) - 1
                case 2: times[0] - 10_000 + Milliseconds(rng.next() % UInt64(now - times[0] + 20_000))
                default: now + 60_000
                }
            let hasPort = rng.next() % 2 == 0
            let hasPurpose = rng.next() % 2 == 0
            let question = ConsentQuestion(
                subject: try PhoneNumber(normalizing: rng.pick(subjects)), sender: rng.pick(senders), port: hasPort ? rng.pick(ports) : nil,
                purpose: hasPurpose ? rng.pick(purposes) : nil, at: t)
            var effective = question
            effective.at = min(t, times.last!)
            let (_, subjectKey) = await ledger.subjectKey(of: question.subject)
            let oracle = ConsentDecision.replay(entries, question: effective, subjectKey: subjectKey, hasher: hasher)
            let answer = try await ledger.answer(question)
            #expect(answer.decision == oracle.decision)
            #expect(answer.deciding?.index == oracle.deciding?.index)
            let bundle = try await ledger.proveConsent(question, includeBodies: q % 2 == 0)
            let verified = try verifier.verify(bundle)
            #expect(verified.decision == oracle.decision)
            #expect(verified.deciding?.index == oracle.deciding?.index)
            #expect(verified.at == effective.at)
            decisions[oracle.decision, default: 0] += 1
        }
        // The random questions reach every kind of answer.
        #expect(decisions.count == 3)
    }

    /// The empty log bounds no time: no bundle is built, and a bundle anchored in a size-0
    /// checkpoint (which anyone can fetch) never verifies.
    @Test func theEmptyLogProvesNothing() async throws {
        let dir = TempDirectory()
        let ledger = try await makeLedger(dir)
        let question = ConsentQuestion(subject: try PhoneNumber(normalizing: "13800138000"), sender: "bank", at: 1_895_435_200_000)
        await #expect(throws: LedgerError.self) { _ = try await ledger.proveConsent(question, includeBodies: false) }
        let (pepper, _) = await ledger.subjectKey(of: question.subject)
        let forged = ProofBundle(
            question: .init(subject: "+8613800138000", sender: "bank", port: nil, purpose: nil, at: "2030-01-01T00:00:00.000Z"),
            subjectPepper: pepper, checkpoint: await ledger.checkpointNote, stateCommit: nil, entries: [],
            keys: [
                .init(scope: "global", deciding: nil, successor: nil, map: .init(MapProof(siblings: [], terminal: .empty))),
                .init(scope: "sender", deciding: nil, successor: nil, map: .init(MapProof(siblings: [], terminal: .empty))),
            ], decision: .neverAsked, deciding: nil)
        #expect(throws: VerificationFailure.self) { try LogVerifier(key: ledger.verifier).verify(forged) }
        // After a heartbeat the log bounds time and never-asked is provable.
        try await ledger.heartbeat()
        var now = question
        now.at = await ledger.latestCommitTime!
        let bundle = try await ledger.proveConsent(now, includeBodies: false)
        #expect(try LogVerifier(key: ledger.verifier).verify(bundle).decision == .neverAsked)
    }

    /// Flipping any single byte of a small bundle either makes it fail verification or leaves the
    /// proved decision unchanged.
    @Test func everyByteFlipFailsOrProvesTheSame() async throws {
        let dir = TempDirectory()
        let clock = TestClock()
        let ledger = try await makeLedger(dir, clock: clock)
        let s = "13800138000"
        func ev(_ sender: String, _ action: String, port: String? = nil, scope: String? = nil) throws -> ValidatedEvent {
            try EventValidator().validate(EventInput(sender: sender, subject: s, action: action, scope: scope, port: port), now: clock.value.withLock { $0 })
        }
        _ = try await ledger.append([try ev("bank", "grant"), try ev("shop", "grant")])
        clock.set(clock.value.withLock { $0 } + 1000)
        let middle = await ledger.latestCommitTime!
        _ = try await ledger.append([try ev("bank", "revoke", port: "10690001")])
        clock.set(clock.value.withLock { $0 } + 1000)
        _ = try await ledger.append([try ev("operator", "revoke", scope: "global")])
        let subject = try PhoneNumber(normalizing: s)
        let questions = [
            ConsentQuestion(subject: subject, sender: "bank", port: "10690001", at: middle),  // consented, successor-bounded
            ConsentQuestion(subject: subject, sender: "bank", port: "10690001", at: Milliseconds.max),  // refused via the map
            ConsentQuestion(subject: subject, sender: "telco", at: middle),  // never asked
        ]
        let verifier = LogVerifier(key: ledger.verifier)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        for question in questions {
            let bundle = try await ledger.proveConsent(question, includeBodies: true)
            let expected = try verifier.verify(bundle).decision
            let bytes = Array(try encoder.encode(bundle))
            var rejected = 0
            for i in bytes.indices {
                var changed = bytes
                changed[i] ^= 0x01
                guard let tampered = try? JSONDecoder().decode(ProofBundle.self, from: Data(changed)),
                    let result = try? verifier.verify(tampered)
                else {
                    rejected += 1
                    continue
                }
                #expect(result.decision == expected, "flipping byte \(i) changed the decision")
            }
            #expect(rejected > bytes.count / 2)
        }
    }
}
