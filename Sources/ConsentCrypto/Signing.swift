import COpenSSL
import ConsentCore

/// A signature algorithm offered by the system OpenSSL.
public enum SignatureAlgorithm: String, Sendable, CaseIterable {
    /// Ed25519 (RFC 8032), 32-byte public keys, 64-byte signatures.
    case ed25519
    /// SM2 with SM3 (GB/T 32918), 65-byte uncompressed public keys, DER (r, s) signatures.
    case sm2

    /// The algorithm a log suite signs with.
    public init(suite: Suite) { self = suite == .sm3SM2 ? .sm2 : .ed25519 }

    var nid: Int32 { self == .ed25519 ? EVP_PKEY_ED25519 : EVP_PKEY_SM2 }
    var typeName: String { self == .ed25519 ? "ED25519" : "SM2" }
}

/// The SM2 distinguishing identifier used when none is given: the GB/T 32918 default "1234567812345678".
public let defaultSM2ID: [UInt8] = Array("1234567812345678".utf8)

/// An OpenSSL `EVP_PKEY`, reference counted and safe for concurrent signing and verifying.
final class PKey: @unchecked Sendable {
    let pointer: OpaquePointer
    init(_ pointer: OpaquePointer) { self.pointer = pointer }
    deinit { EVP_PKEY_free(pointer) }

    func algorithm() throws -> SignatureAlgorithm {
        if EVP_PKEY_is_a(pointer, "ED25519") == 1 { return .ed25519 }
        if EVP_PKEY_is_a(pointer, "SM2") == 1 { return .sm2 }
        throw CryptoError("unsupported key type (only Ed25519 and SM2 keys are accepted)")
    }

    func rawPublicKey(_ algorithm: SignatureAlgorithm) throws -> [UInt8] {
        switch algorithm {
        case .ed25519:
            var length = 32
            var out = [UInt8](repeating: 0, count: 32)
            guard EVP_PKEY_get_raw_public_key(pointer, &out, &length) == 1, length == 32 else {
                throw CryptoError.openssl("EVP_PKEY_get_raw_public_key")
            }
            return out
        case .sm2:
            var length = 0
            var out = [UInt8](repeating: 0, count: 65)
            guard EVP_PKEY_get_octet_string_param(pointer, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, &out, 65, &length) == 1,
                length == 65
            else { throw CryptoError.openssl("EVP_PKEY_get_octet_string_param(encoded-pub-key)") }
            return out
        }
    }

    func pem(privateKey: Bool) throws -> String {
        guard let bio = BIO_new(BIO_s_mem()) else { throw CryptoError.openssl("BIO_new") }
        defer { BIO_free(bio) }
        let ok =
            privateKey
            ? PEM_write_bio_PrivateKey(bio, pointer, nil, nil, 0, nil, nil) : PEM_write_bio_PUBKEY(bio, pointer)
        guard ok == 1 else { throw CryptoError.openssl("PEM_write_bio") }
        var data: UnsafeMutablePointer<CChar>?
        let length = cl_BIO_get_mem_data(bio, &data)
        guard length > 0, let data else { throw CryptoError.openssl("BIO_get_mem_data") }
        return String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self)
    }

    static func read(pem: String, privateKey: Bool) throws -> PKey {
        let bytes = Array(pem.utf8)
        let pkey: OpaquePointer? = bytes.withUnsafeBytes { raw in
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else { return nil }
            defer { BIO_free(bio) }
            return privateKey ? PEM_read_bio_PrivateKey(bio, nil, nil, nil) : PEM_read_bio_PUBKEY(bio, nil, nil, nil)
        }
        guard let pkey else {
            throw CryptoError.openssl(privateKey ? "reading a PEM private key" : "reading a PEM public key")
        }
        return PKey(pkey)
    }
}

/// A private key that signs: Ed25519 or SM2.
public struct SigningKey: Sendable {
    let key: PKey
    /// The signature algorithm of this key.
    public let algorithm: SignatureAlgorithm
    /// The SM2 distinguishing identifier (ignored for Ed25519).
    public let sm2ID: [UInt8]

