import ConsentCore
import ConsentCrypto
import ConsentLedger
import ConsentServer
import ConsentVerifier
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// What the routes do, end to end in process, checked with the offline verifier where there is a proof.
@Suite struct ServiceBehaviourTests {
    struct RecordResponse: Decodable {
        struct Receipt: Decodable {
            var index: Int64
            var leafHash: Hash
            var recordedAt: String
            var duplicate: Bool
            var inclusion: InclusionProof?
            var checkpoint: String?
        }
        var events: [Receipt]
        var checkpoint: String?
    }

    struct ConsentResponse: Decodable {
        var decision: String
        var maySend: Bool
        var subject: String
        var deciding: Deciding?
        var bundle: ProofBundle?
        struct Deciding: Decodable { var index: Int64 }
    }

    @Test func recordThenQueryWithProofAndVerifyOffline() async throws {
        let fixture = try await ServerFixture()
        let verifier = LogVerifier(key: fixture.ledger.verifier)
        try await fixture.app.test(.router) { client in
            let body = """
                [{"sender":"bank","subject":"+86 138-0013-8000","action":"grant","port":"10690001","method":"web-form",
                  "templateHash":"\(String(repeating: "ab", count: 32))","evidence":{"ip":"203.0.113.9"},"clientKey":"web-1"},
                 {"sender":"bank","subject":"13900139000","action":"revoke","clientKey":"web-2"}]
                """
            let response = try await client.send(.post, "/v1/events?proof=true", fixture.headers(.bank), body: body)
            #expect(response.status == .ok, "\(response.text)")
            let recorded = try response.decode(RecordResponse.self)
            #expect(recorded.events.map(\.index) == [0, 1])
            #expect(recorded.events.allSatisfy { !$0.duplicate && RFC3339.parse($0.recordedAt) != nil })
            // Every response is sent after the commit: the proofs verify against the signed checkpoint returned.
            let note = try #require(recorded.checkpoint)
            for receipt in recorded.events {
                let inclusion = try #require(receipt.inclusion)
                #expect(inclusion.leafHash == receipt.leafHash)
                try verifier.verify(inclusion, checkpoint: note)
            }

            // The same event again: nothing appended, the original index.
            let again = try await client.send(.post, "/v1/events", fixture.headers(.bank), body: """
                {"sender":"bank","subject":"13800138000","action":"grant","port":"10690001","method":"web-form",
                 "templateHash":"\(String(repeating: "ab", count: 32))","evidence":{"ip":"203.0.113.9"},"clientKey":"web-1"}
                """)
            let single = try again.decode(RecordResponse.Receipt.self)
            #expect(single.duplicate && single.index == 0 && single.recordedAt == recorded.events[0].recordedAt)
            // The same key for a different event: 409, nothing appended.
            let conflict = try await client.send(
                .post, "/v1/events", fixture.headers(.bank), body: #"{"sender":"bank","subject":"13800138000","action":"revoke","clientKey":"web-1"}"#)
            try expectProblem(conflict, .conflict, code: "conflict")
            #expect(await fixture.ledger.size == 3)

            let query = try await client.send(.get, "/v1/consent?subject=13800138000&sender=bank&port=10690001&proof=true", fixture.headers(.bank))
            #expect(query.status == .ok, "\(query.text)")
            let answer = try query.decode(ConsentResponse.self)
            #expect(answer.decision == "consented" && answer.maySend && answer.deciding?.index == 0)
            #expect(answer.subject == "+86138****8000")
            let verified = try verifier.verify(try #require(answer.bundle))
            #expect(verified.decision == .consented && verified.deciding?.index == 0)
            #expect(verified.bodies[0]?.evidence[.ip] == "203.0.113.9")

            // The regulator reads the same; without bodies the bundle discloses none.
            let regulator = try await client.send(
                .get, "/v1/consent?subject=13900139000&sender=bank&proof=true&bodies=false", fixture.headers(.regulator))
            let refused = try regulator.decode(ConsentResponse.self)
            #expect(refused.decision == "refused")
            let verifiedRefusal = try verifier.verify(try #require(refused.bundle))
            #expect(verifiedRefusal.decision == .refused && verifiedRefusal.bodies.isEmpty)

            // Never asked: silence is refusal.
            let never = try await client.send(.get, "/v1/consent?subject=13700137000", fixture.headers(.bank)).decode(ConsentResponse.self)
            #expect(never.decision == "never-asked" && !never.maySend)
        }
    }

    @Test func invalidEventsAreAllListedAndNothingIsWritten() async throws {
        let fixture = try await ServerFixture()
        try await fixture.app.test(.router) { client in
            let body = """
                [{"sender":"bank","subject":"13800138000","action":"grant"},
                 {"sender":"bank","subject":"010-12345678","action":"grant"},
                 {"sender":"bank","subject":"13800138000","action":"maybe"},
                 {"sender":"bank","subject":"13800138000","action":"grant","ocurredAt":"2026-01-01T00:00:00Z"},
                 {"sender":"bank","action":"grant"}]
                """
            let response = try await client.send(.post, "/v1/events", fixture.headers(.bank), body: body)
            try expectProblem(response, .badRequest, code: "invalid-event")
            let errors = try #require(try response.json()["errors"] as? [[String: Any]])
            #expect(errors.compactMap { $0["index"] as? Int } == [1, 2, 3, 4])
            #expect(errors.compactMap { $0["field"] as? String }.prefix(2) == ["subject", "action"])
            #expect((errors[2]["message"] as? String)?.contains("ocurredAt") == true)
            #expect((errors[3]["message"] as? String)?.contains("subject") == true)

            for bad in ["", "not json", "42", "[]"] {
                try expectProblem(try await client.send(.post, "/v1/events", fixture.headers(.bank), body: bad), .badRequest)
            }
            try expectProblem(try await client.send(.get, "/v1/consent?subject=12345&sender=bank", fixture.headers(.bank)), .badRequest)
            try expectProblem(try await client.send(.get, "/v1/consent?subject=13800138000", fixture.headers(.regulator)), .badRequest)
            try expectProblem(
                try await client.send(.get, "/v1/consent?subject=13800138000&at=yesterday", fixture.headers(.bank)), .badRequest)
            try expectProblem(try await client.send(.get, "/v1/nowhere", fixture.headers(.bank)), .notFound, code: "not-found")
        }
        #expect(await fixture.ledger.size == 0)
    }

    @Test func requestsOverTheSizeLimitAreRefused() async throws {
        let fixture = try await ServerFixture(configuration: ServerConfiguration(maxRequestBytes: 2048, maxEventsPerRequest: 2))
        try await fixture.app.test(.router) { client in
            let big = "[" + String(repeating: #"{"sender":"bank","subject":"13800138000","action":"grant"},"#, count: 60).dropLast() + "]"
            try expectProblem(try await client.send(.post, "/v1/events", fixture.headers(.bank), body: big), .contentTooLarge, code: "too-large")
            let three = "[" + String(repeating: #"{"sender":"bank","subject":"13800138000","action":"grant"},"#, count: 3).dropLast() + "]"
            try expectProblem(try await client.send(.post, "/v1/events", fixture.headers(.bank), body: three), .contentTooLarge, code: "too-large")
        }
        #expect(await fixture.ledger.size == 0)
    }

    struct ReplyResponse: Decodable {
        var verdict: String
        var reason: String
        var keyword: String?
        var sender: String
        var port: String
        var review: Bool
        var index: Int64?
        var duplicate: Bool?
    }

    @Test func anMOReplyTDToAMappedPortBecomesARevocation() async throws {
        let fixture = try await ServerFixture()
        try await fixture.record([EventInput(sender: "bank", subject: ServerFixture.bankNumber, action: "grant")])
        let verifier = LogVerifier(key: fixture.ledger.verifier)
        try await fixture.app.test(.router) { client in
            // The gateway form: "86" prefix, the port with an extension, full-width punctuation.
            let delivery = #"{"from":"8613800138000","port":"106900011234","text":"TD。","receivedAt":"2026-11-23T12:00:00Z"}"#
            let response = try await client.send(.post, "/v1/mo", fixture.headers(.bank), body: delivery)
            #expect(response.status == .ok, "\(response.text)")
            let reply = try response.decode(ReplyResponse.self)
            #expect(reply.verdict == "opt-out" && reply.reason == "keyword" && reply.keyword == "TD")
            #expect(reply.sender == "bank" && reply.port == "10690001" && !reply.review)
            let index = try #require(reply.index)

            // Redelivered: recognised, nothing appended.
            let again = try await client.send(.post, "/v1/mo", fixture.headers(.bank), body: delivery).decode(ReplyResponse.self)
            #expect(again.index == index && again.duplicate == true)

            // Messages from that port are now refused, with the reply text as evidence in the proof.
            let query = try await client.send(
                .get, "/v1/consent?subject=13800138000&sender=bank&port=10690001&proof=true", fixture.headers(.bank))
            let answer = try query.decode(ConsentResponse.self)
            #expect(answer.decision == "refused" && answer.deciding?.index == index)
            let verified = try verifier.verify(try #require(answer.bundle))
            #expect(verified.decision == .refused)
            #expect(verified.deciding?.header.method == .smsReply)
            #expect(verified.deciding?.header.scope == .narrowed(port: "10690001", purpose: nil))
            #expect(verified.bodies[index]?.evidence[.replyText] == "TD。")
            #expect(verified.deciding?.header.occurredAt == RFC3339.parse("2026-11-23T12:00:00Z"))
            // The sender-wide grant still covers its other ports.
            let other = try await client.send(.get, "/v1/consent?subject=13800138000&sender=bank&port=10690009", fixture.headers(.bank))
            #expect(try other.decode(ConsentResponse.self).decision == "consented")
        }
    }

    @Test func mORepliesGetAVerdictEachAndUnclearOnesAreQueuedForReview() async throws {
        let fixture = try await ServerFixture()
        try await fixture.app.test(.router) { client in
            let body = """
                [{"from":"+8613900139000","port":"10690001","text":"我要退订","id":"g-1"},
                 {"from":"13900139001","port":"10690001","text":"我不想退订","id":"g-2"},
                 {"from":"13900139002","port":"10690001","text":"R是什么意思","id":"g-3"},
                 {"from":"13900139003","port":"106900019","text":"ＳＴＯＰ","id":"g-4"}]
                """
            let response = try await client.send(.post, "/v1/mo", fixture.headers(.bank), body: body)
            #expect(response.status == .ok, "\(response.text)")
            struct Replies: Decodable { var replies: [ReplyResponse] }
            let replies = try response.decode(Replies.self).replies
            #expect(replies.map(\.verdict) == ["opt-out", "unrelated", "unclear", "opt-out"])
            #expect(replies.map { $0.index != nil } == [true, false, false, true])
            #expect(replies.map(\.review) == [false, false, true, false])

            let review = try await client.send(.get, "/v1/mo/review", fixture.headers(.bank)).json()
            let queued = try #require(review["replies"] as? [[String: Any]])
            #expect(queued.count == 1)
            #expect(queued.first?["text"] as? String == "R是什么意思")
            #expect(queued.first?["reason"] as? String == "mention")
            // Another sender's queue does not show it.
            let shopQueue = try await client.send(.get, "/v1/mo/review", fixture.headers(.shop)).json()
            #expect((shopQueue["replies"] as? [Any])?.isEmpty == true)

            // A port nobody registered, a bad number: listed, nothing recorded.
            let size = await fixture.ledger.size
            let bad = try await client.send(.post, "/v1/mo", fixture.headers(.bank), body: """
                [{"from":"13900139000","port":"10699999","text":"TD"},{"from":"12345","port":"10690001","text":"TD"},
                 {"from":"13900139000","port":"10690001","text":"TD","recievedAt":"2026-11-23T12:00:00Z"}]
                """)
            try expectProblem(bad, .badRequest, code: "invalid-request")
            let errors = try #require(try bad.json()["errors"] as? [[String: Any]])
            #expect(errors.compactMap { $0["field"] as? String }.prefix(2) == ["port", "from"])
            #expect((errors.last?["message"] as? String)?.contains("recievedAt") == true)
            #expect(await fixture.ledger.size == size)
        }
    }

    struct GateResponse: Decodable {
        struct Item: Decodable {
            var number: String
            var reason: String
            var entry: Int64?
        }
        var at: String?
        var allowed: [Item]
        var blocked: [Item]
    }

    @Test func theGateAnswersWithAReasonPerNumber() async throws {
        let fixture = try await ServerFixture()
        try await fixture.record([
            EventInput(sender: "bank", subject: "13800138000", action: "grant"),
            EventInput(sender: "bank", subject: "13800138001", action: "grant"),
            EventInput(sender: "bank", subject: "13800138002", action: "grant", port: "10690001"),
        ])
        try await fixture.record([
            EventInput(sender: "bank", subject: "13800138001", action: "revoke", port: "10690001"),
            EventInput(sender: "operator", subject: "13800138002", action: "revoke", scope: "global"),
        ])
        try await fixture.app.test(.router) { client in
            let body = #"{"sender":"bank","port":"10690001","numbers":["138 0013 8000","13800138001","13800138002","13800138003","010-1234"]}"#
            let response = try await client.send(.post, "/v1/gate", fixture.headers(.bank), body: body)
            #expect(response.status == .ok, "\(response.text)")
            let gate = try response.decode(GateResponse.self)
            #expect(gate.allowed.map(\.number) == ["138 0013 8000"])
            #expect(gate.allowed.first?.entry == 0)
            let reasons = Dictionary(uniqueKeysWithValues: gate.blocked.map { ($0.number, $0.reason) })
            #expect(reasons == ["13800138001": "refused", "13800138002": "refused", "13800138003": "never-asked", "010-1234": "invalid-number"])
            #expect(gate.at != nil)

            // The same as CSV, from another port: the port-narrowed revocation does not apply there.
            let csv = try await client.send(
                .post, "/v1/gate?sender=bank&port=10690002", fixture.headers(.bank, contentType: "text/csv"),
                body: "number\n13800138000\n13800138001\n13800138002\n")
            let csvGate = try csv.decode(GateResponse.self)
            #expect(csvGate.allowed.map(\.number) == ["13800138000", "13800138001"])
            #expect(csvGate.blocked.map(\.reason) == ["refused"])
        }
    }

    @Test func tilesRebuildTheCheckpointRootAndEntryBundlesMatchTheLeaves() async throws {
        let fixture = try await ServerFixture()
        // Over 256 entries, so that there are full and partial tiles at level 0 and a level-1 tile.
        for batch in 0..<6 {
            try await fixture.record((0..<60).map { i in
                EventInput(sender: "bank", subject: "1390013" + String(format: "%04d", batch * 60 + i), action: "grant")
            })
        }
        let verifier = LogVerifier(key: fixture.ledger.verifier)
        try await fixture.app.test(.router) { client in
            let hasher = Digest(.sha256)
            let note = try await client.send(.get, "/checkpoint", [:])
            #expect(note.headers[.contentType] == "text/plain; charset=utf-8")
            let checkpoint = try verifier.checkpoint(note.text)
            #expect(checkpoint.size == 366)
            var tiles: [TileID: [Hash]] = [:]
            for tile in TileID.tiles(forTreeSize: checkpoint.size) {
                let response = try await client.send(.get, "/" + tile.path, [:])
                #expect(response.status == .ok, "\(tile.path)")
                #expect(response.headers[.cacheControl]?.contains("immutable") == true)
                tiles[tile] = try tile.hashes(fromData: Array(response.body.readableBytesView))
            }
            #expect(tiles.keys.contains(TileID(level: 1, index: 0, width: 1)))
            #expect(try TileID.rootHash(size: checkpoint.size, tiles: tiles, hasher: hasher) == checkpoint.rootHash)

            // Entry bundles (regulators): each entry hashes to its leaf in the level-0 tile.
            for bundle in EntryBundleID.bundles(forTreeSize: checkpoint.size) {
                let response = try await client.send(.get, "/" + bundle.path, fixture.headers(.regulator))
                #expect(response.status == .ok)
                let entries = try bundle.decode(Array(response.body.readableBytesView))
                #expect(entries.map { hasher.leafHash($0) } == tiles[bundle.tile])
            }

            // Beyond the tree, or not a canonical path: 404 problem.
            try expectProblem(try await client.send(.get, "/tile/0/002", [:]), .notFound)
            try expectProblem(try await client.send(.get, "/tile/0/1", [:]), .notFound)
            try expectProblem(try await client.send(.get, "/tile/0/001.p/200", [:]), .notFound)
        }
    }

    @Test func healthReportsTheLog() async throws {
        let fixture = try await ServerFixture()
        try await fixture.app.test(.router) { client in
            let health = try await client.send(.get, "/healthz", [:]).json()
            #expect(health["status"] as? String == "ok" && health["size"] as? Int == 0)
            #expect(health["origin"] as? String == "test.example/server")
        }
    }
}
