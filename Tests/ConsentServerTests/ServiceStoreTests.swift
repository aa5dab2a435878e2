import ConsentCore
import ConsentLedger
import ConsentServer
import Foundation
import Logging
import Testing

/// Tokens and ports in `service.sqlite`.
@Suite struct ServiceStoreTests {
    @Test func tokensAreRandomStoredHashedAndRevocable() async throws {
        let dir = TempDir()
        let store = try ServiceStore(directory: dir.directory)
        let (token, record) = try await store.createToken(role: .sender("bank"), note: "crm", now: 1000)
        let (other, _) = try await store.createToken(role: .regulator, now: 2000)
        #expect(token.hasPrefix("clt_") && token.count == 47 && token != other)
        #expect(try await store.token(hash: APIToken.hash(token)) == record)
        #expect(record.role == .sender("bank") && record.note == "crm")
        // Only the hash is stored: the token's text appears nowhere in the file.
        let file = try Data(contentsOf: URL(fileURLWithPath: dir.directory.path(ServiceStore.fileName)))
        #expect(file.range(of: Data(token.utf8)) == nil)
        let mode = try FileManager.default.attributesOfItem(atPath: dir.directory.path(ServiceStore.fileName))[.posixPermissions] as? Int
        #expect(mode == 0o600)

        let revoked = try await store.revokeToken(id: record.id, now: 3000)
        #expect(revoked.revokedAt == 3000)
        #expect(try await store.token(hash: APIToken.hash(token)) == nil)
        // Revoking again changes nothing; an unknown id is an error.
        #expect(try await store.revokeToken(id: record.id, now: 4000).revokedAt == 3000)
        await #expect(throws: ServiceError.self) { try await store.revokeToken(id: "nope", now: 0) }
        #expect(try await store.tokens().map(\.role) == [.sender("bank"), .regulator])
        // A second handle (another process: the CLI while the server runs) sees the same state.
        let again = try ServiceStore(directory: dir.directory)
        #expect(try await again.token(hash: APIToken.hash(other))?.role == .regulator)
    }

    @Test func rolesAreValidated() throws {
        #expect(throws: ServiceError.self) { try Role(name: "sender", sender: nil) }
        #expect(throws: ServiceError.self) { try Role(name: "sender", sender: "bad sender") }
        #expect(throws: ServiceError.self) { try Role(name: "regulator", sender: "bank") }
        #expect(throws: ServiceError.self) { try Role(name: "root", sender: nil) }
        #expect(try Role(name: "admin", sender: nil) == .admin)
    }

    @Test func portsResolveByLongestPrefixAndBelongToOneSender() async throws {
        let dir = TempDir()
        let store = try ServiceStore(directory: dir.directory)
        try await store.addPort(sender: "bank", port: "10690001", now: 0)
        try await store.addPort(sender: "shop", port: "106900011", now: 0)
        try await store.addPort(sender: "bank", port: "10690001", now: 0)  // the same pair again: fine
        await #expect(throws: ServiceError.self) { try await store.addPort(sender: "shop", port: "10690001", now: 0) }
        await #expect(throws: ServiceError.self) { try await store.addPort(sender: "shop", port: "95555", now: 0) }
        #expect(try await store.resolvePort("106900012345")! == (sender: "bank", port: "10690001"))
        #expect(try await store.resolvePort("1069000112")! == (sender: "shop", port: "106900011"))
        #expect(try await store.resolvePort("10690001")! == (sender: "bank", port: "10690001"))
        #expect(try await store.resolvePort("1069000") == nil)
        #expect(try await store.resolvePort("10690001x") == nil)
        #expect(try await store.portRegistry().count == 2)
        #expect(try await store.removePort("106900011"))
        #expect(try await store.resolvePort("1069000112")! == (sender: "bank", port: "10690001"))
    }
}

/// The serve command's heartbeat.
@Suite struct HeartbeatTests {
    @Test func anIdleLogGetsHeartbeatsAndABusyOneDoesNot() async throws {
        let fixture = try await ServerFixture()
        let beats = Task { await runHeartbeats(ledger: fixture.ledger, every: .milliseconds(50), logger: Logger(label: "test")) }
        defer { beats.cancel() }
        // Idle: commit entries appear (polling generously: the machine may be busy).
        for _ in 0..<200 where await fixture.ledger.size < 2 { try await Task.sleep(for: .milliseconds(50)) }
        #expect(await fixture.ledger.size >= 2)
        beats.cancel()
        await beats.value
        let size = await fixture.ledger.size
        try await Task.sleep(for: .milliseconds(200))
        #expect(await fixture.ledger.size == size)
    }
}

/// Opt-in keywords configured per port.
@Suite struct OptInTests {
    @Test func onlySafeKeywordsOnRegisteredPorts() async throws {
        let dir = TempDir()
        let store = try ServiceStore(directory: dir.directory)
        try await store.addPort(sender: "bank", port: "10690001", now: 0)
        try await store.addOptIn(OptInKeyword(port: "10690001", keyword: "Y", purpose: "promo"), now: 0)
        for keyword in ["T", "不要", "退订吧", ""] {
            await #expect(throws: ServiceError.self) { try await store.addOptIn(OptInKeyword(port: "10690001", keyword: keyword), now: 0) }
        }
        await #expect(throws: ServiceError.self) { try await store.addOptIn(OptInKeyword(port: "10690009", keyword: "Y"), now: 0) }
        await #expect(throws: ServiceError.self) {
            try await store.addOptIn(OptInKeyword(port: "10690001", keyword: "是", templateHash: "nothex"), now: 0)
        }
        #expect(try await store.optIns(port: "10690001") == [OptInKeyword(port: "10690001", keyword: "Y", purpose: "promo")])
    }

    @Test func aConfiguredKeywordRecordsAGrantForThePortAndPurpose() async throws {
        let fixture = try await ServerFixture()
        let template = String(repeating: "cd", count: 32)
        try await fixture.service.addOptIn(OptInKeyword(port: "10690001", keyword: "Y", purpose: "promo", templateHash: template), now: 0)
        try await fixture.app.test(.router) { client in
            let body = #"[{"from":"13800138000","port":"106900011","text":"ｙ！","id":"in-1"}]"#
            let bank = try await client.send(.post, "/v1/mo", fixture.headers(.bank), body: body)
            #expect(bank.status == .ok, "\(bank.text)")
            let replies = try #require(try bank.json()["replies"] as? [[String: Any]])
            #expect(replies.first?["verdict"] as? String == "opt-in" && replies.first?["index"] as? Int == 0)
            let shop = try await client.send(.post, "/v1/mo", fixture.headers(.shop), body: #"{"from":"13800138001","port":"10690002","text":"Y"}"#)
            #expect(try shop.json()["verdict"] as? String == "unrelated")

            let promo = try await client.send(.get, "/v1/consent?subject=13800138000&port=10690001&purpose=promo", fixture.headers(.bank)).json()
            #expect(promo["decision"] as? String == "consented")
            let news = try await client.send(.get, "/v1/consent?subject=13800138000&port=10690001&purpose=news", fixture.headers(.bank)).json()
            #expect(news["decision"] as? String == "never-asked")
        }
        let (_, header) = try await fixture.ledger.entry(at: 0)
        guard case .consent(let h) = header else { Issue.record("not a consent entry"); return }
        #expect(h.action == .grant && h.method == .smsReply && h.templateHash?.hex == template)
        #expect(h.scope == .narrowed(port: "10690001", purpose: "promo"))
    }
}
