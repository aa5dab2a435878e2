import Testing

@testable import ConsentCore

/// A valid event with one change applied.
func modified(_ change: (inout EventInput) -> Void) -> EventInput {
    var e = EventInput(sender: "91440300MA5FXXXX1K", subject: "138 0013 8000", action: "grant")
    change(&e)
    return e
}

@Suite struct ValidationTests {
    let now: Milliseconds = 1_795_435_200_000  // 2026-11-23T12:00:00Z
    let validator = EventValidator()

    func input(_ change: (inout EventInput) -> Void) -> EventInput { modified(change) }

    @Test func validEventIsNormalised() throws {
        let e = try validator.validate(
            input {
                $0.port = "10690001"
                $0.purpose = "promotions"
                $0.method = "web-form"
                $0.occurredAt = "2026-11-23T20:04:00+08:00"
                $0.evidence = ["reply": "Y", "ip": "203.0.113.1"]
                $0.clientKey = "k-1"
            }, now: now)
        #expect(e.subject.e164 == "+8613800138000")
        #expect(e.scope == .narrowed(port: "10690001", purpose: "promotions"))
        #expect(e.method == .webForm)
        #expect(e.occurredAt == now + 4 * 60_000)
        #expect(e.evidence == [.replyText: "Y", .ip: "203.0.113.1"])
    }

    @Test func scopes() throws {
        #expect(try validator.validate(input { _ in }, now: now).scope == .sender)
        #expect(try validator.validate(input { $0.action = "revoke"; $0.scope = "global" }, now: now).scope == .global)
        #expect(try validator.validate(input { $0.purpose = "p" }, now: now).scope == .narrowed(port: nil, purpose: "p"))
    }

    @Test(arguments: [
        ("sender", modified { e in e.sender = "" }),
        ("sender", modified { e in e.sender = "has space" }),
        ("sender", modified { e in e.sender = String(repeating: "a", count: 65) }),
        ("sender", modified { e in e.sender = "银行" }),
        ("subject", modified { e in e.subject = "010-12345678" }),
        ("subject", modified { e in e.subject = "1380013800" }),
        ("subject", modified { e in e.subject = "+1 415 555 0100" }),
        ("action", modified { e in e.action = "allow" }),
        ("method", modified { e in e.method = "telepathy" }),
        ("port", modified { e in e.port = "95555" }),
        ("port", modified { e in e.port = "1069abc" }),
        ("purpose", modified { e in e.purpose = "a b" }),
        ("scope", modified { e in e.scope = "global" }),  // a global grant
        ("scope", modified { e in e.action = "revoke"; e.scope = "global"; e.port = "10690001" }),
        ("scope", modified { e in e.scope = "everyone" }),
        ("templateHash", modified { e in e.templateHash = "abcd" }),
        ("templateHash", modified { e in e.action = "revoke"; e.templateHash = String(repeating: "ab", count: 32) }),
        ("occurredAt", modified { e in e.occurredAt = "yesterday" }),
        ("occurredAt", modified { e in e.occurredAt = "2026-11-23T12:06:00Z" }),  // beyond the 5-minute skew
        ("occurredAt", modified { e in e.occurredAt = "1999-12-31T23:59:59Z" }),
        ("evidence", modified { e in e.evidence = ["shoe-size": "42"] }),
        ("evidence.reply", modified { e in e.evidence = ["reply": String(repeating: "x", count: 4097)] }),
        ("evidence.reply", modified { e in e.evidence = ["reply": "a\u{0}b"] }),
        ("clientKey", modified { e in e.clientKey = "" }),
        ("clientKey", modified { e in e.clientKey = "with space" }),
    ])
    func invalidEventsNameTheField(_ field: String, _ event: EventInput) {
        do {
            _ = try validator.validate(event, now: now)
            Issue.record("accepted an invalid \(field)")
        } catch {
            #expect(error.field == field)
            #expect(!error.message.isEmpty)
        }
    }

    @Test func occurredAtWithinSkewIsAccepted() throws {
        #expect(try validator.validate(input { $0.occurredAt = "2026-11-23T12:04:59Z" }, now: now).occurredAt != nil)
    }

    @Test func csvImport() throws {
        let csv = "sender,subject,action,port,evidence.reply,clientKey\r\n"
            + "s1,13800138000,revoke,10690001,\"TD, 谢谢\",k1\r\n"
            + "\n"
            + "s1,\"+86 139 0013 9000\",grant,,,\n"
            + "s1,only-two\n"
        let rows = try CSVImport.rows(csv)
        #expect(rows.count == 3)
        let first = try rows[0].input.get()
        #expect(rows[0].line == 2)
        #expect(first.evidence == ["reply": "TD, 谢谢"])
        #expect(first.port == "10690001" && first.clientKey == "k1")
        #expect(try rows[1].input.get().subject == "+86 139 0013 9000")
        #expect(try rows[1].input.get().port == nil)
        #expect(rows[1].line == 4)
        #expect(throws: EventValidationError.self) { try rows[2].input.get() }
        #expect(rows[2].line == 5)
        #expect(try CSVImport.rows("\u{FEFF}sender,subject,action\ns1,13800138000,grant\n").count == 1)
        #expect(throws: EventValidationError.self) { try CSVImport.rows("sender,subject,action,colour\n") }
        #expect(throws: EventValidationError.self) { try CSVImport.rows("sender,subject\n") }
        #expect(throws: EventValidationError.self) { try CSVImport.rows("sender,subject,action\n\"unterminated,x,y\n") }
    }
}
