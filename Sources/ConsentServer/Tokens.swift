import ConsentCore
import Foundation
import ConsentCrypto
import GRDB

/// What a token may do.
///
/// - `sender(S)`: records and reads only sender S's data (events, consent answers, MO replies to
///   S's ports, the send gate for S).
/// - `regulator`: reads everything (answers and proof bundles for any sender, entry bundles), writes nothing.
/// - `admin`: manages the service (the port registry, the review queue); reads no personal data.
///
/// Clients without a token get the public tier only: the checkpoint and the hash tiles.
public enum Role: Sendable, Equatable, Hashable, CustomStringConvertible {
    case sender(String)
    case regulator
    case admin

    /// `sender`, `regulator` or `admin`.
    public var name: String {
        switch self {
        case .sender: "sender"
        case .regulator: "regulator"
        case .admin: "admin"
        }
    }

    /// The sender id of a sender role.
    public var sender: String? {
        if case .sender(let s) = self { return s }
        return nil
    }

    /// Builds a role from its name and, for `sender`, the sender id (validated like event senders).
    public init(name: String, sender: String?) throws(ServiceError) {
        switch (name, sender) {
        case ("sender", let s?):
            guard EventValidator.isValidSenderID(s) else {
                throw ServiceError.invalid("\"\(s.prefix(80))\" is not a sender id (1-64 of A-Z a-z 0-9 . _ -)")
            }
            self = .sender(s)
        case ("sender", nil): throw ServiceError.invalid("a sender token needs the sender id (--sender)")
        case ("regulator", nil): self = .regulator
        case ("admin", nil): self = .admin
        case ("regulator", _?), ("admin", _?): throw ServiceError.invalid("only sender tokens name a sender")
        default: throw ServiceError.invalid("\"\(name.prefix(40))\" is not a role (sender, regulator or admin)")
        }
    }

    public var description: String { sender.map { "sender \($0)" } ?? name }
}

/// A stored token (its hash is not part of the record).
public struct TokenRecord: Sendable, Equatable {
    /// A short public identifier, for listing and revoking (not a secret).
    public var id: String
    public var role: Role
    public var note: String?
    public var createdAt: Milliseconds
    public var revokedAt: Milliseconds?

    init(id: String, role: Role, note: String?, createdAt: Milliseconds, revokedAt: Milliseconds?) {
        self.id = id
        self.role = role
        self.note = note
        self.createdAt = createdAt
        self.revokedAt = revokedAt
    }

    init(row: Row) {
        let name: String = row["role"]
        let sender: String? = row["sender"]
        // The table's CHECK keeps (role, sender) consistent.
        role = name == "sender" ? .sender(sender ?? "") : name == "admin" ? .admin : .regulator
        id = row["id"]
        note = row["note"]
        createdAt = row["created_at"]
        revokedAt = row["revoked_at"]
    }
}

/// A token as the CLI's `token` commands and `/v1/tokens` show it: never its hash, and the token
/// itself only in the answer to its creation.
public struct TokenView: Encodable, Sendable {
    public var id: String
    public var role: String
    public var sender: String?
    public var note: String?
    public var createdAt: String
    public var revokedAt: String?
    /// Only when just created: the token, shown once.
    public var token: String?

    public init(_ record: TokenRecord, token: String? = nil) {
        id = record.id
        role = record.role.name
        sender = record.role.sender
        note = record.note
        createdAt = RFC3339.format(record.createdAt)
        revokedAt = record.revokedAt.map(RFC3339.format)
        self.token = token
    }
}

/// API bearer tokens: `clt_` followed by 32 random bytes in base64url (43 characters).
public enum APIToken {
    static let prefix = "clt_"

    /// A new random token.
    static func generate() throws -> String {
        prefix + base64URL(try secureRandomBytes(32))
    }

    /// A new token id: 8 random bytes in hex.
    static func generateID() throws -> String { Hex.encode(try secureRandomBytes(8)) }

    /// The stored form of a token: SHA-256 of its UTF-8 bytes. The tokens are random 256-bit
    /// values, so a plain hash (no salt, no slow KDF) is enough to make a leaked table useless.
    public static func hash(_ token: String) -> Hash { Digest.hash(.sha256, Array(token.utf8)) }

    /// True for the shape of a token: the prefix and 43 base64url characters.
    static func isWellFormed(_ token: String) -> Bool {
        let utf8 = Array(token.utf8)
        return token.hasPrefix(prefix) && utf8.count == prefix.utf8.count + 43
            && utf8.dropFirst(prefix.utf8.count).allSatisfy { c in
                (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 45 || c == 95
            }
    }

    static func base64URL(_ bytes: [UInt8]) -> String {
        var text = Base64.encode(bytes)
        text = text.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        while text.hasSuffix("=") { text.removeLast() }
        return text
    }
}

/// Errors of the service layer, worded for the person who has to act on them.
public enum ServiceError: Error, Equatable, CustomStringConvertible {
    case invalid(String)
    case notFound(String)
    case `internal`(String)

    public var description: String {
        switch self {
        case .invalid(let m), .notFound(let m), .internal(let m): m
        }
    }
}
