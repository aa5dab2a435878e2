import ConsentCore
import ConsentCrypto
import ConsentLedger
import Foundation
import GRDB

/// The service's own state, beside the log in the data directory: API tokens, the port registry and
/// the MO replies received. One small SQLite database, `DIR/service.sqlite`, with its own migrations.
///
/// It is deliberately not part of ``LedgerStore``: the log's store holds only what the log commits
/// to (entries, hashes, checkpoints, the state map), and every implementation of that protocol runs
/// the same conformance suite. Tokens and ports are mutable configuration (revoked, re-assigned),
/// not history, and must be changeable by the CLI while `serve` holds the log's writer lock; a
/// separate database lets `token create` and `port add` write while the server runs (SQLite WAL,
/// a busy timeout), and keeps the log's file, backups and audits free of credentials.
public final class ServiceStore: Sendable {
    let pool: DatabasePool

    /// The database file's name inside a data directory.
    public static let fileName = "service.sqlite"

    /// Opens (creating if needed) the service database of a data directory that holds a ledger.
    public convenience init(directory: DataDirectory) throws {
        try FileManager.default.createDirectory(at: directory.url, withIntermediateDirectories: true)
        try self.init(path: directory.path(ServiceStore.fileName))
    }

    /// Opens (creating if needed) the database at `path` and applies the migrations.
    public init(path: String) throws {
        // Tokens are credentials (even hashed): readable by the owner only, like the signing key.
        pool = try openDurableDatabase(path: path, migrator: ServiceStore.migrator)
    }

