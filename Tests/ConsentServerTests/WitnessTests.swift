import ConsentCore
import ConsentCrypto
import ConsentServer
import ConsentVerifier
import Foundation
import Hummingbird
import Logging
import HummingbirdTesting
import NIOCore
import Testing

/// A log kept in memory: its signer and leaves, signed checkpoints and consistency proofs at any size.
struct MemoryLog: Sendable {
    let signer: NoteSigner
    var leaves: [Hash] = []
    var suite: Suite = .sha256Ed25519
    var hasher: Digest { Digest(suite: suite) }

    init(origin: String = "test.example/witnessed", key: SigningKey? = nil, suite: Suite = .sha256Ed25519) throws {
        signer = try NoteSigner(name: origin, key: key ?? SigningKey.generate(SignatureAlgorithm(suite: suite)))
        self.suite = suite
    }

    /// Appends `count` leaves whose contents start with `tag` (different tags: different trees).
    mutating func grow(_ count: Int, tag: String = "a") {
        for _ in 0..<count { leaves.append(hasher.leafHash(Array("\(tag) \(leaves.count)".utf8))) }
    }

    func root(_ size: Int64) -> Hash {
        var frontier = MerkleFrontier()
        for leaf in leaves.prefix(Int(size)) { frontier.append(leafHash: leaf, hasher: hasher) }
        return frontier.root(hasher: hasher)
    }

    func note(_ size: Int64? = nil) throws -> String {
        let size = size ?? Int64(leaves.count)
        return try signer.sign(Checkpoint(origin: signer.name, size: size, rootHash: root(size)).text).serialized
    }

    func proof(_ old: Int64, _ new: Int64? = nil) throws -> [Hash] {
        let new = new ?? Int64(leaves.count)
        guard old > 0 else { return [] }
        var stored: [Hash] = []
        for (i, leaf) in leaves.prefix(Int(new)).enumerated() {
            let siblings = Merkle.storedHashesNeeded(toAppend: Int64(i)).map { stored[Int($0)] }
            stored += Merkle.storedHashes(toAppend: Int64(i), leafHash: leaf, siblings: siblings, hasher: hasher)
        }
        return try Merkle.consistencyProof(
            oldSize: old, newSize: new, hashes: Merkle.consistencyProofIndexes(oldSize: old, newSize: new).map { stored[Int($0)] }, hasher: hasher)
    }

    func request(old: Int64, size: Int64? = nil) throws -> String {
        AddCheckpointRequest(oldSize: old, proof: try proof(old, size), checkpointNote: try note(size)).serialized
    }
}

/// A witness in a temporary directory, witnessing one log.
struct WitnessFixture: Sendable {
    let dir: TempDir
    let witness: Witness
    let log: MemoryLog

    init(log: MemoryLog, dir: TempDir = TempDir(), time: UInt64 = 1_764_816_000) throws {
        self.dir = dir
        let wdir = WitnessDirectory(dir.path)
        if !FileManager.default.fileExists(atPath: wdir.databasePath) { _ = try wdir.create(name: "witness.test/w1", now: 0) }
        let (signer, store) = try wdir.open()
        try store.addLog(origin: log.signer.name, key: log.signer.verifier, now: 0)
        var logger = Logger(label: "witness-test")
        logger.logLevel = .error
        witness = Witness(signer: signer, store: store, clock: { time }, logger: logger)
        self.log = log
    }

    var app: some ApplicationProtocol { Application(router: buildWitnessRouter(witness: witness)) }
}

/// POSTs a body to /add-checkpoint and returns (status, content type, body).
func addCheckpoint(_ client: some TestClientProtocol, _ body: String) async throws -> (Int, String, String) {
    try await client.execute(uri: "/add-checkpoint", method: .post, body: ByteBuffer(string: body)) { response in
        (Int(response.status.code), response.headers[.contentType] ?? "", String(buffer: response.body))
    }
}

