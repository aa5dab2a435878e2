import ConsentCore
import ConsentCrypto
import ConsentStoreSQLite
import ConsentTestSupport
import Foundation
import Testing

@testable import ConsentLedger
@testable import ConsentVerifier

/// A log with every kind of entry: batches of grants and revocations (some with client keys), a
/// legal hold, a compaction that purged bodies, and more events after it.
///
///     0-5 grants (subjects 0-5, s1), 6 commit        7-9 revoke 0, revoke 1, grant 6 (s2), 10 commit
///     11 hold (sender s2), 12 commit                 13 grant 0 again, 14 commit
///     200 days later: purge entries, a commit; then `more` batches of events
struct AuditHistory {
    let dir = TempDirectory()
    let clock = TestClock()
    let ledger: Ledger
    var time: Milliseconds

    init(suite: Suite = .sha256Ed25519) async throws {
        ledger = try await makeLedger(dir, suite: suite, clock: clock)
        time = 1_795_435_200_000
        _ = try await ledger.append((0..<6).map { try event($0, clientKey: "k\($0)") })
        try await advance(Self.day)
        _ = try await ledger.append([try event(0, action: "revoke"), try event(1, action: "revoke"), try event(6, sender: "s2")])
        _ = try await ledger.placeHold(.sender("s2"), reason: "complaint under investigation", reference: "12321-2026-0042")
        try await advance(Self.day)
        _ = try await ledger.append([try event(0, clientKey: "again-0")])
        try await advance(200 * Self.day)
        let report = try await ledger.compact()
        #expect(report.purged > 0)
    }

    static let day: Milliseconds = 86_400_000

    mutating func advance(_ ms: Milliseconds) async throws {
        time += ms
        clock.set(time)
    }

    /// Appends `batches` more batches of a few events each.
    mutating func more(_ batches: Int, from n: Int = 100) async throws {
        for b in 0..<batches {
            try await advance(1000)
            // Every fourth batch revokes: bodies that fall due five months later.
            _ = try await ledger.append((0..<(b % 3 + 1)).map { try event(n + b * 10 + $0, action: b % 4 == 3 ? "revoke" : "grant") })
        }
    }

    var key: NoteVerifier { ledger.verifier }

    func export(to path: String) async throws -> ExportSummary {
        try await LogExport.export(store: ledger.store, to: path)
    }

    func auditData(state: AuditState? = nil, map: Bool = true) async throws -> (AuditReport, AuditState?) {
        try await LogAudit(verifier: key, options: AuditOptions(recomputeMap: map, pageSize: 5))
            .run(source: try await StoreAuditSource(store: ledger.store), resume: state)
    }
}

func auditExport(_ path: String, key: NoteVerifier, state: AuditState? = nil, map: Bool = true) async throws -> (AuditReport, AuditState?) {
    try await LogAudit(verifier: key, options: AuditOptions(recomputeMap: map, pageSize: 256)).run(source: try ExportSource(path: path), resume: state)
}

/// A log held in memory (a forged one, built with the log's own key).
struct MemorySource: AuditSource {
    var headers: [[UInt8]]
    var bodies: [AuditBody]
    var notes: [(size: Int64, note: String)]
    let suite: Suite

    func latestCheckpoint() async throws -> String { notes.last!.note }
    func entries(_ range: Range<Int64>) async throws -> [AuditEntry] {
        range.clamped(to: 0..<Int64(headers.count)).map {
            AuditEntry(index: $0, header: headers[Int($0)], leafHash: nil, body: bodies[Int($0)])
        }
    }
    func checkpoints(_ sizes: ClosedRange<Int64>) async throws -> [(size: Int64, note: String)] { notes.filter { sizes.contains($0.size) } }
    func readHashes(_ indexes: [Int64]) async throws -> [Hash] {
        let hasher = Digest(suite: suite)
        let leaves = headers.map { hasher.leafHash($0) }
        func subtree(_ lower: Int, _ upper: Int) -> Hash {
            if upper - lower == 1 { return leaves[lower] }
            let mid = (lower + upper) / 2
            return hasher.nodeHash(subtree(lower, mid), subtree(mid, upper))
        }
        return indexes.map { stored in
            let (level, n) = Merkle.splitStoredHashIndex(stored)
            return subtree(Int(n << Int64(level)), Int((n + 1) << Int64(level)))
        }
    }
    func bodies(at indexes: [Int64]) async throws -> [Int64: AuditBody] {
        Dictionary(uniqueKeysWithValues: indexes.map { ($0, bodies[Int($0)]) })
    }
}

