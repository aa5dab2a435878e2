import ConsentCore
import ConsentLedger
import ConsentServer
import ConsentStoreSQLite
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing

/// A fresh temporary data directory, removed at the end of the test.
final class TempDir: Sendable {
    let path: String
    init() { path = FileManager.default.temporaryDirectory.appendingPathComponent("cl-server-\(UUID().uuidString)").path }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    var directory: DataDirectory { DataDirectory(path) }
}

/// The callers every route is tried with.
enum Caller: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case anonymous, bank, shop, regulator, admin
    var testDescription: String { rawValue }
}

/// A ledger with two senders (bank owns port 10690001, shop 10690002), a token per role, and the
/// application built exactly as `serve` builds it.
struct ServerFixture: Sendable {
    let dir: TempDir
    let ledger: Ledger
    let service: ServiceStore
    let tokens: [Caller: String]
    let configuration: ServerConfiguration

    static let bankNumber = "13800138000"

    init(configuration: ServerConfiguration = ServerConfiguration(), loadGateIndex: Bool = true) async throws {
        dir = TempDir()
        let store = try SQLiteStore(directory: dir.directory)
        _ = try await Ledger.create(directory: dir.directory, store: store, origin: "test.example/server", suite: .sha256Ed25519)
        ledger = try await Ledger.open(directory: dir.directory, store: store)
        service = try ServiceStore(directory: dir.directory)
        var tokens: [Caller: String] = [:]
        tokens[.bank] = try await service.createToken(role: .sender("bank"), now: 0).token
        tokens[.shop] = try await service.createToken(role: .sender("shop"), now: 0).token
        tokens[.regulator] = try await service.createToken(role: .regulator, now: 0).token
        tokens[.admin] = try await service.createToken(role: .admin, now: 0).token
        self.tokens = tokens
        try await service.addPort(sender: "bank", port: "10690001", now: 0)
        try await service.addPort(sender: "shop", port: "10690002", now: 0)
        self.configuration = configuration
        // As `serve` does before it listens.
        if loadGateIndex { try await ledger.loadGateIndex() }
    }

    var app: some ApplicationProtocol {
        var logger = Logger(label: "test.server")
        logger.logLevel = .warning
        return buildApplication(ledger: ledger, service: service, configuration: configuration, logger: logger)
    }

    func headers(_ caller: Caller, contentType: String = "application/json") -> HTTPFields {
        var fields: HTTPFields = [.contentType: contentType]
        if let token = tokens[caller] { fields[.authorization] = "Bearer \(token)" }
        return fields
    }

    /// Records events straight through the ledger (test setup).
    @discardableResult
    func record(_ inputs: [EventInput]) async throws -> [AppendReceipt] {
        let now = await ledger.now
        return try await ledger.append(try inputs.map { try EventValidator().validate($0, now: now) })
    }
}

extension TestClientProtocol {
    /// Sends a request with a JSON (or other) body.
    func send(_ method: HTTPRequest.Method, _ uri: String, _ headers: HTTPFields, body: String? = nil) async throws -> TestResponse {
        try await execute(uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
    }
}

extension TestResponse {
    var text: String { String(buffer: body) }
    var data: Data { Data(body.readableBytesView) }

    func json() throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ProblemShapeError(description: "not a JSON object: \(text)")
        }
        return object
    }

    func decode<T: Decodable>(_ type: T.Type) throws -> T { try JSONDecoder().decode(type, from: data) }
}

struct ProblemShapeError: Error, CustomStringConvertible { var description: String }

/// Checks that an error response is RFC 9457 problem details with the status, a type URN and a detail.
func expectProblem(_ response: TestResponse, _ status: HTTPResponse.Status, code: String? = nil, sourceLocation: SourceLocation = #_sourceLocation)
    throws
{
    #expect(response.status == status, "\(response.text)", sourceLocation: sourceLocation)
    #expect(response.headers[.contentType] == "application/problem+json", sourceLocation: sourceLocation)
    let object = try response.json()
    #expect(object["status"] as? Int == Int(status.code), sourceLocation: sourceLocation)
    #expect((object["type"] as? String)?.hasPrefix("urn:consent-ledger:problem:") == true, sourceLocation: sourceLocation)
    #expect(((object["detail"] as? String) ?? "").count > 5, sourceLocation: sourceLocation)
    if let code { #expect(object["type"] as? String == "urn:consent-ledger:problem:\(code)", sourceLocation: sourceLocation) }
}