@Suite struct WitnessTests {
    @Test func cosignsAGrowingLogAndTheCosignatureVerifies() async throws {
        var log = try MemoryLog()
        log.grow(5)
        let f = try WitnessFixture(log: log)
        try await f.app.test(.router) { [log] client async throws in
            var log = log
            // First contact: old 0, no proof.
            let (s1, t1, b1) = try await addCheckpoint(client, try log.request(old: 0))
            #expect(s1 == 200 && t1.hasPrefix("text/plain"), "\(b1)")
            let cosigned = try log.note() + b1
            let note = try SignedNote(parsing: cosigned)
            #expect(try f.witness.signer.verifier.cosignature(on: note) == 1_764_816_000)
            _ = try LogVerifier(key: log.signer.verifier).checkpoint(cosigned, policy: WitnessPolicy(witnesses: [f.witness.signer.verifier], threshold: 1))
            // Growth with a consistency proof.
            log.grow(8)
            let (s2, _, b2) = try await addCheckpoint(client, try log.request(old: 5))
            #expect(s2 == 200, "\(b2)")
            // The same checkpoint again: cosigned again, nothing changes.
            let (s3, _, _) = try await addCheckpoint(client, try log.request(old: 13))
            #expect(s3 == 200)
        }
        log.grow(8)  // the same leaves as inside
        #expect(try await f.witness.store.tree(origin: log.signer.name) == WitnessedTree(size: 13, root: log.root(13)))
    }

    @Test func theStatusCodesFollowTheSpec() async throws {
        var log = try MemoryLog()
        log.grow(6)
        let f = try WitnessFixture(log: log)
        try await f.app.test(.router) { [log] client async throws in
            #expect(try await addCheckpoint(client, try log.request(old: 0, size: 3)).0 == 200)
            // 409: the old size is not the witness's; the body is its size, as text/x.tlog.size.
            let (s, t, b) = try await addCheckpoint(client, try log.request(old: 0))
            #expect(s == 409 && t == "text/x.tlog.size" && b == "3\n")
            #expect(try await addCheckpoint(client, try log.request(old: 2)).2 == "3\n")
            // 400: malformed, and an old size above the checkpoint's.
            #expect(try await addCheckpoint(client, "old 3\n").0 == 400)
            #expect(try await addCheckpoint(client, "old 9\n\n" + (try log.note())).0 == 400)
            // 422: a proof that does not verify.
            var proof = try log.proof(3)
            proof[0] = Hash(bytes: [UInt8](repeating: 1, count: 32))!
            let bad = AddCheckpointRequest(oldSize: 3, proof: proof, checkpointNote: try log.note()).serialized
            #expect(try await addCheckpoint(client, bad).0 == 422)
            // 404: an origin the witness does not know.
            var stranger = try MemoryLog(origin: "test.example/stranger")
            stranger.grow(2)
            #expect(try await addCheckpoint(client, try stranger.request(old: 0)).0 == 404)
            // 403: the right origin signed by another key (ignored), and a corrupted signature.
            let impostor = try MemoryLog(origin: log.signer.name)
            let copy = MemoryLog(signer: impostor.signer, leaves: log.leaves)
            #expect(try await addCheckpoint(client, try copy.request(old: 3)).0 == 403)
            var note = try SignedNote(parsing: try log.note())
            note.signatures[0].signature[0] ^= 1
            #expect(try await addCheckpoint(client, AddCheckpointRequest(oldSize: 3, proof: try log.proof(3), checkpointNote: note.serialized).serialized).0 == 403)
            // Extra signatures by unknown keys are ignored.
            var extra = try SignedNote(parsing: try log.note())
            extra.signatures.insert(try impostor.signer.signature(for: extra.text), at: 0)
            let (ok, _, body) = try await addCheckpoint(client, AddCheckpointRequest(oldSize: 3, proof: try log.proof(3), checkpointNote: extra.serialized).serialized)
            #expect(ok == 200, "\(body)")
        }
        // Nothing refused changed the state.
        #expect(try await f.witness.store.tree(origin: log.signer.name)?.size == 6)
    }

    @Test func aForkedLogIsRefused() async throws {
        let key = try SigningKey.generate(.ed25519)
        var honest = try MemoryLog(key: key)
        honest.grow(10)
        var fork = try MemoryLog(key: key)  // the same key, another history
        fork.grow(10, tag: "b")
        let f = try WitnessFixture(log: honest)
        try await f.app.test(.router) { [honest, fork] client async throws in
            var honest = honest
            var fork = fork
            #expect(try await addCheckpoint(client, try honest.request(old: 0)).0 == 200)
            // The same size with another root: 409 (the witness's size) and kept as evidence.
            let (s, _, b) = try await addCheckpoint(client, try fork.request(old: 10))
            #expect(s == 409 && b == "10\n")
            // A larger forked tree from the cosigned size: its proof cannot verify against the honest root.
            fork.grow(5, tag: "b")
            #expect(try await addCheckpoint(client, try fork.request(old: 10)).0 == 422)
            // A smaller tree (a rollback) from the cosigned size: 400 (old above the checkpoint size),
            // and from its own size: 409.
            #expect(try await addCheckpoint(client, "old 10\n\n" + (try honest.note(7))).0 == 400)
            #expect(try await addCheckpoint(client, try honest.request(old: 0, size: 7)).0 == 409)
            // Honest growth still works.
            honest.grow(3)
            #expect(try await addCheckpoint(client, try honest.request(old: 10)).0 == 200)
        }
        let evidence = try f.witness.store.evidence(origin: honest.signer.name)
        #expect(evidence.map(\.status) == [409, 422])
    }

