import ConsentCrypto
import ConsentTestSupport
import Foundation
import Testing

@testable import ConsentCore

@Suite struct EntryTests {
    struct Vectors: Decodable {
        struct Suite: Decodable {
            var suite: String
            var subjectSecret: String
            var entries: [Case]
            var commit: Commit
        }
        struct Commit: Decodable {
            var index: Int64
            var previousLeafHash: Hash
            var recordedAt: Int64
            var stateRoot: Hash
            var eventCount: UInt32
            var header: String
            var leafHash: Hash
        }
        struct Case: Decodable {
            var sender: String
            var scope: String
            var port: String?
            var purpose: String?
            var subject: String
            var action: String
            var method: String
            var templateHash: Hash?
            var occurredAt: Int64
            var recordedAt: Int64
            var evidence: [String: String]
            var clientKey: String?
            var salt: String
            var pepper: Hash
            var subjectKey: Hash
            var idempotencyKeyHash: Hash?
            var previousLeafHash: Hash
            var body: String
            var bodyHash: Hash
            var header: String
            var leafHash: Hash
            var stateKey: Hash
            var keyPredecessor: KeyLink?
        }
        var suites: [Suite]
    }

    /// Our encoder reproduces, byte for byte, the encodings a Python implementation of docs/FORMAT.md
    /// wrote (tools/vectors/entry_vectors.py), for both suites; the decoder inverts them.
    @Test func matchesIndependentVectors() throws {
        let vectors = try Fixtures.load("entry-vectors.json", as: Vectors.self)
        #expect(vectors.suites.count == 2)
        for suite in vectors.suites {
            let hasher = Digest(suite: ConsentCore.Suite(rawValue: suite.suite)!)
            let mac = try HMAC(suite.suite == "sm3-sm2" ? .sm3 : .sha256, key: Hex.decode(suite.subjectSecret)!)
            for c in suite.entries {
                let pepper = mac.authenticate(Derivation.pepperMessage(e164: c.subject))
                #expect(pepper == c.pepper)
                #expect(Derivation.subjectKey(pepper: pepper, e164: c.subject, hasher: hasher) == c.subjectKey)
                if let key = c.clientKey {
                    #expect(Derivation.idempotencyKeyHash(sender: c.sender, clientKey: key, hasher: hasher) == c.idempotencyKeyHash)
                }
                var evidence: [EvidenceField: String] = [:]
                for (k, v) in c.evidence { evidence[EvidenceField(name: k)!] = v }
                let body = ConsentBody(salt: Hex.decode(c.salt)!, pepper: pepper, subject: c.subject, evidence: evidence)
                #expect(Hex.encode(body.encoded()) == c.body)
                #expect(try ConsentBody(decoding: Hex.decode(c.body)!) == body)
                #expect(hasher.hash(body.encoded()) == c.bodyHash)
                let scope: Scope =
                    switch c.scope {
                    case "global": .global
                    case "sender": .sender
                    default: .narrowed(port: c.port, purpose: c.purpose)
                    }
                let header = EntryHeader.consent(
                    ConsentHeader(
                        previousLeafHash: c.previousLeafHash, recordedAt: c.recordedAt, sender: c.sender, scope: scope,
                        subjectKey: c.subjectKey, action: ConsentAction(name: c.action)!, method: ConsentMethod(name: c.method)!,
                        templateHash: c.templateHash, occurredAt: c.occurredAt, bodyHash: c.bodyHash,
                        idempotencyKeyHash: c.idempotencyKeyHash, keyPredecessor: c.keyPredecessor))
                #expect(Hex.encode(header.encoded()) == c.header)
                #expect(try EntryHeader(decoding: Hex.decode(c.header)!) == header)
                #expect(hasher.leafHash(header.encoded()) == c.leafHash)
                #expect(StateMap.stateKey(subjectKey: c.subjectKey, sender: c.sender, scope: scope, hasher: hasher) == c.stateKey)
            }
            // The commit entry after the batch, with the state root Python computed with its own trie.
            var latest: [Hash: MapValue] = [:]
            for (i, c) in suite.entries.enumerated() {
                latest[c.stateKey] = MapValue(index: Int64(i), action: ConsentAction(name: c.action)!, leafHash: c.leafHash)
            }
            let root = try MemoryMapNodes().update(latest.map { ($0.key, $0.value) }, hasher: hasher)
            #expect(root == suite.commit.stateRoot)
            let commit = EntryHeader.commit(
                CommitHeader(
                    previousLeafHash: suite.commit.previousLeafHash, recordedAt: suite.commit.recordedAt, stateRoot: root,
                    eventCount: suite.commit.eventCount))
            #expect(Hex.encode(commit.encoded()) == suite.commit.header)
            #expect(try EntryHeader(decoding: Hex.decode(suite.commit.header)!) == commit)
            #expect(hasher.leafHash(commit.encoded()) == suite.commit.leafHash)
        }
    }

