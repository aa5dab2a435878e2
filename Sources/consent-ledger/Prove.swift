import ArgumentParser
import ConsentCore
import ConsentLedger
import Foundation

extension ConsentLedgerCommand {
    struct Prove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Produce RFC 9162 inclusion and consistency proofs.", subcommands: [Inclusion.self, Consistency.self])

        struct Inclusion: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Prove that entry INDEX is in the tree of SIZE entries (default: the latest checkpoint).")

            @OptionGroup var dataOptions: DataOptions
            @Option(help: "The entry index.") var index: Int64
            @Option(help: "The tree size (a signed checkpoint's size; default: the latest).") var size: Int64?
            @OptionGroup var output: OutputOptions

            func run() async throws {
                let ledger = try await dataOptions.open(writable: false)
                let proof = try await ledger.inclusionProof(index: index, size: size)
                if output.json {
                    try printJSON(proof)
                } else {
                    print("Entry \(proof.index) (leaf \(proof.leafHash.hex)) is in the tree of \(proof.size) entries, root \(proof.root.hex):")
                    for (i, h) in proof.proof.enumerated() { print("  \(i): \(h.hex)") }
                }
            }
        }

        struct Consistency: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Prove that the tree of OLD entries is a prefix of the tree of NEW entries (default: the latest).")

            @OptionGroup var dataOptions: DataOptions
            @Option(help: "The older tree size.") var old: Int64
            @Option(help: "The newer tree size (default: the latest).") var new: Int64?
            @OptionGroup var output: OutputOptions

            func run() async throws {
                let ledger = try await dataOptions.open(writable: false)
                let proof = try await ledger.consistencyProof(oldSize: old, newSize: new)
                if output.json {
                    try printJSON(proof)
                } else {
                    print("The tree of \(proof.oldSize) entries (root \(proof.oldRoot.hex)) is a prefix of the tree of \(proof.newSize) (root \(proof.newRoot.hex)):")
                    for (i, h) in proof.proof.enumerated() { print("  \(i): \(h.hex)") }
                }
            }
        }
    }
}
