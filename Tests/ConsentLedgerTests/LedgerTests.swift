import ConsentCore
import ConsentCrypto
import ConsentStoreSQLite
import ConsentVerifier
import Foundation
import Synchronization
import Testing

@testable import ConsentLedger

/// A fresh temporary data directory, removed at the end of the test.
final class TempDirectory: Sendable {
    let path: String
    init() {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("cl-test-\(UUID().uuidString)").path
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    var directory: DataDirectory { DataDirectory(path) }
}

/// A clock the test moves by hand.
final class TestClock: Sendable {
    let value = Mutex<Milliseconds>(1_795_435_200_000)
    var now: @Sendable () -> Milliseconds { { [self] in value.withLock { $0 } } }
    func set(_ ms: Milliseconds) { value.withLock { $0 = ms } }
}

func event(_ n: Int, sender: String = "s1", action: String = "grant", clientKey: String? = nil) throws -> ValidatedEvent {
    let subject = "1380013" + String(format: "%04d", n % 10000)
    return try EventValidator().validate(
        EventInput(sender: sender, subject: subject, action: action, evidence: ["note": "event \(n)"], clientKey: clientKey),
        now: 1_795_435_200_000)
}

func makeLedger(_ dir: TempDirectory, suite: Suite = .sha256Ed25519, clock: TestClock = TestClock()) async throws -> Ledger {
    let store = try SQLiteStore(directory: dir.directory)
    _ = try await Ledger.create(directory: dir.directory, store: store, origin: "test.example/log", suite: suite, clock: clock.now)
    return try await Ledger.open(directory: dir.directory, store: store, clock: clock.now)
}

@Suite struct LedgerTests {
    @Test(arguments: Suite.allCases)
    func appendProveAndVerify(_ suite: Suite) async throws {
        let dir = TempDirectory()
        let ledger = try await makeLedger(dir, suite: suite)
        #expect(await ledger.size == 0)
        var receipts: [AppendReceipt] = []
        for batch in 0..<5 {
            receipts += try await ledger.append((0..<(batch * 3 + 1)).map { try event(batch * 100 + $0) })
        }
        // Every batch ends with a commit entry, so a batch of n events takes n + 1 indexes.
        #expect(receipts.map(\.index) == (0..<5).flatMap { batch in
            let start = (0..<batch).reduce(0) { $0 + $1 * 3 + 2 }
            return (0..<(batch * 3 + 1)).map { Int64(start + $0) }
        })
        let size = await ledger.size
        #expect(size == Int64(receipts.count + 5))
        let note = await ledger.checkpointNote
        let verifier = LogVerifier(key: ledger.verifier)
        #expect(verifier.suite == suite)
        #expect(try verifier.checkpoint(note).size == size)
        for receipt in receipts {
            let proof = try await ledger.inclusionProof(index: receipt.index)
            #expect(proof.leafHash == receipt.leafHash)
            let (entry, _) = try await ledger.entry(at: receipt.index)
            try verifier.verify(proof, checkpoint: note, leafData: entry.header)
        }
        for old in 1...size {
            let proof = try await ledger.consistencyProof(oldSize: old)
            try verifier.verify(proof, checkpoint: note)
        }
        // Every batch's checkpoint was stored and is consistent with the latest.
        var batchEnd: Int64 = 0
        for batch in 0..<5 {
            batchEnd += Int64(batch * 3 + 2)
            let old = try #require(try await ledger.store.checkpoint(size: batchEnd))
            let proof = try await ledger.consistencyProof(oldSize: batchEnd)
            try verifier.verify(proof, checkpoint: note, oldCheckpoint: old)
        }
    }

    @Test func entriesFormAHashChainWithMonotonicTime() async throws {
        let dir = TempDirectory()
        let clock = TestClock()
        let ledger = try await makeLedger(dir, clock: clock)
        _ = try await ledger.append([try event(1), try event(2)])
        clock.set(1_795_435_100_000)  // the wall clock steps back 100 s
        _ = try await ledger.append([try event(3)])
        clock.set(1_795_435_300_000)
        _ = try await ledger.append([try event(4)])
        var previous = Hash.zero
        var lastTime: Milliseconds = 0
        var batchTime: Milliseconds?
        let hasher = Digest(.sha256)
        #expect(await ledger.size == 7)  // e1 e2 commit, e3 commit, e4 commit
        for i in Int64(0)..<7 {
            let (entry, header) = try await ledger.entry(at: i)
            #expect(header.previousLeafHash == previous)
            #expect(hasher.leafHash(entry.header) == entry.leafHash)
            if let batchTime {
                #expect(header.recordedAt == batchTime)  // one time per batch
            } else {
                #expect(header.recordedAt > lastTime)  // a new batch never reuses a time, even when the clock steps back
            }
            if case .commit = header { batchTime = nil } else { batchTime = header.recordedAt }
            previous = entry.leafHash
            lastTime = header.recordedAt
        }
        // The body is committed by its hash and opens the subject key.
        let (entry, header) = try await ledger.entry(at: 0)
        guard case .consent(let h) = header else { Issue.record("not a consent entry"); return }
        let body = try ConsentBody(decoding: try #require(entry.body))
        #expect(hasher.hash(try #require(entry.body)) == h.bodyHash)
        #expect(body.subject == "+8613800130001")
        #expect(Derivation.subjectKey(pepper: body.pepper, e164: body.subject, hasher: hasher) == h.subjectKey)
        #expect(body.evidence[.note] == "event 1")
    }

    @Test func reopeningRestoresTheTree() async throws {
        let dir = TempDirectory()
        let clock = TestClock()
        do {
            let ledger = try await makeLedger(dir, clock: clock)
            _ = try await ledger.append((0..<37).map { try event($0) })
        }
        let ledger = try await Ledger.open(directory: dir.directory, store: try SQLiteStore(directory: dir.directory), clock: clock.now)
        #expect(await ledger.size == 38)
        let more = try await ledger.append([try event(99)])
        #expect(more[0].index == 38)
        let (commit37, _) = try await ledger.entry(at: 37)
        let (_, header38) = try await ledger.entry(at: 38)
        #expect(header38.previousLeafHash == commit37.leafHash)
        let note = await ledger.checkpointNote
        try LogVerifier(key: ledger.verifier).verify(try await ledger.consistencyProof(oldSize: 38), checkpoint: note)
        #expect(try await ledger.checkIntegrity().ok)
    }

    @Test func clientKeysMakeAppendsIdempotent() async throws {
        let dir = TempDirectory()
        let ledger = try await makeLedger(dir)
        let first = try await ledger.append([try event(1, clientKey: "a"), try event(2, clientKey: "b")])
        // Re-sent keys (and a key repeated inside one batch) append nothing.
        let second = try await ledger.append([
            try event(1, clientKey: "a"), try event(3, clientKey: "c"), try event(3, clientKey: "c"), try event(5),
        ])
        #expect(second[0] == AppendReceipt(index: 0, leafHash: first[0].leafHash, recordedAt: first[0].recordedAt, duplicate: true))
        #expect(second[1].index == 3 && !second[1].duplicate)  // 0, 1: a, b; 2: commit
        #expect(second[2].index == 3 && second[2].duplicate)
        #expect(second[3].index == 4)
        #expect(await ledger.size == 6)
        // The same key from another sender is a different key.
        let other = try await ledger.append([try event(1, sender: "s2", clientKey: "a")])
        #expect(!other[0].duplicate)
        // A batch of only duplicates signs no checkpoint and changes nothing.
        let note = await ledger.checkpointNote
        let again = try await ledger.append([try event(1, clientKey: "a")])
        #expect(again[0].duplicate)
        #expect(await ledger.checkpointNote == note)
    }

    /// A client key re-used for a different event must not silently drop that event (a lost
    /// opt-out is a violation): the request fails, writes nothing, and other requests are unaffected.
    @Test func reusedClientKeyWithDifferentContentIsAConflict() async throws {
        let dir = TempDirectory()
        let ledger = try await makeLedger(dir)
        _ = try await ledger.append([try event(1, clientKey: "a")])
        await #expect(throws: LedgerError.self) {
            _ = try await ledger.append([try event(2, clientKey: "b"), try event(1, action: "revoke", clientKey: "a")])
        }
        #expect(await ledger.size == 2)  // event "b" of the failed request was not written either
        await #expect(throws: LedgerError.self) {
            _ = try await ledger.append([try event(3, clientKey: "c"), try event(4, clientKey: "c")])
        }
        #expect(await ledger.size == 2)
        // Concurrent requests: the conflicting one fails, the others commit.
        let results = await withTaskGroup(of: [AppendReceipt]?.self) { group in
            for n in 0..<20 {
                group.addTask { try? await ledger.append([try event(n == 7 ? 99 : 10 + n, clientKey: n == 7 ? "a" : "k\(n)")]) }
            }
            return await group.reduce(into: [[AppendReceipt]?]()) { $0.append($1) }
        }
        #expect(results.filter { $0 == nil }.count == 1)
        let appended = results.compactMap { $0?.first }.filter { !$0.duplicate }
        #expect(appended.count == 19)
        for receipt in appended {
            let (_, header) = try await ledger.entry(at: receipt.index)
            guard case .consent = header else { Issue.record("receipt \(receipt.index) is not an event"); continue }
        }
        let report = try await ledger.checkIntegrity()
        #expect(report.ok)
    }

    @Test func concurrentAppendsAreGroupCommitted() async throws {
        let dir = TempDirectory()
        let ledger = try await makeLedger(dir)
        let receipts = try await withThrowingTaskGroup(of: [AppendReceipt].self) { group in
            for task in 0..<200 { group.addTask { try await ledger.append([try event(task)]) } }
            var all: [AppendReceipt] = []
            for try await r in group { all += r }
            return all
        }
        #expect(Set(receipts.map(\.index)).count == 200)
        #expect(try await ledger.checkIntegrity().ok)
        // Fewer checkpoints than appends: appends that arrived during a commit shared the next one.
        // Fewer batches (commit entries, checkpoints) than appends.
        let size = await ledger.size
        #expect(size - 200 < 200)
        #expect(try await ledger.store.checkpoints(1...size).count == Int(size - 200))
        let note = await ledger.checkpointNote
        let verifier = LogVerifier(key: ledger.verifier)
        for r in receipts.prefix(20) { try verifier.verify(try await ledger.inclusionProof(index: r.index), checkpoint: note) }
    }

    @Test func oneWriterPerDirectory() async throws {
        let dir = TempDirectory()
        let ledger = try await makeLedger(dir)
        await #expect(throws: LedgerError.self) {
            _ = try await Ledger.open(directory: dir.directory, store: try SQLiteStore(directory: dir.directory))
        }
        // Readers are fine.
        let reader = try await Ledger.open(directory: dir.directory, store: try SQLiteStore(directory: dir.directory), writable: false)
        #expect(await reader.size == 0)
        _ = ledger
    }

    @Test func createRefusesAnExistingLedger() async throws {
        let dir = TempDirectory()
        _ = try await makeLedger(dir)
        await #expect(throws: (any Error).self) {
            _ = try await Ledger.create(directory: dir.directory, store: try SQLiteStore(directory: dir.directory), origin: "x", suite: .sha256Ed25519)
        }
        await #expect(throws: LedgerError.self) {
            let other = TempDirectory()
            _ = try await Ledger.create(directory: other.directory, store: try SQLiteStore(directory: other.directory), origin: "has space", suite: .sha256Ed25519)
        }
    }

    @Test func keysArePrivate() async throws {
        let dir = TempDirectory()
        _ = try await makeLedger(dir)
        for name in ["keys/checkpoint.pem", "keys/subject-secret"] {
            let attributes = try FileManager.default.attributesOfItem(atPath: dir.directory.path(name))
            #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        }
    }

    /// The node file is synced in the background: after an operating-system crash its tail may be
    /// lost or torn and the watermark behind. Opening for writing recomputes those nodes from the log.
    @Test(arguments: ["zeroed tail", "truncated", "no watermark", "torn watermark"])
    func lostStateMapNodesAreRecomputedAtOpen(_ damage: String) async throws {
        let dir = TempDirectory()
        let clock = TestClock()
        var answers: [ConsentAnswer] = []
        let questions = try (0..<12).map { n in
            ConsentQuestion(subject: try PhoneNumber(normalizing: "1380013" + String(format: "%04d", n)), sender: "s1", at: .max)
        }
        do {
            let ledger = try await makeLedger(dir, clock: clock)
            for b in 0..<6 {
                clock.set(1_795_435_200_000 + Int64(b) * 1000)
                _ = try await ledger.append((0..<8).map { try event(b * 5 + $0, action: ($0 + b) % 3 == 0 ? "revoke" : "grant") })
            }
            for q in questions { answers.append(try await ledger.answer(q)) }
        }
        let nodes = dir.directory.path(SQLiteStore.fileName) + ".map"
        let length = try FileManager.default.attributesOfItem(atPath: nodes)[.size] as! Int
        let record = MapNode.recordSize
        let kept = (length / record / 2) * record
        let handle = try #require(FileHandle(forUpdatingAtPath: nodes))
        let watermark = try #require(FileHandle(forUpdatingAtPath: nodes + ".synced"))
        switch damage {
        case "zeroed tail":
            try handle.seek(toOffset: UInt64(kept))
            try handle.write(contentsOf: Data(count: length - kept))
            try watermark.write(contentsOf: Self.watermarkRecord(kept / record + 1))
        case "truncated":
            try handle.truncate(atOffset: UInt64(kept))
            try watermark.write(contentsOf: Self.watermarkRecord(kept / record + 1))
        case "no watermark":
            try handle.truncate(atOffset: 0)
            try watermark.truncate(atOffset: 0)
        default:
            try handle.seek(toOffset: UInt64(kept))
            try handle.write(contentsOf: Data(repeating: 0xff, count: length - kept))
            try watermark.write(contentsOf: Data([9, 9, 9, 9]))
        }
        try handle.close()
        try watermark.close()

        // A reader does not repair; the writer does, and everything answers as before.
        let ledger = try await Ledger.open(directory: dir.directory, store: try SQLiteStore(directory: dir.directory), clock: clock.now)
        #expect(try await ledger.checkIntegrity().ok)
        for (q, expected) in zip(questions, answers) { #expect(try await ledger.answer(q) == expected) }
        _ = try await ledger.proveConsent(questions[0], includeBodies: true)
        _ = try await ledger.append([try event(3, action: "revoke")])
        #expect(try await ledger.checkIntegrity().ok)
        #expect(try FileManager.default.attributesOfItem(atPath: nodes)[.size] as! Int > length)
    }

    /// The node file's watermark record for `end` (little-endian, then its complement).
    static func watermarkRecord(_ end: Int) -> Data {
        let bytes = (0..<8).map { UInt8(truncatingIfNeeded: UInt64(end) >> (8 * $0)) }
        return Data(bytes + bytes.map { ~$0 })
    }

    @Test func tamperedStoreIsRefusedAtOpen() async throws {
        let dir = TempDirectory()
        do {
            let ledger = try await makeLedger(dir)
            _ = try await ledger.append((0..<5).map { try event($0) })
        }
        // Overwrite a stored leaf hash behind the ledger's back.
        let db = dir.directory.path(SQLiteStore.fileName)
        let status = try runProcess("/usr/bin/sqlite3", [db, "UPDATE entries SET hashes = zeroblob(length(hashes)) WHERE idx = 5"])
        #expect(status == 0)
        await #expect(throws: LedgerError.self) {
            _ = try await Ledger.open(directory: dir.directory, store: try SQLiteStore(directory: dir.directory), writable: false)
        }
    }
}

/// Runs a program and returns its exit status.
func runProcess(_ path: String, _ arguments: [String]) throws -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    try process.run()
    process.waitUntilExit()
    return process.terminationStatus
}
