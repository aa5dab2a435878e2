import ConsentCore
import Foundation
import Hummingbird
import Logging

/// The request context: Hummingbird's core storage plus the caller's role (nil: no token).
public struct ServiceContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The role of the request's token; nil for a request without one (the public tier).
    public var role: Role?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        role = nil
    }

    /// The caller's role; a request without a token is refused (401).
    func requireToken() throws -> Role {
        guard let role else { throw Problem.unauthorized("this route needs a token: send `Authorization: Bearer <token>`") }
        return role
    }

    /// Allows writing `sender`'s data: only that sender's own token.
    func requireWriter(for sender: String) throws {
        switch try requireToken() {
        case .sender(let own):
            guard own == sender else { throw Problem.forbidden("this token writes only for sender \(own), not \(sender.prefix(64))") }
        case .regulator: throw Problem.forbidden("regulator tokens read and never write")
        case .admin: throw Problem.forbidden("admin tokens manage the service and record no consent events")
        }
    }

    /// Allows reading `sender`'s data: that sender's own token, or a regulator.
    func requireReader(of sender: String) throws {
        switch try requireToken() {
        case .sender(let own):
            guard own == sender else { throw Problem.forbidden("this token reads only sender \(own)'s data, not \(sender.prefix(64))'s") }
        case .regulator: return
        case .admin: throw Problem.forbidden("admin tokens read no consent data")
        }
    }

    /// Allows reading every sender's data at once (entry bundles mix all senders): regulators only.
    func requireRegulator() throws {
        guard case .regulator = try requireToken() else { throw Problem.forbidden("only regulator tokens read the whole log") }
    }

    /// Allows managing the service: admin tokens only.
    func requireAdmin() throws {
        guard case .admin = try requireToken() else { throw Problem.forbidden("only admin tokens manage the service") }
    }
}

/// Reads `Authorization: Bearer <token>` and sets the context's role. A request without the header
/// goes on as anonymous (the routes decide what that may see); a malformed, unknown or revoked
/// token is refused (401) on every route, so a misconfigured client notices at once. Tokens are
/// looked up per request, so a revocation takes effect immediately, also in a running server.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = ServiceContext
    let service: ServiceStore
    let limiter: RateLimiter?
    let metrics: ServiceMetrics

    func handle(_ request: Request, context: ServiceContext, next: (Request, ServiceContext) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization] else { return try await next(request, context) }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw Problem.unauthorized("the Authorization header must be `Bearer <token>`")
        }
        let token = String(parts[1]).trimmingCharacters(in: .whitespaces)
        guard APIToken.isWellFormed(token), let record = try await service.token(hash: APIToken.hash(token)) else {
            throw Problem.unauthorized("unknown or revoked token")
        }
        if let limiter, let wait = limiter.take(record.id) {
            metrics.rateLimitHit()
            throw Problem(
                .tooManyRequests, code: "rate-limited", title: "Too many requests",
                detail: "this token may make \(ServiceMetrics.number(limiter.rate)) requests per second (bursts of "
                    + "\(ServiceMetrics.number(limiter.burst))): retry in \(Int(wait.rounded(.up))) s",
                retryAfter: Int(wait.rounded(.up)))
        }
        var context = context
        context.role = record.role
        context.logger[metadataKey: "token"] = .string(record.id)
        return try await next(request, context)
    }
}
