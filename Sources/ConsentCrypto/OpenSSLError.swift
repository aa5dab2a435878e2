import COpenSSL

/// An error from the system OpenSSL, with the library's own error queue text when it left one.
public struct CryptoError: Error, Equatable, CustomStringConvertible {
    /// What failed, in words.
    public let description: String

    init(_ what: String) { self.description = what }

    /// Builds an error for a failed OpenSSL call, draining OpenSSL's thread-local error queue.
    static func openssl(_ call: String) -> CryptoError {
        var messages: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            messages.append(String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return CryptoError(messages.isEmpty ? "\(call) failed" : "\(call) failed: \(messages.joined(separator: "; "))")
    }
}

/// Fills `count` bytes from OpenSSL's CSPRNG.
public func secureRandomBytes(_ count: Int) throws -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: count)
    guard RAND_bytes(&bytes, Int32(count)) == 1 else { throw CryptoError.openssl("RAND_bytes") }
    return bytes
}
