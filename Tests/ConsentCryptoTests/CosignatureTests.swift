import ConsentCore
import ConsentTestSupport
import ConsentVerifier
import Foundation
import Testing

@testable import ConsentCrypto

/// fixtures/cosignature-vectors.json (tools/vectors/cosignature_vectors.py, Python `cryptography`):
/// C2SP tlog-cosignature v1 lines and tlog-witness add-checkpoint bodies made outside our code.
@Suite struct CosignatureTests {
    struct Vectors: Decodable {
        struct Key: Decodable { var name: String; var seed: String; var verifierKey: String; var keyID: String? }
        struct Cosig: Decodable { var checkpoint: String; var timestamp: UInt64; var message: String; var signatureLine: String; var cosignedNote: String }
        struct Request: Decodable { var old: Int64; var size: Int64; var proof: [String]; var checkpointNote: String; var body: String }
        var log: Key
        var witness: Key
        var leaves: [Hash]
        var cosignatures: [Cosig]
        var addCheckpoint: [Request]
    }

    let v: Vectors
    let signer: CosignatureSigner
    let logSigner: NoteSigner

    init() throws {
        v = try Fixtures.load("cosignature-vectors.json", as: Vectors.self)
        signer = try CosignatureSigner(name: v.witness.name, key: SigningKey(ed25519Seed: Hex.decode(v.witness.seed)!))
        logSigner = try NoteSigner(name: v.log.name, key: SigningKey(ed25519Seed: Hex.decode(v.log.seed)!))
    }

    @Test func verifierKeyAndKeyIDMatchTheVectors() throws {
        #expect(signer.verifier.encoded == v.witness.verifierKey)
        #expect(String(format: "%08x", signer.verifier.keyID) == v.witness.keyID)
        let parsed = try CosignatureVerifier(parsing: v.witness.verifierKey)
        #expect(parsed == signer.verifier)
        // A checkpoint key (type 0x01) is not a cosignature key, and the other way round.
        #expect(throws: (any Error).self) { try CosignatureVerifier(parsing: v.log.verifierKey) }
        #expect(throws: (any Error).self) { try NoteVerifier(parsing: v.witness.verifierKey) }
        // A wrong key ID is refused.
        var parts = v.witness.verifierKey.split(separator: "+").map(String.init)
        parts[1] = "00000000"
        #expect(throws: (any Error).self) { try CosignatureVerifier(parsing: parts.joined(separator: "+")) }
    }

    @Test func cosignaturesAreReproducedByteForByte() throws {
        for c in v.cosignatures {
            #expect(Cosignature.message(checkpointText: c.checkpoint, timestamp: c.timestamp) == Array(c.message.utf8))
            let line = try signer.cosign(checkpointText: c.checkpoint, timestamp: c.timestamp).line
            #expect(line == c.signatureLine)
            let note = try SignedNote(parsing: c.cosignedNote)
            #expect(try signer.verifier.cosignature(on: note) == c.timestamp)
            // The log's key still verifies the note and ignores the cosignature line.
            _ = try NoteVerifier(parsing: v.log.verifierKey).openCheckpoint(c.cosignedNote)
        }
    }

    @Test func everyTamperingIsRejected() throws {
        let c = v.cosignatures[1]
        let note = try SignedNote(parsing: c.cosignedNote)
        let original = note.signatures[1]
        let verifier = signer.verifier
        func fails(_ signature: SignedNote.Signature, text: String? = nil) -> Bool {
            (try? verifier.verify(signature, checkpointText: text ?? note.text)) == nil
        }
        #expect(!fails(original))
        // Timestamp: every byte.
        for i in 0..<8 {
            var s = original
            s.signature[i] ^= 0x01
            #expect(fails(s), "timestamp byte \(i)")
        }
        // Signature: every byte.
        for i in 8..<72 {
            var s = original
            s.signature[i] ^= 0x80
            #expect(fails(s), "signature byte \(i)")
        }
        // Truncated or extended.
        var short = original
        short.signature.removeLast()
        #expect(fails(short))
        var long = original
        long.signature.append(0)
        #expect(fails(long))
        // The checkpoint text: size, root, an added extension line.
        let cp = try Checkpoint(text: note.text)
        for changed in [
            Checkpoint(origin: cp.origin, size: cp.size + 1, rootHash: cp.rootHash),
            Checkpoint(origin: cp.origin, size: cp.size, rootHash: Hash(bytes: [UInt8](repeating: 7, count: 32))!),
            Checkpoint(origin: cp.origin + "x", size: cp.size, rootHash: cp.rootHash),
            Checkpoint(origin: cp.origin, size: cp.size, rootHash: cp.rootHash, extensions: ["x"]),
        ] {
            #expect(fails(original, text: changed.text))
        }
        // The key name: another name is another key (ignored), and the same key under another name fails.
        var renamed = original
        renamed.keyName = "witness.example/w2"
        #expect(fails(renamed))
        let other = try CosignatureSigner(name: "witness.example/w2", key: signer.key)
        #expect(throws: (any Error).self) { try other.verifier.verify(renamed, checkpointText: note.text) }
        // A timestamp above 2^63 - 1 is refused even before the signature is checked.
        var huge = original
        huge.signature[0] = 0x80
        #expect(throws: (any Error).self) { try Cosignature.TimestampedSignature(parsing: huge.signature) }
        // A forged line that claims the key makes the note's check fail, not just skip it.
        var forged = note
        forged.signatures[1].signature[20] ^= 1
        #expect(throws: (any Error).self) { try verifier.cosignature(on: forged) }
        // A note without the witness's line has no cosignature.
        #expect(try verifier.cosignature(on: SignedNote(text: note.text, signatures: [note.signatures[0]])) == nil)
    }