    @Test func decoderRejectsTruncationTrailingBytesAndUnknownTags() throws {
        let vectors = try Fixtures.load("entry-vectors.json", as: Vectors.self)
        for c in vectors.suites[0].entries {
            let header = Hex.decode(c.header)!
            for length in 0..<header.count {
                #expect(throws: EntryError.self) { try EntryHeader(decoding: Array(header.prefix(length))) }
            }
            #expect(throws: EntryError.self) { try EntryHeader(decoding: header + [0]) }
            var badVersion = header
            badVersion[0] = 2
            #expect(throws: EntryError.self) { try EntryHeader(decoding: badVersion) }
            var badKind = header
            badKind[1] = 99
            #expect(throws: EntryError.self) { try EntryHeader(decoding: badKind) }
            let body = Hex.decode(c.body)!
            for length in 0..<body.count {
                #expect(throws: EntryError.self) { try ConsentBody(decoding: Array(body.prefix(length))) }
            }
            #expect(throws: EntryError.self) { try ConsentBody(decoding: body + [1]) }
        }
    }

    @Test func decoderRejectsGlobalGrants() throws {
        let header = ConsentHeader(
            previousLeafHash: .zero, recordedAt: 1, sender: "s", scope: .global, subjectKey: .zero, action: .grant, method: .api,
            templateHash: nil, occurredAt: 1, bodyHash: .zero, idempotencyKeyHash: nil, keyPredecessor: nil)
        #expect(throws: EntryError.self) { try EntryHeader(decoding: EntryHeader.consent(header).encoded()) }
        var revoke = header
        revoke.action = .revoke
        #expect(try EntryHeader(decoding: EntryHeader.consent(revoke).encoded()) == .consent(revoke))
    }

    /// The in-place reader the audit uses agrees with the full decoder: the same fields, strings and
    /// state key on random headers of every scope, and it accepts exactly the bytes the decoder does.
    @Test func consentFieldsAgreeWithTheDecoder() throws {
        var random = SplitMix(seed: 6)
        let hasher = Digest(.sha256)
        func hash() -> Hash { Hash { for i in 0..<32 { $0[i] = UInt8(truncatingIfNeeded: random.next()) } } }
        func token(_ length: Int) -> String {
            String((0..<length).map { _ in random.pick(Array("AZaz09._-ABCxyz")) })
        }
        for n in 0..<500 {
            let scope: Scope = random.pick([
                .global, .sender, .narrowed(port: "1069\(n)", purpose: nil), .narrowed(port: nil, purpose: token(1 + n % 64)),
                .narrowed(port: "10690\(n)", purpose: "营销-\(n)"),
            ])
            let header = ConsentHeader(
                previousLeafHash: hash(), recordedAt: Int64(n) * 1000, sender: token(1 + n % 64), scope: scope, subjectKey: hash(),
                action: scope == .global || n % 3 == 0 ? .revoke : .grant, method: random.pick(ConsentMethod.allCases),
                templateHash: n % 2 == 0 ? hash() : nil, occurredAt: Int64(n), bodyHash: hash(), idempotencyKeyHash: n % 5 == 0 ? nil : hash(),
                keyPredecessor: n % 4 == 0 ? nil : KeyLink(index: Int64(n), leafHash: hash()))
            let bytes = EntryHeader.consent(header).encoded()
            let fields = try ConsentFields(decoding: bytes)
            #expect(fields.header(in: bytes) == header)
            #expect(fields.stateKey(in: bytes, hasher: hasher) == header.stateKey(hasher: hasher))
            #expect(String(decoding: fields.senderBytes(in: bytes), as: UTF8.self) == header.sender)
            // Every single-byte change: both accept it, or both reject it with the same error.
            for i in stride(from: 0, to: bytes.count, by: 7) {
                var changed = bytes
                changed[i] ^= 0x80
                let full = Result { try EntryHeader(decoding: changed) }
                let inPlace = Result { try ConsentFields(decoding: changed) }
                switch (full, inPlace) {
                case (.success(.consent(let h)), .success(let f)): #expect(f.header(in: changed) == h)
                case (.failure(let a as EntryError), .failure(let b as EntryError)): #expect(a == b)
                default: Issue.record("byte \(i) of header \(n): the decoder says \(full), the in-place reader \(inPlace)")
                }
            }
        }
        let commit = EntryHeader.commit(CommitHeader(previousLeafHash: .zero, recordedAt: 1, stateRoot: .zero, eventCount: 0)).encoded()
        #expect(throws: EntryError("not a consent entry (kind 2)")) { try ConsentFields(decoding: commit) }
    }