/// The log's entries with commit entry `at`'s state root replaced, every later header re-chained
/// (previous leaf hashes, key links) and every checkpoint re-signed with the log's own key: only
/// recomputing the state map can tell.
func forgeStateRoot(_ history: AuditHistory, at: Int64, size: Int64? = nil) async throws -> MemorySource {
    let ledger = history.ledger
    let size = min(size ?? Int64.max, await ledger.size)
    let stored = try await ledger.store.entries(0..<size)
    let hasher = Digest(suite: ledger.parameters.suite)
    let pem = try String(contentsOfFile: history.dir.directory.path("keys/checkpoint.pem"), encoding: .utf8)
    let signer = try NoteSigner(name: ledger.parameters.origin, key: try SigningKey(pem: pem))
    var headers: [[UInt8]] = []
    var leaves: [Hash] = []
    for entry in stored {
        var header = try EntryHeader(decoding: entry.header)
        let previous = leaves.last ?? .zero
        switch header {
        case .consent(var h):
            h.previousLeafHash = previous
            if var link = h.keyPredecessor {
                link.leafHash = leaves[Int(link.index)]
                h.keyPredecessor = link
            }
            header = .consent(h)
        case .commit(var h):
            h.previousLeafHash = previous
            if entry.index == at { h.stateRoot = Hash(bytes: [UInt8](repeating: 7, count: 32))! }
            header = .commit(h)
        case .hold(var h):
            h.previousLeafHash = previous
            header = .hold(h)
        case .purge(var h):
            h.previousLeafHash = previous
            header = .purge(h)
        }
        let bytes = header.encoded()
        headers.append(bytes)
        leaves.append(hasher.leafHash(bytes))
    }
    var notes: [(size: Int64, note: String)] = []
    var frontier = MerkleFrontier()
    let sizes = Set(try await ledger.store.checkpoints(0...size).map(\.size))
    for s in 0...size {
        if sizes.contains(s) {
            let text = Checkpoint(origin: ledger.parameters.origin, size: s, rootHash: frontier.root(hasher: hasher)).text
            notes.append((s, try signer.sign(text).serialized))
        }
        if s < size { frontier.append(leafHash: leaves[Int(s)], hasher: hasher) }
    }
    return MemorySource(headers: headers, bodies: stored.map(StoreAuditSource.body), notes: notes, suite: ledger.parameters.suite)
}

/// Sets columns of one row of the store with the sqlite3 tool (the store stays open: WAL).
func sqlite(_ history: AuditHistory, _ sql: String) throws {
    #expect(try runProcess("/usr/bin/sqlite3", [history.dir.directory.path(SQLiteStore.fileName), sql]) == 0)
}

func hexLiteral(_ bytes: [UInt8]) -> String { "X'" + Hex.encode(bytes) + "'" }

func readFile(_ path: String) throws -> [UInt8] {
    guard let data = FileManager.default.contents(atPath: path) else { throw ExportError("cannot read \(path)") }
    return Array(data)
}

func writeFile(_ bytes: [UInt8], _ path: String) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

