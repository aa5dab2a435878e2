import ConsentCore
import ConsentLedger
import Foundation
import Hummingbird
import HummingbirdCore
import NIOCore
import Logging

/// The service's settings (`consent-ledger serve` options).
public struct ServerConfiguration: Sendable {
    /// The address to listen on; loopback by default (put a TLS proxy in front to serve others).
    public var host: String
    /// The TCP port; 0 picks a free one (reported through `onServerRunning`).
    public var port: Int
    /// The largest request body accepted, in bytes (larger ones get 413).
    public var maxRequestBytes: Int
    /// The most events one `POST /v1/events` may carry.
    public var maxEventsPerRequest: Int
    /// The most MO replies one `POST /v1/mo` may carry.
    public var maxRepliesPerRequest: Int
    /// The most numbers one `POST /v1/gate` may carry unless streamed (CSV in and out: no limit).
    public var maxGateNumbers: Int
    /// Requests per second each token may make (a token bucket of `rateBurst`); nil: no limit.
    public var rateLimit: Double?
    /// The bucket's size: requests a token may make at once after being idle.
    public var rateBurst: Double

    public init(
        host: String = "127.0.0.1", port: Int = 8080, maxRequestBytes: Int = 16 << 20, maxEventsPerRequest: Int = 10_000,
        maxRepliesPerRequest: Int = 1_000, maxGateNumbers: Int = 500_000, rateLimit: Double? = nil, rateBurst: Double? = nil
    ) {
        self.host = host
        self.port = port
        self.maxRequestBytes = maxRequestBytes
        self.maxEventsPerRequest = maxEventsPerRequest
        self.maxRepliesPerRequest = maxRepliesPerRequest
        self.maxGateNumbers = maxGateNumbers
        self.rateLimit = rateLimit
        self.rateBurst = rateBurst ?? max(1, (rateLimit ?? 1) * 2)
    }
}

/// Every route of the service as (method, path), paths as docs/openapi.yaml writes them.
public let serviceRoutes: [(method: String, path: String)] = ConsentRoutes.routes + WitnessLogRoutes.routes

/// Builds the HTTP service over an open ledger and its data directory's service database: the one
/// builder used by `consent-ledger serve` and by the tests (which run it with
/// `app.test(.router)`, in process).
///
/// The ledger should be opened writable (the server records events); its appends return only after
/// the batch is durably committed, so every response that reports an index is sent after commit.
/// `onServerRunning` receives the bound TCP port once the server listens.
public func buildApplication(
    ledger: Ledger, service: ServiceStore, configuration: ServerConfiguration = ServerConfiguration(),
    logger: Logger = Logger(label: "consent-ledger.server"), onServerRunning: @escaping @Sendable (Int?) async -> Void = { _ in }
) -> some ApplicationProtocol {
    let router = buildRouter(ledger: ledger, service: service, configuration: configuration)
    return Application(
        router: router,
        server: .http1(configuration: HTTP1Channel.Configuration(additionalChannelHandlers: [ContinueHandler()])),
        configuration: ApplicationConfiguration(address: .hostname(configuration.host, port: configuration.port), serverName: "consent-ledger"),
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port) },
        logger: logger)
}

/// The routes, with the problem-details and authentication middleware in front of all of them.
public func buildRouter(
    ledger: Ledger, service: ServiceStore, configuration: ServerConfiguration, metrics: ServiceMetrics = ServiceMetrics()
) -> Router<ServiceContext> {
    let router = Router(context: ServiceContext.self)
    router.add(middleware: ObservabilityMiddleware(metrics: metrics))
    router.add(middleware: ProblemMiddleware<ServiceContext>(maxRequestBytes: configuration.maxRequestBytes))
    let limiter = configuration.rateLimit.map { RateLimiter(rate: $0, burst: configuration.rateBurst) }
    router.add(middleware: AuthMiddleware(service: service, limiter: limiter, metrics: metrics))
    let routes = ConsentRoutes(ledger: ledger, service: service, configuration: configuration, metrics: metrics)
    routes.add(to: router)
    WitnessLogRoutes(ledger: ledger, service: service).add(to: router)
    return router
}

/// Runs the service until SIGTERM or SIGINT, then shuts down gracefully: the listener closes, and
/// requests in flight (appends among them) finish and get their responses before this returns.
/// Nothing is acknowledged that was not committed: an append's response is written only after its
/// batch is durable. A client that gets no answer (its connection cut) cannot tell whether the
/// append committed: it re-sends with the same client key and gets the original index, or a
/// fresh one if nothing was committed.
///
/// With a `heartbeat` interval, an idle log gets an empty batch (a commit entry) whenever its latest
/// commit is older than the interval, so that questions about "now" are bounded by the log itself
/// (DESIGN §2.2); the heartbeat stops before this returns.
public func runServer(
    ledger: Ledger, service: ServiceStore, configuration: ServerConfiguration, logger: Logger, heartbeat: Duration? = nil,
    onServerRunning: @escaping @Sendable (Int?) async -> Void = { _ in }
) async throws {
    let app = buildApplication(ledger: ledger, service: service, configuration: configuration, logger: logger, onServerRunning: onServerRunning)
    let beats = heartbeat.map { interval in Task { await runHeartbeats(ledger: ledger, every: interval, logger: logger) } }
    defer { beats?.cancel() }
    do {
        try await app.runService()
    } catch {
        beats?.cancel()
        await beats?.value
        throw error
    }
    beats?.cancel()
    await beats?.value
}

/// Appends an empty batch whenever the log's latest commit is older than `interval`, until cancelled.
public func runHeartbeats(ledger: Ledger, every interval: Duration, logger: Logger) async {
    let millis = max(1, interval.components.seconds * 1000 + interval.components.attoseconds / 1_000_000_000_000_000)
    while !Task.isCancelled {
        do { try await Task.sleep(for: interval) } catch { return }
        let now = await ledger.now
        if let latest = await ledger.latestCommitTime, now - latest < millis { continue }
        do { try await ledger.heartbeat() } catch { logger.error("heartbeat not committed: \(error)") }
    }
}
