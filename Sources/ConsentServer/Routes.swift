import ConsentCore
import ConsentCrypto
import ConsentLedger
import ConsentVerifier
import Foundation
import Hummingbird

/// Every route of the service. Who may call what (see ``Role``):
///
/// | route                         | anonymous | sender S            | regulator | admin |
/// |-------------------------------|-----------|---------------------|-----------|-------|
/// | GET /healthz                  | yes       | yes                 | yes       | yes   |
/// | GET /checkpoint, /tile/<L>/…  | yes       | yes                 | yes       | yes   |
/// | GET /tile/entries/…           | no        | no                  | yes       | no    |
/// | POST /v1/events               | no        | S's events          | no        | no    |
/// | GET /v1/consent               | no        | sender=S            | any       | no    |
/// | POST /v1/mo                   | no        | replies to S's ports| no        | no    |
/// | GET /v1/mo/review             | no        | S's replies         | any       | no    |
/// | POST /v1/gate                 | no        | sender=S            | any       | no    |
/// | GET /v1/ports                 | no        | S's ports           | all       | all   |
/// | POST /v1/ports                | no        | no                  | no        | yes   |
/// | GET /v1/history               | no        | sender=S            | any       | no    |
/// | GET /v1/entries/{index}       | no        | no                  | yes       | no    |
/// | GET /v1/proofs/inclusion, …/consistency | no | yes              | yes       | yes   |
/// | GET /readyz, /checkpoints     | yes       | yes                 | yes       | yes   |
/// | GET /bodies/…                 | no        | no                  | yes       | no    |
/// | GET /metrics                  | no        | no                  | no        | yes   |
/// | POST /v1/holds, …/release     | no        | no                  | no        | yes   |
/// | GET /v1/holds                 | no        | no                  | yes       | yes   |
/// | POST /v1/compact              | no        | no                  | no        | yes   |
/// | POST/GET /v1/tokens, DELETE /v1/tokens/{id} | no | no          | no        | yes   |
struct ConsentRoutes: Sendable {
    let ledger: Ledger
    let service: ServiceStore
    let configuration: ServerConfiguration
    let metrics: ServiceMetrics

    /// The routes, as (method, path) pairs: docs/openapi.yaml must list exactly these.
    static let routes: [(method: String, path: String)] = [
        ("GET", "/healthz"), ("GET", "/checkpoint"), ("GET", "/tile/{path}"),
        ("POST", "/v1/events"), ("GET", "/v1/consent"), ("POST", "/v1/mo"), ("GET", "/v1/mo/review"), ("POST", "/v1/gate"),
        ("GET", "/v1/ports"), ("POST", "/v1/ports"), ("GET", "/v1/history"), ("GET", "/v1/entries/{index}"),
        ("GET", "/v1/proofs/inclusion"), ("GET", "/v1/proofs/consistency"),
        ("GET", "/readyz"), ("GET", "/metrics"), ("GET", "/checkpoints"), ("GET", "/bodies/{path}"),
        ("POST", "/v1/holds"), ("GET", "/v1/holds"), ("POST", "/v1/holds/{entry}/release"), ("POST", "/v1/compact"),
        ("POST", "/v1/tokens"), ("GET", "/v1/tokens"), ("DELETE", "/v1/tokens/{id}"),
    ]

    func add(to router: Router<ServiceContext>) {
        router.get("/healthz") { request, context in try await self.health(request, context) }
        router.get("/checkpoint") { request, context in try await self.checkpoint(request, context) }
        router.get("/tile/**") { request, context in try await self.tile(request, context) }
        router.post("/v1/events") { request, context in try await self.recordEvents(request, context) }
        router.get("/v1/consent") { request, context in try await self.consent(request, context) }
        router.post("/v1/mo") { request, context in try await self.moReplies(request, context) }
        router.get("/v1/mo/review") { request, context in try await self.review(request, context) }
        router.post("/v1/gate") { request, context in try await self.gate(request, context) }
        router.get("/v1/ports") { request, context in try await self.listPorts(request, context) }
        router.post("/v1/ports") { request, context in try await self.addPort(request, context) }
        router.get("/v1/history") { request, context in try await self.history(request, context) }
        router.get("/v1/entries/:index") { request, context in try await self.entry(request, context) }
        router.get("/v1/proofs/inclusion") { request, context in try await self.inclusionProof(request, context) }
        router.get("/v1/proofs/consistency") { request, context in try await self.consistencyProof(request, context) }
        router.get("/readyz") { request, context in try await self.readiness(request, context) }
        router.get("/checkpoints") { request, context in try await self.allCheckpoints(request, context) }
        router.get("/bodies/**") { request, context in try await self.bodyFile(request, context) }
        router.get("/metrics") { request, context in try await self.metricsText(request, context) }
        router.post("/v1/holds") { request, context in try await self.placeHold(request, context) }
        router.get("/v1/holds") { request, context in try await self.listHolds(request, context) }
        router.post("/v1/holds/:entry/release") { request, context in try await self.releaseHold(request, context) }
        router.post("/v1/compact") { request, context in try await self.compact(request, context) }
        router.post("/v1/tokens") { request, context in try await self.createToken(request, context) }
        router.get("/v1/tokens") { request, context in try await self.listTokens(request, context) }
        router.delete("/v1/tokens/:id") { request, context in try await self.revokeToken(request, context) }
    }

