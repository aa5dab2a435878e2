import ConsentCore
import ConsentCrypto
import Foundation
import GRDB

/// A witness the log submits its checkpoints to (`consent-ledger witness add`).
public struct ConfiguredWitness: Sendable, Equatable {
    /// The submission prefix: `POST <url>/add-checkpoint`.
    public var url: String
    /// The witness's cosignature verifier key.
    public var key: CosignatureVerifier
    public var addedAt: Milliseconds
}

/// One cosignature the log holds: the witness's line over the checkpoint text of `size`.
public struct StoredCosignature: Sendable, Equatable {
    /// The witness's verifier key string.
    public var witness: String
    public var size: Int64
    /// The checkpoint text (note body) the line signs.
    public var checkpoint: String
    /// The signature line, with its newline.
    public var line: String
    /// The witness's timestamp (POSIX seconds).
    public var timestamp: UInt64
}

/// The log's witnesses and their cosignatures, in the data directory's `service.sqlite`
/// (migration `v3-witnesses`). Like tokens and ports this is not part of the log: a cosignature is a
/// statement by someone else about a checkpoint, and can be added while `serve` runs.
public enum WitnessRegistry {
    static func migrateV3(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE witnesses (
                    key TEXT PRIMARY KEY,
                    url TEXT NOT NULL,
                    added_at INTEGER NOT NULL
                );
                CREATE TABLE cosignatures (
                    witness TEXT NOT NULL,
                    size INTEGER NOT NULL,
                    checkpoint TEXT NOT NULL,
                    line TEXT NOT NULL,
                    timestamp INTEGER NOT NULL,
                    received_at INTEGER NOT NULL,
                    PRIMARY KEY (witness, size)
                );
                CREATE INDEX cosignatures_size ON cosignatures(size);
                """)
    }

    /// True for an `http://` or `https://` URL with a host and no query or fragment.
    public static func isValidURL(_ text: String) -> Bool {
        guard text.utf8.count <= 2048, let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
            let host = url.host, !host.isEmpty, url.query == nil, url.fragment == nil
        else { return false }
        return true
    }
}

extension ServiceStore {
    // MARK: Witnesses

    /// Configures a witness (or changes the URL of one already configured with this key).
    public func addWitness(url: String, key: CosignatureVerifier, now: Milliseconds) async throws {
        var trimmed = url
        while trimmed.hasSuffix("/") { trimmed.removeLast() }
        let url = trimmed
        guard WitnessRegistry.isValidURL(url) else { throw ServiceError.invalid("\"\(url.prefix(80))\" is not an http(s) URL of a witness") }
        try await pool.write { db in
            try db.execute(
                sql: "INSERT INTO witnesses (key, url, added_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET url = excluded.url",
                arguments: [key.encoded, url, now])
        }
    }

    /// Stops submitting to a witness; the cosignatures it gave are kept.
    public func removeWitness(key: String) async throws {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM witnesses WHERE key = ?", arguments: [key])
            guard db.changesCount == 1 else { throw ServiceError.notFound("no witness with key \(key.prefix(80))") }
        }
    }

    /// The configured witnesses, in the order they were added.
    public func witnesses() async throws -> [ConfiguredWitness] {
        let rows = try await pool.read { db in try Row.fetchAll(db, sql: "SELECT key, url, added_at FROM witnesses ORDER BY added_at, key") }
        return try rows.map { row in
            do { return ConfiguredWitness(url: row["url"], key: try CosignatureVerifier(parsing: row["key"]), addedAt: row["added_at"]) } catch {
                throw ServiceError.internal("a witness key in \(ServiceStore.fileName) does not parse: \(error)")
            }
        }
    }

    /// Keeps a witness's verified cosignature of the checkpoint text of `size`.
    public func storeCosignature(_ cosignature: StoredCosignature, now: Milliseconds) async throws {
        try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO cosignatures (witness, size, checkpoint, line, timestamp, received_at)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    cosignature.witness, cosignature.size, cosignature.checkpoint, cosignature.line, Int64(cosignature.timestamp), now,
                ])
        }
    }

    /// The cosignatures held for the checkpoint text of `size` (by any witness, configured or not).
    public func cosignatures(size: Int64) async throws -> [StoredCosignature] {
        try await pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT witness, size, checkpoint, line, timestamp FROM cosignatures WHERE size = ? ORDER BY witness", arguments: [size]
            ).map {
                StoredCosignature(
                    witness: $0["witness"], size: $0["size"], checkpoint: $0["checkpoint"], line: $0["line"], timestamp: UInt64($0["timestamp"] as Int64))
            }
        }
    }

    /// The largest size a witness cosigned for this log, if any.
    public func latestCosignedSize(witness: String) async throws -> Int64? {
        try await pool.read { db in try Int64.fetchOne(db, sql: "SELECT MAX(size) FROM cosignatures WHERE witness = ?", arguments: [witness]) }
    }

    /// The signed checkpoint note with every held cosignature of exactly its text appended as extra
    /// signature lines (C2SP signed-note: verifiers ignore lines by keys they do not know). A note
    /// nothing cosigned is returned unchanged.
    public func cosignedCheckpoint(_ noteText: String) async throws -> String {
        guard let note = try? SignedNote(parsing: noteText), let checkpoint = try? Checkpoint(text: note.text) else { return noteText }
        let held = try await cosignatures(size: checkpoint.size).filter { $0.checkpoint == note.text }
        var out = note
        for c in held {
            guard let line = try? SignedNote(parsing: note.text + "\n" + c.line).signatures.first, !out.signatures.contains(line) else { continue }
            guard out.signatures.count < SignedNote.maximumSignatures else { break }
            out.signatures.append(line)
        }
        return out.serialized
    }

    /// The newest checkpoint size cosigned by at least `minimum` witnesses (configured or not), with
    /// the note text; nil when there is none.
    public func newestCosignedSize(minimum: Int) async throws -> Int64? {
        try await pool.read { db in
            try Int64.fetchOne(
                db, sql: "SELECT size FROM cosignatures GROUP BY size HAVING COUNT(*) >= ? ORDER BY size DESC LIMIT 1", arguments: [max(1, minimum)])
        }
    }
}
