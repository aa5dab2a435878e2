import COpenSSL
import ConsentCore

/// A digest algorithm offered by the system OpenSSL.
public enum DigestAlgorithm: String, Sendable, CaseIterable {
    case sha256 = "SHA256"
    case sm3 = "SM3"

    /// The algorithm fetched once from OpenSSL's default provider and shared (an `EVP_MD` is immutable).
    var md: OpaquePointer {
        switch self {
        case .sha256: return fetchedSHA256
        case .sm3: return fetchedSM3
        }
    }
}

nonisolated(unsafe) private let fetchedSHA256: OpaquePointer = fetchDigest("SHA256")
nonisolated(unsafe) private let fetchedSM3: OpaquePointer = fetchDigest("SM3")

private func fetchDigest(_ name: String) -> OpaquePointer {
    guard let md = EVP_MD_fetch(nil, name, nil) else {
        fatalError("OpenSSL has no \(name) digest: \(CryptoError.openssl("EVP_MD_fetch"))")
    }
    return md
}

/// A reusable digest context over the system OpenSSL: no allocation per hash.
///
/// SHA-256 goes through OpenSSL's `SHA256_Init/Update/Final` on a context kept here: OpenSSL 3.0's
/// `EVP_DigestInit_ex2` frees and reallocates its provider context on every hash, which cost about
/// a third of each short hash (an audit hashes six times per entry). SM3 has no such interface and
/// uses EVP. Both are checked against the same known-answer vectors.
///
/// Not thread-safe; create one per task. Implements the core's ``HashFunction``.
public final class Digest: HashFunction {
    /// The algorithm this context computes.
    public let algorithm: DigestAlgorithm
    private let ctx: OpaquePointer
    private let md: OpaquePointer
    /// SHA-256's context (nil for SM3).
    private let sha256: UnsafeMutablePointer<SHA256_CTX>?

    /// Creates a context for `algorithm`.
    public init(_ algorithm: DigestAlgorithm) {
        self.algorithm = algorithm
        self.md = algorithm.md
        guard let ctx = EVP_MD_CTX_new() else { fatalError("EVP_MD_CTX_new: out of memory") }
        self.ctx = ctx
        if algorithm == .sha256 {
            sha256 = UnsafeMutablePointer<SHA256_CTX>.allocate(capacity: 1)
            sha256!.initialize(to: SHA256_CTX())
        } else {
            sha256 = nil
        }
    }

    /// Creates the context for a log suite's hash function.
    public convenience init(suite: Suite) {
        self.init(suite == .sm3SM2 ? .sm3 : .sha256)
    }

    deinit {
        EVP_MD_CTX_free(ctx)
        sha256?.deallocate()
    }

    public func begin() {
        if let sha256 {
            guard SHA256_Init(sha256) == 1 else { fatalError("SHA256_Init failed") }
            return
        }
        guard EVP_DigestInit_ex2(ctx, md, nil) == 1 else { fatalError("\(CryptoError.openssl("EVP_DigestInit_ex2"))") }
    }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        if let sha256 {
            guard SHA256_Update(sha256, bytes.baseAddress, bytes.count) == 1 else { fatalError("SHA256_Update failed") }
            return
        }
        guard EVP_DigestUpdate(ctx, bytes.baseAddress, bytes.count) == 1 else {
            fatalError("\(CryptoError.openssl("EVP_DigestUpdate"))")
        }
    }

    public func finish() -> Hash {
        Hash { out in
            let digest = out.baseAddress!.assumingMemoryBound(to: UInt8.self)
            if let sha256 {
                guard SHA256_Final(digest, sha256) == 1 else { fatalError("SHA256_Final failed") }
                return
            }
            var length: UInt32 = 0
            guard EVP_DigestFinal_ex(ctx, digest, &length) == 1, length == 32 else {
                fatalError("\(CryptoError.openssl("EVP_DigestFinal_ex"))")
            }
        }
    }

    /// One-shot convenience: the digest of `bytes` with `algorithm`.
    public static func hash(_ algorithm: DigestAlgorithm, _ bytes: [UInt8]) -> Hash {
        Digest(algorithm).hash(bytes)
    }

    /// HMAC (RFC 2104) of `message` under `key`; see ``HMAC`` to reuse a key.
    public static func hmac(_ algorithm: DigestAlgorithm, key: [UInt8], message: [UInt8]) throws -> Hash {
        try HMAC(algorithm, key: key).authenticate(message)
    }
}

