import ConsentCore
import ConsentLedger
import ConsentServer
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// Every route × every caller: who is let in and who is refused, with the status each gets.
@Suite struct RoleTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var method: HTTPRequest.Method
        var uri: String
        var body: String?
        var contentType = "application/json"
        /// The status per caller.
        var expected: [Caller: HTTPResponse.Status]
        var testDescription: String { "\(method) \(uri)" }
    }

    /// anonymous, bank, shop, regulator, admin
    static func statuses(_ a: HTTPResponse.Status, _ b: HTTPResponse.Status, _ s: HTTPResponse.Status, _ r: HTTPResponse.Status, _ ad: HTTPResponse.Status)
        -> [Caller: HTTPResponse.Status]
    {
        [.anonymous: a, .bank: b, .shop: s, .regulator: r, .admin: ad]
    }

    /// The cases, against a log of 2 entries (one event for bank and its batch's commit entry).
    static let cases: [Case] = [
        Case(method: .get, uri: "/healthz", expected: statuses(.ok, .ok, .ok, .ok, .ok)),
        Case(method: .get, uri: "/checkpoint", expected: statuses(.ok, .ok, .ok, .ok, .ok)),
        Case(method: .get, uri: "/checkpoint/cosigned", expected: statuses(.notFound, .notFound, .notFound, .notFound, .notFound)),
        Case(method: .get, uri: "/tile/0/000.p/2", expected: statuses(.ok, .ok, .ok, .ok, .ok)),
        Case(method: .get, uri: "/tile/entries/000.p/2", expected: statuses(.unauthorized, .forbidden, .forbidden, .ok, .forbidden)),
        Case(
            method: .post, uri: "/v1/events",
            body: #"{"sender":"bank","subject":"13900139000","action":"grant","clientKey":"role-1"}"#,
            expected: statuses(.unauthorized, .ok, .forbidden, .forbidden, .forbidden)),
        Case(
            method: .get, uri: "/v1/consent?subject=13800138000&sender=bank",
            expected: statuses(.unauthorized, .ok, .forbidden, .ok, .forbidden)),
        Case(
            method: .get, uri: "/v1/consent?subject=13800138000&sender=bank&proof=true",
            expected: statuses(.unauthorized, .ok, .forbidden, .ok, .forbidden)),
        Case(
            method: .post, uri: "/v1/mo", body: #"{"from":"8613800138000","port":"106900011234","text":"好的"}"#,
            expected: statuses(.unauthorized, .ok, .forbidden, .forbidden, .forbidden)),
        Case(method: .get, uri: "/v1/mo/review?sender=bank", expected: statuses(.unauthorized, .ok, .forbidden, .ok, .forbidden)),
        Case(
            method: .post, uri: "/v1/gate", body: #"{"sender":"bank","port":"10690001","numbers":["13800138000"]}"#,
            expected: statuses(.unauthorized, .ok, .forbidden, .ok, .forbidden)),
        Case(
            method: .post, uri: "/v1/gate?sender=bank", body: "number\n13800138000\n", contentType: "text/csv",
            expected: statuses(.unauthorized, .ok, .forbidden, .ok, .forbidden)),
        Case(method: .get, uri: "/v1/ports", expected: statuses(.unauthorized, .ok, .ok, .ok, .ok)),
        Case(
            method: .post, uri: "/v1/ports", body: #"{"sender":"telco","port":"10690003"}"#,
            expected: statuses(.unauthorized, .forbidden, .forbidden, .forbidden, .created)),
        Case(method: .get, uri: "/v1/history?subject=13800138000&sender=bank", expected: statuses(.unauthorized, .ok, .forbidden, .ok, .forbidden)),
        Case(method: .get, uri: "/v1/history?subject=13800138000", expected: statuses(.unauthorized, .ok, .ok, .ok, .forbidden)),
        Case(method: .get, uri: "/v1/entries/0", expected: statuses(.unauthorized, .forbidden, .forbidden, .ok, .forbidden)),
        Case(method: .get, uri: "/v1/proofs/inclusion?index=0", expected: statuses(.unauthorized, .ok, .ok, .ok, .ok)),
        Case(method: .get, uri: "/v1/proofs/consistency?old=1", expected: statuses(.unauthorized, .ok, .ok, .ok, .ok)),
        Case(method: .get, uri: "/readyz", expected: statuses(.ok, .ok, .ok, .ok, .ok)),
        Case(method: .get, uri: "/checkpoints", expected: statuses(.ok, .ok, .ok, .ok, .ok)),
        Case(method: .get, uri: "/bodies/000.p/2", expected: statuses(.unauthorized, .forbidden, .forbidden, .ok, .forbidden)),
        Case(method: .get, uri: "/metrics", expected: statuses(.unauthorized, .forbidden, .forbidden, .forbidden, .ok)),
        Case(
            method: .post, uri: "/v1/holds", body: #"{"sender":"bank","reason":"complaint","reference":"12321-2026-0042"}"#,
            expected: statuses(.unauthorized, .forbidden, .forbidden, .forbidden, .created)),
        Case(method: .get, uri: "/v1/holds", expected: statuses(.unauthorized, .forbidden, .forbidden, .ok, .ok)),
        // Entry 0 is an event, not a hold: the admin is let in and told so.
        Case(
            method: .post, uri: "/v1/holds/0/release", body: #"{"reason":"closed","reference":"12321-2026-0042"}"#,
            expected: statuses(.unauthorized, .forbidden, .forbidden, .forbidden, .badRequest)),
        Case(method: .post, uri: "/v1/compact", body: #"{"dryRun":true}"#, expected: statuses(.unauthorized, .forbidden, .forbidden, .forbidden, .ok)),
        Case(method: .post, uri: "/v1/tokens", body: #"{"role":"regulator"}"#, expected: statuses(.unauthorized, .forbidden, .forbidden, .forbidden, .created)),
        Case(method: .get, uri: "/v1/tokens", expected: statuses(.unauthorized, .forbidden, .forbidden, .forbidden, .ok)),
        Case(method: .delete, uri: "/v1/tokens/0000000000000000", expected: statuses(.unauthorized, .forbidden, .forbidden, .forbidden, .notFound)),
    ]

    @Test(arguments: cases)
    func everyRouteForEveryCaller(_ test: Case) async throws {
        let fixture = try await ServerFixture()
        try await fixture.record([EventInput(sender: "bank", subject: ServerFixture.bankNumber, action: "grant", port: "10690001")])
        #expect(await fixture.ledger.size == 2)
        try await fixture.app.test(.router) { client in
            for caller in Caller.allCases {
                let response = try await client.send(test.method, test.uri, fixture.headers(caller, contentType: test.contentType), body: test.body)
                let expected = test.expected[caller]!
                #expect(response.status == expected, "\(caller.rawValue): \(response.text)")
                if expected.code >= 400 { try expectProblem(response, expected) }
            }
        }
    }

    /// docs/openapi.yaml covers every case above (checked in OpenAPITests); this keeps the matrix
    /// honest: every route the service has is in it.
    @Test func theMatrixCoversEveryRoute() {
        let tried = Set(Self.cases.map { c in
            let path = c.uri.split(separator: "?")[0]
            let route =
                path.hasPrefix("/tile/") ? "/tile/{path}"
                : path.hasPrefix("/bodies/") ? "/bodies/{path}"
                : path.hasPrefix("/v1/entries/") ? "/v1/entries/{index}"
                : path.hasPrefix("/v1/tokens/") ? "/v1/tokens/{id}"
                : path.hasPrefix("/v1/holds/") ? "/v1/holds/{entry}/release" : String(path)
            return "\(c.method.rawValue) \(route)"
        })
        let routes = Set(serviceRoutes.map { "\($0.method) \($0.path)" })
        #expect(tried == routes)
    }

    @Test func badTokensAreRefusedEverywhere() async throws {
        let fixture = try await ServerFixture()
        let revoked = try await fixture.service.createToken(role: .regulator, now: 0)
        try await fixture.service.revokeToken(id: revoked.record.id, now: 1)
        try await fixture.app.test(.router) { client in
            for header in ["Bearer \(revoked.token)", "Bearer clt_nonsense", "Basic abc", "Bearer"] {
                let response = try await client.send(.get, "/checkpoint", [.authorization: header])
                try expectProblem(response, .unauthorized, code: "unauthorized")
                #expect(response.headers[.wwwAuthenticate] == "Bearer")
            }
        }
    }

    @Test func aSenderCannotWriteForAnotherSenderInABatch() async throws {
        let fixture = try await ServerFixture()
        try await fixture.app.test(.router) { client in
            let body = #"[{"sender":"bank","subject":"13900139000","action":"grant"},{"sender":"shop","subject":"13900139000","action":"grant"}]"#
            let response = try await client.send(.post, "/v1/events", fixture.headers(.bank), body: body)
            try expectProblem(response, .forbidden, code: "forbidden")
            #expect(response.text.contains("event 1"))
        }
        #expect(await fixture.ledger.size == 0)
    }

    @Test func aSenderReadsOnlyItsOwnPortsAndReviewQueue() async throws {
        let fixture = try await ServerFixture()
        try await fixture.app.test(.router) { client in
            let ports = try await client.send(.get, "/v1/ports", fixture.headers(.shop)).json()["ports"] as? [[String: String]]
            #expect(ports == [["sender": "shop", "port": "10690002"]])
            let all = try await client.send(.get, "/v1/ports", fixture.headers(.regulator)).json()["ports"] as? [[String: String]]
            #expect(all?.count == 2)
            // Without ?sender, a sender token sees its own queue; a regulator sees everyone's.
            #expect(try await client.send(.get, "/v1/mo/review", fixture.headers(.shop)).status == .ok)
            #expect(try await client.send(.get, "/v1/mo/review", fixture.headers(.regulator)).status == .ok)
        }
    }
}
