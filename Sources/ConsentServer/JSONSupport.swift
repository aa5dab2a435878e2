import ConsentCore
import Foundation
import Hummingbird

/// A JSON response with sorted keys (stable output for clients that diff or hash it).
func jsonResponse(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return Response(
        status: status, headers: [.contentType: "application/json", .cacheControl: "no-store"],
        body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
}

/// A request body that is one JSON object or an array of them, decoded item by item so that every
/// bad item is reported, not just the first.
struct OneOrMany<T: Decodable & Sendable>: Sendable {
    /// Each item, or why it could not be decoded.
    var items: [Result<T, DecodeFailure>]
    /// True when the body was a single object (the response is then a single object too).
    var single: Bool

    init(_ body: ByteBuffer, what: String) throws {
        let data = Data(body.readableBytesView)
        guard let first = data.first(where: { !($0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09) }) else {
            throw Problem.invalid("the body is empty: send one \(what) as a JSON object or several as an array")
        }
        let decoder = JSONDecoder()
        do {
            switch first {
            case UInt8(ascii: "{"):
                single = true
                items = [try decoder.decode(Item.self, from: data).result]
            case UInt8(ascii: "["):
                single = false
                items = try decoder.decode([Item].self, from: data).map(\.result)
            default:
                throw Problem.invalid("the body must be one \(what) as a JSON object or several as an array")
            }
        } catch let error as DecodingError {
            throw Problem.invalid("the body is not valid JSON: \(DecodeFailure(error).message)")
        }
    }

    /// Decodes an item without throwing, so the array goes on to the next one.
    private struct Item: Decodable {
        var result: Result<T, DecodeFailure>
        init(from decoder: any Decoder) throws {
            do { result = .success(try T(from: decoder)) } catch let error as DecodingError {
                result = .failure(DecodeFailure(error))
            }
        }
    }
}

/// A decoding error as a field and a message a person can act on.
struct DecodeFailure: Error, Sendable {
    var field: String?
    var message: String

    init(field: String?, message: String) {
        self.field = field
        self.message = message
    }

    init(_ error: DecodingError) {
        func path(_ keys: [any CodingKey]) -> String? {
            let names = keys.filter { $0.intValue == nil }.map(\.stringValue)
            return names.isEmpty ? nil : names.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context):
            field = path(context.codingPath + [key])
            message = "\(field ?? key.stringValue) is required"
        case .typeMismatch(let type, let context):
            field = path(context.codingPath)
            message = "\(field ?? "value") must be \(Self.describe(type))"
        case .valueNotFound(let type, let context):
            field = path(context.codingPath)
            message = "\(field ?? "value") must be \(Self.describe(type)), not null"
        case .dataCorrupted(let context):
            field = path(context.codingPath)
            var detail = context.debugDescription
            if let underlying = context.underlyingError { detail += " (\(underlying))" }
            message = field.map { "\($0): \(detail)" } ?? detail
        @unknown default:
            field = nil
            message = "\(error)"
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is [String].Type: "an array of strings"
        case is [String: String].Type: "an object of strings"
        case is Int.Type, is Int64.Type: "an integer"
        case is Bool.Type: "true or false"
        default: "of type \(type)"
        }
    }
}

/// Rejects keys a type does not know, so a typo (`recievedAt`) is an error instead of being dropped.
struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }

    static func rejectUnknown(_ decoder: any Decoder, allowed: Set<String>) throws {
        for key in try decoder.container(keyedBy: AnyKey.self).allKeys where !allowed.contains(key.stringValue) {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "unknown field \"\(key.stringValue.prefix(40))\""))
        }
    }
}

extension Request {
    /// A query parameter; an empty value counts as absent.
    func query(_ name: String) -> String? {
        guard let value = uri.queryParameters.get(name), !value.isEmpty else { return nil }
        return value
    }

    /// A boolean query parameter: absent or `false` is false, `true` is true, anything else is refused.
    func flag(_ name: String) throws -> Bool {
        switch query(name) {
        case nil, "false", "0": return false
        case "true", "1": return true
        case let other?: throw Problem.invalid("\(name) must be true or false, not \"\(other.prefix(20))\"")
        }
    }

    /// An optional RFC 3339 time query parameter.
    func time(_ name: String) throws -> Milliseconds? {
        guard let text = query(name) else { return nil }
        guard let time = RFC3339.parse(text) else {
            throw Problem.invalid("\(name): \"\(text.prefix(40))\" is not an RFC 3339 time (e.g. 2026-11-23T12:00:00Z; percent-encode a + offset as %2B)")
        }
        return time
    }
}

/// Checks a question's sender, port and purpose the way events are checked.
func checkScope(sender: String, port: String?, purpose: String?) throws {
    guard EventValidator.isValidSenderID(sender) else {
        throw Problem.invalid("sender: \"\(sender.prefix(80))\" is not a sender id (1-64 of A-Z a-z 0-9 . _ -)")
    }
    if let port, !EventValidator.isValidPort(port) {
        throw Problem.invalid("port: \"\(port.prefix(40))\" is not a 106 port (5-21 digits starting with 106)")
    }
    if let purpose, !EventValidator.isValidPurpose(purpose) {
        throw Problem.invalid("purpose: \"\(purpose.prefix(80))\" is not a purpose (1-64 of A-Z a-z 0-9 . _ -)")
    }
}
