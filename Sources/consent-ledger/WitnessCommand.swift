import ArgumentParser
import ConsentCore
import ConsentCrypto
import ConsentLedger
import ConsentServer
import ConsentVerifier
import Foundation
import Logging

extension ConsentLedgerCommand {
    struct WitnessCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "witness",
            abstract: "Run a C2SP tlog-witness, or configure the witnesses a log submits its checkpoints to.",
            discussion: """
                A witness (init, key, add-log, logs, serve) has its own data directory WDIR: an Ed25519 key and the \
                latest checkpoint it cosigned per log. A log (add, remove, list, submit, checkpoint) keeps its witnesses \
                and their cosignatures in its data directory's service.sqlite; `serve` submits every new checkpoint. \
                Formats: docs/FORMAT.md, "Witnesses and cosignatures".
                """,
            subcommands: [
                WitnessInit.self, WitnessKey.self, WitnessAddLog.self, WitnessLogs.self, WitnessServe.self,
                WitnessAdd.self, WitnessRemove.self, WitnessList.self, WitnessSubmit.self, WitnessCheckpoint.self,
            ])
    }
}

/// `--data WDIR` of a witness.
struct WitnessDataOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The witness's data directory.", valueName: "WDIR"))
    var data: String

    var directory: WitnessDirectory { WitnessDirectory(data) }
}

private func nowSeconds() -> Int64 { Int64(Date().timeIntervalSince1970) }

// MARK: The witness

struct WitnessInit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init", abstract: "Create a witness: an Ed25519 key (mode 0600) and its state; prints its cosignature verifier key.")
    @OptionGroup var dataOptions: WitnessDataOptions
    @Option(help: "The witness name, a schema-less URL such as witness.example.com/w1.") var name: String

    func run() async throws {
        let signer = try dataOptions.directory.create(name: name, now: nowSeconds())
        print(signer.verifier.encoded)
    }
}

struct WitnessKey: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key", abstract: "Print the witness's cosignature verifier key (name+keyid+base64(0x04 ‖ Ed25519 key)).")
    @OptionGroup var dataOptions: WitnessDataOptions

    func run() async throws { print(try dataOptions.directory.open().signer.verifier.encoded) }
}

struct WitnessAddLog: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add-log", abstract: "Witness a log: its origin and checkpoint verifier key (another key for a known log is added).")
    @OptionGroup var dataOptions: WitnessDataOptions
    @Option(help: "The log's origin (the first line of its checkpoints).") var origin: String
    @Option(help: "The log's verifier key (as `consent-ledger key` prints it), or a file holding it.") var key: String

    func run() async throws {
        let verifier = try NoteVerifier(parsing: readVerifierKey(key))
        try dataOptions.directory.open().store.addLog(origin: origin, key: verifier, now: nowSeconds())
        print("witnessing \(origin) with key \(verifier.encoded)")
    }
}

struct WitnessLogs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "logs", abstract: "List the logs witnessed and the latest size cosigned for each.")
    @OptionGroup var dataOptions: WitnessDataOptions
    @OptionGroup var output: OutputOptions

    struct View: Encodable {
        var origin: String
        var keys: [String]
        var size: Int64
        var root: String?
    }

    func run() async throws {
        let logs = try dataOptions.directory.open().store.logs().map {
            View(origin: $0.origin, keys: $0.keys, size: $0.tree.size, root: $0.tree.root?.base64)
        }
        if output.json { return try printJSON(logs) }
        for log in logs { print("\(log.origin) size \(log.size)\(log.root.map { " root \($0)" } ?? " (never cosigned)")") }
    }
}

struct WitnessServe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the witness (C2SP tlog-witness POST /add-checkpoint) until SIGTERM or SIGINT.",
        discussion: """
            Prints "listening on http://HOST:PORT" once it accepts connections (--port 0 picks a free port); logs go \
            to standard error. Each cosigned checkpoint is recorded durably before its cosignature is returned.
            """)
    @OptionGroup var dataOptions: WitnessDataOptions
    @Option(help: "The address to listen on.") var host = "127.0.0.1"
    @Option(help: "The TCP port (0: any free port).") var port = 8081
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel = "info"

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0-65535") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level: unknown level \"\(logLevel)\"") }
    }

    func run() async throws {
        let (signer, store) = try dataOptions.directory.open()
        var logger = Logger(label: "consent-ledger.witness")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        let witness = Witness(signer: signer, store: store, logger: logger)
        let host = self.host
        let app = buildWitnessApplication(witness: witness, host: host, port: port, logger: logger) { bound in
            let shown = host.contains(":") ? "[\(host)]" : host
            FileHandle.standardOutput.write(Data("listening on http://\(shown):\(bound.map(String.init) ?? "?")\n".utf8))
        }
        try await app.runService()
    }
}

// MARK: The log's witnesses

struct WitnessAdd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add", abstract: "Submit this log's checkpoints to a witness (its URL and cosignature verifier key).")
    @OptionGroup var dataOptions: DataOptions
    @Option(help: "The witness's submission prefix, e.g. http://127.0.0.1:8081 (POST <url>/add-checkpoint).") var url: String
    @Option(help: "The witness's cosignature verifier key (`witness key`), or a file holding it.") var key: String

    func run() async throws {
        let verifier = try CosignatureVerifier(parsing: readVerifierKey(key))
        try await openServiceStore(dataOptions).addWitness(url: url, key: verifier, now: systemClock())
        print("submitting checkpoints to \(verifier.name) at \(url)")
    }
}

