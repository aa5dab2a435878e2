import ConsentCore
import ConsentCrypto
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The files of a ledger's data directory besides its store (the SQLite store keeps
/// `ledger.sqlite`, its WAL, and `ledger.sqlite.map`, the state-map node file):
///
///     DIR/keys/checkpoint.pem     the log's signing key (PKCS #8 PEM, 0600)
///     DIR/keys/subject-secret     32 random bytes, hex, 0600: keys subject peppers
///     DIR/LOCK                    held (flock) by the one process that writes
public struct DataDirectory: Sendable {
    public let url: URL

    public init(_ path: String) { url = URL(fileURLWithPath: path, isDirectory: true) }

    var keysURL: URL { url.appendingPathComponent("keys", isDirectory: true) }
    var signingKeyURL: URL { keysURL.appendingPathComponent("checkpoint.pem") }
    var subjectSecretURL: URL { keysURL.appendingPathComponent("subject-secret") }
    var lockURL: URL { url.appendingPathComponent("LOCK") }

    /// The path of a file in the directory.
    public func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    /// Creates the directory (if needed) and fresh keys; refuses a directory that already has keys.
    func createKeys(suite: Suite) throws -> (SigningKey, [UInt8]) {
        let fm = FileManager.default
        try fm.createDirectory(at: keysURL, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        guard !fm.fileExists(atPath: signingKeyURL.path), !fm.fileExists(atPath: subjectSecretURL.path) else {
            throw LedgerError.invalidDirectory("\(url.path) already has keys; it holds a ledger (or a half-created one: remove it)")
        }
        let key = try SigningKey.generate(SignatureAlgorithm(suite: suite))
        let secret = try secureRandomBytes(32)
        try writePrivate(Array(try key.pem().utf8), to: signingKeyURL)
        try writePrivate(Array((Hex.encode(secret) + "\n").utf8), to: subjectSecretURL)
        return (key, secret)
    }

    /// Reads the keys written by ``createKeys(suite:)``.
    func loadKeys() throws -> (SigningKey, [UInt8]) {
        guard let pem = try? String(contentsOf: signingKeyURL, encoding: .utf8) else {
            throw LedgerError.invalidDirectory("cannot read \(signingKeyURL.path)")
        }
        guard let secretText = try? String(contentsOf: subjectSecretURL, encoding: .utf8),
            let secret = Hex.decode(secretText.trimmingCharacters(in: .whitespacesAndNewlines)), secret.count == 32
        else { throw LedgerError.invalidDirectory("cannot read a 32-byte hex secret from \(subjectSecretURL.path)") }
        return (try SigningKey(pem: pem), secret)
    }

    /// Writes a file readable by its owner only, atomically (temp file, fsync, rename).
    private func writePrivate(_ bytes: [UInt8], to target: URL) throws {
        let temp = target.path + ".tmp"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw LedgerError.io("cannot create \(temp): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count, fsync(fd) == 0 else { throw LedgerError.io("cannot write \(temp)") }
        guard rename(temp, target.path) == 0 else { throw LedgerError.io("cannot rename \(temp)") }
    }

    /// Takes the directory's exclusive writer lock, held until the returned lock is released or the process exits.
    public func lockForWriting() throws -> DirectoryLock {
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        let fd = open(lockURL.path, O_RDWR | O_CREAT, 0o600)
        guard fd >= 0 else { throw LedgerError.io("cannot open \(lockURL.path)") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw LedgerError.busy("\(url.path) is in use by another consent-ledger process")
        }
        return DirectoryLock(fd: fd)
    }
}

/// An exclusive advisory lock on a data directory.
public final class DirectoryLock: Sendable {
    let fd: Int32
    init(fd: Int32) { self.fd = fd }
    deinit { close(fd) }
}

/// Errors of the ledger service, worded for the person who has to act on them.
public enum LedgerError: Error, Equatable, CustomStringConvertible {
    case invalidDirectory(String)
    case io(String)
    case busy(String)
    case invalidRequest(String)
    case notFound(String)
    case corrupt(String)
    /// A client key re-used for a different event.
    case conflict(String)

    public var description: String {
        switch self {
        case .invalidDirectory(let m), .io(let m), .busy(let m), .invalidRequest(let m), .notFound(let m), .corrupt(let m),
            .conflict(let m):
            return m
        }
    }
}
