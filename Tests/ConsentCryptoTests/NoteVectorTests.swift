import ConsentCore
import ConsentTestSupport
import Foundation
import Testing

@testable import ConsentCrypto

/// fixtures/note-vectors.json: checkpoints over the chained entries of fixtures/entry-vectors.json,
/// signed by keys from outside our code (RFC 8032's test key; an SM2 key checked with OpenSSL).
@Suite struct NoteVectorTests {
    struct Vectors: Decodable {
        struct Ed: Decodable { var name: String; var seed: String; var verifierKey: String; var checkpoints: [String] }
        struct SM2: Decodable { var name: String; var publicKey: String; var verifierKey: String; var checkpoints: [String] }
        var ed25519: Ed
        var sm2: SM2
    }
    struct Entries: Decodable {
        struct Suite: Decodable {
            var suite: String
            var entries: [Entry]
            var commit: Entry
            var leaves: [Hash] { entries.map(\.leafHash) + [commit.leafHash] }
        }
        struct Entry: Decodable { var leafHash: Hash }
        var suites: [Suite]
    }

    func load<T: Decodable>(_ name: String, _ type: T.Type) throws -> T { try Fixtures.load(name, as: type) }

    /// The root of the first `size` leaves, through our Merkle code.
    func root(_ leaves: [Hash], size: Int, _ hasher: Digest) -> Hash {
        var frontier = MerkleFrontier()
        for leaf in leaves.prefix(size) { frontier.append(leafHash: leaf, hasher: hasher) }
        return frontier.root(hasher: hasher)
    }

    @Test func ed25519CheckpointsAreReproducedByteForByte() throws {
        let v = try load("note-vectors.json", Vectors.self).ed25519
        let leaves = try load("entry-vectors.json", Entries.self).suites.first { $0.suite == "sha256-ed25519" }!.leaves
        let signer = try NoteSigner(name: v.name, key: SigningKey(ed25519Seed: Hex.decode(v.seed)!))
        #expect(signer.verifier.encoded == v.verifierKey)
        for note in v.checkpoints {
            let checkpoint = try signer.verifier.openCheckpoint(note)
            #expect(checkpoint.rootHash == root(leaves, size: Int(checkpoint.size), Digest(.sha256)))
            #expect(try signer.sign(checkpoint.text).serialized == note)  // Ed25519 is deterministic
        }
    }

    @Test func sm2CheckpointVerifiesOverSM3Tree() throws {
        let v = try load("note-vectors.json", Vectors.self).sm2
        let leaves = try load("entry-vectors.json", Entries.self).suites.first { $0.suite == "sm3-sm2" }!.leaves
        let verifier = try NoteVerifier(parsing: v.verifierKey)
        #expect(Hex.encode(verifier.publicKey.rawBytes) == v.publicKey)
        for note in v.checkpoints {
            let checkpoint = try verifier.openCheckpoint(note)
            #expect(checkpoint.rootHash == root(leaves, size: Int(checkpoint.size), Digest(.sm3)))
            // One changed character in the text breaks the signature.
            let tampered = note.replacingOccurrences(of: "\n\(checkpoint.size)\n", with: "\n\(checkpoint.size + 1)\n")
            #expect(throws: CryptoError.self) { try verifier.openCheckpoint(tampered) }
        }
    }
}