@Suite struct AuditTests {
    @Test(arguments: Suite.allCases)
    func untouchedLogPassesFromBothSources(_ suite: Suite) async throws {
        var history = try await AuditHistory(suite: suite)
        try await history.more(3)
        let size = await history.ledger.size
        let (report, state) = try await history.auditData()
        #expect(report.ok, "\(report.problem ?? "")")
        #expect(report.entries == size && report.size == size && report.from == 0)
        #expect(report.purges > 0 && report.purgedBodies > 0 && report.holds == 1)
        #expect(report.stateRoots == report.commits && report.commits > 5)
        #expect(state?.size == size)
        let check = try await history.ledger.checkIntegrity()
        #expect(check.ok, "\(check.problem ?? "")")

        let out = TempDirectory()
        let summary = try await history.export(to: out.path)
        #expect(summary.size == size && summary.previousSize == 0)
        #expect(summary.manifest.purgedBodies == report.purgedBodies)
        let (fromExport, _) = try await auditExport(out.path, key: history.key)
        #expect(fromExport.ok, "\(fromExport.problem ?? "")")
        #expect(fromExport.entries == size && fromExport.bodies == report.bodies && fromExport.root == report.root)
        let (noMap, _) = try await auditExport(out.path, key: history.key, map: false)
        #expect(noMap.ok && noMap.stateRoots == 0 && !noMap.mapRecomputed)

        // Another log's key verifies nothing.
        let other = TempDirectory()
        let stranger = try await makeLedger(other, suite: suite)
        let (wrongKey, _) = try await auditExport(out.path, key: stranger.verifier)
        #expect(wrongKey.problem?.contains("does not verify with the key") == true, "\(wrongKey.problem ?? "")")
    }

    /// Re-running an export adds only what is new, and ends with the same files as a fresh export,
    /// bodies purged since included.
    @Test func exportIsIncrementalAndIdempotent() async throws {
        var history = try await AuditHistory()
        let incremental = TempDirectory()
        _ = try await history.export(to: incremental.path)
        let again = try await history.export(to: incremental.path)
        #expect(again.entryBundles == 0 && again.checkpointsAdded == 0 && again.previousSize == again.size)
        try await history.more(300)  // past a full bundle
        try await history.advance(200 * AuditHistory.day)
        #expect(try await history.ledger.compact().purged > 0)  // purges bodies exported earlier
        let second = try await history.export(to: incremental.path)
        #expect(second.previousSize < second.size)
        let fresh = TempDirectory()
        _ = try await history.export(to: fresh.path)
        let fm = FileManager.default
        var checked = 0
        for file in try fm.subpathsOfDirectory(atPath: fresh.path) {
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: fresh.path + "/" + file, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            checked += 1
            #expect(fm.contentsEqual(atPath: fresh.path + "/" + file, andPath: incremental.path + "/" + file), "\(file) differs")
        }
        #expect(checked > 8)
        // The export serves what the store holds (bundles of 256 entries, purged bodies).
        let size = await history.ledger.size
        let exported = try ExportSource(path: fresh.path)
        let stored = try await StoreAuditSource(store: history.ledger.store)
        _ = try await exported.latestCheckpoint()
        for range: Range<Int64> in [0..<size, 250..<300, 3..<9, size - 1..<size + 5] {
            #expect(try await exported.entries(range) == stored.entries(range), "\(range)")
        }
        let (report, _) = try await auditExport(incremental.path, key: history.key)
        #expect(report.ok, "\(report.problem ?? "")")

        // A level-1 hash tile that disagrees with the entries (proofs built from it would fail) is caught.
        let tile = try #require(TileID(level: 1, index: 0).widest(inTreeSize: size))
        var data = try readFile(fresh.path + "/" + tile.path)
        data[40] ^= 1
        try writeFile(data, fresh.path + "/" + tile.path)
        let (bad, _) = try await auditExport(fresh.path, key: history.key)
        #expect(bad.problem == "the Merkle hash the source serves for entries 256..<512 (tile/1/000) disagrees with the entries", "\(bad.problem ?? "")")
    }

    /// A page holds its entries' bytes where its ranges say.
    @Test func pagesHoldTheirEntries() {
        let bodies: [AuditBody] = [.none, .present([9, 8, 7]), .purged(by: 4), .purged(by: nil), .present([])]
        let entries = (0..<11).map { i in
            AuditEntry(
                index: Int64(i + 100), header: Array(repeating: UInt8(i), count: i + 1),
                leafHash: i % 2 == 0 ? nil : Hash(bytes: Array(repeating: UInt8(i), count: 32)), body: bodies[i % bodies.count])
        }
        let page = AuditPage(entries)
        #expect(page.entries.indices.map(page.entry(at:)) == entries)
        #expect(page.bytes.count == entries.reduce(0) { $0 + $1.header.count } + 6)
        #expect(AuditPage([]).entries.isEmpty)
    }