struct WitnessRemove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove", abstract: "Stop submitting to a witness (its cosignatures are kept).")
    @OptionGroup var dataOptions: DataOptions
    @Option(help: "The witness's cosignature verifier key, or a file holding it.") var key: String

    func run() async throws {
        let verifier = try CosignatureVerifier(parsing: readVerifierKey(key))
        try await openServiceStore(dataOptions).removeWitness(key: verifier.encoded)
    }
}

struct WitnessList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List the log's witnesses and the latest size each cosigned.")
    @OptionGroup var dataOptions: DataOptions
    @OptionGroup var output: OutputOptions

    struct View: Encodable {
        var url: String
        var key: String
        var cosignedSize: Int64?
    }

    func run() async throws {
        let service = try openServiceStore(dataOptions)
        var views: [View] = []
        for w in try await service.witnesses() {
            views.append(View(url: w.url, key: w.key.encoded, cosignedSize: try await service.latestCosignedSize(witness: w.key.encoded)))
        }
        if output.json { return try printJSON(views) }
        for v in views { print("\(v.key) \(v.url) \(v.cosignedSize.map { "cosigned size \($0)" } ?? "nothing cosigned yet")") }
    }
}

struct WitnessSubmit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Submit the log's newest checkpoint to every witness now and keep their cosignatures (`serve` does this by itself).",
        discussion: "Exit status 0 when every witness cosigned the newest checkpoint, 1 otherwise (each outcome is printed).")
    @OptionGroup var dataOptions: DataOptions
    @OptionGroup var output: OutputOptions

    struct View: Encodable {
        var witness: String
        var outcome: String
        var size: Int64?
        var status: Int?
        var reason: String?
    }

    func run() async throws {
        let ledger = try await dataOptions.open(writable: false)
        let service = try openServiceStore(dataOptions)
        var logger = Logger(label: "consent-ledger.witness-submitter")
        logger.logLevel = .critical
        let submitter = WitnessSubmitter(source: StoreLogSource(ledger.store), suite: ledger.parameters.suite, service: service, logger: logger)
        let outcomes = try await submitter.submitLatest()
        let views = outcomes.sorted { $0.key < $1.key }.map { key, outcome -> View in
            switch outcome {
            case .cosigned(let size): View(witness: key, outcome: "cosigned", size: size)
            case .refused(let status, let reason): View(witness: key, outcome: "refused", status: status, reason: reason)
            case .failed(let reason): View(witness: key, outcome: "failed", reason: reason)
            }
        }
        if output.json { try printJSON(views) } else {
            for v in views {
                let detail = v.size.map { "size \($0)" } ?? "\(v.status.map { "HTTP \($0): " } ?? "")\(v.reason ?? "")"
                print("\(v.witness.split(separator: "+").first ?? ""): \(v.outcome) \(detail)")
            }
        }
        if views.contains(where: { $0.outcome != "cosigned" }) { throw ExitCode(1) }
    }
}

struct WitnessCheckpoint: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint",
        abstract: "Print the newest checkpoint cosigned by at least K witnesses, with the cosignature lines (GET /checkpoint/cosigned).")
    @OptionGroup var dataOptions: DataOptions
    @Option(help: "How many witnesses must have cosigned it (default: every configured witness).") var witnesses: Int?

    func run() async throws {
        let ledger = try await dataOptions.open(writable: false)
        let service = try openServiceStore(dataOptions)
        let configured = try await service.witnesses().count
        let minimum = witnesses ?? max(1, configured)
        guard let size = try await service.newestCosignedSize(minimum: minimum), let note = try await ledger.store.checkpoint(size: size) else {
            throw LedgerError.notFound("no checkpoint has been cosigned by \(minimum) witnesses yet")
        }
        print(try await service.cosignedCheckpoint(note), terminator: "")
    }
}

/// The checkpoint note with the cosignatures the data directory holds for it (unchanged when it
/// has none, or when the directory has no service database).
func withCosignatures(_ note: String, _ options: DataOptions) async throws -> String {
    guard FileManager.default.fileExists(atPath: options.directory.path(ServiceStore.fileName)) else { return note }
    return try await ServiceStore(directory: options.directory).cosignedCheckpoint(note)
}

/// `--witness VKEY… --witness-threshold K`: a k-of-n witness policy for `verify`.
struct WitnessPolicyOptions: ParsableArguments {
    @Option(
        name: .customLong("witness"),
        help: ArgumentHelp("A witness's cosignature verifier key, or a file holding it; repeat for several. The checkpoint must carry their cosignatures.", valueName: "VKEY"))
    var witnesses: [String] = []
    @Option(help: "How many of the --witness keys must have cosigned the checkpoint (default: all of them).")
    var witnessThreshold: Int?

    func validate() throws {
        if witnessThreshold != nil && witnesses.isEmpty { throw ValidationError("--witness-threshold needs at least one --witness") }
        if let k = witnessThreshold, !(1...witnesses.count).contains(k) {
            throw ValidationError("--witness-threshold must be between 1 and the number of --witness keys (\(witnesses.count))")
        }
    }

    /// The policy, or nil when no witness was given (the checkpoint is then checked as before).
    func policy() throws -> WitnessPolicy? {
        guard !witnesses.isEmpty else { return nil }
        return try WitnessPolicy(verifierKeys: try witnesses.map(readVerifierKey), threshold: witnessThreshold ?? witnesses.count)
    }
}
