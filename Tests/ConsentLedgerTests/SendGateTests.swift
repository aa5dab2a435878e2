import ConsentCore
import ConsentCrypto
import ConsentStoreSQLite
import ConsentTestSupport
import Testing

@testable import ConsentLedger

@Suite struct SendGateTests {
    /// Every covering-scope combination the gate is asked with.
    static let scopes: [(port: String?, purpose: String?)] = [(nil, nil), ("10690001", nil), (nil, "promo"), ("10690002", "news")]

    /// The gate's table gives, for every number and scope, exactly the answer of the key-link path
    /// (``Ledger/answer(_:)``) at the position it was asked for; also for positions that later
    /// batches have since overtaken (those numbers go the slow way), and with a table that was
    /// loaded from a restarted log's stored map and then maintained by further batches.
    @Test(arguments: [UInt64(3), 4])
    func gateAnswersEqualTheKeyLinkAnswers(seed: UInt64) async throws {
        var rng = SplitMix(seed: seed)
        let dir = TempDirectory()
        let clock = TestClock()
        var now: Milliseconds = 1_795_435_200_000
        do {
            let ledger = try await makeLedger(dir, clock: clock)
            try await Self.appendRandomBatches(ledger, 20, rng: &rng, clock: clock, now: &now)
        }
        // A restart: the table is loaded from the stored map, not from appends seen in this process.
        let ledger = try await Ledger.open(directory: dir.directory, store: try SQLiteStore(directory: dir.directory), clock: clock.now)
        #expect(await ledger.hasGateIndex == false)
        let keys = try await ledger.loadGateIndex()
        #expect(keys > 0)
        var positions: [LogPosition] = []
        for _ in 0..<4 {
            positions.append(await ledger.committedPosition!)
            try await Self.appendRandomBatches(ledger, 10, rng: &rng, clock: clock, now: &now)
        }
        positions.append(await ledger.committedPosition!)
        let numbers = try (subjects + ["13900000000", "13712345678"]).map { try PhoneNumber(normalizing: $0) }
        var late = 0
        var decisions: Set<ConsentDecision> = []
        for position in positions {
            for sender in senders {
                for (port, purpose) in Self.scopes {
                    let gate = try await ledger.gateAnswers(subjects: numbers, sender: sender, port: port, purpose: purpose, at: position)
                    for (number, answer) in zip(numbers, gate) {
                        let expected = try await ledger.answer(
                            ConsentQuestion(subject: number, sender: sender, port: port, purpose: purpose, at: position.time))
                        #expect(answer == GateAnswer(decision: expected.decision, deciding: expected.deciding?.index))
                        if let deciding = answer.deciding { #expect(deciding < position.size) }
                        decisions.insert(answer.decision)
                    }
                    // How many were overtaken: counted from the table, as the gate sees it.
                    if position != positions.last {
                        let current = try await ledger.gateAnswers(
                            subjects: numbers, sender: sender, port: port, purpose: purpose, at: await ledger.committedPosition!)
                        late += zip(gate, current).filter { $0 != $1 }.count
                    }
                }
            }
        }
        #expect(decisions == Set(ConsentDecision.allCases))
        // Old positions really were overtaken for some numbers, so the slow path ran and agreed.
        #expect(late > 0)
    }

    static func appendRandomBatches(_ ledger: Ledger, _ n: Int, rng: inout SplitMix, clock: TestClock, now: inout Milliseconds) async throws {
        for _ in 0..<n {
            now += Milliseconds(rng.next() % 5000) + 1
            clock.set(now)
            _ = try await ledger.append(try (0..<(Int(rng.next() % 30) + 1)).map { _ in try randomEvent(&rng) })
        }
    }

    /// Batches committed while the table loads are not lost: afterwards it answers as the key links do.
    @Test func batchesCommittedWhileLoadingAreApplied() async throws {
        var rng = SplitMix(seed: 9)
        let dir = TempDirectory()
        let ledger = try await makeLedger(dir)
        for _ in 0..<10 { _ = try await ledger.append(try (0..<20).map { _ in try randomEvent(&rng) }) }
        let batches = try (0..<10).map { _ in try (0..<20).map { _ in try randomEvent(&rng) } }
        async let loaded = ledger.loadGateIndex()
        for batch in batches { _ = try await ledger.append(batch) }
        _ = try await loaded
        let position = await ledger.committedPosition!
        let numbers = try subjects.map { try PhoneNumber(normalizing: $0) }
        #expect(await ledger.hasGateIndex)
        for sender in senders {
            let gate = try await ledger.gateAnswers(subjects: numbers, sender: sender, port: "10690001", purpose: "promo", at: position)
            let links = try await ledger.answers(subjects: numbers, sender: sender, port: "10690001", purpose: "promo", at: position.time)
            #expect(gate == links.map { GateAnswer(decision: $0.decision, deciding: $0.deciding?.index) })
        }
    }

    /// Loading the gate's table into a just-opened writer loads its in-memory map too: the batches
    /// after it read no map node from the store, and the log still checks. Without it they do.
    @Test func loadingTheTableWarmsTheWritersMap() async throws {
        var rng = SplitMix(seed: 12)
        let dir = TempDirectory()
        do {
            let ledger = try await makeLedger(dir)
            for _ in 0..<15 { _ = try await ledger.append(try (0..<40).map { _ in try randomEvent(&rng) }) }
        }
        var reads: [Bool: Int] = [:]
        for warm in [false, true] {
            let store = FlakyStore(try SQLiteStore(directory: dir.directory))
            let ledger = try await Ledger.open(directory: dir.directory, store: store)
            if warm { try await ledger.loadGateIndex() }
            store.mapNodesRead.withLock { $0 = 0 }
            for _ in 0..<5 { _ = try await ledger.append(try (0..<40).map { _ in try randomEvent(&rng) }) }
            reads[warm] = store.mapNodesRead.withLock { $0 }
            _ = try await ledger.checkIntegrity()
        }
        #expect(reads[false]! > 0)
        #expect(reads[true] == 0)
    }
}