    @Test func addCheckpointBodiesRoundTripAndProofsVerify() throws {
        let hasher = Digest(.sha256)
        for r in v.addCheckpoint {
            let parsed = try AddCheckpointRequest(parsing: r.body)
            #expect(parsed.oldSize == r.old)
            #expect(parsed.proof.map(\.base64) == r.proof)
            #expect(parsed.checkpointNote == r.checkpointNote)
            #expect(parsed.serialized == r.body)
            let cp = try NoteVerifier(parsing: v.log.verifierKey).openCheckpoint(parsed.checkpointNote)
            #expect(cp.size == r.size)
            // Our own proof for the same sizes is the same proof, and it verifies.
            if r.old > 0 {
                let ours = try Merkle.consistencyProof(oldSize: r.old, newSize: r.size, hashes: storedHashes(r.size, old: r.old), hasher: hasher)
                #expect(ours == parsed.proof)
                let oldRoot = root(Int(r.old))
                try Merkle.verifyConsistency(
                    oldSize: r.old, newSize: r.size, oldRoot: oldRoot, newRoot: cp.rootHash, proof: parsed.proof, hasher: hasher)
            }
        }
    }

    @Test func malformedAddCheckpointBodiesAreRejected() throws {
        let good = v.addCheckpoint[1].body  // old 1, with a proof
        let note = v.addCheckpoint[1].checkpointNote
        let proofLine = v.addCheckpoint[1].proof[0]
        let p = proofLine
        let n = note
        let cut = String(p.dropLast())
        let short = String(p.dropLast(4))
        let many64 = String(repeating: p + "\n", count: 64)
        let noNewline = String(n.dropLast())
        var bad: [String] = ["", "old 1\n"]
        bad.append("old 01\n" + p + "\n\n" + n)  // leading zero
        bad.append("old -1\n\n" + n)
        bad.append("old  1\n\n" + n)
        bad.append("Old 1\n\n" + n)
        bad.append("old 1 \n\n" + n)
        bad.append("old 1\n" + cut + "\n\n" + n)  // not base64
        bad.append("old 1\n" + short + "\n\n" + n)  // not 32 bytes
        bad.append("old 1\n" + p + " \n\n" + n)
        bad.append("old 0\n" + p + "\n\n" + n)  // a proof with old 0
        bad.append("old 1\n" + many64 + "\n" + n)  // 64 proof lines
        bad.append("old 1\n" + p + "\n\n" + noNewline)  // the note without its final newline
        bad.append("old 1\n" + p + "\n\nnot a note\n")
        bad.append("old 1\r\n" + p + "\n\n" + n)
        _ = good
        for body in bad {
            #expect(throws: NoteError.self, Comment(rawValue: String(body.prefix(30)))) { try AddCheckpointRequest(parsing: body) }
        }
        #expect(throws: NoteError.self) { try AddCheckpointRequest(parsing: String(repeating: "a", count: AddCheckpointRequest.maximumSize + 1)) }
        // 63 lines are allowed by the parser (the witness checks them against the sizes).
        _ = try AddCheckpointRequest(parsing: "old 1\n" + String(repeating: proofLine + "\n", count: 63) + "\n" + note)
    }

