// "Did subject U consent to sender S (port P, purpose X) at time T?" — the semantics, pure.
// docs/SEMANTICS.md states them with a table of cases.

/// The answer to a consent question.
public enum ConsentDecision: String, Sendable, Codable, CaseIterable {
    /// The latest covering event recorded at or before T is a grant.
    case consented
    /// The latest covering event is a revocation or a global decline.
    case refused
    /// No covering event was recorded at or before T: silence, which counts as refusal.
    case neverAsked = "never-asked"

    /// Whether a commercial message may be sent.
    public var allowsSending: Bool { self == .consented }
}

/// A consent question.
public struct ConsentQuestion: Sendable, Equatable {
    public var subject: PhoneNumber
    public var sender: String
    public var port: String?
    public var purpose: String?
    /// The time the question is about (the log's recording time axis).
    public var at: Milliseconds

    public init(subject: PhoneNumber, sender: String, port: String? = nil, purpose: String? = nil, at: Milliseconds) {
        self.subject = subject
        self.sender = sender
        self.port = port
        self.purpose = purpose
        self.at = at
    }

    /// The scopes whose events cover a message from this sender, port and purpose: the global
    /// decline, the sender-wide relationship, and every narrowed scope that contains the message
    /// (the port alone, the purpose alone, the port with the purpose).
    public var coveringScopes: [Scope] { Self.coveringScopes(port: port, purpose: purpose) }

    /// The covering scopes of a message from `port` for `purpose` (they do not depend on the subject).
    public static func coveringScopes(port: String?, purpose: String?) -> [Scope] {
        var scopes: [Scope] = [.global, .sender]
        if let port { scopes.append(.narrowed(port: port, purpose: nil)) }
        if let purpose { scopes.append(.narrowed(port: nil, purpose: purpose)) }
        if let port, let purpose { scopes.append(.narrowed(port: port, purpose: purpose)) }
        return scopes
    }

    /// The state key of each covering scope, in ``coveringScopes`` order.
    public func stateKeys(subjectKey: Hash, hasher: some HashFunction) -> [Hash] {
        coveringScopes.map { StateMap.stateKey(subjectKey: subjectKey, sender: sender, scope: $0, hasher: hasher) }
    }
}

/// An event as far as a decision needs it.
public struct DecidingEvent: Sendable, Equatable {
    public var index: Int64
    public var header: ConsentHeader

    public init(index: Int64, header: ConsentHeader) {
        self.index = index
        self.header = header
    }
}

extension ConsentDecision {
    /// The decision given the latest event at or before T of each covering key: the most recently
    /// recorded of them decides (log order breaks ties within a batch).
    public static func decide(_ latestPerKey: [DecidingEvent?]) -> (decision: ConsentDecision, deciding: DecidingEvent?) {
        let deciding = latestPerKey.compactMap({ $0 }).max(by: { $0.index < $1.index })
        return (ConsentDecision(latest: deciding?.header.action), deciding)
    }

    /// The decision the latest covering event's action gives: a grant means consented, a
    /// revocation or global decline refused, no event at all never asked.
    public init(latest action: ConsentAction?) {
        switch action {
        case .grant: self = .consented
        case .revoke: self = .refused
        case nil: self = .neverAsked
        }
    }

    /// The brute-force oracle: replays `entries` (in log order) and answers `question` for the
    /// subject key `subjectKey`. Used by tests to check every faster path.
    public static func replay(
        _ entries: [(index: Int64, header: EntryHeader)], question: ConsentQuestion, subjectKey: Hash, hasher: some HashFunction
    ) -> (decision: ConsentDecision, deciding: DecidingEvent?) {
        let keys = Set(question.stateKeys(subjectKey: subjectKey, hasher: hasher))
        var latest: DecidingEvent?
        for (index, header) in entries {
            guard case .consent(let h) = header, h.recordedAt <= question.at, keys.contains(h.stateKey(hasher: hasher)) else { continue }
            latest = DecidingEvent(index: index, header: h)
        }
        return decide([latest])
    }
}