    /// Generates a fresh key with OpenSSL's CSPRNG.
    public static func generate(_ algorithm: SignatureAlgorithm, sm2ID: [UInt8] = defaultSM2ID) throws -> SigningKey {
        guard let ctx = EVP_PKEY_CTX_new_id(algorithm.nid, nil) else { throw CryptoError.openssl("EVP_PKEY_CTX_new_id") }
        defer { EVP_PKEY_CTX_free(ctx) }
        guard EVP_PKEY_keygen_init(ctx) == 1 else { throw CryptoError.openssl("EVP_PKEY_keygen_init") }
        var pkey: OpaquePointer?
        guard EVP_PKEY_keygen(ctx, &pkey) == 1, let pkey else { throw CryptoError.openssl("EVP_PKEY_keygen") }
        return SigningKey(key: PKey(pkey), algorithm: algorithm, sm2ID: sm2ID)
    }

    /// An Ed25519 key from its 32-byte RFC 8032 seed.
    public init(ed25519Seed seed: [UInt8]) throws {
        guard seed.count == 32 else { throw CryptoError("an Ed25519 seed is 32 bytes, not \(seed.count)") }
        guard let pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nil, seed, 32) else {
            throw CryptoError.openssl("EVP_PKEY_new_raw_private_key")
        }
        self.init(key: PKey(pkey), algorithm: .ed25519, sm2ID: defaultSM2ID)
    }

    /// Reads a PKCS #8 PEM private key (Ed25519 or SM2).
    public init(pem: String, sm2ID: [UInt8] = defaultSM2ID) throws {
        let key = try PKey.read(pem: pem, privateKey: true)
        self.init(key: key, algorithm: try key.algorithm(), sm2ID: sm2ID)
    }

    init(key: PKey, algorithm: SignatureAlgorithm, sm2ID: [UInt8]) {
        self.key = key
        self.algorithm = algorithm
        self.sm2ID = sm2ID
    }

    /// The private key as PKCS #8 PEM. Store it with 0600 permissions.
    public func pem() throws -> String { try key.pem(privateKey: true) }

    /// The matching public key.
    public func publicKey() throws -> PublicKey {
        try PublicKey(rawBytes: key.rawPublicKey(algorithm), algorithm: algorithm, sm2ID: sm2ID)
    }

    /// Signs `message`: pure Ed25519, or SM2 over SM3 with the distinguishing identifier.
    public func sign(_ message: [UInt8]) throws -> [UInt8] {
        try withDigestContext(key, algorithm, sm2ID, verify: false) { mctx in
            var length = 0
            guard EVP_DigestSign(mctx, nil, &length, message, message.count) == 1 else {
                throw CryptoError.openssl("EVP_DigestSign (size)")
            }
            var signature = [UInt8](repeating: 0, count: length)
            guard EVP_DigestSign(mctx, &signature, &length, message, message.count) == 1 else {
                throw CryptoError.openssl("EVP_DigestSign")
            }
            return Array(signature.prefix(length))
        }
    }
}

/// A public key that verifies: Ed25519 or SM2.
public struct PublicKey: Sendable, Equatable {
    let key: PKey
    /// The signature algorithm of this key.
    public let algorithm: SignatureAlgorithm
    /// Ed25519: the 32-byte key; SM2: the 65-byte uncompressed point (0x04 ‖ x ‖ y).
    public let rawBytes: [UInt8]
    /// The SM2 distinguishing identifier (ignored for Ed25519).
    public let sm2ID: [UInt8]

    public static func == (lhs: PublicKey, rhs: PublicKey) -> Bool {
        lhs.algorithm == rhs.algorithm && lhs.rawBytes == rhs.rawBytes && lhs.sm2ID == rhs.sm2ID
    }

