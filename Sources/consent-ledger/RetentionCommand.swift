import ArgumentParser
import ConsentCore
import ConsentLedger
import Foundation

extension ConsentLedgerCommand {
    struct RetentionCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "retention",
            abstract: "Report, per sender, the consent certificates (bodies) held, the earliest due purge, and the holds in force.")

        @OptionGroup var dataOptions: DataOptions
        @Option(help: "Report as of this RFC 3339 time (default: now).")
        var at: String?
        @OptionGroup var output: OutputOptions

        func run() async throws {
            var time: Milliseconds?
            if let at {
                guard let t = RFC3339.parse(at) else { throw ValidationError("--at: \"\(at)\" is not an RFC 3339 time") }
                time = t
            }
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
