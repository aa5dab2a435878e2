import ConsentCore
import ConsentCrypto
import ConsentLedger
import ConsentServer
import ConsentStoreSQLite
import ConsentVerifier
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Synchronization
import Testing

/// Routes submissions to in-process witnesses by URL and counts them.
final class DirectTransport: WitnessTransport {
    let witnesses: [String: Witness]
    let count = Mutex<[String: Int]>([:])

    init(_ witnesses: [String: Witness]) { self.witnesses = witnesses }

    func post(url: String, body: String) async throws -> (status: Int, contentType: String?, body: String) {
        let base = String(url.dropLast("/add-checkpoint".count))
        guard let witness = witnesses[base] else { throw ServiceError.notFound(url) }
        count.withLock { $0[base, default: 0] += 1 }
        let r = await witness.addCheckpoint(Array(body.utf8))
        return (r.status, r.contentType, r.body)
    }

    func requests(_ base: String) -> Int { count.withLock { $0[base] ?? 0 } }
}

/// A ledger with two witnesses configured (w1, w2), each witnessing it.
struct SubmitterFixture {
    let dir = TempDir()
    let witnessDirs = [TempDir(), TempDir()]
    let ledger: Ledger
    let service: ServiceStore
    let witnesses: [Witness]
    let transport: DirectTransport
    let submitter: WitnessSubmitter

    static var quiet: Logger {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return logger
    }

    init() async throws {
        let store = try SQLiteStore(directory: dir.directory)
        _ = try await Ledger.create(directory: dir.directory, store: store, origin: "test.example/witnessed-log", suite: .sha256Ed25519)
        ledger = try await Ledger.open(directory: dir.directory, store: store)
        service = try ServiceStore(directory: dir.directory)
        var witnesses: [Witness] = []
        for (i, wdir) in witnessDirs.enumerated() {
            let w = WitnessDirectory(wdir.path)
            _ = try w.create(name: "witness.test/w\(i + 1)", now: 0)
            let (signer, wstore) = try w.open()
            try wstore.addLog(origin: ledger.verifier.name, key: ledger.verifier, now: 0)
            witnesses.append(Witness(signer: signer, store: wstore, clock: { 1_764_816_000 + UInt64(i) }, logger: Self.quiet))
            try await service.addWitness(url: "http://w\(i + 1).test/", key: signer.verifier, now: 0)
        }
        self.witnesses = witnesses
        transport = DirectTransport(["http://w1.test": witnesses[0], "http://w2.test": witnesses[1]])
        submitter = WitnessSubmitter(source: StoreLogSource(store), suite: .sha256Ed25519, service: service, transport: transport, logger: Self.quiet)
    }

    var policy: WitnessPolicy { get throws { try WitnessPolicy(witnesses: witnesses.map(\.signer.verifier), threshold: 2) } }
}

@Suite struct WitnessSubmitterTests {
    @Test func bothWitnessesCosignAndTheNoteCarriesTheirLines() async throws {
        let f = try await SubmitterFixture()
        try await f.ledger.heartbeat()
        let outcomes = try await f.submitter.submitLatest()
        let size = await f.ledger.size
        #expect(outcomes.values.allSatisfy { $0 == .cosigned(size: size) }, "\(outcomes)")
        let cosigned = try await f.service.cosignedCheckpoint(await f.ledger.checkpointNote)
        #expect(try SignedNote(parsing: cosigned).signatures.count == 3)
        _ = try LogVerifier(key: f.ledger.verifier).checkpoint(cosigned, policy: f.policy)
        // An old verifier (the log's key only) still accepts the cosigned note.
        #expect(try f.ledger.verifier.openCheckpoint(cosigned).size == size)
        // Asking again sends nothing: the cosignatures are held.
        _ = try await f.submitter.submitLatest()
        #expect(f.transport.requests("http://w1.test") == 1)
        #expect(try await f.service.newestCosignedSize(minimum: 2) == size)
        // A note the witnesses did not see comes back unchanged.
        try await f.ledger.heartbeat()
        let newer = await f.ledger.checkpointNote
        #expect(try await f.service.cosignedCheckpoint(newer) == newer)
    }

