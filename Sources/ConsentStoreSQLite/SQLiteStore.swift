import ConsentCore
import ConsentLedger
import ConsentVerifier
import Foundation
import GRDB
import GRDBSQLite
import Synchronization

/// The embedded default store: one SQLite database (WAL, `synchronous=FULL`) through GRDB.
///
/// Entries keep their encoded header and the Merkle hashes their append stored (the leaf hash and
/// the subtrees it completed), so any stored hash is found in the row of the leaf that completed it
/// and a proof reads O(log n) rows. Bodies live in their own table so purging them frees pages.
public final class SQLiteStore: LedgerStore {
    private let pool: DatabasePool
    private let nodes: MapNodeFile
    /// One above the highest committed map node identifier (this process is the only writer).
    private let committedNextNode: Mutex<MapNodeID>
    /// Entries below this index are in the subject index; later ones are found by a scan.
    private let subjectIndexedUpTo: Mutex<Int64>
    /// True while a chunk of the subject index is being added.
    private let indexing = Mutex(false)

    /// The database file's name inside a data directory.
    public static let fileName = "ledger.sqlite"

    /// Opens (creating if needed) the store of a data directory.
    public convenience init(directory: DataDirectory, subjectIndexChunk: Int64 = 50_000) throws {
        try FileManager.default.createDirectory(at: directory.url, withIntermediateDirectories: true)
        try self.init(path: directory.path(SQLiteStore.fileName), subjectIndexChunk: subjectIndexChunk)
    }

