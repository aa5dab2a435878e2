import ArgumentParser
import ConsentCore
import ConsentLedger
import ConsentStoreSQLite
import Foundation

@main
struct ConsentLedgerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consent-ledger",
        abstract: "An append-only, verifiable ledger of SMS marketing consent (opt-in and opt-out).",
        discussion: """
            Every opt-in and opt-out is an entry in an RFC 9162 Merkle log, hash-chained to its predecessor,
            with C2SP signed checkpoints. Start with `consent-ledger demo`.
            """,
        version: "0.1.0",
        subcommands: [
            Init.self, Record.self, Import.self, CheckpointCommand.self, Key.self, Prove.self, EntryCommand.self,
            Query.self, History.self, CheckSends.self, Heartbeat.self, Verify.self, Check.self, Export.self, Audit.self, Compact.self, Hold.self, RetentionCommand.self, Report.self,
            Serve.self, TokenCommand.self, PortCommand.self, WitnessCommand.self, Demo.self,
        ]
    )
}

/// `--data DIR`, shared by every command that works on a ledger.
struct DataOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The ledger's data directory.", valueName: "DIR"))
    var data: String

    var directory: DataDirectory { DataDirectory(data) }

    /// Opens the ledger; `writable` takes the directory's writer lock.
    func open(writable: Bool) async throws -> Ledger {
        guard FileManager.default.fileExists(atPath: directory.path(SQLiteStore.fileName)) else {
            throw LedgerError.invalidDirectory("no ledger in \(data) (create one with `consent-ledger init --data \(data)`)")
        }
        let store = try SQLiteStore(directory: directory)
        return try await Ledger.open(directory: directory, store: store, writable: writable)
    }
}

/// `--json`, for commands that print data.
struct OutputOptions: ParsableArguments {
    @Flag(name: .long, help: "Print machine-readable JSON.")
    var json = false
}

/// Prints a value as one line of JSON with sorted keys.
func printJSON(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

/// Writes a line to standard error.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Reads a whole file as UTF-8 text ("-" is standard input).
func readText(_ path: String) throws -> String {
    if path == "-" { return String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self) }
    guard let data = FileManager.default.contents(atPath: path) else { throw LedgerError.io("cannot read \(path)") }
    guard let text = String(data: data, encoding: .utf8) else { throw LedgerError.io("\(path) is not UTF-8 text") }
    return text
}

/// Reads a verifier key given inline or as a file path.
func readVerifierKey(_ value: String) throws -> String {
    if FileManager.default.fileExists(atPath: value) { return try readText(value).trimmingCharacters(in: .whitespacesAndNewlines) }
    return value
}

/// The value of an optional RFC 3339 time option (`--at`, `--now`); nil when it was not given.
func parseTime(_ text: String?, option: String) throws -> Milliseconds? {
    guard let text else { return nil }
    guard let time = RFC3339.parse(text) else { throw ValidationError("\(option): \"\(text)\" is not an RFC 3339 time") }
    return time
}

/// A retention policy from its ISO 8601 period options (`init --retention`, `retention --set`).
func parseRetention(minimum: String, option: String, purgeAfter: String?) throws -> RetentionPolicy {
    func period(_ text: String, _ option: String) throws -> RetentionPeriod {
        guard let period = RetentionPeriod(iso8601: text) else {
            throw ValidationError("\(option): \"\(text)\" is not an ISO 8601 period such as P5M, P6M, P1Y6M or P200D")
        }
        return period
    }
    let minimum = try period(minimum, option)
    let after = try purgeAfter.map { try period($0, "--purge-after") }
    do { return try RetentionPolicy(minimum: minimum, purgeAfter: after) } catch { throw ValidationError(error.description) }
}
