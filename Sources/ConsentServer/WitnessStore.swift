import ConsentCore
import ConsentCrypto
import Foundation
import GRDB

/// A witness's data directory (`consent-ledger witness init --data WDIR`): its Ed25519 key
/// (`witness.key`, PEM, mode 0600) and its state (`witness.sqlite`: its name, the logs it
/// witnesses with their keys, and the latest checkpoint it cosigned for each).
public struct WitnessDirectory: Sendable {
    public let url: URL

    public init(_ path: String) { url = URL(fileURLWithPath: path, isDirectory: true) }

    public var keyPath: String { url.appendingPathComponent("witness.key").path }
    public var databasePath: String { url.appendingPathComponent("witness.sqlite").path }

    /// Creates the directory, a fresh Ed25519 key and the database with the witness's name;
    /// refuses a directory that already holds a witness.
    public func create(name: String, now: Int64) throws -> CosignatureSigner {
        guard SignedNote.isValidKeyName(name), name.utf8.count <= 255 else {
            throw WitnessError.invalid("witness name \"\(name.prefix(80))\" must be non-empty, at most 255 bytes, without spaces or '+'")
        }
        let fm = FileManager.default
        try fm.createDirectory(at: url, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        guard !fm.fileExists(atPath: keyPath), !fm.fileExists(atPath: databasePath) else {
            throw WitnessError.invalid("\(url.path) already holds a witness")
        }
        let key = try SigningKey.generate(.ed25519)
        let signer = try CosignatureSigner(name: name, key: key)
        let store = try WitnessStore(path: databasePath)
        try store.setName(name, now: now)
        try Self.writePrivate(Array(try key.pem().utf8), to: keyPath)
        return signer
    }

    /// Opens the witness: its signer (key and name) and its state.
    public func open() throws -> (signer: CosignatureSigner, store: WitnessStore) {
        guard FileManager.default.fileExists(atPath: databasePath), let pem = try? String(contentsOfFile: keyPath, encoding: .utf8) else {
            throw WitnessError.invalid("no witness in \(url.path) (create one with `consent-ledger witness init --data \(url.path) --name NAME`)")
        }
        let store = try WitnessStore(path: databasePath)
        guard let name = try store.name() else { throw WitnessError.invalid("\(databasePath) has no witness name") }
        return (try CosignatureSigner(name: name, key: SigningKey(pem: pem)), store)
    }

    /// Writes a file readable by its owner only, atomically (temp file, fsync, rename).
    static func writePrivate(_ bytes: [UInt8], to path: String) throws {
        let temp = path + ".tmp"
        let fd = Foundation.open(temp, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw WitnessError.invalid("cannot create \(temp): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count, fsync(fd) == 0 else { throw WitnessError.invalid("cannot write \(temp)") }
        guard rename(temp, path) == 0 else { throw WitnessError.invalid("cannot rename \(temp)") }
    }
}

/// A witness configuration or state error.
public enum WitnessError: Error, Equatable, CustomStringConvertible {
    case invalid(String)

    public var description: String {
        switch self {
        case .invalid(let text): text
        }
    }
}

/// The latest checkpoint a witness cosigned for one log: its size and root (nil root: never cosigned).
public struct WitnessedTree: Sendable, Equatable {
    public var size: Int64
    public var root: Hash?

    public init(size: Int64, root: Hash?) {
        self.size = size
        self.root = root
    }
}

/// One log a witness knows.
public struct WitnessedLog: Sendable, Equatable {
    public var origin: String
    /// The log's checkpoint verifier keys.
    public var keys: [String]
    public var tree: WitnessedTree
}

/// The witness's state in SQLite (WAL, `synchronous=FULL`): every update of a log's latest
/// cosigned tree is one compare-and-swap transaction, durable before it returns.
public final class WitnessStore: Sendable {
    private let pool: DatabasePool

    public init(path: String) throws {
        pool = try openDurableDatabase(path: path, migrator: WitnessStore.migrator)
    }

    /// Named, frozen migrations: never edit one that has shipped; add a new one.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-witness") { db in
            try db.execute(
                sql: """
                    CREATE TABLE witness (id INTEGER PRIMARY KEY CHECK (id = 1), name TEXT NOT NULL, created_at INTEGER NOT NULL);
                    CREATE TABLE logs (
                        origin TEXT PRIMARY KEY,
                        size INTEGER NOT NULL CHECK (size >= 0),
                        root BLOB CHECK (root IS NULL OR length(root) = 32),
                        updated_at INTEGER NOT NULL
                    );
                    CREATE TABLE log_keys (origin TEXT NOT NULL REFERENCES logs(origin), key TEXT NOT NULL, PRIMARY KEY (origin, key));
                    CREATE TABLE evidence (
                        id INTEGER PRIMARY KEY,
                        origin TEXT NOT NULL,
                        received_at INTEGER NOT NULL,
                        status INTEGER NOT NULL,
                        reason TEXT NOT NULL,
                        request TEXT NOT NULL
                    );
                    """)
        }
        return migrator
    }

    func setName(_ name: String, now: Int64) throws {
        try pool.write { db in try db.execute(sql: "INSERT INTO witness (id, name, created_at) VALUES (1, ?, ?)", arguments: [name, now]) }
    }

    public func name() throws -> String? {
        try pool.read { db in try String.fetchOne(db, sql: "SELECT name FROM witness WHERE id = 1") }
    }

    /// Starts witnessing a log (size 0, never cosigned), or adds another key for it.
    public func addLog(origin: String, key: NoteVerifier, now: Int64) throws {
        guard key.name == origin else { throw WitnessError.invalid("the key's name \"\(key.name)\" is not the origin \"\(origin)\"") }
        try pool.write { db in
            try db.execute(
                sql: "INSERT INTO logs (origin, size, root, updated_at) VALUES (?, 0, NULL, ?) ON CONFLICT (origin) DO NOTHING",
                arguments: [origin, now])
            try db.execute(sql: "INSERT OR IGNORE INTO log_keys (origin, key) VALUES (?, ?)", arguments: [origin, key.encoded])
        }
    }

    /// The keys of a known log; nil for an unknown origin.
    public func keys(origin: String) async throws -> [String]? {
        try await pool.read { db in
            let keys = try String.fetchAll(db, sql: "SELECT key FROM log_keys WHERE origin = ? ORDER BY key", arguments: [origin])
            return keys.isEmpty ? nil : keys
        }
    }

    /// The latest cosigned tree of a known log; nil for an unknown origin.
    public func tree(origin: String) async throws -> WitnessedTree? {
        try await pool.read { db in try Self.tree(db, origin) }
    }

    /// Every log, by origin.
    public func logs() throws -> [WitnessedLog] {
        try pool.read { db in
            try String.fetchAll(db, sql: "SELECT origin FROM logs ORDER BY origin").map { origin in
                WitnessedLog(
                    origin: origin, keys: try String.fetchAll(db, sql: "SELECT key FROM log_keys WHERE origin = ? ORDER BY key", arguments: [origin]),
                    tree: try Self.tree(db, origin)!)
            }
        }
    }

    /// Replaces the log's tree with `new` if and only if it is still `expected`, in one durable
    /// transaction. Returns nil on success, or the tree found instead (the caller answers 409).
    public func compareAndSwap(origin: String, expected: WitnessedTree, new: WitnessedTree, now: Int64) async throws -> WitnessedTree? {
        precondition(new.size >= expected.size && new.root != nil, "a witness never rolls back")
        return try await pool.write { db in
            guard let current = try Self.tree(db, origin) else { throw WitnessError.invalid("unknown log \(origin)") }
            guard current == expected else { return current }
            try db.execute(
                sql: "UPDATE logs SET size = ?, root = ?, updated_at = ? WHERE origin = ? AND size = ?",
                arguments: [new.size, Data(new.root!.bytes), now, origin, expected.size])
            guard db.changesCount == 1 else { return current }
            return nil
        }
    }

    /// Keeps a refused request whose log signature verified: a consistency proof that does not
    /// verify, or a different tree at the cosigned size, may be evidence of a forked log.
    public func recordEvidence(origin: String, status: Int, reason: String, request: String, now: Int64) async throws {
        try await pool.write { db in
            // Bounded: the newest 1,000 per log are kept.
            try db.execute(
                sql: "INSERT INTO evidence (origin, received_at, status, reason, request) VALUES (?, ?, ?, ?, ?)",
                arguments: [origin, now, status, reason, request])
            try db.execute(
                sql: "DELETE FROM evidence WHERE origin = ? AND id NOT IN (SELECT id FROM evidence WHERE origin = ? ORDER BY id DESC LIMIT 1000)",
                arguments: [origin, origin])
        }
    }

    /// The kept evidence of a log, oldest first: (status, reason, request body).
    public func evidence(origin: String) throws -> [(status: Int, reason: String, request: String)] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT status, reason, request FROM evidence WHERE origin = ? ORDER BY id", arguments: [origin])
                .map { (status: $0["status"], reason: $0["reason"], request: $0["request"]) }
        }
    }

    private static func tree(_ db: Database, _ origin: String) throws -> WitnessedTree? {
        guard let row = try Row.fetchOne(db, sql: "SELECT size, root FROM logs WHERE origin = ?", arguments: [origin]) else { return nil }
        let root: Data? = row["root"]
        return WitnessedTree(size: row["size"], root: root.flatMap { Hash(bytes: $0) })
    }
}
