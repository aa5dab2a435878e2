import ConsentCore
import ConsentLedger
import ConsentServer
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@Suite struct GateStreamingTests {
    /// CSV in, CSV out: one row per input line in input order, with the same verdicts as JSON, and
    /// the moment answered for in the headers; lists past the JSON limit stream through.
    @Test func csvRowsInInputOrderMatchTheJSONAnswer() async throws {
        let fixture = try await ServerFixture(configuration: ServerConfiguration(maxGateNumbers: 5))
        try await fixture.record([
            EventInput(sender: "bank", subject: "13800138000", action: "grant"),
            EventInput(sender: "bank", subject: "13800138001", action: "grant", port: "10690001"),
        ])
        try await fixture.record([EventInput(sender: "bank", subject: "13800138001", action: "revoke", port: "10690001")])
        let numbers = ["13800138001", "138 0013 8000", "bad,one", "13800138002", "+86 138-0013-8000", "13800138000", "13800138003"]
        let csv = "number\n" + numbers.map { $0.contains(",") ? "\"\($0)\"" : $0 }.joined(separator: "\r\n") + "\n"
        try await fixture.app.test(.router) { client in
            var headers = fixture.headers(.bank, contentType: "text/csv")
            headers[.accept] = "text/csv"
            let response = try await client.send(.post, "/v1/gate?sender=bank&port=10690001", headers, body: csv)
            #expect(response.status == .ok, "\(response.text)")
            #expect(response.headers[.contentType]?.hasPrefix("text/csv") == true)
            #expect(response.headers[HTTPFields.consentAt] != nil)
            #expect(response.headers[HTTPFields.consentLogSize] == "5")
            let lines = response.text.split(separator: "\n").map(String.init)
            #expect(lines.first == "number,allowed,reason,entry,detail")
            // The one quoted number ("bad,one") is unquoted first, so that the rows split on commas.
            let rows = lines.dropFirst().map {
                $0.replacingOccurrences(of: "\"bad,one\"", with: "bad;one").split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            }
            #expect(rows.count == numbers.count)
            #expect(rows.map { $0[1] } == ["false", "true", "false", "false", "true", "true", "false"])
            #expect(rows.map { $0[2] } == ["refused", "consented", "invalid-number", "never-asked", "consented", "consented", "never-asked"])
            #expect(rows[0][3] == "3")
            #expect(rows[1][3] == "0")
            // A number with a comma comes back quoted (RFC 4180).
            #expect(lines[3].hasPrefix("\"bad,one\",false,invalid-number,,"))

            // The JSON answer is capped (5 here) and says how to stream instead.
            let json = try await client.send(.post, "/v1/gate?sender=bank&port=10690001", fixture.headers(.bank, contentType: "text/csv"), body: csv)
            try expectProblem(json, .contentTooLarge, code: "too-large")
            #expect(json.text.contains("text/csv"))
            let small = try await client.send(
                .post, "/v1/gate", fixture.headers(.bank), body: #"{"port":"10690001","numbers":["13800138001","13800138000","x\"y"]}"#)
            let object = try small.json()
            #expect(object["counts"] as? [String: Int] == ["allowed": 1, "blocked": 2])
            let blocked = object["blocked"] as? [[String: Any]]
            #expect(blocked?.map { $0["number"] as? String } == ["13800138001", "x\"y"])
            #expect(blocked?.last?["detail"] is String)
        }
    }

    /// Without the gate's table (a reader's path) the answers are the same.
    @Test func theKeyLinkPathGivesTheSameRows() async throws {
        var bodies: [String] = []
        for load in [true, false] {
            let fixture = try await ServerFixture(loadGateIndex: load)
            try await fixture.record([EventInput(sender: "bank", subject: "13800138000", action: "grant")])
            try await fixture.record([EventInput(sender: "operator", subject: "13800138000", action: "revoke", scope: "global")])
            try await fixture.record([EventInput(sender: "bank", subject: "13800138001", action: "grant", port: "10690001")])
            let text = try await fixture.app.test(.router) { client in
                var headers = fixture.headers(.bank, contentType: "text/csv")
                headers[.accept] = "text/csv"
                return try await client.send(.post, "/v1/gate?port=10690001", headers, body: "13800138000\n13800138001\n13800138002").text
            }
            bodies.append(text)
        }
        #expect(bodies[0] == bodies[1])
        #expect(bodies[0].contains("13800138000,false,refused,2,"))
    }
}

@Suite struct AdminRouteTests {
    @Test func holdsArePlacedListedAndReleased() async throws {
        let fixture = try await ServerFixture()
        try await fixture.record([EventInput(sender: "bank", subject: "13800138000", action: "grant")])
        try await fixture.app.test(.router) { client in
            let placed = try await client.send(
                .post, "/v1/holds", fixture.headers(.admin),
                body: #"{"subject":"138 0013 8000","sender":"bank","reason":"complaint under investigation","reference":"12321-2026-0042"}"#)
            #expect(placed.status == .created, "\(placed.text)")
            let index = try #require(placed.json()["index"] as? Int)
            let listed = try await client.send(.get, "/v1/holds", fixture.headers(.regulator)).json()["holds"] as? [[String: Any]]
            #expect(listed?.count == 1)
            #expect(listed?.first?["index"] as? Int == index)
            #expect(listed?.first?["sender"] as? String == "bank")
            let bad = try await client.send(.post, "/v1/holds", fixture.headers(.admin), body: #"{"reason":"x","reference":"has space"}"#)
            try expectProblem(bad, .badRequest)
            let released = try await client.send(
                .post, "/v1/holds/\(index)/release", fixture.headers(.admin), body: #"{"reason":"closed","reference":"12321-2026-0042"}"#)
            #expect(released.status == .ok, "\(released.text)")
            let after = try await client.send(.get, "/v1/holds", fixture.headers(.admin)).json()["holds"] as? [[String: Any]]
            #expect(after?.isEmpty == true)
        }
        // Both are log entries, and the log still checks.
        #expect(await fixture.ledger.size == 6)
        _ = try await fixture.ledger.checkIntegrity()
    }

    @Test func tokensAreCreatedListedAndRevoked() async throws {
        let fixture = try await ServerFixture()
        try await fixture.app.test(.router) { client in
            let created = try await client.send(.post, "/v1/tokens", fixture.headers(.admin), body: #"{"role":"sender","sender":"telco","note":"ops"}"#)
            #expect(created.status == .created, "\(created.text)")
            let object = try created.json()
            let token = try #require(object["token"] as? String)
            let id = try #require(object["id"] as? String)
            var headers: HTTPFields = [.authorization: "Bearer \(token)"]
            #expect(try await client.send(.get, "/v1/ports", headers).status == .ok)
            let listed = try await client.send(.get, "/v1/tokens", fixture.headers(.admin))
            #expect(!listed.text.contains(token))
            #expect(listed.text.contains(id))
            let revoked = try await client.send(.delete, "/v1/tokens/\(id)", fixture.headers(.admin))
            #expect(revoked.status == .ok)
            #expect(try revoked.json()["revokedAt"] is String)
            headers[.contentType] = "application/json"
            try expectProblem(try await client.send(.get, "/v1/ports", headers), .unauthorized)
            try expectProblem(try await client.send(.post, "/v1/tokens", fixture.headers(.admin), body: #"{"role":"sender"}"#), .badRequest)
        }
    }

    @Test func compactionRunsAndReports() async throws {
        let fixture = try await ServerFixture()
        try await fixture.record([EventInput(sender: "bank", subject: "13800138000", action: "revoke")])
        try await fixture.app.test(.router) { client in
            let dry = try await client.send(.post, "/v1/compact", fixture.headers(.admin), body: #"{"dryRun":true}"#).json()
            #expect(dry["dryRun"] as? Bool == true)
            #expect(dry["examined"] as? Int == 1)
            #expect(dry["purged"] as? Int == 0)
            // Six months on, the revocation's body is due.
            let later = RFC3339.format(await fixture.ledger.now + 200 * 86_400_000)
            let run = try await client.send(.post, "/v1/compact", fixture.headers(.admin), body: #"{"now":"\#(later)"}"#)
            #expect(run.status == .ok, "\(run.text)")
            #expect(try run.json()["purged"] as? Int == 1)
            try expectProblem(try await client.send(.post, "/v1/compact", fixture.headers(.admin), body: #"{"now":"yesterday"}"#), .badRequest)
        }
    }
}

@Suite struct OperationsTests {
    @Test func metricsCountRequestsEventsAndGateNumbers() async throws {
        let fixture = try await ServerFixture()
        try await fixture.app.test(.router) { client in
            let event = #"{"sender":"bank","subject":"13900139000","action":"grant","clientKey":"m-1"}"#
            _ = try await client.send(.post, "/v1/events", fixture.headers(.bank), body: event)
            _ = try await client.send(.post, "/v1/events", fixture.headers(.bank), body: event)
            _ = try await client.send(.post, "/v1/gate", fixture.headers(.bank), body: #"{"numbers":["13900139000","13900139001","1"]}"#)
            _ = try await client.send(.get, "/v1/entries/0", fixture.headers(.bank))
            let response = try await client.send(.get, "/metrics", fixture.headers(.admin))
            #expect(response.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
            let lines = Set(response.text.split(separator: "\n").map(String.init))
            #expect(lines.contains(#"consent_ledger_http_requests_total{method="POST",route="/v1/events",status="200"} 2"#))
            #expect(lines.contains(#"consent_ledger_http_requests_total{method="GET",route="/v1/entries/{index}",status="403"} 1"#))
            #expect(lines.contains("consent_ledger_events_recorded_total 1"))
            #expect(lines.contains("consent_ledger_events_duplicate_total 1"))
            #expect(lines.contains("consent_ledger_gate_numbers_total 3"))
            #expect(lines.contains("consent_ledger_batches_committed_total 1"))
            #expect(lines.contains("consent_ledger_log_entries 2"))
            #expect(lines.contains(#"consent_ledger_batch_events_bucket{le="1"} 1"#))
            #expect(lines.contains("# TYPE consent_ledger_http_request_duration_seconds histogram"))
            // No query string, number or token in any label.
            #expect(!response.text.contains("13900139000"))
            for line in lines where !line.hasPrefix("#") {
                #expect(line.split(separator: " ").count == 2, "\(line)")
            }
        }
    }

    @Test func aTokenOverItsRateIsToldWhenToRetry() async throws {
        // One request per 1,000 s after a burst of 3: however slow the machine, the 4th is refused.
        let fixture = try await ServerFixture(configuration: ServerConfiguration(rateLimit: 0.001, rateBurst: 3))
        try await fixture.app.test(.router) { client in
            for _ in 0..<3 { #expect(try await client.send(.get, "/v1/ports", fixture.headers(.bank)).status == .ok) }
            let refused = try await client.send(.get, "/v1/ports", fixture.headers(.bank))
            try expectProblem(refused, .tooManyRequests, code: "rate-limited")
            #expect(refused.headers[.retryAfter].flatMap { Int($0) }.map { $0 >= 900 && $0 <= 1000 } == true)
            // Another token has its own bucket; the public tier is not limited.
            #expect(try await client.send(.get, "/v1/ports", fixture.headers(.shop)).status == .ok)
            for _ in 0..<5 { #expect(try await client.send(.get, "/checkpoint", [:]).status == .ok) }
        }
    }

    @Test func readinessWaitsForTheGateTable() async throws {
        let fixture = try await ServerFixture(loadGateIndex: false)
        try await fixture.app.test(.router) { client in
            let before = try await client.send(.get, "/readyz", [:])
            #expect(before.status == .serviceUnavailable)
            #expect((try before.json()["checks"] as? [String: String])?["gate"] == "loading")
            try await fixture.ledger.loadGateIndex()
            let after = try await client.send(.get, "/readyz", [:])
            #expect(after.status == .ok)
            #expect(try after.json()["status"] as? String == "ready")
        }
    }

    @Test func waitTrueAnswersWithTheCheckpointAndProof() async throws {
        let fixture = try await ServerFixture()
        try await fixture.app.test(.router) { client in
            let response = try await client.send(
                .post, "/v1/events?wait=true", fixture.headers(.bank), body: #"{"sender":"bank","subject":"13900139000","action":"grant"}"#)
            let object = try response.json()
            #expect(object["checkpoint"] is String)
            #expect(object["inclusion"] is [String: Any])
        }
    }
}
