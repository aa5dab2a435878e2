import ArgumentParser
import ConsentCore
import ConsentCrypto
import ConsentLedger
import ConsentStoreSQLite
import Foundation

extension ConsentLedgerCommand {
    struct Init: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a new ledger: data directory, signing key, subject secret, empty signed checkpoint.")

        @OptionGroup var dataOptions: DataOptions
        @Option(help: "The log's origin: its checkpoint and key name, e.g. sms.example.com/consent/2026. Default: a random local name.")
        var origin: String?
        @Option(help: "Hash and signature suite, fixed for the log's life: sha256-ed25519 or sm3-sm2.")
        var suite: String = Suite.sha256Ed25519.rawValue
        @Option(help: "How long bodies (consent certificates) are kept at least, as an ISO 8601 period: P5M (the legal minimum of five calendar months), P6M, P1Y6M, P200D.")
        var retention: String = "P5M"
        @Option(help: "When compaction purges a body, as an ISO 8601 period at least --retention. Default: as soon as allowed (the retention itself).")
        var purgeAfter: String?
        @OptionGroup var output: OutputOptions

        func validate() throws {
            guard Suite(rawValue: suite) != nil else { throw ValidationError("--suite must be sha256-ed25519 or sm3-sm2") }
            _ = try policy()
        }

        func policy() throws -> RetentionPolicy {
            try parseRetention(minimum: retention, option: "--retention", purgeAfter: purgeAfter)
        }

        func run() async throws {
            let suite = Suite(rawValue: suite)!
            let origin = try self.origin ?? "localhost/consent-ledger/\(Hex.encode(secureRandomBytes(4)))"
            let directory = dataOptions.directory
            let store = try SQLiteStore(directory: directory)
            let parameters = try await Ledger.create(
                directory: directory, store: store, origin: origin, suite: suite, retention: try policy())
            let ledger = try await Ledger.open(directory: directory, store: store, writable: false)
            if output.json {
                try printJSON(["data": dataOptions.data, "origin": parameters.origin, "suite": suite.rawValue, "verifierKey": ledger.verifier.encoded])
            } else {
                print("Created ledger \(parameters.origin) (\(suite.rawValue)) in \(dataOptions.data)")
                print("Verifier key: \(ledger.verifier.encoded)")
            }
        }
    }
}
