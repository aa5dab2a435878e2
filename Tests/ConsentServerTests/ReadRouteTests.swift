import ConsentCore
import ConsentLedger
import ConsentServer
import ConsentVerifier
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// History, entries and proofs over HTTP.
@Suite struct ReadRouteTests {
    struct InclusionResponse: Decodable {
        var proof: InclusionProof
        var checkpoint: String
    }

    struct ConsistencyResponse: Decodable {
        var proof: ConsistencyProof
        var checkpoint: String
        var oldCheckpoint: String?
    }

    @Test func historyEntriesAndProofs() async throws {
        let fixture = try await ServerFixture()
        try await fixture.record([
            EventInput(sender: "bank", subject: "13800138000", action: "grant", method: "web-form", evidence: ["ip": "203.0.113.9"])
        ])
        try await fixture.record([
            EventInput(sender: "shop", subject: "13800138000", action: "grant"),
            EventInput(sender: "operator", subject: "13800138000", action: "revoke", scope: "global"),
        ])
        let verifier = LogVerifier(key: fixture.ledger.verifier)
        try await fixture.app.test(.router) { client in
            // bank sees its own event and the global decline, not shop's grant.
            let history = try await client.send(.get, "/v1/history?subject=13800138000", fixture.headers(.bank)).json()
            let events = try #require(history["events"] as? [[String: Any]])
            #expect(events.compactMap { $0["index"] as? Int } == [0, 3])
            #expect(events.compactMap { $0["scope"] as? String } == ["sender", "global"])
            let all = try await client.send(.get, "/v1/history?subject=13800138000", fixture.headers(.regulator)).json()
            #expect((all["events"] as? [Any])?.count == 3)

            // A regulator reads an entry with its body.
            let entry = try await client.send(.get, "/v1/entries/0", fixture.headers(.regulator)).json()
            #expect(entry["kind"] as? String == "consent" && entry["subject"] as? String == "+8613800138000")
            #expect((entry["evidence"] as? [String: String])?["ip"] == "203.0.113.9")
            #expect(try await client.send(.get, "/v1/entries/1", fixture.headers(.regulator)).json()["kind"] as? String == "commit")
            try expectProblem(try await client.send(.get, "/v1/entries/99", fixture.headers(.regulator)), .notFound)
            try expectProblem(try await client.send(.get, "/v1/entries/x", fixture.headers(.regulator)), .badRequest)

            // Proofs verify against the checkpoint they come with.
            let inclusion = try await client.send(.get, "/v1/proofs/inclusion?index=3", fixture.headers(.admin)).decode(InclusionResponse.self)
            #expect(try verifier.verify(inclusion.proof, checkpoint: inclusion.checkpoint).size == 5)
            let old = try await client.send(.get, "/v1/proofs/inclusion?index=0&size=2", fixture.headers(.shop)).decode(InclusionResponse.self)
            #expect(try verifier.verify(old.proof, checkpoint: old.checkpoint).size == 2)
            let consistency = try await client.send(.get, "/v1/proofs/consistency?old=2", fixture.headers(.shop)).decode(ConsistencyResponse.self)
            try verifier.verify(consistency.proof, checkpoint: consistency.checkpoint, oldCheckpoint: try #require(consistency.oldCheckpoint))
            try expectProblem(try await client.send(.get, "/v1/proofs/inclusion?index=0&size=3", fixture.headers(.shop)), .notFound)
            try expectProblem(try await client.send(.get, "/v1/proofs/inclusion?index=9", fixture.headers(.shop)), .badRequest)
            try expectProblem(try await client.send(.get, "/v1/proofs/consistency", fixture.headers(.shop)), .badRequest)
        }
    }
}