    /// Named, frozen migrations: never edit one that has shipped; add a new one.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-service") { db in
            try db.execute(
                sql: """
                    CREATE TABLE tokens (
                        id TEXT PRIMARY KEY,
                        hash BLOB NOT NULL UNIQUE,
                        role TEXT NOT NULL CHECK (role IN ('sender', 'regulator', 'admin')),
                        sender TEXT,
                        note TEXT,
                        created_at INTEGER NOT NULL,
                        revoked_at INTEGER,
                        CHECK ((role = 'sender') = (sender IS NOT NULL))
                    );
                    CREATE TABLE ports (port TEXT PRIMARY KEY, sender TEXT NOT NULL, added_at INTEGER NOT NULL);
                    CREATE TABLE mo_replies (
                        id INTEGER PRIMARY KEY,
                        received_at INTEGER NOT NULL,
                        logged_at INTEGER NOT NULL,
                        subject TEXT NOT NULL,
                        destination TEXT NOT NULL,
                        sender TEXT NOT NULL,
                        port TEXT NOT NULL,
                        text TEXT NOT NULL,
                        verdict TEXT NOT NULL,
                        reason TEXT NOT NULL,
                        keyword TEXT,
                        entry INTEGER,
                        review INTEGER NOT NULL,
                        client_key TEXT UNIQUE
                    );
                    CREATE INDEX mo_replies_review ON mo_replies(sender, id) WHERE review = 1;
                    """)
        }
        // Opt-in keywords: a sender's consent request ("reply Y to receive offers") sent from a port.
        migrator.registerMigration("v2-opt-in-keywords") { db in
            try db.execute(
                sql: """
                    CREATE TABLE opt_in_keywords (
                        port TEXT NOT NULL,
                        keyword TEXT NOT NULL,
                        purpose TEXT,
                        template_hash TEXT,
                        added_at INTEGER NOT NULL,
                        PRIMARY KEY (port, keyword)
                    );
                    """)
        }
        // The witnesses this log submits its checkpoints to, and the cosignatures they returned.
        migrator.registerMigration("v3-witnesses", migrate: WitnessRegistry.migrateV3)
        return migrator
    }

    // MARK: Opt-in keywords

    /// Configures `keyword` as consent when replied to the registered `port` (the sender's consent
    /// request). Refused: an unregistered port, and keywords that could be mistaken for a refusal
    /// (``MOClassifier/optInKeywordProblem(_:)``): a false opt-in must never happen.
    public func addOptIn(_ optIn: OptInKeyword, now: Milliseconds) async throws {
        if let problem = MOClassifier.optInKeywordProblem(optIn.keyword) { throw ServiceError.invalid(problem) }
        if let purpose = optIn.purpose, !EventValidator.isValidPurpose(purpose) {
            throw ServiceError.invalid("\"\(purpose.prefix(80))\" is not a purpose (1-64 of A-Z a-z 0-9 . _ -)")
        }
        if let hash = optIn.templateHash, Hash(hex: hash) == nil {
            throw ServiceError.invalid("the template hash must be 64 hexadecimal characters")
        }
        try await pool.write { db in
            guard try String.fetchOne(db, sql: "SELECT sender FROM ports WHERE port = ?", arguments: [optIn.port]) != nil else {
                throw ServiceError.invalid("port \(optIn.port.prefix(40)) is not registered (consent-ledger port add)")
            }
            try db.execute(
                sql: "INSERT OR REPLACE INTO opt_in_keywords (port, keyword, purpose, template_hash, added_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [optIn.port, optIn.keyword, optIn.purpose, optIn.templateHash, now])
        }
    }

    /// The opt-in keywords configured for a registered port.
    public func optIns(port: String) async throws -> [OptInKeyword] {
        try pointRead { db in
            try Row.fetchAll(
                db, sql: "SELECT port, keyword, purpose, template_hash FROM opt_in_keywords WHERE port = ? ORDER BY keyword", arguments: [port]
            ).map(OptInKeyword.init(row:))
        }
    }

    /// Every configured opt-in keyword.
    public func optIns() async throws -> [OptInKeyword] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT port, keyword, purpose, template_hash FROM opt_in_keywords ORDER BY port, keyword")
                .map(OptInKeyword.init(row:))
        }
    }

    // MARK: Tokens

    /// Creates a token and returns it with its record. The token itself is shown once: only its
    /// SHA-256 hash is stored.
    public func createToken(role: Role, note: String? = nil, now: Milliseconds) async throws -> (token: String, record: TokenRecord) {
        if let note, note.utf8.count > 200 { throw ServiceError.invalid("a token note must be at most 200 bytes") }
        let token = try APIToken.generate()
        let record = TokenRecord(id: try APIToken.generateID(), role: role, note: note, createdAt: now, revokedAt: nil)
        try await pool.write { db in
            try db.execute(
                sql: "INSERT INTO tokens (id, hash, role, sender, note, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [record.id, Data(APIToken.hash(token).bytes), role.name, role.sender, note, now])
        }
        return (token, record)
    }

    /// The live (not revoked) token whose hash this is, or nil.
    public func token(hash: Hash) async throws -> TokenRecord? {
        try pointRead { db in
            let statement = try db.cachedStatement(
                sql: "SELECT id, role, sender, note, created_at, revoked_at FROM tokens WHERE hash = ? AND revoked_at IS NULL")
            return try Row.fetchOne(statement, arguments: [Data(hash.bytes)]).map(TokenRecord.init(row:))
        }
    }

    /// A read on the caller's thread, for the small reads on every request's path (the token, an
    /// MO reply's port): an async GRDB read hops threads, which cost more than the read itself
    /// (with it, 32 clients recording one event each got 1.7k responses/s; without, 5.4k).
    private func pointRead<T>(_ body: (Database) throws -> T) throws -> T { try pool.read(body) }

    /// Every token, revoked ones included, oldest first.
    public func tokens() async throws -> [TokenRecord] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT id, role, sender, note, created_at, revoked_at FROM tokens ORDER BY created_at, id")
                .map(TokenRecord.init(row:))
        }
    }

    /// Revokes a token by id; it stops working at once, also for a running server. Revoking a
    /// revoked token changes nothing.
    @discardableResult
    public func revokeToken(id: String, now: Milliseconds) async throws -> TokenRecord {
        try await pool.write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT id, role, sender, note, created_at, revoked_at FROM tokens WHERE id = ?", arguments: [id])
            else { throw ServiceError.notFound("no token with id \(id.prefix(40))") }
            var record = TokenRecord(row: row)
            if record.revokedAt == nil {
                try db.execute(sql: "UPDATE tokens SET revoked_at = ? WHERE id = ?", arguments: [now, id])
                record.revokedAt = now
            }
            return record
        }
    }

    // MARK: Ports

    /// Registers a 106 port for a sender. Registering the same pair again changes nothing; a port
    /// that belongs to another sender is refused.
    public func addPort(sender: String, port: String, now: Milliseconds) async throws {
        try await pool.write { db in
            var registry = try Self.registry(db)
            do { try registry.add(sender: sender, port: port) } catch { throw ServiceError.invalid("\(error)") }
            try db.execute(sql: "INSERT OR IGNORE INTO ports (port, sender, added_at) VALUES (?, ?, ?)", arguments: [port, sender, now])
        }
    }

    /// Removes a port registration; true if there was one.
    public func removePort(_ port: String) async throws -> Bool {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM ports WHERE port = ?", arguments: [port])
            return db.changesCount > 0
        }
    }

    /// The whole port registry.
    public func portRegistry() async throws -> PortRegistry {
        try await pool.read { db in try Self.registry(db) }
    }

    /// The sender and registered port of an MO destination (the registered port that is the longest
    /// prefix of it), reading only the destination's prefixes.
    public func resolvePort(_ destination: String) async throws -> (sender: String, port: String)? {
        let digits = Array(destination.utf8)
        guard (1...PortRegistry.maximumDestinationLength).contains(digits.count), digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 })
        else { return nil }
        let prefixes = (1...digits.count).map { String(decoding: digits[..<$0], as: UTF8.self) }
        return try pointRead { db in
            let rows = try Row.fetchAll(
                db, sql: "SELECT sender, port FROM ports WHERE port IN (\(databaseQuestionMarks(count: prefixes.count)))",
                arguments: StatementArguments(prefixes))
            // The candidates were valid when registered; the core's registry picks the longest prefix.
            let registry = try PortRegistry(rows.map { (sender: $0["sender"] as String, port: $0["port"] as String) })
            return registry.resolve(destination)
        }
    }

    private static func registry(_ db: Database) throws -> PortRegistry {
        let rows = try Row.fetchAll(db, sql: "SELECT sender, port FROM ports ORDER BY port")
        do { return try PortRegistry(rows.map { (sender: $0["sender"] as String, port: $0["port"] as String) }) } catch {
            throw ServiceError.internal("the port registry in \(fileName) is inconsistent: \(error)")
        }
    }

    // MARK: MO replies

    /// Stores received MO replies with their verdicts, in one transaction; a reply whose client key
    /// was stored before is not stored again.
    public func recordReplies(_ replies: [StoredReply]) async throws {
        guard !replies.isEmpty else { return }
        try await pool.write { db in
            let exists = try db.cachedStatement(sql: "SELECT 1 FROM mo_replies WHERE client_key = ?")
            let insert = try db.cachedStatement(
                sql: """
                    INSERT INTO mo_replies (received_at, logged_at, subject, destination, sender, port, text, verdict, reason,
                        keyword, entry, review, client_key)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """)
            for reply in replies {
                if let key = reply.clientKey, try Bool.fetchOne(exists, arguments: [key]) != nil { continue }
                try insert.execute(arguments: [
                    reply.receivedAt, reply.loggedAt, reply.subject, reply.destination, reply.sender, reply.port, reply.text,
                    reply.verdict, reply.reason, reply.keyword, reply.entry, reply.review, reply.clientKey,
                ])
            }
        }
    }

    /// The replies flagged for review (verdict `unclear`), oldest first; only `sender`'s when given.
    public func repliesForReview(sender: String?, limit: Int = 1000) async throws -> [StoredReply] {
        try await pool.read { db in
            let rows =
                if let sender {
                    try Row.fetchAll(
                        db, sql: "SELECT * FROM mo_replies WHERE review = 1 AND sender = ? ORDER BY id LIMIT ?", arguments: [sender, limit])
                } else {
                    try Row.fetchAll(db, sql: "SELECT * FROM mo_replies WHERE review = 1 ORDER BY id LIMIT ?", arguments: [limit])
                }
            return rows.map(StoredReply.init(row:))
        }
    }
}

