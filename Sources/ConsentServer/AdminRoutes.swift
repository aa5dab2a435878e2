import ConsentCore
import ConsentLedger
import Foundation
import Hummingbird
import NIOCore

/// The admin tier: legal holds, compaction and API tokens, as the CLI's `hold`, `compact` and
/// `token` commands do them. Admin tokens manage the service and read no consent data; holds name
/// a subject by its number only in the request (the log records the derived subject key).
extension ConsentRoutes {
    /// Collects and decodes a JSON request body of type `T`; a body that does not decode is a 400
    /// naming the expected `shape` and what is wrong.
    func decodeBody<T: Decodable>(_ request: inout Request, as type: T.Type, shape: String) async throws -> T {
        try decodeJSON(try await request.collectBody(upTo: configuration.maxRequestBytes), as: type, shape: shape)
    }

    /// Decodes JSON bytes of type `T`, as ``decodeBody(_:as:shape:)``.
    func decodeJSON<T: Decodable>(_ body: ByteBuffer, as type: T.Type, shape: String) throws -> T {
        do { return try JSONDecoder().decode(T.self, from: Data(body.readableBytesView)) } catch let error as DecodingError {
            throw Problem.invalid("the body must be \(shape): \(DecodeFailure(error).message)")
        }
    }

    // MARK: Holds

    struct HoldRequest: Decodable {
        var subject: String?
        var sender: String?
        var reason: String
        var reference: String
    }

    struct ReleaseRequest: Decodable {
        var reason: String
        var reference: String
    }

    struct IndexView: Encodable { var index: Int64 }

    struct HoldsView: Encodable { var holds: [HoldInForce] }

    /// `POST /v1/holds` (admin): places a legal hold on a subject, a sender, or both; answers the
    /// hold entry's index once it is committed.
    func placeHold(_ request: Request, _ context: ServiceContext) async throws -> Response {
        var request = request
        try context.requireAdmin()
        let hold = try await decodeBody(&request, as: HoldRequest.self, shape: #"{"subject"?, "sender"?, "reason", "reference"}"#)
        try Self.checkWhy(reason: hold.reason, reference: hold.reference)
        var subjectKey: Hash?
        if let subject = hold.subject {
            do { subjectKey = await ledger.subjectKey(of: try PhoneNumber(normalizing: subject)).key } catch {
                throw Problem.invalid("subject: \(error)")
            }
        }
        if let sender = hold.sender, !EventValidator.isValidSenderID(sender) {
            throw Problem.invalid("sender: \"\(sender.prefix(80))\" is not a sender id (1-64 of A-Z a-z 0-9 . _ -)")
        }
        let target: HoldTarget
        switch (subjectKey, hold.sender) {
        case (let key?, let sender?): target = .subjectSender(key, sender)
        case (let key?, nil): target = .subject(key)
        case (nil, let sender?): target = .sender(sender)
        case (nil, nil): throw Problem.invalid("a hold needs a subject, a sender or both")
        }
        let index = try await ledger.placeHold(target, reason: hold.reason, reference: hold.reference)
        return try jsonResponse(IndexView(index: index), status: .created)
    }

    /// `POST /v1/holds/{entry}/release` (admin): releases the hold placed by entry `entry`.
    func releaseHold(_ request: Request, _ context: ServiceContext) async throws -> Response {
        var request = request
        try context.requireAdmin()
        guard let text = context.parameters.get("entry"), let placedAt = Int64(text), placedAt >= 0 else {
            throw Problem.invalid("the hold is named by the index of the entry that placed it")
        }
        let release = try await decodeBody(&request, as: ReleaseRequest.self, shape: #"{"reason", "reference"}"#)
        try Self.checkWhy(reason: release.reason, reference: release.reference)
        let index = try await ledger.releaseHold(placedAt: placedAt, reason: release.reason, reference: release.reference)
        return try jsonResponse(IndexView(index: index))
    }

    /// `GET /v1/holds` (admin, regulator): the holds in force, oldest first.
    func listHolds(_ request: Request, _ context: ServiceContext) async throws -> Response {
        switch try context.requireToken() {
        case .admin, .regulator: break
        case .sender: throw Problem.forbidden("holds are listed for admin and regulator tokens only")
        }
        return try jsonResponse(HoldsView(holds: try await ledger.holdsInForce()))
    }

    static func checkWhy(reason: String, reference: String) throws {
        guard HoldHeader.isValidReason(reason) else { throw Problem.invalid("reason: must be 1-1000 bytes of text on one line") }
        guard HoldHeader.isValidReference(reference) else {
            throw Problem.invalid("reference: must be 1-64 printable ASCII characters without spaces (e.g. 12321-2026-0042)")
        }
    }

    // MARK: Compaction

    struct CompactRequest: Decodable {
        /// Apply the policy as of this RFC 3339 time (default now; never before the latest entry).
        var now: String?
        var dryRun: Bool?
    }

    /// `POST /v1/compact` (admin): one compaction run (purges what is due and not held), answered
    /// with its report when it ends. A body is optional.
    func compact(_ request: Request, _ context: ServiceContext) async throws -> Response {
        var request = request
        try context.requireAdmin()
        let body = try await request.collectBody(upTo: configuration.maxRequestBytes)
        var options = CompactRequest()
        if body.readableBytes > 0 { options = try decodeJSON(body, as: CompactRequest.self, shape: #"{"now"?, "dryRun"?}"#) }
        var now: Milliseconds?
        if let text = options.now {
            guard let t = RFC3339.parse(text) else { throw Problem.invalid("now: \"\(text.prefix(40))\" is not an RFC 3339 time") }
            now = t
        }
        let report = try await ledger.compact(now: now, dryRun: options.dryRun ?? false)
        return try jsonResponse(report)
    }

    // MARK: Tokens

    struct TokenRequest: Decodable {
        var role: String
        var sender: String?
        var note: String?
    }

    struct TokensView: Encodable { var tokens: [TokenView] }

    /// `POST /v1/tokens` (admin): a new token, returned once (only its hash is stored).
    func createToken(_ request: Request, _ context: ServiceContext) async throws -> Response {
        var request = request
        try context.requireAdmin()
        let asked = try await decodeBody(&request, as: TokenRequest.self, shape: #"{"role", "sender"?, "note"?}"#)
        let role: Role
        do { role = try Role(name: asked.role, sender: asked.sender) } catch { throw Problem.invalid("\(error)") }
        let (token, record) = try await service.createToken(role: role, note: asked.note, now: await ledger.now)
        return try jsonResponse(TokenView(record, token: token), status: .created)
    }

    /// `GET /v1/tokens` (admin): every token's id, role and dates; never the tokens.
    func listTokens(_ request: Request, _ context: ServiceContext) async throws -> Response {
        try context.requireAdmin()
        return try jsonResponse(TokensView(tokens: try await service.tokens().map { TokenView($0) }))
    }

    /// `DELETE /v1/tokens/{id}` (admin): revokes a token; it stops working at once.
    func revokeToken(_ request: Request, _ context: ServiceContext) async throws -> Response {
        try context.requireAdmin()
        guard let id = context.parameters.get("id") else { throw Problem.invalid("the token is named by its id") }
        return try jsonResponse(TokenView(try await service.revokeToken(id: id, now: await ledger.now)))
    }
}