    // MARK: Public tier

    struct Health: Encodable {
        var status: String
        var origin: String
        var size: Int64
        var latestCommit: String?
    }

    func health(_ request: Request, _ context: ServiceContext) async throws -> Response {
        let size = await ledger.size
        let latest = await ledger.latestCommitTime
        return try jsonResponse(Health(status: "ok", origin: ledger.parameters.origin, size: size, latestCommit: latest.map(RFC3339.format)))
    }

    /// The latest signed checkpoint, exactly as signed (C2SP tlog-checkpoint in a signed note).
    func checkpoint(_ request: Request, _ context: ServiceContext) async throws -> Response {
        let note = await ledger.checkpointNote
        return Response(
            status: .ok, headers: [.contentType: "text/plain; charset=utf-8", .cacheControl: "no-cache"],
            body: .init(byteBuffer: ByteBuffer(bytes: Array(note.utf8))))
    }

    /// C2SP tlog-tiles: `tile/<L>/<N>[.p/<W>]` (public: hashes only) and `tile/entries/<N>[.p/<W>]`
    /// (entry headers: regulators). A tile of a given width never changes, so every tile is cacheable
    /// forever; a tile beyond the current tree is 404.
    func tile(_ request: Request, _ context: ServiceContext) async throws -> Response {
        let path = String(request.uri.path.dropFirst())
        guard let resource = TileResource(path: path) else {
            throw Problem.notFound("\(path.prefix(100)) is not a C2SP tlog-tiles path (tile/<L>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>])")
        }
        let bytes: [UInt8]
        switch resource {
        case .tile(let tile):
            let size = await ledger.size
            guard tile.isAvailable(inTreeSize: size) else { throw Problem.notFound("\(tile.path) is not in the tree of size \(size)") }
            bytes = TileID.encode(try await ledger.store.readHashes(tile.storedHashIndexes()))
        case .entries(let bundle):
            // Entry headers name senders and scopes: not public (DESIGN §2.5), and they mix every sender.
            try context.requireRegulator()
            let size = await ledger.size
            guard bundle.tile.isAvailable(inTreeSize: size) else { throw Problem.notFound("\(bundle.path) is not in the tree of size \(size)") }
            let entries = try await ledger.store.entries(bundle.entries)
            guard entries.count == bundle.width else { throw LedgerError.corrupt("entries \(bundle.entries) are missing from the store") }
            bytes = try bundle.encode(entries.map(\.header))
        }
        let cache = resource.isEntries ? "private, max-age=31536000, immutable" : "public, max-age=31536000, immutable"
        return Response(
            status: .ok, headers: [.contentType: "application/octet-stream", .cacheControl: cache],
            body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    // MARK: Events

    struct Receipt: Encodable {
        var index: Int64
        var leafHash: Hash
        var recordedAt: String
        var duplicate: Bool
        /// With `proof=true`: the inclusion proof against `checkpoint` (`prove inclusion --json` format).
        var inclusion: InclusionProof?
        /// With `proof=true` on a single event: the signed checkpoint the proof is against.
        var checkpoint: String?
    }

    struct Receipts: Encodable {
        var events: [Receipt]
        var checkpoint: String?
    }

    /// Records one event (a JSON object) or several (an array), all or nothing, idempotent by
    /// `clientKey`. Answers only after the batch is durably committed.
    func recordEvents(_ request: Request, _ context: ServiceContext) async throws -> Response {
        var request = request
        let own = try context.requireSenderToken(toDo: "record events")
        // `wait=true` is the same request: every append is answered only once committed, so waiting
        // adds only the checkpoint and the inclusion proofs.
        let withProof = try request.flag("proof") || request.flag("wait")
        let parsed = try OneOrMany<EventInput>(try await request.collectBody(upTo: configuration.maxRequestBytes), what: "event")
        guard parsed.items.count <= configuration.maxEventsPerRequest else {
            throw Problem(
                .contentTooLarge, code: "too-large", title: "Request too large",
                detail: "at most \(configuration.maxEventsPerRequest) events per request (got \(parsed.items.count)): split the batch")
        }
        guard !parsed.items.isEmpty else { throw Problem.invalid("the array holds no events") }
        // Isolation first: a sender token never learns anything about another sender's events.
        for (i, item) in parsed.items.enumerated() {
            if case .success(let input) = item, input.sender != own {
                throw Problem.forbidden("\(parsed.single ? "the event" : "event \(i)"): this token records only for sender \(own), not \(input.sender.prefix(64))")
            }
        }
        let now = await ledger.now
        let validator = EventValidator()
        var events: [ValidatedEvent] = []
        var errors: [Problem.FieldProblem] = []
        for (i, item) in parsed.items.enumerated() {
            let index = parsed.single ? nil : i
            switch item {
            case .failure(let failure):
                errors.append(.init(index: index, field: failure.field, message: failure.message))
            case .success(let input):
                do { events.append(try validator.validate(input, now: now)) } catch {
                    errors.append(.init(index: index, field: error.field, message: error.message))
                }
            }
        }
        if !errors.isEmpty {
            let first = errors[0]
            let detail = (first.index.map { "event \($0): " } ?? "") + (first.field.map { "\($0): " } ?? "") + first.message
                + (errors.count > 1 ? " (and \(errors.count - 1) more; see errors)" : "") + "; nothing was recorded"
            throw Problem(.badRequest, code: "invalid-event", title: "Invalid event", detail: detail, errors: errors)
        }
        let receipts = try await ledger.append(events)
        let duplicates = receipts.filter(\.duplicate).count
        metrics.eventsRecorded(new: receipts.count - duplicates, duplicate: duplicates)
        var proofSize: Int64?
        var note: String?
        if withProof {
            let latest = await ledger.checkpointNote
            proofSize = try ledger.verifier.openCheckpoint(latest).size
            note = latest
        }
        var out: [Receipt] = []
        for receipt in receipts {
            var recordedAt = receipt.recordedAt
            if receipt.duplicate { recordedAt = try await ledger.entry(at: receipt.index).1.recordedAt }
            var view = Receipt(index: receipt.index, leafHash: receipt.leafHash, recordedAt: RFC3339.format(recordedAt), duplicate: receipt.duplicate)
            if let proofSize { view.inclusion = try await ledger.inclusionProof(index: receipt.index, size: proofSize) }
            out.append(view)
        }
        if parsed.single {
            out[0].checkpoint = note
            return try jsonResponse(out[0])
        }
        return try jsonResponse(Receipts(events: out, checkpoint: note))
    }

    // MARK: Consent questions

    struct DecidingView: Encodable {
        var index: Int64
        var action: String
        var scope: String
        var method: String
        var recordedAt: String
        var occurredAt: String

        init(_ event: DecidingEvent) {
            index = event.index
            action = event.header.action.name
            scope = event.header.scope.description
            method = event.header.method.name
            recordedAt = RFC3339.format(event.header.recordedAt)
            occurredAt = RFC3339.format(event.header.occurredAt)
        }
    }

    struct DecisionView: Encodable {
        var decision: String
        var maySend: Bool
        var subject: String
        var sender: String
        var port: String?
        var purpose: String?
        /// The time answered for.
        var at: String
        /// The time asked about, when it was after the log's latest commit (answered as of then).
        var requestedAt: String?
        var deciding: DecidingView?
        var bundle: ProofBundle?
    }

    /// `GET /v1/consent?subject=&sender=&port=&purpose=&at=&proof=true&bodies=false`
    func consent(_ request: Request, _ context: ServiceContext) async throws -> Response {
        let role = try context.requireToken()
        guard let sender = request.query("sender") ?? role.sender else { throw Problem.invalid("sender is required") }
        try context.requireReader(of: sender)
        guard let subjectText = request.query("subject") else { throw Problem.invalid("subject is required") }
        let subject: PhoneNumber
        do { subject = try PhoneNumber(normalizing: subjectText) } catch { throw Problem.invalid("subject: \(error)") }
        let port = request.query("port")
        let purpose = request.query("purpose")
        try checkScope(sender: sender, port: port, purpose: purpose)
        let withProof = try request.flag("proof")
        let bodies = try request.query("bodies") == nil ? true : request.flag("bodies")
        let at = try request.time("at")
        let latest = await ledger.latestCommitTime
        let time: Milliseconds
        if let at { time = at } else if let latest { time = latest } else { time = await ledger.now }
        let question = ConsentQuestion(subject: subject, sender: sender, port: port, purpose: purpose, at: time)
        let answer = try await ledger.answer(question)
        var view = DecisionView(
            decision: answer.decision.rawValue, maySend: answer.decision.allowsSending, subject: subject.masked, sender: sender, port: port,
            purpose: purpose, at: RFC3339.format(answer.at), requestedAt: answer.at < time ? RFC3339.format(time) : nil,
            deciding: answer.deciding.map(DecidingView.init))
        if withProof {
            var bundle = try await ledger.proveConsent(question, includeBodies: bodies)
            // The witnesses' cosignatures of that checkpoint, if they have signed it yet.
            bundle.checkpoint = try await service.cosignedCheckpoint(bundle.checkpoint)
            // The bundle is read at the latest checkpoint, which may be newer than the answer's.
            view.bundle = bundle
            view.decision = bundle.decision.rawValue
            view.maySend = bundle.decision.allowsSending
            view.at = bundle.question.at
            view.requestedAt = bundle.question.requestedAt
            if bundle.deciding != answer.deciding?.index {
                view.deciding = nil
                if let index = bundle.deciding, case .consent(let header) = try await ledger.entry(at: index).1 {
                    view.deciding = DecidingView(DecidingEvent(index: index, header: header))
                }
            }
        }
        return try jsonResponse(view)
    }

    // MARK: MO replies

    /// A raw MO delivery as the SMS gateway hands it over.
    struct MODelivery: Decodable, Sendable {
        /// The user's number as the gateway sends it (`8613800138000`, `+86…`, `138…`).
        var from: String
        /// The destination: the 106 port with its extension (`106900011234`).
        var port: String
        var text: String
        /// When the gateway received it (RFC 3339); default now. Becomes the revocation's `occurredAt`.
        var receivedAt: String?
        /// The gateway's message id (CMPP Msg_Id), for idempotent redelivery.
        var id: String?

        private enum CodingKeys: String, CodingKey, CaseIterable { case from, port, text, receivedAt, id }

        init(from decoder: any Decoder) throws {
            try AnyKey.rejectUnknown(decoder, allowed: Set(CodingKeys.allCases.map(\.rawValue)))
            let c = try decoder.container(keyedBy: CodingKeys.self)
            from = try c.decode(String.self, forKey: .from)
            port = try c.decode(String.self, forKey: .port)
            text = try c.decode(String.self, forKey: .text)
            receivedAt = try c.decodeIfPresent(String.self, forKey: .receivedAt)
            id = try c.decodeIfPresent(String.self, forKey: .id)
        }
    }

    struct ReplyView: Encodable {
        /// `opt-out`, `opt-in`, `unrelated` or `unclear`.
        var verdict: String
        /// The classifier rule that decided (`keyword`, `phrase`, `negated`, `question`, …).
        var reason: String
        var keyword: String?
        var sender: String
        /// The registered port the destination belongs to.
        var port: String
        /// True for `unclear`: stored and flagged for review, no consent change.
        var review: Bool
        /// For an opt-out (opt-in): the revocation (grant) recorded, durably, before this answer.
        var index: Int64?
        var leafHash: Hash?
        var duplicate: Bool?
    }

    struct Replies: Encodable { var replies: [ReplyView] }

    /// `POST /v1/mo`: classifies each reply with the core's MO classifier; opt-outs become
    /// revocations scoped to the sender and registered port the destination maps to, with the raw
    /// text as evidence; a reply that is exactly an opt-in keyword configured for that port (the
    /// sender's consent request) becomes a grant for the port and the request's purpose and
    /// template; every reply is stored with its verdict, unclear ones flagged for review.
    func moReplies(_ request: Request, _ context: ServiceContext) async throws -> Response {
        var request = request
        _ = try context.requireSenderToken(toDo: "deliver MO replies")
        let parsed = try OneOrMany<MODelivery>(try await request.collectBody(upTo: configuration.maxRequestBytes), what: "MO reply")
        guard parsed.items.count <= configuration.maxRepliesPerRequest else {
            throw Problem(
                .contentTooLarge, code: "too-large", title: "Request too large",
                detail: "at most \(configuration.maxRepliesPerRequest) MO replies per request (got \(parsed.items.count))")
        }
        guard !parsed.items.isEmpty else { throw Problem.invalid("the array holds no MO replies") }
        let now = await ledger.now
        var prepared: [PreparedReply] = []
        var errors: [Problem.FieldProblem] = []
        for (i, item) in parsed.items.enumerated() {
            let index = parsed.single ? nil : i
            switch item {
            case .failure(let failure):
                errors.append(.init(index: index, field: failure.field, message: failure.message))
            case .success(let delivery):
                switch try await prepare(delivery, context: context, now: now) {
                case .success(let p): prepared.append(p)
                case .failure(let failure): errors.append(.init(index: index, field: failure.field, message: failure.message))
                }
            }
        }
        if !errors.isEmpty {
            let first = errors[0]
            let detail = (first.index.map { "reply \($0): " } ?? "") + first.message
                + (errors.count > 1 ? " (and \(errors.count - 1) more; see errors)" : "") + "; nothing was recorded"
            throw Problem.invalid(detail, errors: errors)
        }
        // All revocations in one durable batch, before anything is answered.
        let events = prepared.compactMap(\.event)
        var receipts = try await ledger.append(events)[...]
        let duplicates = receipts.filter(\.duplicate).count
        metrics.eventsRecorded(new: receipts.count - duplicates, duplicate: duplicates)
        for p in prepared { metrics.moReply(verdict: p.classification.verdict.name) }
        let logged = await ledger.now
        var views: [ReplyView] = []
        var stored: [StoredReply] = []
        for p in prepared {
            let receipt = p.event == nil ? nil : receipts.popFirst()
            let verdict = p.classification.verdict
            let review = verdict == .unclear
            stored.append(
                StoredReply(
                    receivedAt: p.receivedAt, loggedAt: logged, subject: p.subject.e164, destination: p.delivery.port, sender: p.sender,
                    port: p.port, text: p.delivery.text, verdict: verdict.name, reason: p.classification.reason.name, keyword: verdict.keyword,
                    entry: receipt?.index, review: review, clientKey: p.clientKey))
            views.append(
                ReplyView(
                    verdict: verdict.name, reason: p.classification.reason.name, keyword: verdict.keyword, sender: p.sender, port: p.port,
                    review: review, index: receipt?.index, leafHash: receipt?.leafHash, duplicate: receipt?.duplicate))
        }
        try await service.recordReplies(stored)
        return try parsed.single ? jsonResponse(views[0]) : jsonResponse(Replies(replies: views))
    }

    /// An MO reply checked, mapped to its sender and classified; `event` is the revocation to record.
    struct PreparedReply {
        var delivery: MODelivery
        var subject: PhoneNumber
        var sender: String
        var port: String
        var receivedAt: Milliseconds
        var classification: MOClassification
        var clientKey: String?
        var event: ValidatedEvent?
    }

    /// Checks one delivery: a bad field is returned (listed with the others); a port of another
    /// sender is thrown (403).
    func prepare(_ delivery: MODelivery, context: ServiceContext, now: Milliseconds) async throws -> Result<PreparedReply, DecodeFailure> {
        let subject: PhoneNumber
        do { subject = try PhoneNumber(normalizing: delivery.from) } catch {
            return .failure(DecodeFailure(field: "from", message: "\(error)"))
        }
        guard let resolved = try await service.resolvePort(delivery.port) else {
            return .failure(
                DecodeFailure(
                    field: "port", message: "\(delivery.port.prefix(40)) is not a registered 106 port or an extension of one (consent-ledger port add)"))
        }
        let (sender, port) = resolved
        // Isolation: a sender token delivers only replies to its own ports.
        try context.requireWriter(for: sender)
        var receivedAt = now
        if let text = delivery.receivedAt {
            guard let t = RFC3339.parse(text) else {
                return .failure(DecodeFailure(field: "receivedAt", message: "\"\(text.prefix(40))\" is not an RFC 3339 time"))
            }
            receivedAt = t
        }
        var clientKey: String?
        if let id = delivery.id {
            guard (1...100).contains(id.utf8.count), id.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
                return .failure(DecodeFailure(field: "id", message: "must be 1-100 printable ASCII characters without spaces"))
            }
            clientKey = "mo-" + id
        } else if delivery.receivedAt != nil {
            // A redelivery of the same reply (same number, destination, time and text) is recognised.
            let material = "\(subject.e164)\n\(delivery.port)\n\(receivedAt)\n\(delivery.text)"
            clientKey = "mo-" + String(Digest.hash(.sha256, Array(material.utf8)).hex.prefix(40))
        }
        // Opt-in keywords count only where the sender configured a consent request on this port.
        let optIns = try await service.optIns(port: port)
        let classification = MOClassifier(optInKeywords: optIns.map(\.keyword)).explain(delivery.text)
        var input: EventInput?
        switch classification.verdict {
        case .optOut:
            input = EventInput(
                sender: sender, subject: subject.e164, action: "revoke", port: port, method: ConsentMethod.smsReply.name,
                occurredAt: RFC3339.format(receivedAt),
                evidence: ["reply": delivery.text, "note": "MO reply to \(delivery.port)"], clientKey: clientKey)
        case .optIn(let keyword):
            let request = optIns.first { $0.keyword == keyword }
            input = EventInput(
                sender: sender, subject: subject.e164, action: "grant", port: port, purpose: request?.purpose,
                method: ConsentMethod.smsReply.name, templateHash: request?.templateHash, occurredAt: RFC3339.format(receivedAt),
                evidence: ["reply": delivery.text, "note": "MO reply to \(delivery.port) (consent request keyword \(keyword))"],
                clientKey: clientKey)
        case .unrelated, .unclear:
            input = nil
        }
        var event: ValidatedEvent?
        if let input {
            do { event = try EventValidator().validate(input, now: now) } catch {
                return .failure(DecodeFailure(field: error.field == "occurredAt" ? "receivedAt" : error.field, message: error.message))
            }
        }
        return .success(
            PreparedReply(
                delivery: delivery, subject: subject, sender: sender, port: port, receivedAt: receivedAt, classification: classification,
                clientKey: clientKey, event: event))
    }

    struct ReviewView: Encodable {
        var replies: [StoredReply]
    }

    /// `GET /v1/mo/review[?sender=S]`: the replies classified `unclear`, for a person to decide.
    func review(_ request: Request, _ context: ServiceContext) async throws -> Response {
        let role = try context.requireToken()
        let sender = request.query("sender") ?? role.sender
        if let sender { try context.requireReader(of: sender) } else { try context.requireRegulator() }
        return try jsonResponse(ReviewView(replies: try await service.repliesForReview(sender: sender)))
    }

    // MARK: Ports

    struct PortView: Codable, Sendable {
        var sender: String
        var port: String
    }

    struct PortsView: Encodable { var ports: [PortView] }

    func listPorts(_ request: Request, _ context: ServiceContext) async throws -> Response {
        let role = try context.requireToken()
        let registry = try await service.portRegistry()
        let ports = registry.entries.filter { role.sender == nil || $0.sender == role.sender }.map { PortView(sender: $0.sender, port: $0.port) }
        return try jsonResponse(PortsView(ports: ports))
    }

    func addPort(_ request: Request, _ context: ServiceContext) async throws -> Response {
        var request = request
        try context.requireAdmin()
        let port = try await decodeBody(&request, as: PortView.self, shape: #"{"sender": S, "port": P}"#)
        try await service.addPort(sender: port.sender, port: port.port, now: await ledger.now)
        return try jsonResponse(port, status: .created)
    }
}

extension TileResource {
    var isEntries: Bool {
        if case .entries = self { return true }
        return false
    }
}

extension ServiceContext {
    /// The sender of a sender token; other callers are refused (401 without a token, 403 otherwise).
    func requireSenderToken(toDo action: String) throws -> String {
        switch try requireToken() {
        case .sender(let own): return own
        case .regulator: throw Problem.forbidden("regulator tokens read and never write: only sender tokens \(action)")
        case .admin: throw Problem.forbidden("admin tokens manage the service: only sender tokens \(action)")
        }
    }
}
