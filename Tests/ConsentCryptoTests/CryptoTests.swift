import COpenSSL
import ConsentCore
import Testing

@testable import ConsentCrypto

@Suite struct DigestTests {
    @Test func knownAnswers() {
        #expect(Digest.hash(.sha256, Array("abc".utf8)).hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Digest.hash(.sha256, []).hex == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        // GB/T 32905-2016 appendix A examples.
        #expect(Digest.hash(.sm3, Array("abc".utf8)).hex == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0")
        #expect(
            Digest.hash(.sm3, Array(String(repeating: "abcd", count: 16).utf8)).hex
                == "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732")
    }

    @Test func reusedContextGivesTheSameAnswers() {
        let d = Digest(.sm3)
        for _ in 0..<3 { #expect(d.hash(Array("abc".utf8)).hex == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0") }
        // Streaming in pieces equals one shot.
        d.begin()
        Array("ab".utf8).withUnsafeBytes { d.update($0) }
        Array("c".utf8).withUnsafeBytes { d.update($0) }
        #expect(d.finish() == Digest.hash(.sm3, Array("abc".utf8)))
    }

    /// SHA-256 runs on OpenSSL's SHA256_* functions, not EVP: it must agree with EVP's one-shot
    /// digest at every length around the block boundaries, streamed in pieces, context reused.
    @Test func sha256AgreesWithEVP() {
        func evp(_ bytes: [UInt8]) -> [UInt8] {
            var out = [UInt8](repeating: 0, count: 32)
            var length: UInt32 = 0
            #expect(EVP_Digest(bytes, bytes.count, &out, &length, EVP_sha256(), nil) == 1)
            return out
        }
        let d = Digest(.sha256)
        for length in 0..<300 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ length) }
            #expect(d.hash(bytes).bytes == evp(bytes))
            d.begin()
            bytes.withUnsafeBytes { raw in
                for piece in stride(from: 0, to: length, by: 7) {
                    d.update(UnsafeRawBufferPointer(rebasing: raw[piece..<min(piece + 7, length)]))
                }
            }
            #expect(d.finish().bytes == evp(bytes))
        }
        // FIPS 180-2 appendix B.2 (two blocks).
        #expect(
            d.hash(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)).hex
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    @Test func hmacRFC4231() throws {
        // RFC 4231 test case 2.
        let mac = try Digest.hmac(.sha256, key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8))
        #expect(mac.hex == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        let reused = try HMAC(.sha256, key: Array("Jefe".utf8))
        for _ in 0..<2 { #expect(reused.authenticate(Array("what do ya want for nothing?".utf8)) == mac) }
    }
}

