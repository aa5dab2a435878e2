// Benchmarks for the ledger foundation. Prints numbers; asserts nothing. Run with tools/bench.sh
// (release build). Arguments: [entries] (default 1,000,000) [suite] (sha256-ed25519 | sm3-sm2),
// or `compact [entries]` for the compaction benchmark (CompactBench.swift), or `audit [entries]` for
// the full audit's rates with and without the state map (AuditBench.swift), or `gate [entries]` for the
// send gate in process (GateBench.swift).
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
        if arguments.count > 1, arguments[1] == "compact" {
            return try await CompactBench.run(target: arguments.count > 2 ? Int(arguments[2])! : 1_000_000)
        }
        if arguments.count > 1, arguments[1] == "gate" {
            return try await GateBench.run(target: arguments.count > 2 ? Int(arguments[2])! : 1_000_000)
        }
        if arguments.count > 1, arguments[1] == "audit" {
            return try await AuditBench.run(target: arguments.count > 2 ? Int(arguments[2])! : 1_000_000)
        }
        let target = arguments.count > 1 ? Int(arguments[1])! : 1_000_000
        let suite = arguments.count > 2 ? Suite(rawValue: arguments[2])! : .sha256Ed25519
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("consent-ledger-bench-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let directory = DataDirectory(path)
        let store = try SQLiteStore(directory: directory)
        _ = try await Ledger.create(directory: directory, store: store, origin: "bench.example/log", suite: suite)
        let ledger = try await Ledger.open(directory: directory, store: store)
        print("consent-ledger benchmark: \(target) entries, suite \(suite.rawValue), data in \(path)")

        // Events over target/2 distinct subjects (about two events per subject, as a log that has run a
        // while), spread over senders, ports and purposes, so the state map holds ~target keys.
        let validator = EventValidator()
        let now = await ledger.now
        let subjects = max(target / 2, 1)
        func input(_ i: Int) -> EventInput {
            let s = (i &* 2_654_435_761) % subjects
            return EventInput(
                sender: "91440300MA5F\(String(format: "%06d", s % 1000))", subject: "13\(String(format: "%09d", s))",
                action: i % 5 == 0 ? "revoke" : "grant", port: i % 3 == 0 ? "10690001" : nil, purpose: i % 7 == 0 ? "promo" : nil,
                method: "web-form", templateHash: i % 5 == 0 ? nil : String(repeating: "ab", count: 32),
                evidence: ["ip": "203.0.113.\(i % 250)", "url": "https://shop.example/consent/form"], clientKey: nil)
        }
        let validationStart = DispatchTime.now().uptimeNanoseconds
        for i in 0..<20_000 { _ = try validator.validate(input(i), now: now) }
        let validation = Double(DispatchTime.now().uptimeNanoseconds - validationStart) / 1e9
        print("validate + normalise events:                    \(rate(20_000, validation))")

        /// `count` validated events starting at event number `offset`.
        func batch(_ count: Int, from offset: Int) throws -> [ValidatedEvent] {
            try (offset..<offset + count).map { try validator.validate(input($0), now: now) }
        }

        // Fill to the target size with batches of 10,000.
        var filled = 0
        var fill = 0.0
        while filled < target {
            let n = min(10_000, target - filled)
            let events = try batch(n, from: filled)
            fill += try await seconds { _ = try await ledger.append(events) }
            filled += n
        }
        print("fill to \(target) in batches of 10,000:         \(rate(target, fill)) durable appends")

        var next = target
        for (batchSize, batches) in [(1, 300), (100, 100), (10_000, 10)] {
            let all = try (0..<batches).map { b in try batch(batchSize, from: next + b * batchSize) }
            next += batchSize * batches
            let secs = try await seconds {
                for events in all { _ = try await ledger.append(events) }
            }
            print(String(format: "durable appends, batches of %-6d at %dk:     ", batchSize, target / 1000) + rate(batchSize * batches, secs))
        }
        // Many concurrent single-event clients: group commit shares each fsync.
        let clients = 256
        let perClient = 40
        let clientEvents = try (0..<clients).map { c in try batch(perClient, from: next + c * perClient) }
        let concurrent = try await seconds {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for events in clientEvents {
                    group.addTask { for event in events { _ = try await ledger.append([event]) } }
                }
                try await group.waitForAll()
            }
        }
        print("durable appends, \(clients) concurrent clients of 1:  \(rate(clients * perClient, concurrent)) (group commit)")

        let size = await ledger.size
        let note = await ledger.checkpointNote

        // Consent questions: answers without proof, bundles, verification.
        let at = await ledger.latestCommitTime!
        let questions = try (0..<2000).map { i -> ConsentQuestion in
            let e = input(i * 7919 % target)
            return ConsentQuestion(
                subject: try PhoneNumber(normalizing: e.subject), sender: e.sender, port: i % 2 == 0 ? "10690001" : nil,
                purpose: i % 3 == 0 ? "promo" : nil, at: i % 4 == 0 ? at - 1 : at)
        }
        var latencies: [Double] = []
        var decided: [ConsentDecision: Int] = [:]
        for q in questions {
            var answer: ConsentAnswer?
            latencies.append(try await seconds { answer = try await ledger.answer(q) })
            decided[answer!.decision, default: 0] += 1
        }
        latencies.sort()
        print(String(format: "query without proof at %d: p50 %.3f ms, p99 %.3f ms", size, latencies[latencies.count / 2] * 1000,
            latencies[latencies.count * 99 / 100] * 1000) + " (\(decided.map { "\($0.key.rawValue) \($0.value)" }.sorted().joined(separator: ", ")))")
        var bundles: [ProofBundle] = []
        var bundleLatencies: [Double] = []
        let bundling = try await seconds {
            for q in questions.prefix(400) {
                var bundle: ProofBundle?
                bundleLatencies.append(try await seconds { bundle = try await ledger.proveConsent(q, includeBodies: true) })
                bundles.append(bundle!)
            }
        }
        bundleLatencies.sort()
        let encoder = JSONEncoder()
        let sizes = try bundles.map { try encoder.encode($0).count }.sorted()
        print(String(format: "proof bundles generated (self-verified): %@, p50 %.2f ms, p99 %.2f ms", rate(bundles.count, bundling),
            bundleLatencies[bundleLatencies.count / 2] * 1000, bundleLatencies[bundleLatencies.count * 99 / 100] * 1000))
        print("proof bundle size (JSON, bodies included): median \(sizes[sizes.count / 2]) bytes, max \(sizes.last!) bytes")
        let bundleVerifier = LogVerifier(key: ledger.verifier)
        let verifyingBundles = try await seconds { for b in bundles { _ = try bundleVerifier.verify(b) } }
        print("proof bundles verified offline:                    \(rate(bundles.count, verifyingBundles))")
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
        if ProcessInfo.processInfo.environment["BENCH_SKIP_CHECK"] == nil {
            let check = try await seconds { _ = try await ledger.checkIntegrity() }
            print("full replay check with state map (check):          \(rate(Int(size), check))")
        }

        // Bytes on disk: checkpoint the WAL into the database first.
        _ = try runSQLite(path + "/" + SQLiteStore.fileName, "PRAGMA wal_checkpoint(TRUNCATE);")
        let bytes = directorySize(path)
        print(String(format: "bytes on disk per entry:                           %.0f (%.1f MiB for %d entries, bodies included)", Double(bytes) / Double(size), Double(bytes) / 1_048_576, size))
        // Resident memory now, split into the process's own (anonymous) memory and mapped file pages
        // (the state-map node file; the kernel can drop those), and the peak of both together.
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        func kilobytes(_ field: String) -> Double {
            let line = status.split(separator: "\n").first { $0.hasPrefix(field + ":") } ?? ""
            return Double(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
        }
        print(String(format: "resident memory: %.0f MiB own + %.0f MiB mapped file pages (peak of both: %.0f MiB)",
            kilobytes("RssAnon") / 1024, kilobytes("RssFile") / 1024, kilobytes("VmHWM") / 1024))
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
