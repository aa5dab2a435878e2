import ArgumentParser
import ConsentCore
import ConsentLedger
import Foundation

extension ConsentLedgerCommand {
    struct Heartbeat: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Append an empty batch (a commit entry) so the log bounds every time up to now, and print its checkpoint.",
            discussion: """
                A consent question is answered up to the log's latest commit. On a log that receives no events for a \
                while, run this periodically (a batch job, or every few seconds from the server) so that questions \
                about "now" can be proved.
                """)

        @OptionGroup var dataOptions: DataOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let ledger = try await dataOptions.open(writable: true)
            try await ledger.heartbeat()
            let note = await ledger.checkpointNote
            let time = await ledger.latestCommitTime.map(RFC3339.format) ?? ""
            if output.json {
                let checkpoint = try ledger.verifier.openCheckpoint(note)
                try printJSON(CheckpointOutput(origin: checkpoint.origin, size: checkpoint.size, root: checkpoint.rootHash, note: note))
            } else {
                printError("committed an empty batch at \(time)")
                print(note, terminator: "")
            }
        }
    }
}