@Suite struct SignatureTests {
    /// RFC 8032 §7.1 tests 1-3.
    @Test(arguments: [
        (
            "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        ),
        (
            "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
            "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
            "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
        ),
        (
            "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
            "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
            "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"
        ),
    ])
    func ed25519RFC8032(_ seed: String, _ publicKey: String, _ message: String, _ signature: String) throws {
        let key = try SigningKey(ed25519Seed: Hex.decode(seed)!)
        let pub = try key.publicKey()
        #expect(Hex.encode(pub.rawBytes) == publicKey)
        let sig = try key.sign(Hex.decode(message)!)
        #expect(Hex.encode(sig) == signature)
        #expect(pub.isValidSignature(sig, for: Hex.decode(message)!))
        #expect(!pub.isValidSignature(sig, for: Hex.decode(message)! + [0]))
        var bad = sig
        bad[10] ^= 1
        #expect(!pub.isValidSignature(bad, for: Hex.decode(message)!))
    }

    @Test func sm2RoundTripAndRejections() throws {
        let key = try SigningKey.generate(.sm2)
        let pub = try key.publicKey()
        #expect(pub.rawBytes.count == 65 && pub.rawBytes[0] == 4)
        let message = Array("同意凭证 consent certificate".utf8)
        let sig = try key.sign(message)
        #expect((68...72).contains(sig.count))  // DER (r, s)
        #expect(pub.isValidSignature(sig, for: message))
        #expect(!pub.isValidSignature(sig, for: message + [0x20]))
        // The same key with another distinguishing ID must not verify.
        let otherID = try PublicKey(rawBytes: pub.rawBytes, algorithm: .sm2, sm2ID: Array("ALICE123@YAHOO.COM".utf8))
        #expect(!otherID.isValidSignature(sig, for: message))
        // A key from the raw point verifies; PEM round trips keep the key.
        #expect(try PublicKey(rawBytes: pub.rawBytes, algorithm: .sm2).isValidSignature(sig, for: message))
        let reloaded = try SigningKey(pem: key.pem())
        #expect(reloaded.algorithm == .sm2)
        #expect(try reloaded.publicKey() == pub)
        #expect(pub.isValidSignature(try reloaded.sign(message), for: message))
        #expect(try PublicKey(pem: pub.pem()) == pub)
        // A point off the curve is refused.
        var offCurve = pub.rawBytes
        offCurve[64] ^= 1
        #expect(throws: CryptoError.self) { try PublicKey(rawBytes: offCurve, algorithm: .sm2) }
    }

    @Test func ed25519PEMRoundTrip() throws {
        let key = try SigningKey.generate(.ed25519)
        let pem = try key.pem()
        #expect(pem.hasPrefix("-----BEGIN PRIVATE KEY-----"))
        let reloaded = try SigningKey(pem: pem)
        #expect(try reloaded.publicKey() == key.publicKey())
        #expect(throws: CryptoError.self) { try SigningKey(pem: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n") }
    }
}

@Suite struct SignedNoteTests {
    // From the documentation of Go's golang.org/x/mod/sumdb/note.
    let goSigningSeed = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
    let goVerifierKey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
    let text = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
    let goSignature = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"

    @Test func matchesGoSumdbNote() throws {
        let seed = Array(Base64.decode(goSigningSeed)!.dropFirst())  // type byte 0x01, then the seed
        let signer = try NoteSigner(name: "PeterNeumann", key: SigningKey(ed25519Seed: seed))
        #expect(signer.verifier.encoded == goVerifierKey)
        #expect(try signer.sign(text).serialized == text + "\n" + goSignature)
        let verifier = try NoteVerifier(parsing: goVerifierKey)
        try verifier.verify(SignedNote(parsing: text + "\n" + goSignature))
    }

    @Test func verificationFailures() throws {
        let verifier = try NoteVerifier(parsing: goVerifierKey)
        // Changed text.
        #expect(throws: CryptoError.self) { try verifier.verify(SignedNote(parsing: text.uppercased() + "\n" + goSignature)) }
        // Only an unknown key's signature.
        let other = try NoteSigner(name: "Other", key: SigningKey.generate(.ed25519))
        #expect(throws: CryptoError.self) { try verifier.verify(other.sign(text)) }
        // A known key's signature plus an unknown one still verifies (unknown keys are ignored).
        var both = try SignedNote(parsing: text + "\n" + goSignature)
        both.signatures.insert(try other.signature(for: text), at: 0)
        try verifier.verify(both)
        // Wrong key IDs in verifier keys are refused.
        #expect(throws: CryptoError.self) { try NoteVerifier(parsing: "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW") }
        #expect(throws: CryptoError.self) { try NoteVerifier(parsing: "PeterNeumann+c74f20a3") }
    }

    @Test func sm2NotesRoundTrip() throws {
        let signer = try NoteSigner(name: "example.com/sm2-log", key: SigningKey.generate(.sm2))
        let vkey = signer.verifier.encoded
        let parsed = try NoteVerifier(parsing: vkey)
        #expect(parsed == signer.verifier)
        let checkpoint = Checkpoint(origin: "example.com/sm2-log", size: 3, rootHash: Digest.hash(.sm3, [1]))
        let note = try signer.sign(checkpoint.text).serialized
        #expect(try parsed.openCheckpoint(note) == checkpoint)
        // Another origin's checkpoint signed by this key is refused.
        let wrongOrigin = try signer.sign(Checkpoint(origin: "evil.example/log", size: 3, rootHash: checkpoint.rootHash).text).serialized
        #expect(throws: CryptoError.self) { try parsed.openCheckpoint(wrongOrigin) }
    }
}
