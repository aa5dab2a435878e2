// Benchmarks for the ledger foundation. Prints numbers; asserts nothing. Run with tools/bench.sh
// (release build). Arguments: [entries] (default 1,000,000) [suite] (sha256-ed25519 | sm3-sm2).
import ConsentCore
import ConsentCrypto
import ConsentLedger
import ConsentStoreSQLite
import ConsentVerifier
import Foundation

func seconds(_ body: () async throws -> Void) async rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try await body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

func rate(_ count: Int, _ secs: Double) -> String {
    let r = Double(count) / secs
    return r >= 1000 ? String(format: "%.0f/s (%.1fk/s)", r, r / 1000) : String(format: "%.1f/s", r)
}

func directorySize(_ path: String) -> Int {
    let fm = FileManager.default
    var total = 0
    for name in (try? fm.contentsOfDirectory(atPath: path)) ?? [] where name.hasPrefix("ledger.sqlite") {
        total += ((try? fm.attributesOfItem(atPath: path + "/" + name)[.size]) as? NSNumber)?.intValue ?? 0
    }
    return total
}

@main
enum Bench {
    static func main() async throws {
        // Off the main actor, as a server's request handlers are: main-actor hops cost tens of µs each.
        try await Task.detached { try await run() }.value
    }

    static func run() async throws {
        let arguments = CommandLine.arguments
        let target = arguments.count > 1 ? Int(arguments[1])! : 1_000_000
        let suite = arguments.count > 2 ? Suite(rawValue: arguments[2])! : .sha256Ed25519
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("consent-ledger-bench-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let directory = DataDirectory(path)
        let store = try SQLiteStore(directory: directory)
        _ = try await Ledger.create(directory: directory, store: store, origin: "bench.example/log", suite: suite)
        let ledger = try await Ledger.open(directory: directory, store: store)
        print("consent-ledger benchmark: \(target) entries, suite \(suite.rawValue), data in \(path)")

        // A pool of validated events (validation is measured on its own).
        let validator = EventValidator()
        let now = await ledger.now
        let inputs = (0..<10_000).map { i in
            EventInput(
                sender: "91440300MA5F\(String(format: "%06d", i % 1000))", subject: "13\(String(format: "%09d", i * 7919 % 1_000_000_000))",
                action: i % 5 == 0 ? "revoke" : "grant", port: i % 3 == 0 ? "10690001" : nil, method: "web-form",
                templateHash: i % 5 == 0 ? nil : String(repeating: "ab", count: 32),
                evidence: ["ip": "203.0.113.\(i % 250)", "url": "https://shop.example/consent/form"], clientKey: nil)
        }
        let validationStart = DispatchTime.now().uptimeNanoseconds
        let pool: [ValidatedEvent] = try inputs.map { try validator.validate($0, now: now) }
        let validation = Double(DispatchTime.now().uptimeNanoseconds - validationStart) / 1e9
        print("validate + normalise events:                    \(rate(inputs.count, validation))")

        /// `count` events from the pool starting at `offset` (cycling).
        func batch(_ count: Int, from offset: Int, of events: [ValidatedEvent]) -> [ValidatedEvent] {
            (0..<count).map { events[(offset + $0) % events.count] }
        }

        // Fill to the target size with batches of 10,000.
        var filled = 0
        let fill = try await seconds {
            while filled < target {
                let n = min(10_000, target - filled)
                _ = try await ledger.append(batch(n, from: filled, of: pool))
                filled += n
            }
        }
        print("fill to \(target) in batches of 10,000:         \(rate(target, fill)) durable appends")

        for (batchSize, batches) in [(1, 300), (100, 100), (10_000, 10)] {
            let secs = try await seconds {
                for b in 0..<batches { _ = try await ledger.append(batch(batchSize, from: b * batchSize, of: pool)) }
            }
            print(String(format: "durable appends, batches of %-6d at %dk:     ", batchSize, target / 1000) + rate(batchSize * batches, secs))
        }
        // Many concurrent single-event clients: group commit shares each fsync.
        let clients = 256
        let perClient = 40
        let events = pool
        let concurrent = try await seconds {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for c in 0..<clients {
                    group.addTask { for i in 0..<perClient { _ = try await ledger.append(batch(1, from: c * perClient + i, of: events)) } }
                }
                try await group.waitForAll()
            }
        }
        print("durable appends, \(clients) concurrent clients of 1:  \(rate(clients * perClient, concurrent)) (group commit)")

        let size = await ledger.size
        let note = await ledger.checkpointNote
        let verifier = LogVerifier(key: ledger.verifier)
        var proofs: [InclusionProof] = []
        let proveCount = 20_000
        let proving = try await seconds {
            for i in 0..<proveCount { proofs.append(try await ledger.inclusionProof(index: Int64(i * 7919) % size)) }
        }
        print("inclusion proofs generated at \(size):         \(rate(proveCount, proving)) (\(proofs[0].proof.count) hashes each)")
        let verifying = try await seconds { for p in proofs { try verifier.verify(p, checkpoint: note) } }
        print("inclusion proofs verified (incl. checkpoint sig):  \(rate(proveCount, verifying))")
        let hasher = Digest(suite: suite)
        let checkpoint = try verifier.checkpoint(note)
        let merkleOnly = try await seconds {
            for p in proofs {
                try Merkle.verifyInclusion(index: p.index, size: p.size, leafHash: p.leafHash, proof: p.proof, root: checkpoint.rootHash, hasher: hasher)
            }
        }
        print("inclusion proofs verified (Merkle path only):      \(rate(proveCount, merkleOnly))")
        let consistencyCount = 5_000
        let consistency = try await seconds {
            for i in 0..<consistencyCount { _ = try await ledger.consistencyProof(oldSize: 1 + Int64(i * 104_729) % size) }
        }
        print("consistency proofs generated:                      \(rate(consistencyCount, consistency))")
        let check = try await seconds { _ = try await ledger.checkIntegrity() }
        print("full replay check (consent-ledger check):          \(rate(Int(size), check))")

        // Bytes on disk: checkpoint the WAL into the database first.
        _ = try runSQLite(path + "/" + SQLiteStore.fileName, "PRAGMA wal_checkpoint(TRUNCATE);")
        let bytes = directorySize(path)
        print(String(format: "bytes on disk per entry:                           %.0f (%.1f MiB for %d entries, bodies included)", Double(bytes) / Double(size), Double(bytes) / 1_048_576, size))
    }
}

func runSQLite(_ db: String, _ sql: String) throws -> Int32 {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
    p.arguments = [db, sql]
    p.standardOutput = FileHandle.nullDevice
    try p.run()
    p.waitUntilExit()
    return p.terminationStatus
}