    /// Any single-byte change to an encoded header either fails to decode or changes the leaf hash
    /// and decodes to a different header (no two encodings of one header).
    @Test func everyByteChangeIsDetected() throws {
        let vectors = try Fixtures.load("entry-vectors.json", as: Vectors.self)
        let hasher = Digest(.sha256)
        for c in vectors.suites[0].entries {
            let header = Hex.decode(c.header)!
            let original = try EntryHeader(decoding: header)
            for i in 0..<header.count {
                var changed = header
                changed[i] ^= 0x01
                #expect(hasher.leafHash(changed) != c.leafHash)
                if let decoded = try? EntryHeader(decoding: changed) {
                    #expect(decoded != original)
                    #expect(decoded.encoded() == changed)
                }
            }
        }
    }
}

@Suite struct NoteAndCheckpointTests {
    @Test func checkpointRoundTrip() throws {
        let root = Hash(hex: "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")!
        let cp = Checkpoint(origin: "example.com/log", size: 8, rootHash: root, extensions: ["ext line"])
        #expect(cp.text == "example.com/log\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\next line\n")
        #expect(try Checkpoint(text: cp.text) == cp)
    }

    @Test(arguments: [
        "example.com/log\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=",  // no final newline
        "example.com/log\n08\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n",  // non-canonical size
        "example.com/log\n-1\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n",
        "example.com/log\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQy=\n",  // bad base64
        "example.com/log\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyh=\n",  // non-canonical base64 (trailing bits)
        "\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n",  // empty origin
        "example.com/log\n8\n",
        "example.com/log\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n\n",  // empty extension line
    ])
    func malformedCheckpointsAreRejected(_ text: String) {
        #expect(throws: NoteError.self) { try Checkpoint(text: text) }
    }

    @Test func signedNoteParsing() throws {
        let text = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
        let line = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
        let note = try SignedNote(parsing: text + "\n" + line)
        #expect(note.text == text)
        #expect(note.signatures.count == 1)
        #expect(note.signatures[0].keyName == "PeterNeumann")
        #expect(note.signatures[0].keyID == 0xc74f_20a3)
        #expect(note.serialized == text + "\n" + line)
        // A text with blank lines of its own splits at the last blank line.
        let multi = try SignedNote(parsing: "a\n\nb\n\n" + line)
        #expect(multi.text == "a\n\nb\n")
    }

    @Test(arguments: [
        "no signatures\n\n",
        "missing blank line\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",
        "text\n\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=",
        "text\n\n- PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",
        "text\n\n— Peter+Neumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",
        "text\n\n— PeterNeumann AAAA\n",
        "te\u{7}xt\n\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",
    ])
    func malformedNotesAreRejected(_ text: String) {
        #expect(throws: NoteError.self) { try SignedNote(parsing: text) }
    }
}

@Suite struct EncodingTests {
    @Test func base64IsStandardAndCanonical() {
        for length in 0..<40 {
            let bytes = (0..<length).map { UInt8(($0 * 37 + 11) & 0xff) }
            let encoded = Base64.encode(bytes)
            #expect(encoded == Data(bytes).base64EncodedString())
            #expect(Base64.decode(encoded) == bytes)
        }
        #expect(Base64.decode("QQ") == nil)  // missing padding
        #expect(Base64.decode("QR==") == nil)  // non-zero trailing bits
        #expect(Base64.decode("Q Q=") == nil)
        #expect(Base64.decode("=QQQ") == nil)
    }

    @Test func hexRoundTrip() {
        #expect(Hex.encode([0, 1, 0xab, 0xff]) == "0001abff")
        #expect(Hex.decode("0001ABff") == [0, 1, 0xab, 0xff])
        #expect(Hex.decode("abc") == nil)
        #expect(Hex.decode("zz") == nil)
    }

    @Test(arguments: [
        ("2026-11-23T12:00:00Z", Int64(1_795_435_200_000)),
        ("2026-11-23T20:00:00+08:00", Int64(1_795_435_200_000)),
        ("2026-11-23T12:00:00.5Z", Int64(1_795_435_200_500)),
        ("2026-11-23 12:00:00.123456z", Int64(1_795_435_200_123)),
        ("1970-01-01T00:00:00Z", Int64(0)),
        ("2028-02-29T00:00:00Z", Int64(1_835_395_200_000)),
    ])
    func rfc3339Parses(_ text: String, _ expected: Int64) {
        #expect(RFC3339.parse(text) == expected)
    }

    @Test(arguments: ["2026-11-23", "2026-11-23T12:00:00", "2026-13-01T00:00:00Z", "2027-02-29T00:00:00Z", "2026-11-23T24:00:00Z", "2026-11-23T12:00:00+8", "x"])
    func rfc3339Rejects(_ text: String) {
        #expect(RFC3339.parse(text) == nil)
    }

    @Test func rfc3339FormatRoundTrips() {
        for ms in stride(from: Int64(-86_400_000 * 400), to: 86_400_000 * 40000, by: 86_400_000 * 13 + 3_723_456) {
            #expect(RFC3339.parse(RFC3339.format(ms)) == ms)
        }
        #expect(RFC3339.format(1_795_435_200_123) == "2026-11-23T12:00:00.123Z")
    }
}