    /// The state-key table is reserved for every event to come; the client-key and number tables in
    /// proportion to the first page with events (none for a log without client keys).
    @Test func keyTablesAreReservedByTheFirstPage() {
        let hasher = Digest(.sha256)
        func event(_ i: Int, keyed: Bool, numbered: Bool) -> PreparedEntry {
            let key = hasher.hash([UInt8(i & 0xff), UInt8(i >> 8)])
            var entry = PreparedEntry()
            entry.keys = LinkKeys(
                stateKey: key, event: MapValue(index: Int64(i), action: .grant, leafHash: key), idempotencyKey: keyed ? key : nil,
                number: numbered ? (key, key) : nil)
            return entry
        }
        let linker = KeyLinker(KeyTables())
        linker.reserveCapacity(events: 100_000)
        #expect(linker.keys.latest.capacity >= 100_000 && linker.keys.idempotency.capacity < 100)
        _ = linker.link([PreparedEntry()], threads: 1)  // no event: nothing to go by yet
        #expect(linker.keys.peppers.capacity < 100)
        // A quarter of the first page's events carry a body; none a client key.
        _ = linker.link((0..<400).map { event($0, keyed: false, numbered: $0 % 4 == 0) }, threads: 1)
        let keys = linker.keys
        #expect(keys.idempotency.capacity < 100 && keys.idempotency.isEmpty)
        #expect(keys.peppers.capacity >= 27_500 && keys.peppers.capacity < 100_000 && keys.peppers.count == 100)
        #expect(keys.latest.count == 400)
    }

    @Test func modifiedHeaderByteIsNamed() async throws {
        let history = try await AuditHistory()
        let out = TempDirectory()
        _ = try await history.export(to: out.path)
        // In the store: entry 3's subject key changes by one bit.
        var header = try await history.ledger.store.entries(3..<4)[0].header
        header[50] ^= 1
        try sqlite(history, "UPDATE entries SET header = \(hexLiteral(header)) WHERE idx = 3")
        let (report, _) = try await history.auditData()
        #expect(report.firstBadIndex == 3)
        #expect(report.problem == "entry 3: stored leaf hash is not the hash of its header")
        // In the export's entry bundle.
        let bundle = out.path + "/" + EntryBundleID(index: 0, width: Int(await history.ledger.size)).path
        var frames = ExportSource.frames(try readFile(bundle))
        frames[3][50] ^= 1
        try writeFile(try EntryBundleID(index: 0, width: frames.count).encode(frames), bundle)
        let (fromExport, _) = try await auditExport(out.path, key: history.key)
        #expect(fromExport.firstBadIndex == 3, "\(fromExport.problem ?? "")")
    }

    @Test func modifiedBodyIsNamed() async throws {
        let history = try await AuditHistory()
        let out = TempDirectory()
        _ = try await history.export(to: out.path)
        var body = try #require(try await history.ledger.store.entries(4..<5)[0].body)
        let original = body
        body[body.count - 1] ^= 1
        try sqlite(history, "UPDATE bodies SET body = \(hexLiteral(body)) WHERE idx = 4")
        let (report, _) = try await history.auditData()
        #expect(report.problem == "entry 4: body does not match its hash")
        let path = out.path + "/" + ExportLayout.bodiesPath(EntryBundleID(index: 0, width: Int(await history.ledger.size)))
        var data = try readFile(path)
        let range = try #require(data.firstRange(of: original))
        data[range.upperBound - 1] ^= 1
        try writeFile(data, path)
        let (fromExport, _) = try await auditExport(out.path, key: history.key)
        #expect(fromExport.problem == "entry 4: body does not match its hash")
    }

