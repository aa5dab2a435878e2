/// A consent event as a client submits it (CLI flags, a JSON Lines or CSV import row, the HTTP API).
public struct EventInput: Codable, Sendable, Equatable {
    public var sender: String
    public var subject: String
    public var action: String
    public var scope: String?
    public var port: String?
    public var purpose: String?
    public var method: String?
    public var templateHash: String?
    public var occurredAt: String?
    public var evidence: [String: String]?
    public var clientKey: String?

    public init(
        sender: String, subject: String, action: String, scope: String? = nil, port: String? = nil,
        purpose: String? = nil, method: String? = nil, templateHash: String? = nil, occurredAt: String? = nil,
        evidence: [String: String]? = nil, clientKey: String? = nil
    ) {
        self.sender = sender
        self.subject = subject
        self.action = action
        self.scope = scope
        self.port = port
        self.purpose = purpose
        self.method = method
        self.templateHash = templateHash
        self.occurredAt = occurredAt
        self.evidence = evidence
        self.clientKey = clientKey
    }
}

extension EventInput {
    private enum CodingKeys: String, CodingKey, CaseIterable {
        case sender, subject, action, scope, port, purpose, method, templateHash, occurredAt, evidence, clientKey
    }

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// Decodes strictly: an unknown field (a typo such as `ocurredAt`) is an error, not silently dropped.
    public init(from decoder: any Decoder) throws {
        let names = Set(CodingKeys.allCases.map(\.stringValue))
        for key in try decoder.container(keyedBy: AnyKey.self).allKeys where !names.contains(key.stringValue) {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "unknown field \"\(key.stringValue)\""))
        }
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            sender: try c.decode(String.self, forKey: .sender), subject: try c.decode(String.self, forKey: .subject),
            action: try c.decode(String.self, forKey: .action), scope: try c.decodeIfPresent(String.self, forKey: .scope),
            port: try c.decodeIfPresent(String.self, forKey: .port), purpose: try c.decodeIfPresent(String.self, forKey: .purpose),
            method: try c.decodeIfPresent(String.self, forKey: .method),
            templateHash: try c.decodeIfPresent(String.self, forKey: .templateHash),
            occurredAt: try c.decodeIfPresent(String.self, forKey: .occurredAt),
            evidence: try c.decodeIfPresent([String: String].self, forKey: .evidence),
            clientKey: try c.decodeIfPresent(String.self, forKey: .clientKey))
    }
}

/// A consent event that passed validation: normalised, typed, ready to be sequenced.
public struct ValidatedEvent: Sendable, Equatable {
    public var sender: String
    public var scope: Scope
    public var subject: PhoneNumber
    public var action: ConsentAction
    public var method: ConsentMethod
    public var templateHash: Hash?
    /// When the user acted; nil means "when recorded".
    public var occurredAt: Milliseconds?
    public var evidence: [EvidenceField: String]
    public var clientKey: String?
}

/// Why an event was rejected: the field and a message a person can act on.
public struct EventValidationError: Error, Equatable, CustomStringConvertible {
    /// The offending field, as named in the input (`subject`, `occurredAt`, `evidence.ip`, …).
    public let field: String
    public let message: String
    public init(field: String, _ message: String) {
        self.field = field
        self.message = message
    }
    public var description: String { "\(field): \(message)" }
}

/// Validates and normalises ``EventInput``. Pure: the current time is passed in.
public struct EventValidator: Sendable {
    /// How far in the future `occurredAt` may be (clock skew between sender and log).
    public var maximumFutureSkew: Milliseconds
    /// Accept non-Chinese E.164 numbers.
    public var allowOtherCountries: Bool
    /// Largest evidence value, in UTF-8 bytes.
    public static let maximumEvidenceBytes = 4096
    /// Earliest accepted `occurredAt`: 2000-01-01T00:00:00Z.
    public static let earliestOccurredAt: Milliseconds = 946_684_800_000

    public init(maximumFutureSkew: Milliseconds = 5 * 60_000, allowOtherCountries: Bool = false) {
        self.maximumFutureSkew = maximumFutureSkew
        self.allowOtherCountries = allowOtherCountries
    }

    /// True for 1–64 characters of `[A-Za-z0-9._-]` (an 18-character unified social credit code is one).
    public static func isValidSenderID(_ id: String) -> Bool {
        isToken(id, maxLength: 64)
    }

    /// True for a 106-style port: digits starting with 106, 5 to 21 digits (CMPP's source id length).
    public static func isValidPort(_ port: String) -> Bool {
        let utf8 = Array(port.utf8)
        return (5...21).contains(utf8.count) && port.hasPrefix("106") && utf8.allSatisfy { $0 >= 48 && $0 <= 57 }
    }

    /// True for a purpose: 1–64 of `[A-Za-z0-9._-]`.
    public static func isValidPurpose(_ purpose: String) -> Bool { isToken(purpose, maxLength: 64) }

    static func isToken(_ s: String, maxLength: Int) -> Bool { isToken(utf8: s.utf8, maxLength: maxLength) }

