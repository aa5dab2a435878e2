import ArgumentParser
import ConsentCore
import ConsentVerifier
import Foundation

extension ConsentLedgerCommand {
    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify proofs offline, trusting only the log's verifier key (no data directory needed).",
            subcommands: [Inclusion.self, Consistency.self])

        /// Options every verify subcommand takes.
        struct Inputs: ParsableArguments {
            @Argument(help: "The proof, as printed by `prove ... --json` (- for standard input).") var proof: String
            @Option(help: "The signed checkpoint note file the proof is checked against.") var checkpoint: String
            @Option(help: "The log's verifier key (name+keyid+base64), or a file holding it.") var key: String
            @OptionGroup var output: OutputOptions

            func verifier() throws -> LogVerifier { try LogVerifier(verifierKey: readVerifierKey(key)) }

            func decode<T: Decodable>(_ type: T.Type) throws -> T {
                do { return try JSONDecoder().decode(type, from: Data(try readText(proof).utf8)) } catch let error as DecodingError {
                    throw VerificationFailure("\(proof) is not a proof of this kind: \(error)")
                }
            }

            func report(_ message: String) throws {
                if output.json { try printJSON(VerifyOutput(valid: true, result: message)) } else { print(message) }
            }
        }

        struct Inclusion: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Verify an inclusion proof against a signed checkpoint.")
            @OptionGroup var inputs: Inputs
            @Option(help: "A file holding the entry's encoded header in base64 (as `entry --json` prints it), to check its leaf hash.")
            var entry: String?

            func run() async throws {
                let proof = try inputs.decode(InclusionProof.self)
                var leafData: [UInt8]?
                if let entry {
                    guard let bytes = Base64.decode(try readText(entry).trimmingCharacters(in: .whitespacesAndNewlines)) else {
                        throw VerificationFailure("\(entry) is not base64")
                    }
                    leafData = bytes
                }
                let checkpoint = try inputs.verifier().verify(proof, checkpoint: try readText(inputs.checkpoint), leafData: leafData)
                try inputs.report("OK: entry \(proof.index) is in \(checkpoint.origin) at size \(checkpoint.size)")
            }
        }

        struct Consistency: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Verify a consistency proof against a signed checkpoint.")
            @OptionGroup var inputs: Inputs
            @Option(help: "An older signed checkpoint note file whose tree must be the proof's old tree.")
            var oldCheckpoint: String?

            func run() async throws {
                let proof = try inputs.decode(ConsistencyProof.self)
                let checkpoint = try inputs.verifier().verify(
                    proof, checkpoint: try readText(inputs.checkpoint), oldCheckpoint: try oldCheckpoint.map(readText))
                try inputs.report("OK: \(checkpoint.origin) at size \(proof.oldSize) is a prefix of size \(checkpoint.size)")
            }
        }
    }
}

struct VerifyOutput: Encodable {
    var valid: Bool
    var result: String
}
