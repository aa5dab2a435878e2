import ConsentCore

/// A witness's public key for C2SP `tlog-cosignature` v1 (Ed25519, type 0x04), printed as the
/// verifier key `name+keyid+base64(0x04 ‖ public key)`.
public struct CosignatureVerifier: Sendable, Equatable {
    /// The witness name (a schema-less URL by convention).
    public let name: String
    /// SHA-256(name ‖ 0x0A ‖ 0x04 ‖ public key)[:4], big-endian.
    public let keyID: UInt32
    /// The Ed25519 public key.
    public let publicKey: PublicKey

    public init(name: String, publicKey: PublicKey) throws {
        guard SignedNote.isValidKeyName(name) else { throw CryptoError("invalid witness name \"\(name)\"") }
        guard publicKey.algorithm == .ed25519 else { throw CryptoError("cosignature keys are Ed25519") }
        self.name = name
        self.publicKey = publicKey
        self.keyID = noteKeyID(name: name, type: [Cosignature.signatureType], publicKey: publicKey.rawBytes)
    }

    /// Parses a verifier key of type 0x04, checking its key ID.
    public init(parsing vkey: String) throws {
        let text = vkey.trimmingSuffixNewlines()
        let parts = text.split(separator: "+", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[1].count == 8, let id = UInt32(parts[1], radix: 16),
            let encoded = Base64.decode(String(parts[2]))
        else { throw CryptoError("malformed witness key: expected name+keyid+base64") }
        guard encoded.first == Cosignature.signatureType, encoded.count == 33 else {
            throw CryptoError("not a cosignature key: expected signature type 0x04 and a 32-byte Ed25519 key")
        }
        try self.init(name: String(parts[0]), publicKey: try PublicKey(rawBytes: Array(encoded.dropFirst()), algorithm: .ed25519))
        guard keyID == id else { throw CryptoError("witness key ID does not match its key") }
    }

    /// The verifier key string.
    public var encoded: String {
        let hex = String(keyID, radix: 16)
        return "\(name)+\(String(repeating: "0", count: 8 - hex.count) + hex)+" + Base64.encode([Cosignature.signatureType] + publicKey.rawBytes)
    }

    /// True when the signature line claims this key (same name and key ID).
    public func claims(_ signature: SignedNote.Signature) -> Bool { signature.keyName == name && signature.keyID == keyID }

    /// Verifies one signature line over `checkpointText` and returns its timestamp.
    public func verify(_ signature: SignedNote.Signature, checkpointText: String) throws -> UInt64 {
        guard claims(signature) else { throw CryptoError("signature is not by witness \(name)") }
        let parsed: Cosignature.TimestampedSignature
        do { parsed = try Cosignature.TimestampedSignature(parsing: signature.signature) } catch {
            throw CryptoError("cosignature by \(name) is malformed: \(error)")
        }
        let message = Cosignature.message(checkpointText: checkpointText, timestamp: parsed.timestamp)
        guard publicKey.isValidSignature(parsed.signature, for: message) else { throw CryptoError("cosignature by \(name) does not verify") }
        return parsed.timestamp
    }

    /// The timestamp of this witness's valid cosignature on `note`, nil when the note carries none.
    /// Lines by other keys are ignored; a line that claims this key but fails is an error.
    public func cosignature(on note: SignedNote) throws -> UInt64? {
        var found: UInt64?
        for signature in note.signatures where claims(signature) {
            let time = try verify(signature, checkpointText: note.text)
            found = max(found ?? 0, time)
        }
        return found
    }
}

/// A witness's signing key: makes `tlog-cosignature` v1 lines.
public struct CosignatureSigner: Sendable {
    public let name: String
    public let key: SigningKey
    public let verifier: CosignatureVerifier

    public init(name: String, key: SigningKey) throws {
        guard key.algorithm == .ed25519 else { throw CryptoError("a witness key must be Ed25519") }
        self.name = name
        self.key = key
        self.verifier = try CosignatureVerifier(name: name, publicKey: key.publicKey())
    }

    /// The cosignature line over `checkpointText` at `timestamp` (POSIX seconds).
    public func cosign(checkpointText: String, timestamp: UInt64) throws -> SignedNote.Signature {
        guard timestamp <= Cosignature.maximumTimestamp else { throw CryptoError("timestamp exceeds 2^63 - 1") }
        let signature = try key.sign(Cosignature.message(checkpointText: checkpointText, timestamp: timestamp))
        return SignedNote.Signature(
            keyName: name, keyID: verifier.keyID,
            signature: Cosignature.TimestampedSignature(timestamp: timestamp, signature: signature).bytes)
    }
}
