import ConsentCore
import ConsentLedger
import ConsentVerifier
import Foundation
import Hummingbird
import Logging

/// An error answered as RFC 9457 problem details (`application/problem+json`):
///
///     {"type": "urn:consent-ledger:problem:invalid-event", "title": "Invalid event", "status": 400,
///      "detail": "event 2: subject: only Chinese mobile numbers (+86) are accepted",
///      "errors": [{"index": 2, "field": "subject", "message": "only Chinese mobile numbers (+86) are accepted"}]}
///
/// `type` is a URN naming the kind of problem (listed in docs/openapi.yaml); `detail` says what to
/// fix; `errors` lists every invalid item of a request when there are several.
public struct Problem: Error, HTTPResponseError, Sendable, Equatable, CustomStringConvertible {
    public var status: HTTPResponse.Status
    /// The last part of the type URN: `invalid-request`, `invalid-event`, `unauthorized`, …
    public var code: String
    public var title: String
    public var detail: String
    public var errors: [FieldProblem]?
    /// Seconds after which a refused request may be retried (`Retry-After`), for 429 and 503.
    public var retryAfter: Int?

    /// One invalid item of a request.
    public struct FieldProblem: Codable, Sendable, Equatable {
        /// The item's position in the request's array (absent for a single object).
        public var index: Int?
        public var field: String?
        public var message: String
    }

    public init(
        _ status: HTTPResponse.Status, code: String, title: String, detail: String, errors: [FieldProblem]? = nil, retryAfter: Int? = nil
    ) {
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.errors = errors
        self.retryAfter = retryAfter
    }

    public var description: String { "\(status.code) \(code): \(detail)" }

    static func invalid(_ detail: String, errors: [FieldProblem]? = nil) -> Problem {
        Problem(.badRequest, code: "invalid-request", title: "Invalid request", detail: detail, errors: errors)
    }
    static func unauthorized(_ detail: String) -> Problem {
        Problem(.unauthorized, code: "unauthorized", title: "Authentication required", detail: detail)
    }
    static func forbidden(_ detail: String) -> Problem {
        Problem(.forbidden, code: "forbidden", title: "Not allowed for this token", detail: detail)
    }
    static func notFound(_ detail: String) -> Problem {
        Problem(.notFound, code: "not-found", title: "Not found", detail: detail)
    }
    static func conflict(_ detail: String) -> Problem {
        Problem(.conflict, code: "conflict", title: "Conflict", detail: detail)
    }
    static func unprocessable(_ code: String, _ title: String, _ detail: String) -> Problem {
        Problem(.unprocessableContent, code: code, title: title, detail: detail)
    }

    struct Body: Encodable {
        var type: String
        var title: String
        var status: Int
        var detail: String
        var errors: [FieldProblem]?
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response { response() }

    /// The problem as a response.
    func response() -> Response {
        let body = Body(type: "urn:consent-ledger:problem:\(code)", title: title, status: status.code, detail: detail, errors: errors)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(body)) ?? Data("{\"status\":\(status.code)}".utf8)
        var headers: HTTPFields = [.contentType: "application/problem+json", .cacheControl: "no-store"]
        if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer" }
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// Turns every error a route throws into problem details, so that no client ever gets an empty
/// error or Hummingbird's own error shape. Unexpected errors are logged and answered as a 500
/// without internal detail.
struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    /// The request size limit, for the 413 message.
    let maxRequestBytes: Int

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let problem = Self.problem(for: error, maxRequestBytes: maxRequestBytes)
            if problem.status.code >= 500 {
                context.logger.error("\(request.method) \(request.uri.path) failed: \(error)")
            }
            return problem.response()
        }
    }

    static func problem(for error: any Error, maxRequestBytes: Int) -> Problem {
        switch error {
        case let problem as Problem:
            return problem
        case let error as EventValidationError:
            return Problem(
                .badRequest, code: "invalid-event", title: "Invalid event", detail: error.description,
                errors: [.init(index: nil, field: error.field, message: error.message)])
        case let error as PhoneNumberError:
            return .invalid(error.description)
        case let error as LedgerError:
            switch error {
            case .invalidRequest(let m): return .invalid(m)
            case .notFound(let m): return .notFound(m)
            case .conflict(let m): return .conflict(m)
            case .busy(let m):
                return Problem(.serviceUnavailable, code: "unavailable", title: "Service unavailable", detail: m)
            case .corrupt, .io, .invalidDirectory:
                return Problem(.internalServerError, code: "internal", title: "Internal error", detail: "the ledger failed: \(error)")
            }
        case let error as ServiceError:
            switch error {
            case .invalid(let m): return .invalid(m)
            case .notFound(let m): return .notFound(m)
            case .internal(let m): return Problem(.internalServerError, code: "internal", title: "Internal error", detail: m)
            }
        case let error as HTTPError:
            return problem(status: error.status, message: error.body, maxRequestBytes: maxRequestBytes)
        case let error as any HTTPResponseError:
            return problem(status: error.status, message: nil, maxRequestBytes: maxRequestBytes)
        default:
            return Problem(.internalServerError, code: "internal", title: "Internal error", detail: "the request could not be completed (see the server log)")
        }
    }

    /// Hummingbird's own errors: unknown routes, bodies over the limit, …
    static func problem(status: HTTPResponse.Status, message: String?, maxRequestBytes: Int) -> Problem {
        switch status {
        case .notFound:
            return .notFound(message ?? "no such resource (the routes are listed in docs/openapi.yaml)")
        case .contentTooLarge:
            return Problem(
                .contentTooLarge, code: "too-large", title: "Request too large",
                detail: message ?? "the request body is larger than the limit of \(maxRequestBytes) bytes")
        default:
            let code = status.code >= 500 ? "internal" : "invalid-request"
            return Problem(status, code: code, title: status.reasonPhrase, detail: message ?? status.reasonPhrase)
        }
    }
}