    /// Opens (creating if needed) the database at `path` and applies the migrations.
    /// `subjectIndexChunk`: see ``subjectIndexChunk``.
    public init(path: String, subjectIndexChunk: Int64 = 50_000) throws {
        self.subjectIndexChunk = subjectIndexChunk
        var config = Configuration()
        // Readers in other processes (query, check) wait for the writer's commit instead of failing.
        config.busyMode = .timeout(10)
        config.prepareDatabase { db in
            // Appends touch state-map nodes all over the trie: keep the hot pages in memory (64 MiB).
            try db.execute(sql: "PRAGMA cache_size = -65536")
            guard !db.configuration.readonly else {
                // Readers map the database (up to SQLite's 2 GiB limit) instead of copying pages with
                // pread: an audit of a data directory read 15% faster. The writer does not map, so
                // writes keep SQLite's error handling; a reader meeting a disk error (or a file cut
                // short under it by another program) dies with SIGBUS instead of an error message.
                try db.execute(sql: "PRAGMA mmap_size = 2147418112")
                return
            }
            // Must precede the first table of a new database (and would take a write lock afterwards).
            if try Int.fetchOne(db, sql: "PRAGMA page_count") == 0 { try db.execute(sql: "PRAGMA auto_vacuum = INCREMENTAL") }
            // Every commit is fsynced before it returns: acknowledged means durable.
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        pool = try DatabasePool(path: path, configuration: config)
        nodes = try MapNodeFile(path: path + ".map")
        try SQLiteStore.migrator.migrate(pool)
        committedNextNode = Mutex(try pool.read { db in try Self.mapHead(db).1 })
        subjectIndexedUpTo = Mutex(try pool.read { db in try Int64.fetchOne(db, sql: "SELECT upto FROM subject_indexed") ?? 0 })
    }

    /// Named, frozen migrations: never edit one that has shipped; add a new one.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-log") { db in
            try db.execute(
                sql: """
                    CREATE TABLE parameters (id INTEGER PRIMARY KEY CHECK (id = 1), json TEXT NOT NULL);
                    CREATE TABLE entries (
                        idx INTEGER PRIMARY KEY,
                        header BLOB NOT NULL,
                        hashes BLOB NOT NULL,
                        idempotency BLOB,
                        subject INTEGER
                    );
                    CREATE UNIQUE INDEX entries_idempotency ON entries(idempotency) WHERE idempotency IS NOT NULL;
                    CREATE INDEX entries_subject ON entries(subject) WHERE subject IS NOT NULL;
                    CREATE TABLE map_roots (size INTEGER PRIMARY KEY, node INTEGER NOT NULL, next_node INTEGER NOT NULL);
                    CREATE TABLE bodies (idx INTEGER PRIMARY KEY, body BLOB NOT NULL);
                    CREATE TABLE checkpoints (size INTEGER PRIMARY KEY, note TEXT NOT NULL);
                    """)
        }
        // A subject index maintained in every commit costs a random B-tree page per event (most of a
        // small batch's writes); it is now filled in chunks behind the log (``indexSubjects()``).
        migrator.registerMigration("v2-deferred-subject-index") { db in
            try db.execute(
                sql: """
                    DROP INDEX entries_subject;
                    CREATE TABLE subject_index (subject INTEGER NOT NULL, idx INTEGER NOT NULL, PRIMARY KEY (subject, idx)) WITHOUT ROWID;
                    CREATE TABLE subject_indexed (id INTEGER PRIMARY KEY CHECK (id = 1), upto INTEGER NOT NULL);
                    INSERT INTO subject_index SELECT subject, idx FROM entries WHERE subject IS NOT NULL;
                    INSERT INTO subject_indexed VALUES (1, (SELECT coalesce(max(idx) + 1, 0) FROM entries));
                    """)
        }
        // Which purge entry deleted a body: proof bundles say so (and the audit rechecks it).
        migrator.registerMigration("v3-purged-bodies") { db in
            try db.execute(sql: "CREATE TABLE purged_bodies (idx INTEGER PRIMARY KEY, purge INTEGER NOT NULL)")
        }
        return migrator
    }

    /// How many entries the subject index may lag behind the log before a commit moves it forward,
    /// at least: the chunk grows to a sixteenth of the indexed entries, because a sorted insert
    /// touches most of the index's pages whatever its size, so the write cost per entry stays about
    /// 16 rows' worth (~320 bytes) instead of growing with the log. History scans the unindexed tail.
    public let subjectIndexChunk: Int64

    /// The chunk for an index that covers `indexed` entries.
    func chunk(after indexed: Int64) -> Int64 { max(subjectIndexChunk, indexed / 16) }

    public func parameters() async throws -> LogParameters? {
        try await pool.read { db in try Self.parameters(db) }
    }

    private static func parameters(_ db: Database) throws -> LogParameters? {
        guard let json = try String.fetchOne(db, sql: "SELECT json FROM parameters WHERE id = 1") else { return nil }
        return try JSONDecoder().decode(LogParameters.self, from: Data(json.utf8))
    }

    public func initialize(_ parameters: LogParameters, checkpointNote: String) async throws {
        let json = String(decoding: try JSONEncoder().encode(parameters), as: UTF8.self)
        try await pool.write { db in
            guard try Self.parameters(db) == nil else { throw StoreError.alreadyInitialized }
            try db.execute(sql: "INSERT INTO parameters (id, json) VALUES (1, ?)", arguments: [json])
            try db.execute(sql: "INSERT INTO checkpoints (size, note) VALUES (0, ?)", arguments: [checkpointNote])
        }
    }

    public func setRetention(_ retention: RetentionSetting) async throws {
        try await pool.write { db in
            guard var parameters = try Self.parameters(db) else { throw StoreError.notInitialized }
            parameters.retention = retention
            let json = String(decoding: try JSONEncoder().encode(parameters), as: UTF8.self)
            try db.execute(sql: "UPDATE parameters SET json = ? WHERE id = 1", arguments: [json])
        }
    }

    public func head() async throws -> StoreHead {
        try await pool.read { db in
            guard let note = try String.fetchOne(db, sql: "SELECT note FROM checkpoints ORDER BY size DESC LIMIT 1") else {
                throw StoreError.notInitialized
            }
            let (mapRoot, nextNode) = try Self.mapHead(db)
            guard let row = try Row.fetchOne(db, sql: "SELECT idx, header, hashes FROM entries ORDER BY idx DESC LIMIT 1") else {
                return StoreHead(
                    size: 0, lastHeader: nil, lastLeafHash: .zero, checkpointNote: note, mapRootID: mapRoot, nextMapNodeID: nextNode)
            }
            let hashes: Data = row["hashes"]
            let header: Data = row["header"]
            let index: Int64 = row["idx"]
            return StoreHead(
                size: index + 1, lastHeader: Array(header), lastLeafHash: Hash(bytes: hashes.prefix(32))!, checkpointNote: note,
                mapRootID: mapRoot, nextMapNodeID: nextNode)
        }
    }

    public func commit(_ batch: CommitBatch) async throws {
        let rest = BatchCompletion()
        rest.succeed(
            CommitBatch(
                firstIndex: batch.newSize, entries: [], checkpointNote: batch.checkpointNote, mapNodes: batch.mapNodes,
                mapRootID: batch.mapRootID, purgedBodies: batch.purgedBodies))
        try await commit(firstIndex: batch.firstIndex, leading: batch.entries, rest: rest)
    }

    public func commit(firstIndex: Int64, leading: [NewEntry], rest: BatchCompletion) async throws {
        let (nodeCount, newSize) = try await pool.write { db in
            let size = try Int64.fetchOne(db, sql: "SELECT coalesce(max(idx) + 1, 0) FROM entries") ?? 0
            guard size == firstIndex else { throw StoreError.notAtEnd(expected: size, got: firstIndex) }
            try Self.insert(leading, at: firstIndex, db)
            // Blocks this database thread (not a Swift concurrency thread) until the ledger has
            // computed the end of the batch; the inserts above ran meanwhile.
            let tail = try rest.wait()
            guard tail.firstIndex == firstIndex + Int64(leading.count) else {
                throw StoreError.notAtEnd(expected: firstIndex + Int64(leading.count), got: tail.firstIndex)
            }
            try Self.insert(tail.entries, at: tail.firstIndex, db)
            if !tail.purgedBodies.isEmpty {
                let delete = try db.cachedStatement(sql: "DELETE FROM bodies WHERE idx = ?")
                let record = try db.cachedStatement(sql: "INSERT INTO purged_bodies (idx, purge) VALUES (?, ?)")
                for purged in tail.purgedBodies {
                    try delete.execute(arguments: [purged.index])
                    try record.execute(arguments: [purged.index, purged.purgeEntry])
                }
            }
            // The nodes must start at the first free identifier, or they would overwrite committed
            // ones. They go to the node file before the commit that makes them part of the log.
            let (_, next) = try Self.mapHead(db)
            if let first = tail.mapNodes.first?.id, first != next {
                throw StoreError.missing("map node \(next) (the batch's nodes start at \(first))")
            }
            try nodes.append(tail.mapNodes)
            try db.execute(
                sql: "INSERT INTO map_roots (size, node, next_node) VALUES (?, ?, ?)",
                arguments: [tail.newSize, tail.mapRootID, next + Int64(tail.mapNodes.count)])
            try db.execute(sql: "INSERT INTO checkpoints (size, note) VALUES (?, ?)", arguments: [tail.newSize, tail.checkpointNote])
            return (Int64(tail.mapNodes.count), tail.newSize)
        }
        committedNextNode.withLock { $0 += nodeCount }
        // The batch is durable. The subject index catches up in the background, one chunk at a time:
        // mostly while the ledger prepares its next batch, when this database's writer is idle. A
        // failure is retried after a later commit.
        let indexed = subjectIndexedUpTo.withLock { $0 }
        if newSize - indexed >= chunk(after: indexed), indexing.withLock({ busy in defer { busy = true }; return !busy }) {
            Task {
                try? await indexSubjects()
                indexing.withLock { $0 = false }
            }
        }
    }

    /// Inserts entries (and their bodies) at consecutive indexes from `first`.
    private static func insert(_ entries: [NewEntry], at first: Int64, _ db: Database) throws {
        let insertEntry = try db.cachedStatement(
            sql: "INSERT INTO entries (idx, header, hashes, idempotency, subject) VALUES (?, ?, ?, ?, ?)")
        let insertBody = try db.cachedStatement(sql: "INSERT INTO bodies (idx, body) VALUES (?, ?)")
        for (offset, entry) in entries.enumerated() {
            let index = first + Int64(offset)
            var hashes = Data(capacity: 32 * entry.storedHashes.count)
            for h in entry.storedHashes { h.withUnsafeBytes { hashes.append(contentsOf: $0) } }
            do {
                try insertEntry.execute(arguments: [
                    index, Data(entry.header), hashes, entry.idempotencyKeyHash.map { Data($0.bytes) },
                    entry.subjectKey.map(Self.subjectIndex),
                ])
            } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
                throw StoreError.duplicateIdempotencyKey
            }
            if let body = entry.body { try insertBody.execute(arguments: [index, Data(body)]) }
        }
    }

    /// Adds the subjects of up to one chunk of entries past the index's end to the subject index, in
    /// one sorted insert (most pages it touches then take many rows each).
    func indexSubjects() async throws {
        let upto = try await pool.write { db in
            let from = try Int64.fetchOne(db, sql: "SELECT upto FROM subject_indexed") ?? 0
            let end = min(from + chunk(after: from), try Int64.fetchOne(db, sql: "SELECT coalesce(max(idx) + 1, 0) FROM entries") ?? 0)
            try db.execute(
                sql: "INSERT INTO subject_index SELECT subject, idx FROM entries WHERE idx >= ? AND idx < ? AND subject IS NOT NULL ORDER BY subject, idx",
                arguments: [from, end])
            try db.execute(sql: "UPDATE subject_indexed SET upto = ?", arguments: [end])
            return end
        }
        subjectIndexedUpTo.withLock { $0 = upto }
    }

    /// The current map root and the next free node identifier.
    static func mapHead(_ db: Database) throws -> (MapNodeID, MapNodeID) {
        guard let row = try Row.fetchOne(db, sql: "SELECT node, next_node FROM map_roots ORDER BY size DESC LIMIT 1") else { return (0, 1) }
        return (row["node"], row["next_node"])
    }

    /// The indexed part of a subject key: its first 8 bytes as a signed integer.
    static func subjectIndex(_ key: Hash) -> Int64 {
        Int64(bitPattern: key.bytes.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
    }

    public func entries(forSubject subjectKey: Hash) async throws -> [StoredEntry] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT e.idx, e.header, e.hashes, b.body FROM subject_index s JOIN entries e ON e.idx = s.idx
                    LEFT JOIN bodies b ON b.idx = e.idx WHERE s.subject = ?1
                    UNION ALL
                    SELECT e.idx, e.header, e.hashes, b.body FROM entries e LEFT JOIN bodies b ON b.idx = e.idx
                    WHERE e.idx >= (SELECT upto FROM subject_indexed) AND e.subject = ?1
                    ORDER BY 1
                    """, arguments: [Self.subjectIndex(subjectKey)]
            ).map(Self.storedEntry)
        }
    }

    public func mapNodes(_ ids: [MapNodeID]) async throws -> [MapNodeID: MapNode] {
        try nodes.read(ids.sorted())
    }

    public func mapRoot(size: Int64) async throws -> MapNodeID? { try mapRootRow(size) }

    /// Synchronous on purpose, like ``hashRows(_:)``: one per proof bundle.
    private func mapRootRow(_ size: Int64) throws -> MapNodeID? {
        try pool.read { db in
            try Int64.fetchOne(db.cachedStatement(sql: "SELECT node FROM map_roots WHERE size = ?"), arguments: [size])
        }
    }

    public func readHashes(_ indexes: [Int64]) async throws -> [Hash] {
        if indexes.isEmpty { return [] }
        let locations = indexes.map { Merkle.storingLeaf(ofStoredIndex: $0) }
        let leaves = Array(Set(locations.map(\.leaf)))
        let rows = try hashRows(leaves)
        return try locations.map { location in
            guard let data = rows[location.leaf], data.count >= 32 * (location.position + 1) else {
                throw StoreError.missing("Merkle hash stored with entry \(location.leaf)")
            }
            let start = data.startIndex + 32 * location.position
            return Hash(bytes: data[start..<start + 32])!
        }
    }

    /// The `hashes` column of the given entries. Synchronous on purpose: a point read takes
    /// microseconds, while an async GRDB read costs ~170 µs of scheduling (measured by tools/bench).
    private func hashRows(_ leaves: [Int64]) throws -> [Int64: Data] {
        try pool.read { db in
            var rows: [Int64: Data] = [:]
            let placeholders = Array(repeating: "?", count: leaves.count).joined(separator: ",")
            let cursor = try Row.fetchCursor(
                db, sql: "SELECT idx, hashes FROM entries WHERE idx IN (\(placeholders))", arguments: StatementArguments(leaves))
            while let row = try cursor.next() { rows[row["idx"]] = row["hashes"] }
            return rows
        }
    }

    public func entries(_ range: Range<Int64>) async throws -> [StoredEntry] {
        try await pool.read { db in
            var entries: [StoredEntry] = []
            entries.reserveCapacity(Int(clamping: min(range.upperBound - range.lowerBound, 1 << 16)))
            try Self.scanEntries(db, range) { index, header, leafHash, body, purgedBy in
                entries.append(StoredEntry(index: index, header: Array(header), leafHash: leafHash, body: body.map { Array($0) }, purgedBy: purgedBy))
            }
            return entries
        }
    }

    /// ``entries(_:)`` in one buffer, for the audit: no arrays per entry.
    public func auditPage(_ range: Range<Int64>) async throws -> AuditPage {
        try await pool.read { db in
            var page = AuditPage()
            let count = Int(clamping: min(range.upperBound - range.lowerBound, 1 << 16))
            // About 200 bytes of header and 100 of body per consent event.
            page.reserveCapacity(entries: count, bytes: count * 320)
            try Self.scanEntries(db, range) { index, header, leafHash, body, purgedBy in
                let headerRange = page.store(header)
                let stored: AuditPage.Body
                if let body { stored = .present(page.store(body)) } else if let purgedBy { stored = .purged(by: purgedBy) } else { stored = .none }
                page.append(AuditPage.Entry(index: index, header: headerRange, leafHash: leafHash, body: stored))
            }
            return page
        }
    }

    /// Reads entries `range` in order with their bodies and purge records, handing `row` each
    /// entry's header and body straight from SQLite's column buffers (valid during the call only).
    /// Cursors read column by column: through `Row.fetchAll` and named columns a page of the
    /// audit's 8,192 rows cost more than checking them (each row copied, each column name
    /// lower-cased to find it). The bodies and purge records of the range are scanned alongside
    /// the entries and merged by index (what LEFT JOINs did with one B-tree search per row and table).
    private static func scanEntries(
        _ db: Database, _ range: Range<Int64>,
        _ row: (_ index: Int64, _ header: UnsafeRawBufferPointer, _ leafHash: Hash, _ body: UnsafeRawBufferPointer?, _ purgedBy: Int64?) throws
            -> Void
    ) throws {
        let entryStatement = try db.makeStatement(sql: "SELECT idx, header, hashes FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx")
        let bodyStatement = try db.makeStatement(sql: "SELECT idx, body FROM bodies WHERE idx >= ? AND idx < ? ORDER BY idx")
        let bounds: StatementArguments = [range.lowerBound, range.upperBound]
        var purges: [Int64: Int64] = [:]
        let purgeCursor = try Row.fetchCursor(db, sql: "SELECT idx, purge FROM purged_bodies WHERE idx >= ? AND idx < ?", arguments: bounds)
        while let row = try purgeCursor.next() { purges[row[0]] = row[1] }
        let entryCursor = try Row.fetchCursor(entryStatement, arguments: bounds)
        let bodyCursor = try Row.fetchCursor(bodyStatement, arguments: bounds)
        let e = entryStatement.sqliteStatement
        let b = bodyStatement.sqliteStatement
        func blob(_ s: SQLiteStatement, _ column: Int32) -> UnsafeRawBufferPointer? {
            guard sqlite3_column_type(s, column) != SQLITE_NULL else { return nil }
            let count = Int(sqlite3_column_bytes(s, column))
            guard count > 0, let base = sqlite3_column_blob(s, column) else { return UnsafeRawBufferPointer(start: nil, count: 0) }
            return UnsafeRawBufferPointer(start: base, count: count)
        }
        func nextBody() throws -> Int64? { try bodyCursor.next() != nil ? sqlite3_column_int64(b, 0) : nil }
        var bodyIndex = try nextBody()
        while try entryCursor.next() != nil {
            let index = sqlite3_column_int64(e, 0)
            guard let hashes = blob(e, 2), hashes.count >= 32 else { throw StoreError.missing("the leaf hash of entry \(index)") }
            let leafHash = Hash { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: hashes.prefix(32))) }
            while let at = bodyIndex, at < index { bodyIndex = try nextBody() }
            let header = blob(e, 1) ?? UnsafeRawBufferPointer(start: nil, count: 0)
            try row(index, header, leafHash, bodyIndex == index ? blob(b, 1) : nil, purges[index])
        }
    }

    public func entries(at indexes: [Int64]) async throws -> [Int64: StoredEntry] {
        try entryRows(indexes)
    }

    /// Synchronous on purpose, like ``hashRows(_:)``: point reads on the query path.
    private func entryRows(_ indexes: [Int64]) throws -> [Int64: StoredEntry] {
        if indexes.isEmpty { return [:] }
        return try pool.read { db in
            let placeholders = Array(repeating: "?", count: indexes.count).joined(separator: ",")
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT e.idx, e.header, e.hashes, b.body, p.purge FROM entries e LEFT JOIN bodies b ON b.idx = e.idx
                    LEFT JOIN purged_bodies p ON p.idx = e.idx
                    WHERE e.idx IN (\(placeholders))
                    """, arguments: StatementArguments(indexes))
            var found: [Int64: StoredEntry] = [:]
            for row in rows {
                let entry = Self.storedEntry(row)
                found[entry.index] = entry
            }
            return found
        }
    }

    /// An entry from a row with columns idx, header, hashes and (optionally NULL) body.
    static func storedEntry(_ row: Row) -> StoredEntry {
        let hashes: Data = row["hashes"]
        let header: Data = row["header"]
        let body: Data? = row["body"]
        let purgedBy: Int64? = row.hasColumn("purge") ? row["purge"] : nil
        return StoredEntry(
            index: row["idx"], header: Array(header), leafHash: Hash(bytes: hashes.prefix(32))!, body: body.map { Array($0) }, purgedBy: purgedBy)
    }

    public func entries(withIdempotencyKeys keys: [Hash]) async throws -> [Hash: StoredEntry] {
        if keys.isEmpty { return [:] }
        return try await pool.read { db in
            var found: [Hash: StoredEntry] = [:]
            let statement = try db.cachedStatement(sql: "SELECT idx, header, hashes FROM entries WHERE idempotency = ?")
            for key in keys {
                if let row = try Row.fetchOne(statement, arguments: [Data(key.bytes)]) {
                    let hashes: Data = row["hashes"]
                    let header: Data = row["header"]
                    found[key] = StoredEntry(index: row["idx"], header: Array(header), leafHash: Hash(bytes: hashes.prefix(32))!, body: nil)
                }
            }
            return found
        }
    }

    public func checkpoint(size: Int64) async throws -> String? {
        try await pool.read { db in try String.fetchOne(db, sql: "SELECT note FROM checkpoints WHERE size = ?", arguments: [size]) }
    }

    public func checkpoints(_ sizes: ClosedRange<Int64>) async throws -> [(size: Int64, note: String)] {
        try await pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT size, note FROM checkpoints WHERE size >= ? AND size <= ? ORDER BY size",
                arguments: [sizes.lowerBound, sizes.upperBound]
            ).map { ($0["size"], $0["note"]) }
        }
    }

    public func durableMapRoot() async throws -> DurableMapRoot {
        let durable = nodes.durableEnd
        return try await pool.read { db in
            guard let row = try Row.fetchOne(
                db, sql: "SELECT size, node, next_node FROM map_roots WHERE next_node <= ? ORDER BY size DESC LIMIT 1", arguments: [durable])
            else { return DurableMapRoot(size: 0, rootID: 0, nextID: 1) }
            return DurableMapRoot(size: row["size"], rootID: row["node"], nextID: row["next_node"])
        }
    }

    public func databaseBytes() async throws -> Int64 {
        var total: Int64 = 0
        for suffix in ["", "-wal"] {
            let size = (try? FileManager.default.attributesOfItem(atPath: pool.path + suffix)[.size] as? NSNumber)?.int64Value
            total += size ?? 0
        }
        return total
    }

    public func reclaimSpace(rebuild: Bool) async throws {
        // Incremental auto-vacuum (set when the database was created) moves free pages to the end and
        // truncates the file; a checkpoint first, so the WAL does not keep the old pages. Pages that
        // purges left partly filled (bodies purged between kept ones) are only repacked by VACUUM.
        try await pool.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)")
            try db.execute(sql: rebuild ? "VACUUM" : "PRAGMA incremental_vacuum")
            try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)")
        }
    }

    public func restoreMapNodes(_ nodes: [(id: MapNodeID, node: MapNode)]) async throws {
        let next = committedNextNode.withLock { $0 }
        if let last = nodes.last?.id, last >= next { throw StoreError.missing("map node \(last) was never committed") }
        try self.nodes.append(nodes)
        try self.nodes.sync()
    }
}
