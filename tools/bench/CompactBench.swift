import ConsentCore
import ConsentLedger
import ConsentStoreSQLite
import Foundation
import Synchronization

/// `ledger-bench compact [entries]`: a log where half the events are revocations recorded more
/// than five months before the run and half are grants that are still current; times one
/// compaction and reports the disk space it reclaimed.
enum CompactBench {
    static func run(target: Int) async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("consent-ledger-bench-compact-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let directory = DataDirectory(path)
        let store = try SQLiteStore(directory: directory)
        let start: Milliseconds = 1_790_000_000_000
        let time = Mutex(start)
        let clock: @Sendable () -> Milliseconds = { time.withLock { $0 } }
        _ = try await Ledger.create(directory: directory, store: store, origin: "bench.example/compact", suite: .sha256Ed25519, clock: clock)
        let ledger = try await Ledger.open(directory: directory, store: store, clock: clock)
        print("compaction benchmark: \(target) events (half expired revocations, half current grants), data in \(path)")
        let validator = EventValidator()
        var filled = 0
        while filled < target {
            let n = min(10_000, target - filled)
            let events = try (filled..<filled + n).map { i in
                try validator.validate(
                    EventInput(
                        sender: "91440300MA5F\(String(format: "%06d", i % 1000))", subject: "13\(String(format: "%09d", i))",
                        action: i % 2 == 0 ? "revoke" : "grant", method: "web-form",
                        evidence: ["ip": "203.0.113.\(i % 250)", "url": "https://shop.example/consent/form"], clientKey: nil),
                    now: start)
            }
            _ = try await ledger.append(events)
            time.withLock { $0 += 1000 }
            filled += n
        }
        let bytes = { (try? await store.databaseBytes()) ?? 0 }
        let before = await bytes()
        let now = RetentionPeriod(months: 6, days: 0).added(to: time.withLock { $0 })
        let began = DispatchTime.now().uptimeNanoseconds
        let report = try await ledger.compact(now: now)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - began) / 1e9
        let after = await bytes()
        print(String(format: "compaction of %d entries: %.1f s (%.0f entries/s); examined %d bodies, purged %d in %d purge entries, kept %d",
            await ledger.size, seconds, Double(await ledger.size) / seconds, report.examined, report.purged, report.purgeEntries.count, report.kept))
        print(String(format: "database before %.1f MiB, after %.1f MiB: %.1f MiB reclaimed (%.0f bytes per purged body)",
            Double(before) / 1_048_576, Double(after) / 1_048_576, Double(before - after) / 1_048_576,
            Double(before - after) / Double(max(report.purged, 1))))
        let vacuumStart = DispatchTime.now().uptimeNanoseconds
        try await store.reclaimSpace(rebuild: true)
        let vacuumed = await bytes()
        print(String(format: "then VACUUM (compact --vacuum): %.1f s, database %.1f MiB: %.1f MiB reclaimed in all (%.0f bytes per purged body)",
            Double(DispatchTime.now().uptimeNanoseconds - vacuumStart) / 1e9, Double(vacuumed) / 1_048_576,
            Double(before - vacuumed) / 1_048_576, Double(before - vacuumed) / Double(max(report.purged, 1))))
        let check = try await ledger.checkIntegrity()
        print("check after compaction: \(check.ok ? "OK" : check.problem!) (\(check.purges) purge entries lawful)")
    }
}
