import ArgumentParser
import ConsentLedger
import ConsentStoreSQLite
import Foundation

extension ConsentLedgerCommand {
    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the log as C2SP tlog-tiles, entry bundles, bodies and every signed checkpoint into a directory.",
            discussion: """
                The layout is docs/FORMAT.md §13: tile/<L>/<N>[.p/<W>] (hash tiles), tile/entries/<N>[.p/<W>] (entry \
                headers), bodies/<N>[.p/<W>] (bodies, or which purge took them), checkpoint, checkpoints, manifest.json. \
                Re-running on an existing export adds only what is new (and removes bodies purged since). \
                `consent-ledger audit --export DIR --key VKEY` checks it.
                """)

        @OptionGroup var dataOptions: DataOptions
        @Option(name: .long, help: ArgumentHelp("The export directory (created if missing).", valueName: "DIR"))
        var out: String
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let directory = dataOptions.directory
            guard FileManager.default.fileExists(atPath: directory.path(SQLiteStore.fileName)) else {
                throw LedgerError.invalidDirectory("no ledger in \(dataOptions.data)")
            }
            let store = try SQLiteStore(directory: directory)
            let showProgress = !output.json && isatty(STDERR_FILENO) == 1
            let summary = try await LogExport.export(store: store, to: out) { done, total in
                if showProgress { FileHandle.standardError.write(Data("\rexported \(done)/\(total) entries".utf8)) }
            }
            if showProgress { printError("") }
            if output.json {
                try printJSON(summary)
            } else {
                let added = summary.size - summary.previousSize
                print(
                    "exported \(summary.origin) to \(summary.out): size \(summary.size) (\(added) new entries), "
                        + "\(summary.entryBundles) entry bundles, \(summary.hashTiles) hash tiles, \(summary.bodyFiles) body files, "
                        + "\(summary.checkpointsAdded) new signed checkpoints"
                        + (summary.bodyFilesPurged > 0 ? ", \(summary.bodyFilesPurged) body files emptied by new purges" : ""))
            }
        }
    }
}