/// A received MO reply as stored (the review queue and the record of what each reply was judged).
public struct StoredReply: Sendable, Equatable, Codable {
    public var id: Int64?
    public var receivedAt: Milliseconds
    public var loggedAt: Milliseconds
    /// The user's number, E.164.
    public var subject: String
    /// The port the reply was sent to, as delivered (registered port and extension).
    public var destination: String
    public var sender: String
    /// The registered port the destination resolved to.
    public var port: String
    public var text: String
    public var verdict: String
    public var reason: String
    public var keyword: String?
    /// The revocation recorded for it, if any.
    public var entry: Int64?
    public var review: Bool
    public var clientKey: String?

    init(row: Row) {
        id = row["id"]
        receivedAt = row["received_at"]
        loggedAt = row["logged_at"]
        subject = row["subject"]
        destination = row["destination"]
        sender = row["sender"]
        port = row["port"]
        text = row["text"]
        verdict = row["verdict"]
        reason = row["reason"]
        keyword = row["keyword"]
        entry = row["entry"]
        review = row["review"]
        clientKey = row["client_key"]
    }

    public init(
        receivedAt: Milliseconds, loggedAt: Milliseconds, subject: String, destination: String, sender: String, port: String, text: String,
        verdict: String, reason: String, keyword: String?, entry: Int64?, review: Bool, clientKey: String?
    ) {
        self.receivedAt = receivedAt
        self.loggedAt = loggedAt
        self.subject = subject
        self.destination = destination
        self.sender = sender
        self.port = port
        self.text = text
        self.verdict = verdict
        self.reason = reason
        self.keyword = keyword
        self.entry = entry
        self.review = review
        self.clientKey = clientKey
    }
}

