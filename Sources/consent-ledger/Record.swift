import ArgumentParser
import ConsentCore
import ConsentLedger
import Foundation

extension ConsentLedgerCommand {
    struct Record: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record one opt-in (grant) or opt-out (revoke), durably, and print its index and leaf hash.",
            discussion: """
                Sender ids are 1-64 of A-Z a-z 0-9 . _ - (an 18-character unified social credit code is one).
                A revoke with --scope global is a decline of every sender. Evidence keys: \
                \(EvidenceField.allCases.map(\.name).joined(separator: ", ")).
                Re-sending an event with the same --client-key appends nothing and prints the original index.
                """)

        @OptionGroup var dataOptions: DataOptions
        @Option(help: "Sender id.") var sender: String
        @Option(help: "The user's mobile number, in any common shape (+86 138 0013 8000, 008613800138000, ...).")
        var subject: String
        @Option(help: "grant or revoke.") var action: String
        @Option(help: "sender (default) or global (revocations only: decline every sender).") var scope: String?
        @Option(help: "Narrow the scope to one 106 port.") var port: String?
        @Option(help: "Narrow the scope to one purpose (marketing category).") var purpose: String?
        @Option(help: "How the user acted: \(ConsentMethod.allCases.map(\.name).joined(separator: ", ")).")
        var method: String?
        @Option(help: "Hash (64 hex digits) of the consent template the user agreed to (grants).")
        var templateHash: String?
        @Option(help: "When the user acted (RFC 3339, e.g. 2026-11-23T20:00:00+08:00). Default: now.")
        var occurredAt: String?
        @Option(parsing: .singleValue, help: ArgumentHelp("Evidence, repeatable.", valueName: "key=value"))
        var evidence: [String] = []
        @Option(help: "Idempotency key, unique per sender.") var clientKey: String?
        @OptionGroup var output: OutputOptions

        func run() async throws {
            var fields: [String: String] = [:]
            for item in evidence {
                guard let eq = item.firstIndex(of: "=") else { throw ValidationError("--evidence takes key=value, got \"\(item)\"") }
                fields[String(item[..<eq])] = String(item[item.index(after: eq)...])
            }
            let input = EventInput(
                sender: sender, subject: subject, action: action, scope: scope, port: port, purpose: purpose, method: method,
                templateHash: templateHash, occurredAt: occurredAt, evidence: fields.isEmpty ? nil : fields, clientKey: clientKey)
            let ledger = try await dataOptions.open(writable: true)
            let event = try EventValidator().validate(input, now: await ledger.now)
            let receipt = try await ledger.append([event])[0]
            if output.json {
                try printJSON(RecordOutput(receipt))
            } else {
                let what = receipt.duplicate ? "Already recorded (same client key)" : "Recorded"
                print("\(what): index \(receipt.index), leaf hash \(receipt.leafHash.hex)")
            }
        }
    }
}

/// The JSON printed for a recorded event.
struct RecordOutput: Encodable {
    var index: Int64
    var leafHash: Hash
    var recordedAt: String?
    var duplicate: Bool

    init(_ receipt: AppendReceipt) {
        index = receipt.index
        leafHash = receipt.leafHash
        recordedAt = receipt.duplicate ? nil : RFC3339.format(receipt.recordedAt)
        duplicate = receipt.duplicate
    }
}