    @Test func stateSurvivesARestart() async throws {
        var log = try MemoryLog()
        log.grow(4)
        let dir = TempDir()
        do {
            let f = try WitnessFixture(log: log, dir: dir)
            try await f.app.test(.router) { [log] client async throws in #expect(try await addCheckpoint(client, try log.request(old: 0)).0 == 200) }
        }
        let f = try WitnessFixture(log: log, dir: dir)  // reopened: same key, same state
        try await f.app.test(.router) { [log] client async throws in
            var log = log
            #expect(try await addCheckpoint(client, try log.request(old: 0)).2 == "4\n")
            log.grow(1)
            #expect(try await addCheckpoint(client, try log.request(old: 4)).0 == 200)
        }
        #expect(throws: WitnessError.self) { try WitnessDirectory(dir.path).create(name: "again", now: 0) }
    }

    @Test func concurrentSubmissionsFromOneSizeHaveOneWinner() async throws {
        var log = try MemoryLog()
        log.grow(40)
        let f = try WitnessFixture(log: log)
        _ = await f.witness.addCheckpoint(Array(try log.request(old: 0, size: 8).utf8))
        let bodies = try (9...40).map { try log.request(old: 8, size: Int64($0)) }
        let statuses = await withTaskGroup(of: Int.self) { group in
            for body in bodies { group.addTask { await f.witness.addCheckpoint(Array(body.utf8)).status } }
            var all: [Int] = []
            for await s in group { all.append(s) }
            return all
        }
        #expect(statuses.filter { $0 == 200 }.count == 1, "\(statuses)")
        #expect(statuses.filter { $0 == 409 }.count == bodies.count - 1)
        let tree = try #require(try await f.witness.store.tree(origin: log.signer.name))
        #expect(tree.size > 8 && tree.root == log.root(tree.size))
    }

    @Test func anSM2LogIsWitnessedWithSM3Proofs() async throws {
        var log = try MemoryLog(suite: .sm3SM2)
        log.grow(6)
        let f = try WitnessFixture(log: log)
        try await f.app.test(.router) { [log] client async throws in
            var log = log
            #expect(try await addCheckpoint(client, try log.request(old: 0)).0 == 200)
            log.grow(5)
            let (status, _, line) = try await addCheckpoint(client, try log.request(old: 6))
            #expect(status == 200)
            #expect(try f.witness.signer.verifier.cosignature(on: SignedNote(parsing: try log.note() + line)) != nil)
            // A SHA-256 proof over the same leaves is not an SM3 proof.
            log.grow(3)
            var shaLog = log
            shaLog.suite = .sha256Ed25519
            let mixed = AddCheckpointRequest(oldSize: 11, proof: try shaLog.proof(11), checkpointNote: try log.note()).serialized
            #expect(try await addCheckpoint(client, mixed).0 == 422)
            #expect(try await addCheckpoint(client, try log.request(old: 11)).0 == 200)
        }
    }

    @Test func witnessKeysAreWrittenOwnerOnly() throws {
        let dir = TempDir()
        let signer = try WitnessDirectory(dir.path).create(name: "witness.test/w9", now: 0)
        let attributes = try FileManager.default.attributesOfItem(atPath: WitnessDirectory(dir.path).keyPath)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        #expect(try WitnessDirectory(dir.path).open().signer.verifier == signer.verifier)
        #expect(throws: WitnessError.self) { try WitnessDirectory(TempDir().path).create(name: "bad name", now: 0) }
    }
}

extension MemoryLog {
    init(signer: NoteSigner, leaves: [Hash]) {
        self.signer = signer
        self.leaves = leaves
    }
}