/// A reply that counts as consent on a port: the sender's consent request asked for it. The grant
/// it records is scoped to the port (and the purpose, when given) and points to the template.
public struct OptInKeyword: Sendable, Equatable, Codable {
    public var port: String
    public var keyword: String
    public var purpose: String?
    /// The consent template the request showed (64 hex digits).
    public var templateHash: String?

    public init(port: String, keyword: String, purpose: String? = nil, templateHash: String? = nil) {
        self.port = port
        self.keyword = keyword
        self.purpose = purpose
        self.templateHash = templateHash
    }

    init(row: Row) {
        port = row["port"]
        keyword = row["keyword"]
        purpose = row["purpose"]
        templateHash = row["template_hash"]
    }
}

/// Opens (creating if needed) a small SQLite database of the service's own: WAL, `synchronous=FULL`
/// (a commit is durable before it returns), a busy timeout (the CLI and the server write the same
/// file: each waits for the other's commit instead of failing), the migrations applied, and the
/// file readable by its owner only.
func openDurableDatabase(path: String, migrator: DatabaseMigrator) throws -> DatabasePool {
    var config = Configuration()
    config.busyMode = .timeout(10)
    config.prepareDatabase { db in
        guard !db.configuration.readonly else { return }
        try db.execute(sql: "PRAGMA synchronous = FULL")
    }
    let pool = try DatabasePool(path: path, configuration: config)
    try migrator.migrate(pool)
    chmod(path, 0o600)
    return pool
}
