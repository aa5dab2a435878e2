import ConsentCore
import ConsentLedger
import Foundation
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// Logs one line per request and counts it in the metrics. The line names the method, the route
/// template (never the query string: it carries phone numbers), the status, the time taken and the
/// token's id (not the token); so the access log holds no personal data.
struct ObservabilityMiddleware: RouterMiddleware {
    typealias Context = ServiceContext
    let metrics: ServiceMetrics

    func handle(_ request: Request, context: ServiceContext, next: (Request, ServiceContext) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        let route = ConsentRoutes.template(of: request.uri.path)
        let status: Int
        do {
            let response = try await next(request, context)
            status = response.status.code
            finish(request, context, route: route, status: status, started: started)
            return response
        } catch let error as HTTPResponseError {
            finish(request, context, route: route, status: error.status.code, started: started)
            throw error
        } catch {
            finish(request, context, route: route, status: 500, started: started)
            throw error
        }
    }

    private func finish(_ request: Request, _ context: ServiceContext, route: String, status: Int, started: ContinuousClock.Instant) {
        let seconds = (ContinuousClock.now - started).inSeconds
        metrics.request(method: request.method.rawValue, route: route, status: status, seconds: seconds)
        context.logger.info(
            "request",
            metadata: [
                "method": .string(request.method.rawValue), "route": .string(route), "status": .stringConvertible(status),
                "ms": .string(String(format: "%.2f", seconds * 1000)),
            ])
    }
}

/// Per-token request rate limits: a token bucket per token id, refilled at `rate` requests per
/// second up to `burst`. Requests without a token (the public tier: checkpoint and tiles, which a
/// CDN can serve) are not limited here.
final class RateLimiter: Sendable {
    let rate: Double
    let burst: Double
    private let buckets = Mutex<[String: (tokens: Double, at: ContinuousClock.Instant)]>([:])

    init(rate: Double, burst: Double) {
        self.rate = rate
        self.burst = burst
    }

    /// Takes one request from the token's bucket; nil when allowed, else the seconds until the next one is.
    func take(_ id: String, now: ContinuousClock.Instant = .now) -> Double? {
        buckets.withLock { buckets in
            var bucket = buckets[id] ?? (burst, now)
            let elapsed = now - bucket.at
            let refill = elapsed.inSeconds * rate
            bucket = (min(burst, bucket.tokens + refill), now)
            defer { buckets[id] = bucket }
            guard bucket.tokens >= 1 else { return (1 - bucket.tokens) / rate }
            bucket.tokens -= 1
            return nil
        }
    }
}

extension ConsentRoutes {
    /// The documented route a path belongs to (its template), for metrics and logs: a bounded set.
    static func template(of path: String) -> String {
        if path.hasPrefix("/tile/") { return "/tile/{path}" }
        if path.hasPrefix("/bodies/") { return "/bodies/{path}" }
        if path.hasPrefix("/v1/entries/") { return "/v1/entries/{index}" }
        if path.hasPrefix("/v1/tokens/") { return "/v1/tokens/{id}" }
        if path.hasPrefix("/v1/holds/") { return "/v1/holds/{entry}/release" }
        return serviceRoutes.contains { $0.path == path } ? path : "other"
    }

    struct Readiness: Encodable {
        var status: String
        var checks: [String: String]
    }

    /// `GET /readyz`: 200 once the service can answer everything (the store reads, the log has a
    /// writer, the send gate's table is loaded), 503 with the failing check otherwise. `/healthz`
    /// only says the process is up.
    func readiness(_ request: Request, _ context: ServiceContext) async throws -> Response {
        var checks: [String: String] = [:]
        do {
            _ = try await ledger.store.head()
            checks["store"] = "ok"
        } catch {
            checks["store"] = "failed: \(error)"
        }
        checks["writer"] = await ledger.isWriter ? "ok" : "failed: the log is open read-only"
        checks["gate"] = await ledger.hasGateIndex ? "ok" : "loading"
        let ready = checks.values.allSatisfy { $0 == "ok" }
        var response = try jsonResponse(Readiness(status: ready ? "ready" : "not-ready", checks: checks))
        if !ready { response.status = .serviceUnavailable }
        return response
    }

    /// `GET /metrics` (admin tokens): Prometheus text format.
    func metricsText(_ request: Request, _ context: ServiceContext) async throws -> Response {
        try context.requireAdmin()
        let text = metrics.exposition(ledger: await ServiceMetrics.LedgerGauges(ledger))
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