    @Test func deletedEntryIsNamed() async throws {
        let history = try await AuditHistory()
        let out = TempDirectory()
        _ = try await history.export(to: out.path)
        try sqlite(history, "DELETE FROM entries WHERE idx = 5")
        let (report, _) = try await history.auditData()
        #expect(report.firstBadIndex == 5, "\(report.problem ?? "")")
        #expect(report.problem?.hasPrefix("entry 5: missing") == true)
        // From the export's bundle (its hash tile left as it was).
        let bundle = out.path + "/" + EntryBundleID(index: 0, width: Int(await history.ledger.size)).path
        var frames = ExportSource.frames(try readFile(bundle))
        frames.remove(at: 5)
        try writeFile(try EntryBundleID(index: 0, width: frames.count).encode(frames), bundle)
        let (fromExport, _) = try await auditExport(out.path, key: history.key)
        #expect(fromExport.firstBadIndex == 5, "\(fromExport.problem ?? "")")
    }

    @Test func reorderedEntriesAreNamed() async throws {
        let history = try await AuditHistory()
        let out = TempDirectory()
        _ = try await history.export(to: out.path)
        // Swap entries 2 and 3 with their stored hashes: the hash chain breaks at 2.
        let rows = try await history.ledger.store.entries(2..<4)
        let hashes2 = try await history.ledger.store.readHashes([Merkle.storedHashIndex(level: 0, index: 2)])
        #expect(hashes2 == [rows[0].leafHash])
        try sqlite(
            history,
            "UPDATE entries SET header = CASE idx WHEN 2 THEN \(hexLiteral(rows[1].header)) ELSE \(hexLiteral(rows[0].header)) END, "
                + "hashes = CASE idx WHEN 2 THEN \(hexLiteral(rows[1].leafHash.bytes)) ELSE \(hexLiteral(rows[0].leafHash.bytes + [UInt8](repeating: 0, count: 64))) END "
                + "WHERE idx IN (2, 3)")
        let (report, _) = try await history.auditData()
        #expect(report.problem == "entry 2: hash chain broken (previous leaf hash differs)")
        // In the export: bundle and level-0 tile both swapped.
        let size = Int(await history.ledger.size)
        let bundle = out.path + "/" + EntryBundleID(index: 0, width: size).path
        var frames = ExportSource.frames(try readFile(bundle))
        frames.swapAt(2, 3)
        try writeFile(try EntryBundleID(index: 0, width: frames.count).encode(frames), bundle)
        let tile = out.path + "/" + TileID(level: 0, index: 0, width: size).path
        var data = try readFile(tile)
        let two = Array(data[64..<96])
        data.replaceSubrange(64..<96, with: data[96..<128])
        data.replaceSubrange(96..<128, with: two)
        try writeFile(data, tile)
        let (fromExport, _) = try await auditExport(out.path, key: history.key)
        #expect(fromExport.problem == "entry 2: hash chain broken (previous leaf hash differs)")
    }

    /// A commit entry with a wrong state root, in a log otherwise re-chained and re-signed with the
    /// log's own key: only the state-map recomputation catches it.
    @Test func forgedStateRootIsNamed() async throws {
        let history = try await AuditHistory()
        let forged = try await forgeStateRoot(history, at: 10)
        let audit = LogAudit(verifier: history.key)
        let (report, _) = try await audit.run(source: forged)
        #expect(report.problem == "entry 10: state root does not match the replayed state map")
        let (noMap, _) = try await LogAudit(verifier: history.key, options: AuditOptions(recomputeMap: false)).run(source: forged)
        #expect(noMap.ok, "\(noMap.problem ?? "")")
    }

