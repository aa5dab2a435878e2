import ConsentCore
import ConsentCrypto
import ConsentStoreSQLite
import ConsentVerifier
import Foundation
import Testing

@testable import ConsentLedger

/// The behaviour every ``LedgerStore`` must have, whatever the database behind it.
enum StoreConformance {
    static func run(_ store: any LedgerStore) async throws {
        #expect(try await store.parameters() == nil)
        let parameters = LogParameters(origin: "conformance.example/log", suite: .sha256Ed25519, createdAt: 1)
        try await store.initialize(parameters, checkpointNote: "note-0")
        #expect(try await store.parameters() == parameters)
        await #expect(throws: StoreError.alreadyInitialized) { try await store.initialize(parameters, checkpointNote: "again") }
        #expect(try await store.head() == StoreHead(size: 0, lastHeader: nil, lastLeafHash: .zero, checkpointNote: "note-0"))

        let hasher = Digest(.sha256)
        var frontier = MerkleFrontier()
        var all: [Hash] = []
        let subjects = [hasher.hash(Array("subject A".utf8)), hasher.hash(Array("subject B".utf8))]
        func batch(_ first: Int, _ count: Int, keys: [Int: Hash] = [:]) -> CommitBatch {
            var entries: [NewEntry] = []
            for i in first..<first + count {
                let header = Array("header \(i)".utf8)
                let stored = frontier.append(leafHash: hasher.leafHash(header), hasher: hasher)
                all += stored
                entries.append(
                    NewEntry(
                        header: header, storedHashes: stored, body: i % 3 == 0 ? nil : Array("body \(i)".utf8),
                        idempotencyKeyHash: keys[i], subjectKey: i % 2 == 0 ? subjects[i % 4 / 2] : nil))
            }
            return CommitBatch(firstIndex: Int64(first), entries: entries, checkpointNote: "note-\(first + count)")
        }
        let key = hasher.hash(Array("key".utf8))
        try await store.commit(batch(0, 10, keys: [3: key]))
        try await store.commit(batch(10, 1))
        let saved = frontier
        // A batch that does not start at the end writes nothing.
        await #expect(throws: StoreError.notAtEnd(expected: 11, got: 5)) { try await store.commit(CommitBatch(firstIndex: 5, entries: [], checkpointNote: "x")) }
        // A duplicate idempotency key fails the whole batch.
        await #expect(throws: StoreError.duplicateIdempotencyKey) { try await store.commit(batch(11, 3, keys: [12: key])) }
        frontier = saved
        all.removeLast(all.count - Int(Merkle.storedHashCount(size: 11)))
        #expect(try await store.head().size == 11)
        try await store.commit(batch(11, 30))

        let head = try await store.head()
        #expect(head.size == 41)
        #expect(head.checkpointNote == "note-41")
        #expect(head.lastHeader == Array("header 40".utf8))
        #expect(try await store.checkpoint(size: 10) == "note-10")
        #expect(try await store.checkpoint(size: 12) == nil)
        // Every stored hash reads back, in any order.
        let indexes = (0..<Int64(all.count)).reversed().map { $0 }
        #expect(try await store.readHashes(indexes) == indexes.map { all[Int($0)] })
        await #expect(throws: StoreError.self) { _ = try await store.readHashes([Int64(all.count) + 5]) }
        let entries = try await store.entries(8..<13)
        #expect(entries.map(\.index) == [8, 9, 10, 11, 12])
        #expect(entries[1].body == nil && entries[0].body == Array("body 8".utf8))
        #expect(entries[0].leafHash == hasher.leafHash(Array("header 8".utf8)))
        #expect(try await store.entries(40..<50).count == 1)
        let found = try await store.entries(withIdempotencyKeys: [key, hasher.hash([1])])
        #expect(found.count == 1 && found[key]?.index == 3)
        #expect(found[key]?.header == Array("header 3".utf8) && found[key]?.leafHash == hasher.leafHash(Array("header 3".utf8)))
        // Subject index: entries with an even index, alternating between the two subjects.
        let forA = try await store.entries(forSubject: subjects[0]).map(\.index)
        #expect(forA == stride(from: 0, to: 41, by: 4).map { Int64($0) })
        #expect(try await store.entries(forSubject: hasher.hash([9])).isEmpty)
        // Entries by index, with bodies; unknown indexes are left out.
        let some = try await store.entries(at: [13, 3, 99])
        #expect(Set(some.keys) == [13, 3])
        #expect(some[13]?.body == Array("body 13".utf8) && some[3]?.body == nil && some[13]?.header == Array("header 13".utf8))

        // State-map nodes: appended with a batch (never rewritten), read back by identifier, with the
        // root of every batch kept.
        let map = MemoryMapNodes()
        var values: [(key: Hash, value: MapValue)] = []
        for i in 0..<50 { values.append((hasher.hash([UInt8(i)]), MapValue(index: Int64(i), action: .grant, leafHash: hasher.hash([1, UInt8(i)])))) }
        let emptyMap = try await store.head()
        #expect(emptyMap.mapRootID == 0 && emptyMap.nextMapNodeID == 1)
        let first = try StateMap.update(Array(values[..<30]), rootID: 0, source: map, nextID: emptyMap.nextMapNodeID, hasher: hasher)
        var withMap = batch(41, 1)
        withMap.mapNodes = first.nodes
        withMap.mapRootID = first.rootID
        try await store.commit(withMap)
        let stored1 = try await store.mapNodes(first.nodes.map { $0.id } + [999_999])
        #expect(stored1.count == first.nodes.count)
        for (id, node) in first.nodes { #expect(stored1[id] == node) }
        let head1 = try await store.head()
        #expect(head1.mapRootID == first.rootID && head1.nextMapNodeID == first.nodes.map { $0.id }.max()! + 1)
        #expect(try await store.mapRoot(size: 42) == first.rootID)
        #expect(try await store.mapRoot(size: 41) == 0)  // earlier batches had the empty map
        #expect(try await store.mapRoot(size: 40) == nil)  // no batch ended there
        struct Source: MapNodeSource {
            let nodes: [MapNodeID: MapNode]
            func node(_ id: MapNodeID) throws -> MapNode { nodes[id]! }
        }
        let second = try StateMap.update(
            Array(values[25...]), rootID: first.rootID, source: Source(nodes: stored1), nextID: head1.nextMapNodeID, hasher: hasher)
        withMap = batch(42, 1)
        withMap.mapNodes = second.nodes
        withMap.mapRootID = second.rootID
        try await store.commit(withMap)
        #expect(first.root != second.root)
        #expect(try await store.head().mapRootID == second.rootID)
        // The old root still reads back unchanged.
        #expect(try await store.mapNodes([first.rootID])[first.rootID] == stored1[first.rootID])

        // A purge deletes bodies and records which entry named them.
        try await store.commit(CommitBatch(
            firstIndex: 43, entries: batch(43, 1).entries, checkpointNote: "note-44",
            mapRootID: second.rootID, purgedBodies: [PurgedBody(index: 13, purgeEntry: 43), PurgedBody(index: 20, purgeEntry: 43)]))
        let purged = try await store.entries(12..<21)
        #expect(purged[1].body == nil && purged[1].purgedBy == 43 && purged[8].purgedBy == 43)
        #expect(purged[2].body == Array("body 14".utf8) && purged[2].purgedBy == nil)
        #expect(try await store.entries(at: [13])[13]?.purgedBy == 43)
        // The audit's pages hold what entries(_:) reads: bodies, purges, leaf hashes, bounds.
        for range: Range<Int64> in [0..<44, 12..<21, 40..<50, 50..<60] {
            let page = try await store.auditPage(range)
            let expected = try await store.entries(range).map(StoreAuditSource.auditEntry)
            #expect(page.entries.indices.map(page.entry(at:)) == expected)
        }
    }
}

@Suite struct SQLiteStoreTests {
    @Test func conformance() async throws {
        let dir = TempDirectory()
        try await StoreConformance.run(try SQLiteStore(directory: dir.directory))
    }

    /// With a small chunk, the subject index lags the log by a few entries and queries combine the
    /// index with a scan of the tail.
    @Test func conformanceWithALaggingSubjectIndex() async throws {
        let dir = TempDirectory()
        try await StoreConformance.run(try SQLiteStore(directory: dir.directory, subjectIndexChunk: 7))
    }

    @Test func usesWALAndFullSync() async throws {
        let dir = TempDirectory()
        _ = try SQLiteStore(directory: dir.directory)
        let db = dir.directory.path(SQLiteStore.fileName)
        let pipe = Pipe()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        process.arguments = [db, "PRAGMA journal_mode; PRAGMA auto_vacuum;"]
        process.standardOutput = pipe
        try process.run()
        process.waitUntilExit()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(output == "wal\n2\n")
    }
}