    @Test func witnessPolicyCountsDistinctValidWitnesses() throws {
        let c = v.cosignatures[1]
        let w1 = signer
        let w2 = try CosignatureSigner(name: "witness.example/w2", key: SigningKey.generate(.ed25519))
        let w3 = try CosignatureSigner(name: "witness.example/w3", key: SigningKey.generate(.ed25519))
        var note = try SignedNote(parsing: c.cosignedNote)
        note.signatures.append(try w2.cosign(checkpointText: note.text, timestamp: 5))
        let text = note.serialized
        let log = try LogVerifier(verifierKey: v.log.verifierKey)
        #expect(try log.checkpoint(text, policy: WitnessPolicy(witnesses: [w1.verifier, w2.verifier], threshold: 2)).size == 7)
        #expect(try WitnessPolicy(witnesses: [w1.verifier, w2.verifier, w3.verifier], threshold: 2).check(text).count == 2)
        #expect(throws: VerificationFailure.self) { try WitnessPolicy(witnesses: [w1.verifier, w2.verifier, w3.verifier], threshold: 3).check(text) }
        #expect(throws: VerificationFailure.self) { try WitnessPolicy(witnesses: [w3.verifier], threshold: 1).check(text) }
        // Two lines by the same witness count once.
        var doubled = note
        doubled.signatures.append(try w2.cosign(checkpointText: note.text, timestamp: 6))
        #expect(throws: VerificationFailure.self) {
            try WitnessPolicy(witnesses: [w2.verifier, w3.verifier], threshold: 2).check(doubled.serialized)
        }
        // A forged line by a listed witness fails the policy even when the threshold is met otherwise.
        var forged = note
        forged.signatures.append(SignedNote.Signature(keyName: w3.name, keyID: w3.verifier.keyID, signature: [UInt8](repeating: 0, count: 72)))
        #expect(throws: VerificationFailure.self) {
            try WitnessPolicy(witnesses: [w1.verifier, w2.verifier, w3.verifier], threshold: 2).check(forged.serialized)
        }
        // Bad policies.
        #expect(throws: VerificationFailure.self) { try WitnessPolicy(witnesses: [], threshold: 1) }
        #expect(throws: VerificationFailure.self) { try WitnessPolicy(witnesses: [w1.verifier], threshold: 2) }
        #expect(throws: VerificationFailure.self) { try WitnessPolicy(witnesses: [w1.verifier], threshold: 0) }
        #expect(throws: VerificationFailure.self) { try WitnessPolicy(witnesses: [w1.verifier, w1.verifier], threshold: 1) }
    }

    // MARK: helpers

    func root(_ size: Int) -> Hash {
        var frontier = MerkleFrontier()
        for leaf in v.leaves.prefix(size) { frontier.append(leafHash: leaf, hasher: Digest(.sha256)) }
        return frontier.root(hasher: Digest(.sha256))
    }

    /// The hashes a consistency proof up to `size` needs, from the stored-hash layout built leaf by leaf.
    func storedHashes(_ size: Int64, old: Int64) throws -> [Hash] {
        var stored: [Hash] = []
        for (i, leaf) in v.leaves.prefix(Int(size)).enumerated() {
            let siblings = Merkle.storedHashesNeeded(toAppend: Int64(i)).map { stored[Int($0)] }
            stored += Merkle.storedHashes(toAppend: Int64(i), leafHash: leaf, siblings: siblings, hasher: Digest(.sha256))
        }
        return try Merkle.consistencyProofIndexes(oldSize: old, newSize: size).map { stored[Int($0)] }
    }
}

/// Bundles whose checkpoint note carries cosignature lines: verifiers without a policy ignore the
/// lines (C2SP signed-note), so every fixture bundle keeps its verdict; a policy then checks them.
@Suite struct CosignedBundleTests {
    @Test func cosignatureLinesChangeNoVerdictAndMeetAPolicy() throws {
        let manifest = try BundleVectorTests.manifest()
        let log = try LogVerifier(verifierKey: manifest.verifierKey)
        let w1 = try CosignatureSigner(name: "witness.example/w1", key: SigningKey.generate(.ed25519))
        let w2 = try CosignatureSigner(name: "witness.example/w2", key: SigningKey.generate(.ed25519))
        let policy = try WitnessPolicy(witnesses: [w1.verifier, w2.verifier], threshold: 2)
        for item in manifest.bundles where item.valid {
            var bundle = try JSONDecoder().decode(
                ProofBundle.self, from: Data(contentsOf: BundleVectorTests.directory.appendingPathComponent(item.file)))
            var note = try SignedNote(parsing: bundle.checkpoint)
            #expect(throws: VerificationFailure.self) { try policy.check(bundle.checkpoint) }
            note.signatures.append(try w1.cosign(checkpointText: note.text, timestamp: 1_764_816_000))
            note.signatures.insert(try w2.cosign(checkpointText: note.text, timestamp: 1_764_816_001), at: 0)
            bundle.checkpoint = note.serialized
            #expect(try log.verify(bundle).decision == item.decision, "\(item.file)")
            #expect(try policy.check(bundle.checkpoint).map(\.witness) == ["witness.example/w1", "witness.example/w2"])
        }
    }
}