    /// State roots are checked by a stage of their own, a page behind the other checks: a wrong root
    /// is still the problem named when a later entry is bad too, whatever the page size, and a bad
    /// entry before the wrong root is still named first.
    @Test(arguments: [3, 5, 11, 64, 8192])
    func forgedStateRootIsNamedBeforeLaterProblems(pageSize: Int64) async throws {
        let history = try await AuditHistory()
        var forged = try await forgeStateRoot(history, at: 10)
        let laterEvent = try #require(forged.bodies.indices.last { if case .present = forged.bodies[$0] { return true } else { return false } })
        forged.bodies[laterEvent] = .present([1, 2, 3])
        let options = AuditOptions(pageSize: pageSize)
        let (report, _) = try await LogAudit(verifier: history.key, options: options).run(source: forged)
        #expect(report.problem == "entry 10: state root does not match the replayed state map")
        #expect(report.firstBadIndex == 10)
        let (noMap, _) = try await LogAudit(verifier: history.key, options: AuditOptions(recomputeMap: false, pageSize: pageSize))
            .run(source: forged)
        #expect(noMap.problem == "entry \(laterEvent): body does not match its hash")
        // An entry before the forged commit entry is named before it.
        let earlyEvent = try #require(forged.bodies.indices.first { if case .present = forged.bodies[$0] { return true } else { return false } })
        #expect(earlyEvent < 10)
        forged.bodies[earlyEvent] = .present([1, 2, 3])
        let (early, _) = try await LogAudit(verifier: history.key, options: options).run(source: forged)
        #expect(early.problem == "entry \(earlyEvent): body does not match its hash")
    }

    @Test func purgeBeforeItsTimeIsNamed() async throws {
        let dir = TempDirectory()
        let ledger = try await makeLedger(dir)
        _ = try await ledger.append([try event(1, action: "revoke")])
        _ = try await ledger.appendAdministrative { _ in
            [.purge(PurgeHeader(previousLeafHash: .zero, recordedAt: 0, policy: .default, purged: [0]))]
        }
        let (report, _) = try await LogAudit(verifier: ledger.verifier).run(source: try await StoreAuditSource(store: ledger.store))
        #expect(report.firstBadIndex == 2)
        #expect(report.problem?.hasPrefix("entry 2: purges entry 0 before its retention ends") == true, "\(report.problem ?? "")")
        let out = TempDirectory()
        _ = try await LogExport.export(store: ledger.store, to: out.path)
        let (fromExport, _) = try await auditExport(out.path, key: ledger.verifier)
        #expect(fromExport.problem?.hasPrefix("entry 2: purges entry 0 before its retention ends") == true)
    }

    /// Incremental monitoring: a later run replays only the new entries; the state survives a
    /// round trip through its file.
    @Test func incrementalAuditReplaysOnlyNewEntries() async throws {
        var history = try await AuditHistory()
        try await history.more(4, from: 500)  // a batch of revocations, not yet due
        let out = TempDirectory()
        _ = try await history.export(to: out.path)
        let (first, saved) = try await auditExport(out.path, key: history.key)
        #expect(first.ok)
        let stateFile = out.path + ".state"
        defer { try? FileManager.default.removeItem(atPath: stateFile) }
        try #require(saved).save(path: stateFile)
        let loaded = try #require(try AuditState.load(path: stateFile))
        #expect(loaded.encoded() == saved!.encoded())
        let before = await history.ledger.size
        try await history.more(4, from: 600)
        try await history.advance(200 * AuditHistory.day)
        #expect(try await history.ledger.compact().purged > 0)  // also purges bodies of entries the first run saw
        _ = try await history.export(to: out.path)
        let (second, next) = try await auditExport(out.path, key: history.key, state: loaded)
        let after = await history.ledger.size
        #expect(second.ok, "\(second.problem ?? "")")
        #expect(second.from == before && second.entries == after - before && second.size == after)
        // The same from the data directory, and a run with nothing new.
        let (fromData, _) = try await history.auditData(state: loaded)
        #expect(fromData.ok && fromData.from == before, "\(fromData.problem ?? "")")
        let (idle, _) = try await auditExport(out.path, key: history.key, state: next)
        #expect(idle.ok && idle.entries == 0, "\(idle.problem ?? "")")
        // A full audit agrees.
        let (full, fullState) = try await auditExport(out.path, key: history.key)
        #expect(full.ok && full.root == second.root)
        #expect(fullState?.stateRoot == next?.stateRoot && fullState?.latest == next?.latest)
        #expect(fullState?.retention.events == next?.retention.events)
    }

