import ArgumentParser
import ConsentLedger
import ConsentVerifier
import Foundation

extension ConsentLedgerCommand {
    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replay the stored log and check every entry, hash, body hash and signed checkpoint.",
            discussion: "Exits 0 when everything holds; otherwise names the first bad entry and exits 1.")

        @OptionGroup var dataOptions: DataOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let ledger = try await dataOptions.open(writable: false)
            LogAudit.tuneAllocatorForReplay()
            let showProgress = !output.json && isatty(STDERR_FILENO) == 1
            let report = try await ledger.checkIntegrity { done, total in
                if showProgress { FileHandle.standardError.write(Data("\rchecked \(done)/\(total) entries".utf8)) }
            }
            if showProgress { printError("") }
            if output.json {
                try printJSON(report)
            } else if let problem = report.problem {
                print("FAILED after \(report.entries) entries: \(problem)")
            } else {
                print(
                    "OK: \(report.entries) entries (\(report.events) events, \(report.stateRoots) batches with their state roots), "
                        + "\(report.bodies) bodies, \(report.checkpoints) signed checkpoints verified")
            }
            if !report.ok { throw ExitCode(1) }
        }
    }
}
