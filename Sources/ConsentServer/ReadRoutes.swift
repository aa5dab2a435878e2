import ConsentCore
import ConsentLedger
import Foundation
import Hummingbird

/// The read API beside the consent question: a subject's history, single entries with their
/// bodies (regulators), and RFC 9162 proofs with the checkpoint they verify against.
extension ConsentRoutes {
    struct HistoryEvent: Encodable {
        var index: Int64
        var sender: String
        var action: String
        var scope: String
        var method: String
        var recordedAt: String
        var occurredAt: String
        /// recordedAt − occurredAt: how long the log took to learn of the user's act.
        var lagSeconds: Int64

        init(_ event: DecidingEvent) {
            index = event.index
            sender = event.header.sender
            action = event.header.action.name
            scope = event.header.scope.description
            method = event.header.method.name
            recordedAt = RFC3339.format(event.header.recordedAt)
            occurredAt = RFC3339.format(event.header.occurredAt)
            lagSeconds = (event.header.recordedAt - event.header.occurredAt) / 1000
        }
    }

    struct HistoryView: Encodable {
        var subject: String
        var sender: String?
        var events: [HistoryEvent]
    }

    /// `GET /v1/history?subject=&sender=`: every event of a subject with a sender (global declines
    /// included), in log order. A regulator may leave out the sender: every sender's events.
    func history(_ request: Request, _ context: ServiceContext) async throws -> Response {
        let role = try context.requireToken()
        let sender = request.query("sender") ?? role.sender
        if let sender { try context.requireReader(of: sender) } else { try context.requireRegulator() }
        guard let subjectText = request.query("subject") else { throw Problem.invalid("subject is required") }
        let subject: PhoneNumber
        do { subject = try PhoneNumber(normalizing: subjectText) } catch { throw Problem.invalid("subject: \(error)") }
        if let sender { try checkScope(sender: sender, port: nil, purpose: nil) }
        let events = try await ledger.history(of: subject, sender: sender)
        return try jsonResponse(HistoryView(subject: subject.masked, sender: sender, events: events.map(HistoryEvent.init)))
    }

    struct EntryView: Encodable {
        var index: Int64
        var leafHash: Hash
        /// The encoded header (the Merkle leaf data), base64.
        var header: String
        var kind: String
        var recordedAt: String
        var sender: String?
        var scope: String?
        var action: String?
        var method: String?
        var occurredAt: String?
        var subjectKey: Hash?
        var templateHash: Hash?
        var keyPredecessor: Int64?
        var stateRoot: Hash?
        /// The body: the number and the evidence (personal data).
        var subject: String?
        var evidence: [String: String]?
        /// The encoded body, base64 (its hash is in the header).
        var body: String?
        /// When the body was purged under the retention policy: the purge entry.
        var bodyPurgedBy: Int64?
    }

    /// `GET /v1/entries/{index}` (regulators): the decoded entry and its body.
    func entry(_ request: Request, _ context: ServiceContext) async throws -> Response {
        try context.requireRegulator()
        guard let text = context.parameters.get("index"), let index = Int64(text), index >= 0 else {
            throw Problem.invalid("the entry index must be a non-negative integer")
        }
        guard index < (await ledger.size) else { throw Problem.notFound("no entry at index \(index)") }
        let (stored, header) = try await ledger.entry(at: index)
        var view = EntryView(
            index: index, leafHash: stored.leafHash, header: Base64.encode(stored.header), kind: "\(header.kind)",
            recordedAt: RFC3339.format(header.recordedAt))
        switch header {
        case .consent(let h):
            view.kind = "consent"
            view.sender = h.sender
            view.scope = h.scope.description
            view.action = h.action.name
            view.method = h.method.name
            view.occurredAt = RFC3339.format(h.occurredAt)
            view.subjectKey = h.subjectKey
            view.templateHash = h.templateHash
            view.keyPredecessor = h.keyPredecessor?.index
            if let bytes = stored.body {
                let body = try ConsentBody(decoding: bytes)
                view.subject = body.subject
                view.evidence = Dictionary(uniqueKeysWithValues: body.evidence.map { ($0.key.name, $0.value) })
                view.body = Base64.encode(bytes)
            } else {
                view.bodyPurgedBy = stored.purgedBy
            }
        case .commit(let c):
            view.kind = "commit"
            view.stateRoot = c.stateRoot
        case .hold:
            view.kind = "hold"
        case .purge:
            view.kind = "purge"
        }
        return try jsonResponse(view)
    }

    struct InclusionView: Encodable {
        var proof: InclusionProof
        /// The signed checkpoint of the proof's tree size.
        var checkpoint: String
    }

    struct ConsistencyView: Encodable {
        var proof: ConsistencyProof
        var checkpoint: String
        /// The checkpoint signed at the old size, when the log signed one there (every batch end).
        var oldCheckpoint: String?
    }

    /// `GET /v1/proofs/inclusion?index=N[&size=M]`: any token (hashes only). The size must be one the
    /// log signed a checkpoint at (every batch end); default the latest.
    func inclusionProof(_ request: Request, _ context: ServiceContext) async throws -> Response {
        _ = try context.requireToken()
        guard let index = try request.integer("index") else { throw Problem.invalid("index is required") }
        let (size, note) = try await signedSize(try request.integer("size"))
        let proof = try await ledger.inclusionProof(index: index, size: size)
        return try jsonResponse(InclusionView(proof: proof, checkpoint: note))
    }

    /// `GET /v1/proofs/consistency?old=M[&new=N]`: any token.
    func consistencyProof(_ request: Request, _ context: ServiceContext) async throws -> Response {
        _ = try context.requireToken()
        guard let old = try request.integer("old") else { throw Problem.invalid("old is required") }
        let (size, note) = try await signedSize(try request.integer("new"))
        let proof = try await ledger.consistencyProof(oldSize: old, newSize: size)
        let oldNote = try await ledger.store.checkpoint(size: old)
        return try jsonResponse(ConsistencyView(proof: proof, checkpoint: note, oldCheckpoint: oldNote))
    }

    /// A tree size with its signed checkpoint: the latest, or one the log signed.
    private func signedSize(_ requested: Int64?) async throws -> (Int64, String) {
        let latest = await ledger.checkpointNote
        let latestSize = try ledger.verifier.openCheckpoint(latest).size
        guard let requested, requested != latestSize else { return (latestSize, latest) }
        guard requested >= 0, requested <= latestSize, let note = try await ledger.store.checkpoint(size: requested) else {
            throw Problem.notFound("the log signed no checkpoint at size \(requested) (sizes at batch ends up to \(latestSize))")
        }
        return (requested, note)
    }
}

extension Request {
    /// An optional integer query parameter.
    func integer(_ name: String) throws -> Int64? {
        guard let text = query(name) else { return nil }
        guard let value = Int64(text) else { throw Problem.invalid("\(name) must be an integer, not \"\(text.prefix(20))\"") }
        return value
    }
}
