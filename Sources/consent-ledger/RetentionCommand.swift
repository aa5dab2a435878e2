import ArgumentParser
import ConsentCore
import ConsentLedger
import ConsentStoreSQLite
import Foundation

extension ConsentLedgerCommand {
    struct RetentionCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "retention",
            abstract: "Report, per sender, the consent certificates (bodies) held, the earliest due purge, and the holds in force.")

        @OptionGroup var dataOptions: DataOptions
        @Option(help: "Report as of this RFC 3339 time (default: now).")
        var at: String?
        @Option(help: "Change the retention minimum (ISO 8601 period; only upwards: at least as long from every start date).")
        var set: String?
        @Option(help: "With --set: when compaction purges (ISO 8601 period, at least the minimum; default: the minimum).")
        var purgeAfter: String?
        @OptionGroup var output: OutputOptions

        func run() async throws {
            if let set {
                let policy = try parseRetention(minimum: set, option: "--set", purgeAfter: purgeAfter)
                try await Ledger.changeRetention(directory: dataOptions.directory, store: try SQLiteStore(directory: dataOptions.directory), to: policy)
                if !output.json { print("retention is now \(policy.minimum), purge after \(policy.purgeAfter)") }
            }
            let time = try parseTime(at, option: "--at")
            let ledger = try await dataOptions.open(writable: false)
            let report = try await ledger.retentionReport(now: time)
            if output.json {
                try printJSON(report)
                return
            }
            print("Retention \(report.retention), purge after \(report.purgeAfter), as of \(report.at)")
            for s in report.senders {
                print("\(s.sender): \(s.certificates) certificates (\(s.current) current grants, \(s.held) held, \(s.dueNow) due now), "
                    + "\(s.purged) purged; earliest due purge: \(s.earliestDue ?? "none")")
            }
            print(report.holds.isEmpty ? "no holds in force" : "holds in force: \(report.holds.map { "entry \($0.index) [\($0.reference)]" }.joined(separator: ", "))")
        }
    }
}