    @Test func roundsCoalesceAndFollowTheLogWithProofs() async throws {
        let f = try await SubmitterFixture()
        try await f.ledger.heartbeat()
        try await f.submitter.submitLatest()
        for _ in 0..<5 { try await f.ledger.heartbeat() }
        try await f.submitter.submitLatest()
        // Two rounds, two requests per witness: the five checkpoints in between were coalesced.
        #expect(f.transport.requests("http://w1.test") == 2 && f.transport.requests("http://w2.test") == 2)
        let size = await f.ledger.size
        for w in f.witnesses { #expect(try await w.store.tree(origin: f.ledger.verifier.name)?.size == size) }
    }

    @Test func a409IsAnsweredWithTheWitnessSizeAndAFreshProof() async throws {
        let f = try await SubmitterFixture()
        for _ in 0..<3 { try await f.ledger.heartbeat() }
        // w2 learned size 3 from elsewhere (another submitter); this one does not know it.
        let direct = AddCheckpointRequest(oldSize: 0, proof: [], checkpointNote: await f.ledger.checkpointNote).serialized
        #expect(await f.witnesses[1].addCheckpoint(Array(direct.utf8)).status == 200)
        for _ in 0..<4 { try await f.ledger.heartbeat() }
        let outcomes = try await f.submitter.submitLatest()
        let size = await f.ledger.size
        #expect(outcomes[f.witnesses[1].signer.verifier.encoded] == .cosigned(size: size))
        #expect(f.transport.requests("http://w2.test") == 2)  // 409, then the resend
    }

    @Test func aWitnessAheadOfTheLogIsReportedNotRetried() async throws {
        let f = try await SubmitterFixture()
        for _ in 0..<2 { try await f.ledger.heartbeat() }
        let small = await f.ledger.checkpointNote
        for _ in 0..<3 { try await f.ledger.heartbeat() }
        let big = AddCheckpointRequest(oldSize: 0, proof: [], checkpointNote: await f.ledger.checkpointNote).serialized
        #expect(await f.witnesses[0].addCheckpoint(Array(big.utf8)).status == 200)
        // A log rolled back to the smaller tree (same key) asks w1 to cosign it.
        let rolledBack = try RolledBackSource(note: small, base: f.ledger.store)
        let submitter = WitnessSubmitter(source: rolledBack, suite: .sha256Ed25519, service: f.service, transport: f.transport, logger: SubmitterFixture.quiet)
        let outcomes = try await submitter.submitLatest()
        guard case .refused(409, let reason)? = outcomes[f.witnesses[0].signer.verifier.encoded] else {
            Issue.record("\(outcomes)")
            return
        }
        #expect(reason.contains("larger than the log's"))
    }

    @Test func theServiceServesTheNewestCosignedCheckpoint() async throws {
        let f = try await SubmitterFixture()
        let app = buildApplication(ledger: f.ledger, service: f.service)
        try await f.ledger.heartbeat()
        try await app.test(.router) { client in
            try await client.execute(uri: "/checkpoint/cosigned", method: .get) { #expect($0.status == .notFound) }
            try await f.submitter.submitLatest()
            let size = await f.ledger.size
            try await f.ledger.heartbeat()  // a newer checkpoint, not cosigned yet
            try await client.execute(uri: "/checkpoint/cosigned", method: .get) { response async throws in
                #expect(response.status == .ok)
                let note = String(buffer: response.body)
                #expect(try f.ledger.verifier.openCheckpoint(note).size == size)
                #expect(try f.policy.check(note).count == 2)
            }
            try await client.execute(uri: "/checkpoint/cosigned?witnesses=3", method: .get) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/checkpoint/cosigned?witnesses=x", method: .get) { #expect($0.status == .badRequest) }
        }
    }

    @Test func aFailingWitnessIsBackedOffWithoutHoldingTheOthers() async throws {
        let f = try await SubmitterFixture()
        // w3 does not witness this log: 404 every time.
        let wdir = TempDir()
        _ = try WitnessDirectory(wdir.path).create(name: "witness.test/w3", now: 0)
        let (signer, store) = try WitnessDirectory(wdir.path).open()
        let w3 = Witness(signer: signer, store: store, logger: SubmitterFixture.quiet)
        try await f.service.addWitness(url: "http://w3.test", key: signer.verifier, now: 0)
        let transport = DirectTransport(["http://w1.test": f.witnesses[0], "http://w2.test": f.witnesses[1], "http://w3.test": w3])
        let submitter = WitnessSubmitter(
            source: StoreLogSource(f.ledger.store), suite: .sha256Ed25519, service: f.service, transport: transport, logger: SubmitterFixture.quiet)
        for _ in 0..<8 {
            try await f.ledger.heartbeat()
            let outcomes = try await submitter.submitLatest(backingOff: true)
            #expect(outcomes[f.witnesses[0].signer.verifier.encoded] == .cosigned(size: await f.ledger.size))
        }
        // Rounds 1, 3 and 6 tried w3 (it sat out 1, then 2 rounds, then 4).
        #expect(transport.requests("http://w3.test") == 3)
        #expect(transport.requests("http://w1.test") == 8)
        _ = wdir
    }

    @Test func theSubmitterReachesALiveWitnessOverHTTP() async throws {
        let f = try await SubmitterFixture()
        try await f.service.removeWitness(key: f.witnesses[1].signer.verifier.encoded)
        try await f.ledger.heartbeat()
        let app = buildWitnessApplication(witness: f.witnesses[0], host: "127.0.0.1", port: 0, logger: SubmitterFixture.quiet)
        try await app.test(.live) { client in
            let port = try #require(client.port)
            try await f.service.addWitness(url: "http://127.0.0.1:\(port)", key: f.witnesses[0].signer.verifier, now: 0)
            // The default transport: URLSession (FoundationNetworking on Linux).
            let submitter = WitnessSubmitter(source: StoreLogSource(f.ledger.store), suite: .sha256Ed25519, service: f.service, logger: SubmitterFixture.quiet)
            let outcomes = try await submitter.submitLatest()
            #expect(outcomes == [f.witnesses[0].signer.verifier.encoded: .cosigned(size: await f.ledger.size)])
        }
    }

    @Test func witnessConfigurationIsValidated() async throws {
        let f = try await SubmitterFixture()
        let key = f.witnesses[0].signer.verifier
        await #expect(throws: ServiceError.self) { try await f.service.addWitness(url: "ftp://w.test", key: key, now: 0) }
        await #expect(throws: ServiceError.self) { try await f.service.addWitness(url: "http://w.test/?x=1", key: key, now: 0) }
        // Re-adding a key changes its URL.
        try await f.service.addWitness(url: "http://w9.test", key: key, now: 0)
        #expect(try await f.service.witnesses().map(\.url) == ["http://w9.test", "http://w2.test"])
        try await f.service.removeWitness(key: key.encoded)
        #expect(try await f.service.witnesses().count == 1)
        await #expect(throws: ServiceError.self) { try await f.service.removeWitness(key: key.encoded) }
    }
}

/// A log source whose newest checkpoint is an older one (a rolled-back log), reading hashes from `base`.
struct RolledBackSource: WitnessedLogSource {
    let note: String
    let size: Int64
    let base: any LedgerStore

    init(note: String, base: any LedgerStore) throws {
        self.note = note
        self.size = try Checkpoint(text: SignedNote(parsing: note).text).size
        self.base = base
    }

    func latestCheckpoint() async throws -> (size: Int64, note: String) { (size, note) }
    func readHashes(_ indexes: [Int64]) async throws -> [Hash] { try await base.readHashes(indexes) }
}
