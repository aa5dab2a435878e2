import ArgumentParser
import ConsentCore
import ConsentLedger
import ConsentServer
import Foundation
import Logging

extension ConsentLedgerCommand {
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the HTTP service for senders and regulators (docs/openapi.yaml) until SIGTERM or SIGINT.",
            discussion: """
                Holds the data directory's writer lock while it runs (other commands may read; tokens and ports can \
                be managed meanwhile). Requests authenticate with `Authorization: Bearer <token>` (see `token create`); \
                without a token only the checkpoint and the hash tiles are served. Every response that reports an \
                index is sent after the event is durably committed. On SIGTERM or SIGINT the server stops accepting \
                connections, lets requests in flight finish (appends commit and are answered), and exits. \
                Prints "listening on http://HOST:PORT" on standard output once it accepts connections \
                (--port 0 picks a free port), after loading the send gate's table (about 40 bytes per state key, \
                read from the state map); logs go to standard error, one line per request.
                """)

        @OptionGroup var dataOptions: DataOptions
        @Option(help: "The address to listen on. Default: loopback only (put a TLS proxy in front for others).")
        var host = "127.0.0.1"
        @Option(help: "The TCP port (0: any free port).") var port = 8080
        @Option(help: "The largest request body accepted, in bytes.") var maxRequestBytes = 16 << 20
        @Option(help: "The most events per POST /v1/events.") var maxEvents = 10_000
        @Option(help: "The most numbers per POST /v1/gate in JSON (CSV in and out is streamed, with no limit).") var maxGateNumbers = 500_000
        @Option(help: "Requests per second each token may make (0: no limit); over it, 429 with Retry-After.")
        var rateLimit: Double = 0
        @Option(help: "Requests a token may make at once after being idle (default: twice --rate-limit).")
        var rateBurst: Double?
        @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel = "info"
        @Option(help: "Append an empty batch when the log has been idle this many seconds, so that answers about \"now\" are bounded by the log (0: off).")
        var heartbeat: Double = 0
        @Option(help: "How often, in seconds, the newest checkpoint is submitted to the witnesses configured with `witness add`.")
        var witnessInterval: Double = 1

        func validate() throws {
            guard (0...65535).contains(port) else { throw ValidationError("--port must be 0-65535") }
            guard maxRequestBytes >= 1024 else { throw ValidationError("--max-request-bytes must be at least 1024") }
            guard maxEvents >= 1, maxGateNumbers >= 1 else { throw ValidationError("--max-events and --max-gate-numbers must be positive") }
            guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level: unknown level \"\(logLevel)\"") }
            guard (0.05...3600).contains(witnessInterval) else { throw ValidationError("--witness-interval must be 0.05 to 3600 seconds") }
            guard heartbeat == 0 || (0.1...86_400).contains(heartbeat) else { throw ValidationError("--heartbeat must be 0 (off) or 0.1 to 86400 seconds") }
            guard rateLimit >= 0, (rateBurst ?? 1) >= 1 else { throw ValidationError("--rate-limit must be 0 (off) or positive, --rate-burst at least 1") }
        }

        func run() async throws {
            let ledger = try await dataOptions.open(writable: true)
            let service = try ServiceStore(directory: dataOptions.directory)
            var logger = Logger(label: "consent-ledger.server")
            logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
            let configuration = ServerConfiguration(
                host: host, port: port, maxRequestBytes: maxRequestBytes, maxEventsPerRequest: maxEvents, maxGateNumbers: maxGateNumbers,
                rateLimit: rateLimit > 0 ? rateLimit : nil, rateBurst: rateBurst)
            // The send gate's table, before the first request: /readyz says ready from the start.
            let started = ContinuousClock.now
            let keys = try await ledger.loadGateIndex()
            logger.notice("send gate ready: \(keys) state keys loaded in \(ContinuousClock.now - started)")
            let host = self.host
            let beat: Duration? = heartbeat > 0 ? .milliseconds(Int64(heartbeat * 1000)) : nil
            let witnessing = startWitnessSubmitter(ledger: ledger, service: service, every: .milliseconds(Int64(witnessInterval * 1000)), logger: logger)
            defer { witnessing.cancel() }
            try await runServer(ledger: ledger, service: service, configuration: configuration, logger: logger, heartbeat: beat) { bound in
                let shown = host.contains(":") ? "[\(host)]" : host
                FileHandle.standardOutput.write(Data("listening on http://\(shown):\(bound.map(String.init) ?? "?")\n".utf8))
            }
            let size = await ledger.size
            logger.notice("stopped; every acknowledged append is committed (log size \(size))")
        }
    }
}

/// Opens the service database of a data directory that holds a ledger.
func openServiceStore(_ options: DataOptions) throws -> ServiceStore {
    guard FileManager.default.fileExists(atPath: options.directory.path("ledger.sqlite")) else {
        throw LedgerError.invalidDirectory("no ledger in \(options.data) (create one with `consent-ledger init --data \(options.data)`)")
    }
    return try ServiceStore(directory: options.directory)
}