    /// A public key from its raw encoding.
    public init(rawBytes: [UInt8], algorithm: SignatureAlgorithm, sm2ID: [UInt8] = defaultSM2ID) throws {
        switch algorithm {
        case .ed25519:
            guard rawBytes.count == 32,
                let pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nil, rawBytes, 32)
            else { throw CryptoError("not a valid Ed25519 public key (32 bytes expected, got \(rawBytes.count))") }
            key = PKey(pkey)
        case .sm2:
            guard rawBytes.count == 65, rawBytes[0] == 4 else {
                throw CryptoError("not a valid SM2 public key (65-byte uncompressed point expected)")
            }
            key = try PublicKey.sm2Key(point: rawBytes)
        }
        self.algorithm = algorithm
        self.rawBytes = rawBytes
        self.sm2ID = sm2ID
    }

    /// Reads a PEM SubjectPublicKeyInfo (Ed25519 or SM2).
    public init(pem: String, sm2ID: [UInt8] = defaultSM2ID) throws {
        let key = try PKey.read(pem: pem, privateKey: false)
        let algorithm = try key.algorithm()
        try self.init(rawBytes: key.rawPublicKey(algorithm), algorithm: algorithm, sm2ID: sm2ID)
    }

    /// The key as PEM SubjectPublicKeyInfo.
    public func pem() throws -> String { try key.pem(privateKey: false) }

    /// True when `signature` is this key's valid signature of `message`.
    public func isValidSignature(_ signature: [UInt8], for message: [UInt8]) -> Bool {
        (try? withDigestContext(key, algorithm, sm2ID, verify: true) { mctx in
            EVP_DigestVerify(mctx, signature, signature.count, message, message.count) == 1
        }) ?? false
    }

    /// The DER SubjectPublicKeyInfo prefix of an SM2 key: id-ecPublicKey with the curve sm2
    /// (1.2.156.10197.1.301), then a BIT STRING holding the 65-byte point.
    private static let sm2SPKIPrefix: [UInt8] = [
        0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
        0x06, 0x08, 0x2a, 0x81, 0x1c, 0xcf, 0x55, 0x01, 0x82, 0x2d, 0x03, 0x42, 0x00,
    ]

    private static func sm2Key(point: [UInt8]) throws -> PKey {
        // OpenSSL 3.0 decodes an id-ecPublicKey on the sm2 curve as an SM2 key and checks the point.
        let der = sm2SPKIPrefix + point
        let pkey: OpaquePointer? = der.withUnsafeBufferPointer { buffer in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            return d2i_PUBKEY(nil, &cursor, buffer.count)
        }
        guard let pkey else { throw CryptoError("not a valid SM2 public key (point not on the curve)") }
        let key = PKey(pkey)
        guard try key.algorithm() == .sm2 else { throw CryptoError("not an SM2 public key") }
        return key
    }
}

/// Runs `body` with an `EVP_MD_CTX` initialised for signing or verifying with `key`.
private func withDigestContext<R>(
    _ key: PKey, _ algorithm: SignatureAlgorithm, _ sm2ID: [UInt8], verify: Bool,
    _ body: (OpaquePointer) throws -> R
) throws -> R {
    guard let mctx = EVP_MD_CTX_new() else { throw CryptoError.openssl("EVP_MD_CTX_new") }
    defer { EVP_MD_CTX_free(mctx) }
    switch algorithm {
    case .ed25519:
        let ok =
            verify
            ? EVP_DigestVerifyInit(mctx, nil, nil, nil, key.pointer) : EVP_DigestSignInit(mctx, nil, nil, nil, key.pointer)
        guard ok == 1 else { throw CryptoError.openssl("EVP_DigestSignInit(Ed25519)") }
        return try body(mctx)
    case .sm2:
        // OpenSSL 3.0 has no default SM2 ID and EVP_MD_CTX_set_pkey_ctx does not take ownership.
        guard let pctx = EVP_PKEY_CTX_new(key.pointer, nil) else { throw CryptoError.openssl("EVP_PKEY_CTX_new") }
        defer { EVP_PKEY_CTX_free(pctx) }
        guard cl_EVP_PKEY_CTX_set1_id(pctx, sm2ID, Int32(sm2ID.count)) == 1 else {
            throw CryptoError.openssl("EVP_PKEY_CTX_set1_id")
        }
        EVP_MD_CTX_set_pkey_ctx(mctx, pctx)
        let md = DigestAlgorithm.sm3.md
        let ok =
            verify
            ? EVP_DigestVerifyInit(mctx, nil, md, nil, key.pointer) : EVP_DigestSignInit(mctx, nil, md, nil, key.pointer)
        guard ok == 1 else { throw CryptoError.openssl("EVP_DigestSignInit(SM2)") }
        return try body(mctx)
    }
}