    /// A log served rolled back after a newer checkpoint was seen, or with rewritten history, fails
    /// with both signed checkpoints as evidence.
    @Test func rollbackAndRewrittenHistoryAreCaught() async throws {
        var history = try await AuditHistory()
        let out = TempDirectory()
        _ = try await history.export(to: out.path)
        let old = TempDirectory()
        try FileManager.default.copyItem(atPath: out.path, toPath: old.path)
        let (_, early) = try await auditExport(old.path, key: history.key)
        let oldSize = try #require(early).size
        try await history.more(5)
        _ = try await history.export(to: out.path)
        let (_, late) = try await auditExport(out.path, key: history.key)
        let newest = try #require(late)

        // Rolled back: the old export, after the newer checkpoint was seen.
        let (rolledBack, none) = try await auditExport(old.path, key: history.key, state: newest)
        #expect(none == nil)
        #expect(rolledBack.problem?.hasPrefix("the log was rolled back") == true, "\(rolledBack.problem ?? "")")
        #expect(rolledBack.evidence?.savedCheckpoint == newest.checkpointNote)
        #expect(rolledBack.evidence?.servedCheckpoint == early!.checkpointNote)

        // Same size, another root.
        let forged = try await forgeStateRoot(history, at: 10)
        let (fork, _) = try await LogAudit(verifier: history.key).run(source: forged, resume: newest)
        #expect(fork.problem?.contains("two signed checkpoints of size \(newestSize(newest))") == true, "\(fork.problem ?? "")")
        #expect(fork.evidence != nil)

        // A longer log whose first `oldSize` entries differ from what was verified.
        let (rewritten, _) = try await LogAudit(verifier: history.key).run(source: forged, resume: early)
        #expect(rewritten.problem?.hasPrefix("the log rewrote history") == true, "\(rewritten.problem ?? "")")
        #expect(rewritten.evidence?.savedCheckpoint == early!.checkpointNote)
        #expect(oldSize > 10)
    }

    func newestSize(_ state: AuditState) -> Int64 { state.size }
}

@Suite struct MapReplayTests {
    /// The map kept as two halves by first key bit gives the root of the whole map, whatever the
    /// shape: empty, one leaf in either half, keys in one half only, both halves, and as it grows.
    @Test func halvesGiveTheWholeMapsRoot() throws {
        let hasher = Digest(.sha256)
        var random = SplitMix(seed: 9)
        func key(firstBit: UInt8) -> (key: Hash, value: MapValue) {
            var bytes = (0..<32).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            bytes[0] = bytes[0] & 0x7f | firstBit << 7
            return (Hash(bytes: bytes)!, MapValue(index: Int64(random.next() % 1000), action: .grant, leafHash: hasher.hash(bytes)))
        }
        // Keys per round in half 0 and half 1.
        let plans: [[(Int, Int)]] = [
            [(0, 0)], [(1, 0)], [(0, 1)], [(1, 1)], [(2, 0), (0, 1)], [(0, 3), (1, 0)], [(5, 0), (0, 0), (0, 7)], [(20, 20), (3, 1)],
        ]
        for plan in plans {
            let whole = LiveStateMap(rootID: 0, rootHash: .zero)
            let halves = [LiveStateMap(rootID: 0, rootHash: .zero), LiveStateMap(rootID: 0, rootHash: .zero)]
            for (zeros, ones) in plan {
                let updates = (0..<zeros).map { _ in key(firstBit: 0) } + (0..<ones).map { _ in key(firstBit: 1) }
                _ = try whole.updateRoot(updates, nextID: 1, hasher: hasher)
                for bit in 0..<2 {
                    _ = try halves[bit].updateRoot(updates.filter { StateMap.bit($0.key, 0) == bit }, nextID: 1, hasher: hasher)
                }
                #expect(MapReplay.joinedRoot(halves[0], halves[1], hasher: hasher) == whole.rootHash, "plan \(plan), after \((zeros, ones))")
            }
        }
    }
}