    /// True for 1–`maxLength` bytes of `[A-Za-z0-9._-]`.
    static func isToken(utf8: some Collection<UInt8>, maxLength: Int) -> Bool {
        (1...maxLength).contains(utf8.count)
            && utf8.allSatisfy { c in
                (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 46 || c == 95 || c == 45
            }
    }

    /// Validates `input` at time `now`, returning the normalised event or the first problem found.
    public func validate(_ input: EventInput, now: Milliseconds) throws(EventValidationError) -> ValidatedEvent {
        guard EventValidator.isValidSenderID(input.sender) else {
            throw EventValidationError(field: "sender", "\"\(input.sender.prefix(80))\" is not a sender id (1-64 of A-Z a-z 0-9 . _ -)")
        }
        let subject: PhoneNumber
        do {
            subject = try PhoneNumber(normalizing: input.subject, allowOtherCountries: allowOtherCountries)
        } catch {
            throw EventValidationError(field: "subject", "\(error)")
        }
        guard let action = ConsentAction(name: input.action) else {
            throw EventValidationError(field: "action", "\"\(input.action.prefix(40))\" is not an action (grant or revoke)")
        }
        let method: ConsentMethod
        if let name = input.method {
            guard let m = ConsentMethod(name: name) else {
                let names = ConsentMethod.allCases.map(\.name).joined(separator: ", ")
                throw EventValidationError(field: "method", "\"\(name.prefix(40))\" is not a method (\(names))")
            }
            method = m
        } else {
            method = .other
        }
        if let port = input.port, !EventValidator.isValidPort(port) {
            throw EventValidationError(field: "port", "\"\(port.prefix(40))\" is not a 106 port (5-21 digits starting with 106)")
        }
        if let purpose = input.purpose, !EventValidator.isToken(purpose, maxLength: 64) {
            throw EventValidationError(field: "purpose", "\"\(purpose.prefix(80))\" is not a purpose (1-64 of A-Z a-z 0-9 . _ -)")
        }
        let scope: Scope
        switch input.scope ?? "sender" {
        case "global":
            guard input.port == nil, input.purpose == nil else {
                throw EventValidationError(field: "scope", "a global decline cannot name a port or purpose")
            }
            guard action == .revoke else {
                throw EventValidationError(field: "scope", "global scope is only for revocations (a decline of every sender)")
            }
            scope = .global
        case "sender":
            scope = input.port == nil && input.purpose == nil ? .sender : .narrowed(port: input.port, purpose: input.purpose)
        case let other:
            throw EventValidationError(field: "scope", "\"\(other.prefix(40))\" is not a scope (sender or global)")
        }
        var templateHash: Hash?
        if let text = input.templateHash {
            guard let h = Hash(hex: text) else {
                throw EventValidationError(field: "templateHash", "must be 64 hexadecimal characters (a SHA-256 or SM3 hash)")
            }
            guard action == .grant else {
                throw EventValidationError(field: "templateHash", "only grants point to a consent template")
            }
            templateHash = h
        }
        var occurredAt: Milliseconds?
        if let text = input.occurredAt {
            guard let t = RFC3339.parse(text) else {
                throw EventValidationError(field: "occurredAt", "\"\(text.prefix(40))\" is not an RFC 3339 time (e.g. 2026-11-23T12:00:00+08:00)")
            }
            guard t <= now + maximumFutureSkew else {
                throw EventValidationError(
                    field: "occurredAt", "\(RFC3339.format(t)) is in the future (now is \(RFC3339.format(now)), allowed skew \(maximumFutureSkew / 1000) s)")
            }
            guard t >= EventValidator.earliestOccurredAt else {
                throw EventValidationError(field: "occurredAt", "\(RFC3339.format(t)) is before 2000-01-01")
            }
            occurredAt = t
        }
        var evidence: [EvidenceField: String] = [:]
        for (key, value) in input.evidence ?? [:] {
            guard let field = EvidenceField(name: key) else {
                let names = EvidenceField.allCases.map(\.name).joined(separator: ", ")
                throw EventValidationError(field: "evidence", "unknown evidence key \"\(key.prefix(40))\" (known: \(names))")
            }
            guard value.utf8.count <= EventValidator.maximumEvidenceBytes else {
                throw EventValidationError(field: "evidence.\(key)", "longer than \(EventValidator.maximumEvidenceBytes) bytes")
            }
            guard !value.unicodeScalars.contains(where: { $0.value == 0 }) else {
                throw EventValidationError(field: "evidence.\(key)", "contains a NUL character")
            }
            evidence[field] = value
        }
        if let key = input.clientKey {
            let utf8 = Array(key.utf8)
            guard (1...128).contains(utf8.count), utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
                throw EventValidationError(field: "clientKey", "must be 1-128 printable ASCII characters without spaces")
            }
        }
        return ValidatedEvent(
            sender: input.sender, scope: scope, subject: subject, action: action, method: method,
            templateHash: templateHash, occurredAt: occurredAt, evidence: evidence, clientKey: input.clientKey)
    }
}
