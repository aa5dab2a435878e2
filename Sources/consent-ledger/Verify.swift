import ArgumentParser
import ConsentCore
import ConsentVerifier
import Foundation

extension ConsentLedgerCommand {
    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify proofs offline, trusting only the log's verifier key (no data directory needed).",
            subcommands: [Inclusion.self, Consistency.self, Bundle.self])

        /// Options every verify subcommand takes.
        struct Inputs: ParsableArguments {
            @Argument(help: "The proof, as printed by `prove ... --json` (- for standard input).") var proof: String
            @Option(help: "The signed checkpoint note file the proof is checked against.") var checkpoint: String
            @Option(help: "The log's verifier key (name+keyid+base64), or a file holding it.") var key: String
            @OptionGroup var witnessOptions: WitnessPolicyOptions
            @OptionGroup var output: OutputOptions

            func validate() throws { try witnessOptions.validate() }

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
                let note = try readText(inputs.checkpoint)
                let checkpoint = try inputs.verifier().verify(proof, checkpoint: note, leafData: leafData)
                try inputs.witnessOptions.policy()?.check(note)
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
                let note = try readText(inputs.checkpoint)
                let checkpoint = try inputs.verifier().verify(proof, checkpoint: note, oldCheckpoint: try oldCheckpoint.map(readText))
                try inputs.witnessOptions.policy()?.check(note)
                try inputs.report("OK: \(checkpoint.origin) at size \(proof.oldSize) is a prefix of size \(checkpoint.size)")
            }
        }
    }
}

struct VerifyOutput: Encodable {
    var valid: Bool
    var result: String
}

extension ConsentLedgerCommand.Verify {
    struct Bundle: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify a consent proof bundle offline and print the decision it proves.")

        @Argument(help: "The bundle written by `query --proof` (- for standard input).") var file: String
        @Option(help: "The log's verifier key (name+keyid+base64), or a file holding it.") var key: String
        @OptionGroup var witnessOptions: WitnessPolicyOptions
        @OptionGroup var output: OutputOptions

        func validate() throws { try witnessOptions.validate() }

        func run() async throws {
            let bundle: ProofBundle
            do { bundle = try JSONDecoder().decode(ProofBundle.self, from: Data(try readText(file).utf8)) } catch let error as DecodingError {
                throw VerificationFailure("\(file) is not a proof bundle: \(error)")
            }
            let verified: VerifiedConsent
            var cosigned: [WitnessPolicy.Cosigned]?
            do {
                verified = try LogVerifier(verifierKey: readVerifierKey(key)).verify(bundle)
                cosigned = try witnessOptions.policy().map { try $0.check(bundle.checkpoint) }
            } catch {
                if output.json { try printJSON(VerifyOutput(valid: false, result: "\(error)")) }
                throw error
            }
            var view = VerifiedView(verified, bundle: bundle)
            view.cosignedBy = cosigned?.map(\.witness)
            if output.json { try printJSON(view) } else { print(view.text) }
        }
    }
}

/// What `verify bundle` prints.
struct VerifiedView: Encodable {
    var valid = true
    var decision: String
    var subject: String
    var sender: String
    var port: String?
    var purpose: String?
    var at: String
    var deciding: EventView?
    /// The time asked about, when the log could only prove the earlier `at` (its latest commit).
    var requestedAt: String?
    var checkpointSize: Int64
    var disclosedBodies: Int
    var evidence: [String: String]?
    /// Bodies purged under the retention policy: entry index → the purge entry and its time.
    var purgedBodies: [String: PurgedView]?
    /// With a witness policy: the witnesses whose cosignatures on the checkpoint verified.
    var cosignedBy: [String]?

    struct PurgedView: Encodable {
        var purgeEntry: Int64
        var purgedAt: String
    }

    init(_ v: VerifiedConsent, bundle: ProofBundle) {
        decision = v.decision.rawValue
        subject = bundle.question.subject
        sender = bundle.question.sender
        port = bundle.question.port
        purpose = bundle.question.purpose
        at = RFC3339.format(v.at)
        requestedAt = bundle.question.requestedAt
        deciding = v.deciding.map(EventView.init)
        checkpointSize = v.checkpoint.size
        disclosedBodies = v.bodies.count
        if let d = v.deciding, let body = v.bodies[d.index] {
            evidence = Dictionary(uniqueKeysWithValues: body.evidence.map { ($0.key.name, $0.value) })
        }
        if !v.purgedBodies.isEmpty {
            purgedBodies = Dictionary(
                uniqueKeysWithValues: v.purgedBodies.map { ("\($0.key)", PurgedView(purgeEntry: $0.value.purgeEntry, purgedAt: RFC3339.format($0.value.at))) })
        }
    }

    var text: String {
        var lines = ["OK: the bundle proves \(decision.uppercased()) for \(subject) and \(sender)\(port.map { " port \($0)" } ?? "")"
            + "\(purpose.map { " purpose \($0)" } ?? "") at \(at), in the log's checkpoint of size \(checkpointSize)"]
        if let requestedAt { lines.append("  (asked about \(requestedAt); the log's latest commit at the time of the proof was \(at))") }
        if let d = deciding {
            lines.append("  deciding event \(d.index): \(d.action) (\(d.scope)) via \(d.method), occurred \(d.occurredAt), recorded \(d.recordedAt)")
        }
        if let evidence {
            for (k, v) in evidence.sorted(by: { $0.key < $1.key }) { lines.append("  evidence \(k): \(v)") }
        }
        for (index, p) in (purgedBodies ?? [:]).sorted(by: { $0.key < $1.key }) {
            lines.append("  body of entry \(index) purged under the retention policy by purge entry \(p.purgeEntry) at \(p.purgedAt)")
        }
        if let cosignedBy { lines.append("  witness policy met: checkpoint cosigned by \(cosignedBy.joined(separator: ", "))") }
        return lines.joined(separator: "\n")
    }
}
