import ArgumentParser
import ConsentCore
import ConsentLedger
import Foundation

extension ConsentLedgerCommand {
    struct EntryCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "entry", abstract: "Show one entry: its decoded header, hashes in hex, and the encoded header in base64.")

        @OptionGroup var dataOptions: DataOptions
        @Option(help: "The entry index.") var index: Int64
        @Flag(help: "Also show the body (the number and the evidence: personal data).") var body = false
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let ledger = try await dataOptions.open(writable: false)
            let (stored, header) = try await ledger.entry(at: index)
            var view = EntryView(index: stored.index, leafHash: stored.leafHash, header: header, encoded: stored.header)
            if body, case .consent = header {
                if let bytes = stored.body {
                    let decoded = try ConsentBody(decoding: bytes)
                    view.body = EntryView.Body(
                        subject: decoded.subject,
                        evidence: Dictionary(uniqueKeysWithValues: decoded.evidence.map { ($0.key.name, $0.value) }),
                        encoded: Base64.encode(bytes))
                } else {
                    view.bodyPurged = true
                }
            }
            if output.json {
                try printJSON(view)
            } else {
                print("index:        \(view.index)")
                print("leaf hash:    \(view.leafHash.hex)")
                print("kind:         \(view.kind)")
                print("recorded at:  \(view.recordedAt)")
                if let v = view.occurredAt { print("occurred at:  \(v)") }
                if let v = view.sender { print("sender:       \(v)") }
                if let v = view.scope { print("scope:        \(v)") }
                if let v = view.action { print("action:       \(v)") }
                if let v = view.method { print("method:       \(v)") }
                if let v = view.subjectKey { print("subject key:  \(v.hex)") }
                if let v = view.templateHash { print("template:     \(v.hex)") }
                if let v = view.bodyHash { print("body hash:    \(v.hex)") }
                if let v = view.idempotencyKeyHash { print("idempotency:  \(v.hex)") }
                if let v = view.keyPredecessor { print("key previous: entry \(v.index) (\(v.leafHash.hex))") }
                if let v = view.stateRoot { print("state root:   \(v.hex)") }
                if let v = view.eventCount { print("events:       \(v) in this batch") }
                print("previous:     \(view.previousLeafHash.hex)")
                if let body = view.body {
                    print("subject:      \(body.subject)")
                    for (k, v) in body.evidence.sorted(by: { $0.key < $1.key }) { print("evidence:     \(k)=\(v)") }
                } else if view.bodyPurged == true {
                    print("body:         purged")
                }
            }
        }
    }
}

/// An entry as `entry --json` prints it.
struct EntryView: Encodable {
    struct Body: Encodable {
        var subject: String
        var evidence: [String: String]
        var encoded: String
    }
    var index: Int64
    var leafHash: Hash
    var kind: String
    var version: UInt8 = EntryHeader.version
    var previousLeafHash: Hash
    var recordedAt: String
    var occurredAt: String?
    var sender: String?
    var scope: String?
    var port: String?
    var purpose: String?
    var action: String?
    var method: String?
    var subjectKey: Hash?
    var templateHash: Hash?
    var bodyHash: Hash?
    var idempotencyKeyHash: Hash?
    var keyPredecessor: KeyLink?
    var stateRoot: Hash?
    var eventCount: UInt32?
    var encoded: String
    var body: Body?
    var bodyPurged: Bool?
    var holdPlacedAt: Int64?
    var holdReason: String?
    var holdReference: String?
    var retention: String?
    var purgeAfter: String?
    var purged: [Int64]?

    init(index: Int64, leafHash: Hash, header: EntryHeader, encoded: [UInt8]) {
        self.index = index
        self.leafHash = leafHash
        self.previousLeafHash = header.previousLeafHash
        self.recordedAt = RFC3339.format(header.recordedAt)
        self.encoded = Base64.encode(encoded)
        switch header {
        case .consent(let h):
            kind = "consent"
            occurredAt = RFC3339.format(h.occurredAt)
            sender = h.sender
            switch h.scope {
            case .global: scope = "global"
            case .sender: scope = "sender"
            case .narrowed(let p, let x):
                scope = "narrowed"
                port = p
                purpose = x
            }
            action = h.action.name
            method = h.method.name
            subjectKey = h.subjectKey
            templateHash = h.templateHash
            bodyHash = h.bodyHash
            idempotencyKeyHash = h.idempotencyKeyHash
            keyPredecessor = h.keyPredecessor
        case .commit(let h):
            kind = "commit"
            stateRoot = h.stateRoot
            eventCount = h.eventCount
        case .hold(let h):
            kind = "hold"
            switch h.action {
            case .place(let target, let reason, let reference):
                action = "place"
                subjectKey = target.subjectKey
                sender = target.sender
                holdReason = reason
                holdReference = reference
            case .release(let placedAt, let reason, let reference):
                action = "release"
                holdPlacedAt = placedAt
                holdReason = reason
                holdReference = reference
            }
        case .purge(let h):
            kind = "purge"
            retention = "\(h.minimum)"
            purgeAfter = "\(h.purgeAfter)"
            purged = h.purged
        }
    }
}
