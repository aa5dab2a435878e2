import COpenSSL
import ConsentCore

/// A keyed HMAC context over OpenSSL's EVP_MAC, initialised once and reused for many messages.
///
/// Not thread-safe; create one per task.
public final class HMAC {
    private let mac: OpaquePointer
    private let ctx: OpaquePointer

    /// An HMAC with `algorithm` under `key`.
    public init(_ algorithm: DigestAlgorithm, key: [UInt8]) throws {
        guard let mac = EVP_MAC_fetch(nil, "HMAC", nil) else { throw CryptoError.openssl("EVP_MAC_fetch(HMAC)") }
        guard let ctx = EVP_MAC_CTX_new(mac) else {
            EVP_MAC_free(mac)
            throw CryptoError.openssl("EVP_MAC_CTX_new")
        }
        self.mac = mac
        self.ctx = ctx
        var name = Array(algorithm.rawValue.utf8CString)
        let ok: Int32 = name.withUnsafeMutableBufferPointer { nameBuffer in
            let params = [
                OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, nameBuffer.baseAddress, 0),
                OSSL_PARAM_construct_end(),
            ]
            return key.withUnsafeBufferPointer { k in EVP_MAC_init(ctx, k.baseAddress, k.count, params) }
        }
        guard ok == 1 else { throw CryptoError.openssl("EVP_MAC_init") }
    }

    private init(mac: OpaquePointer, ctx: OpaquePointer) {
        self.mac = mac
        self.ctx = ctx
    }

    /// An independent context with the same algorithm and key, for another thread.
    public func copy() -> HMAC {
        guard EVP_MAC_up_ref(mac) == 1, let dup = EVP_MAC_CTX_dup(ctx) else { fatalError("\(CryptoError.openssl("EVP_MAC_CTX_dup"))") }
        return HMAC(mac: mac, ctx: dup)
    }

    deinit {
        EVP_MAC_CTX_free(ctx)
        EVP_MAC_free(mac)
    }

    /// The HMAC of `prefix` followed by the UTF-8 of `text`, without building the message.
    public func authenticate(prefix: [UInt8], utf8 text: String) -> Hash {
        guard EVP_MAC_init(ctx, nil, 0, nil) == 1,
            prefix.withUnsafeBufferPointer({ EVP_MAC_update(ctx, $0.baseAddress, $0.count) }) == 1
        else { fatalError("\(CryptoError.openssl("EVP_MAC_update"))") }
        var text = text
        guard text.withUTF8({ EVP_MAC_update(ctx, $0.baseAddress, $0.count) }) == 1 else {
            fatalError("\(CryptoError.openssl("EVP_MAC_update"))")
        }
        return Hash { out in
            var length = 0
            guard EVP_MAC_final(ctx, out.baseAddress!.assumingMemoryBound(to: UInt8.self), &length, 32) == 1,
                length == 32
            else { fatalError("\(CryptoError.openssl("EVP_MAC_final"))") }
        }
    }

    /// The HMAC of `message` (RFC 2104).
    public func authenticate(_ message: [UInt8]) -> Hash {
        // Re-initialising with no key restarts the MAC under the key already set.
        guard EVP_MAC_init(ctx, nil, 0, nil) == 1,
            message.withUnsafeBufferPointer({ EVP_MAC_update(ctx, $0.baseAddress, $0.count) }) == 1
        else { fatalError("\(CryptoError.openssl("EVP_MAC_update"))") }
        return Hash { out in
            var length = 0
            guard EVP_MAC_final(ctx, out.baseAddress!.assumingMemoryBound(to: UInt8.self), &length, 32) == 1,
                length == 32
            else { fatalError("\(CryptoError.openssl("EVP_MAC_final"))") }
        }
    }
}
