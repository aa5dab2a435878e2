import ConsentCore
import ConsentLedger
import ConsentStoreSQLite
import ConsentVerifier
import Foundation

/// `ledger-bench audit [entries]`: a log of batches of 10,000 events (about two per subject),
/// exported, then audited from the data directory and from the export, with and without the
/// state map. Compare with the machine's raw hash rate (`openssl speed -evp sha256`).
///
/// For profiling: `LEDGER_BENCH_AUDIT_DIR=DIR` keeps the log in DIR (and DIR.export) and reuses it
/// on the next run (no fill, no export); `LEDGER_BENCH_AUDIT_RUNS=data,export,data-map,export-map`
/// picks which audits run (default: all four).
enum AuditBench {
    static func run(target: Int) async throws {
        let environment = ProcessInfo.processInfo.environment
        let kept = environment["LEDGER_BENCH_AUDIT_DIR"]
        let runs = Set((environment["LEDGER_BENCH_AUDIT_RUNS"] ?? "data,export,data-map,export-map").split(separator: ",").map(String.init))
        let path = kept ?? FileManager.default.temporaryDirectory.appendingPathComponent("consent-ledger-bench-audit-\(getpid())").path
        let reuse = kept != nil && FileManager.default.fileExists(atPath: path + ".export/manifest.json")
        defer {
            if kept == nil {
                try? FileManager.default.removeItem(atPath: path)
                try? FileManager.default.removeItem(atPath: path + ".export")
            }
        }
        let directory = DataDirectory(path)
        let store = try SQLiteStore(directory: directory)
        if !reuse {
            _ = try await Ledger.create(directory: directory, store: store, origin: "bench.example/audit", suite: .sha256Ed25519)
        }
        let ledger = try await Ledger.open(directory: directory, store: store)
        print("audit benchmark: \(target) events, data in \(path)")
        let validator = EventValidator()
        let now = await ledger.now
        let subjects = max(target / 2, 1)
        var filled = reuse ? target : 0
        let fill = try await seconds {
            while filled < target {
                let n = min(10_000, target - filled)
                let events = try (filled..<filled + n).map { i in
                    try validator.validate(
                        EventInput(
                            sender: "91440300MA5F\(String(format: "%06d", i % 1000))",
                            subject: "13\(String(format: "%09d", (i &* 2_654_435_761) % subjects))",
                            action: i % 3 == 0 ? "revoke" : "grant", method: "web-form", evidence: ["ip": "203.0.113.\(i % 250)"],
                            clientKey: "k\(i)"),
                        now: now)
                }
                _ = try await ledger.append(events)
                filled += n
            }
        }
        let size = await ledger.size
        print("filled: \(size) entries in \(String(format: "%.1f", fill)) s")
        if !reuse {
            var summary: ExportSummary?
            let exportTime = try await seconds { summary = try await LogExport.export(store: store, to: path + ".export") }
            print("export: \(rate(Int(size), exportTime)) (\(summary!.entryBundles) bundles)")
        }
        LogAudit.tuneAllocatorForReplay()
        for map in [false, true] {
            var options = AuditOptions(recomputeMap: map)
            options.askForHugePages()
            var report = AuditReport()
            var fromData = "-"
            var fromExport = "-"
            if runs.contains(map ? "data-map" : "data") {
                let time = try await seconds {
                    report = try await LogAudit(verifier: ledger.verifier, options: options).run(source: try await StoreAuditSource(store: store)).0
                }
                precondition(report.ok, report.problem ?? "")
                fromData = rate(Int(size), time)
            }
            if runs.contains(map ? "export-map" : "export") {
                let time = try await seconds {
                    report = try await LogAudit(verifier: ledger.verifier, options: options).run(source: try ExportSource(path: path + ".export")).0
                }
                precondition(report.ok, report.problem ?? "")
                fromExport = rate(Int(size), time)
            }
            print(
                "audit \(map ? "with the state map   " : "without the state map"): data directory \(fromData), "
                    + "export \(fromExport)")
        }
    }
}
