import ConsentCore

/// The signature type bytes of a note key, as used in key IDs and verifier keys.
public enum NoteSignatureType {
    /// C2SP signed-note Ed25519.
    public static let ed25519: [UInt8] = [0x01]
    /// ConsentLedger's SM2-with-SM3 extension: 0xff (unassigned types) followed by an identifier.
    /// Signatures are DER (r, s) over the note text with the SM2 ID "1234567812345678".
    public static let sm2: [UInt8] = [0xff] + Array("consent-ledger.sm2".utf8)

    static func bytes(for algorithm: SignatureAlgorithm) -> [UInt8] { algorithm == .ed25519 ? ed25519 : sm2 }
}

/// The C2SP key ID: SHA-256(key name ‖ 0x0A ‖ type ‖ public key)[:4], big-endian.
public func noteKeyID(name: String, type: [UInt8], publicKey: [UInt8]) -> UInt32 {
    let h = Digest.hash(.sha256, Array(name.utf8) + [0x0a] + type + publicKey)
    return h.bytes[0..<4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
}

/// A key that verifies signed notes, printed as `name+keyid+base64(type ‖ public key)`.
public struct NoteVerifier: Sendable, Equatable {
    /// The key name (the log origin for a checkpoint key).
    public let name: String
    /// The key ID.
    public let keyID: UInt32
    /// The public key.
    public let publicKey: PublicKey

    /// A verifier for `publicKey` under `name`.
    public init(name: String, publicKey: PublicKey) throws {
        guard SignedNote.isValidKeyName(name) else { throw CryptoError("invalid key name \"\(name)\"") }
        self.name = name
        self.publicKey = publicKey
        self.keyID = noteKeyID(name: name, type: NoteSignatureType.bytes(for: publicKey.algorithm), publicKey: publicKey.rawBytes)
    }

    /// Parses a verifier key string `name+hex keyid+base64(type ‖ key)`, checking the key ID.
    public init(parsing vkey: String) throws {
        let text = vkey.trimmingSuffixNewlines()
        let parts = text.split(separator: "+", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, let id = UInt32(parts[1], radix: 16), parts[1].count == 8,
            let encoded = Base64.decode(String(parts[2]))
        else { throw CryptoError("malformed verifier key: expected name+keyid+base64") }
        let name = String(parts[0])
        let key: PublicKey
        if encoded.first == 0x01 {
            key = try PublicKey(rawBytes: Array(encoded.dropFirst()), algorithm: .ed25519)
        } else if encoded.starts(with: NoteSignatureType.sm2) {
            key = try PublicKey(rawBytes: Array(encoded.dropFirst(NoteSignatureType.sm2.count)), algorithm: .sm2)
        } else {
            throw CryptoError("verifier key has an unsupported signature type")
        }
        try self.init(name: name, publicKey: key)
        guard keyID == id else { throw CryptoError("verifier key ID does not match its key") }
    }

    /// The verifier key string.
    public var encoded: String {
        let hex = String(keyID, radix: 16)
        return "\(name)+\(String(repeating: "0", count: 8 - hex.count) + hex)+"
            + Base64.encode(NoteSignatureType.bytes(for: publicKey.algorithm) + publicKey.rawBytes)
    }

    /// Checks that `note` carries a valid signature by this key. Signatures by other keys are
    /// ignored (C2SP); a signature that claims this key (same name and ID) but fails is an error.
    public func verify(_ note: SignedNote) throws {
        var verified = false
        for signature in note.signatures where signature.keyName == name && signature.keyID == keyID {
            guard publicKey.isValidSignature(signature.signature, for: Array(note.text.utf8)) else {
                throw CryptoError("signature by \(name) does not verify")
            }
            verified = true
        }
        guard verified else { throw CryptoError("note has no signature by \(name)+\(encoded.split(separator: "+")[1])") }
    }

    /// Verifies a signed checkpoint note and returns its parsed body; its origin must equal the key name.
    public func openCheckpoint(_ noteText: String) throws -> Checkpoint {
        let note = try SignedNote(parsing: noteText)
        try verify(note)
        let checkpoint = try Checkpoint(text: note.text)
        guard checkpoint.origin == name else {
            throw CryptoError("checkpoint origin \"\(checkpoint.origin)\" is not the key's name \"\(name)\"")
        }
        return checkpoint
    }
}

/// A key that signs notes under a name.
public struct NoteSigner: Sendable {
    /// The key name.
    public let name: String
    /// The private key.
    public let key: SigningKey
    /// The matching verifier.
    public let verifier: NoteVerifier

    public init(name: String, key: SigningKey) throws {
        self.name = name
        self.key = key
        self.verifier = try NoteVerifier(name: name, publicKey: key.publicKey())
    }

    /// The signature line for `text`.
    public func signature(for text: String) throws -> SignedNote.Signature {
        SignedNote.Signature(keyName: name, keyID: verifier.keyID, signature: try key.sign(Array(text.utf8)))
    }

    /// Signs `text` (which must end in a newline) as a one-signature note.
    public func sign(_ text: String) throws -> SignedNote {
        guard text.hasSuffix("\n") else { throw CryptoError("note text must end in a newline") }
        return SignedNote(text: text, signatures: [try signature(for: text)])
    }
}

extension String {
    func trimmingSuffixNewlines() -> String {
        var s = self
        while s.hasSuffix("\n") || s.hasSuffix("\r") { s.removeLast() }
        return s
    }
}
