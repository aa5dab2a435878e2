import ArgumentParser
import ConsentCore
import ConsentLedger
import Foundation

extension ConsentLedgerCommand {
    struct CheckpointCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "checkpoint",
            abstract: "Print the latest signed checkpoint (a C2SP tlog-checkpoint in a signed note), exactly as signed.")

        @OptionGroup var dataOptions: DataOptions
        @Option(help: "Print the checkpoint signed at this tree size instead of the latest.") var size: Int64?
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let ledger = try await dataOptions.open(writable: false)
            let note: String
            if let size {
                guard let stored = try await ledger.store.checkpoint(size: size) else {
                    throw LedgerError.notFound("no checkpoint was signed at size \(size)")
                }
                note = stored
            } else {
                note = await ledger.checkpointNote
            }
            if output.json {
                let checkpoint = try ledger.verifier.openCheckpoint(note)
                try printJSON(CheckpointOutput(origin: checkpoint.origin, size: checkpoint.size, root: checkpoint.rootHash, note: note))
            } else {
                print(note, terminator: "")
            }
        }
    }

    struct Key: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the log's verifier key (name+keyid+base64), the one thing a verifier needs to trust.")

        @OptionGroup var dataOptions: DataOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let ledger = try await dataOptions.open(writable: false)
            if output.json {
                try printJSON([
                    "verifierKey": ledger.verifier.encoded, "origin": ledger.parameters.origin, "suite": ledger.parameters.suite.rawValue,
                    "publicKeyPEM": try ledger.verifier.publicKey.pem(),
                ])
            } else {
                print(ledger.verifier.encoded)
            }
        }
    }
}

struct CheckpointOutput: Encodable {
    var origin: String
    var size: Int64
    var root: Hash
    var note: String
}
