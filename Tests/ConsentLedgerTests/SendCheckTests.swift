import ConsentCore
import ConsentStoreSQLite
import ConsentVerifier
import Foundation
import Testing

@testable import ConsentLedger

@Suite struct SendCheckTests {
    static let t0: Milliseconds = 1_795_435_200_000  // 2026-11-23T12:00:00Z
    static let hour: Milliseconds = 3_600_000
    static func at(_ hours: Double) -> String { RFC3339.format(t0 + Milliseconds(hours * Double(hour))) }

    /// The subjects of the history, by role.
    static let a = "13800000001"  // sender-wide grant at 1h; port 10690002 revoked at 6h
    static let b = "13800000002"  // grant at 2h, revoked by SMS reply at 3h
    static let c = "13800000003"  // grant at 1h, global decline (operator) at 4h
    static let d = "13800000004"  // port-scoped grant (10690001) at 5h
    static let e = "13800000005"  // purpose-scoped grant (promo) at 7h
    static let f = "13800000006"  // never asked

    struct History {
        let ledger: Ledger
        let clock: TestClock
        /// Entry index of each event, by name.
        var index: [String: Int64] = [:]
    }

    /// Batches at 1h..7h after t0, then a heartbeat at 8h (the log's latest commit).
    func recordHistory(_ dir: TempDirectory) async throws -> History {
        let clock = TestClock()
        let ledger = try await makeLedger(dir, clock: clock)
        var history = History(ledger: ledger, clock: clock)
        func batch(_ hours: Double, _ events: [(String, EventInput)]) async throws {
            let now = Self.t0 + Milliseconds(hours * Double(Self.hour))
            clock.set(now)
            let receipts = try await ledger.append(try events.map { try EventValidator().validate($0.1, now: now) })
            for ((name, _), receipt) in zip(events, receipts) { history.index[name] = receipt.index }
        }
        try await batch(1, [
            ("a-grant", EventInput(sender: "bank", subject: Self.a, action: "grant", method: "web-form", evidence: ["ip": "203.0.113.9"])),
            ("c-grant", EventInput(sender: "bank", subject: Self.c, action: "grant", method: "app")),
        ])
        try await batch(2, [("b-grant", EventInput(sender: "bank", subject: Self.b, action: "grant", method: "web-form"))])
        try await batch(3, [("b-revoke", EventInput(sender: "bank", subject: Self.b, action: "revoke", method: "sms-reply", evidence: ["reply": "R"]))])
        try await batch(4, [
            ("c-decline", EventInput(sender: "operator", subject: Self.c, action: "revoke", scope: "global", method: "operator-platform"))
        ])
        try await batch(5, [("d-port-grant", EventInput(sender: "bank", subject: Self.d, action: "grant", port: "10690001", method: "web-form"))])
        try await batch(6, [
            ("a-port-revoke", EventInput(sender: "bank", subject: Self.a, action: "revoke", port: "10690002", method: "sms-reply", evidence: ["reply": "TD"]))
        ])
        try await batch(7, [("e-purpose-grant", EventInput(sender: "bank", subject: Self.e, action: "grant", purpose: "promo", method: "app"))])
        clock.set(Self.t0 + 8 * Self.hour)
        try await ledger.heartbeat()
        #expect(await ledger.latestCommitTime == Self.t0 + 8 * Self.hour)
        return history
    }

    enum Expected: Equatable {
        case consented(deciding: String)
        case refused(deciding: String)
        case neverAsked
        case notCovered
        case invalid(column: String)
    }

    /// Every kind of row, with the verdict it must get.
    static let cases: [(row: String, expected: Expected)] = [
        ("\(at(1.5)),bank,10690001,\(a),consented,", .consented(deciding: "a-grant")),
        ("\(at(0.5)),bank,10690001,\(a),before-any-event,", .neverAsked),
        ("\(at(4.5)),bank,10690001,\(d),before-port-consent,", .neverAsked),
        ("\(at(2.5)),bank,10690001,+86 138-0000-0002,before-revocation,", .consented(deciding: "b-grant")),
        ("\(at(3.5)),bank,10690001,\(b),after-revocation,", .refused(deciding: "b-revoke")),
        ("\(at(3)),bank,10690001,\(b),at-revocation-time,", .refused(deciding: "b-revoke")),
        ("\(at(4.5)),bank,10690001,\(c),after-global-decline,", .refused(deciding: "c-decline")),
        ("\(at(3.5)),bank,10690001,\(c),before-global-decline,", .consented(deciding: "c-grant")),
        ("\(at(5.5)),bank,10690001,\(d),port-consent,", .consented(deciding: "d-port-grant")),
        ("\(at(5.5)),bank,10690002,\(d),other-port,", .neverAsked),
        ("\(at(6.5)),bank,10690002,\(a),port-revoked,", .refused(deciding: "a-port-revoke")),
        ("\(at(6.5)),bank,10690001,\(a),other-port-still-consented,", .consented(deciding: "a-grant")),
        ("\(at(6.5)),shop,10690009,\(a),other-sender,", .neverAsked),
        ("\(at(2)),bank,10690001,\(f),never-asked,", .neverAsked),
        ("\(at(7.5)),bank,10690001,\(e),purpose-consent,promo", .consented(deciding: "e-purpose-grant")),
        ("\(at(7.5)),bank,10690001,\(e),no-purpose,", .neverAsked),
        ("\(at(8)),bank,10690001,\(a),at-latest-commit,", .consented(deciding: "a-grant")),
        ("\(at(8).replacingOccurrences(of: ".000Z", with: ".001Z")),bank,10690001,\(a),just-after-latest-commit,", .notCovered),
        ("2099-01-01T00:00:00+08:00,bank,10690001,\(a),future,", .notCovered),
        ("\(at(1.5)),bank,10690001,12345,invalid-number,", .invalid(column: "number")),
        ("yesterday,bank,10690001,\(a),malformed-time,", .invalid(column: "time")),
        ("2026-11-23 13:30:00,bank,10690001,\(a),time-without-offset,", .invalid(column: "time")),
    ]

    @Test func everyMessageGetsItsVerdictAndEveryViolationAProofThatVerifiesOffline() async throws {
        let dir = TempDirectory()
        let history = try await recordHistory(dir)
        let ledger = history.ledger
        let csv = "time,sender,port,number,message_id,purpose\n" + Self.cases.map(\.row).joined(separator: "\n") + "\n"
        let rows = try SendLogParser.rows(csv)
        #expect(rows.count == Self.cases.count)
        var check = try await SendLogCheck(ledger: ledger)
        #expect(check.coveredUntil == Self.t0 + 8 * Self.hour)
        let verifier = LogVerifier(key: ledger.verifier)
        for (row, (text, expected)) in zip(rows, Self.cases) {
            let finding = try await check.check(row)
            let id = row.messageID ?? "-"
            switch (finding, expected) {
            case (.consented(_, let answer), .consented(let name)):
                #expect(answer.deciding?.index == history.index[name], "\(id)")
            case (.violation(let message, let answer, let bundle), .refused), (.violation(let message, let answer, let bundle), .neverAsked):
                let decision: ConsentDecision = expected == .neverAsked ? .neverAsked : .refused
                var decidingIndex: Int64?
                if case .refused(let name) = expected { decidingIndex = history.index[name] }
                #expect(answer.decision == decision, "\(id)")
                #expect(answer.deciding?.index == decidingIndex, "\(id)")
                #expect(answer.at == message.time, "\(id)")
                // The bundle, as written to a file and read back, proves the same decision offline.
                let written = try JSONEncoder().encode(try #require(bundle))
                let read = try JSONDecoder().decode(ProofBundle.self, from: written)
                let verified = try verifier.verify(read)
                #expect(verified.decision == decision, "\(id)")
                #expect(verified.deciding?.index == decidingIndex, "\(id)")
                #expect(verified.at == message.time, "\(id)")
                #expect(read.question.subject == message.subject.e164 && read.question.sender == message.sender)
                #expect(read.question.port == message.port && read.question.purpose == message.purpose)
                #expect(read.question.requestedAt == nil)
                // The bodies of the events used are disclosed by default.
                if decidingIndex != nil { #expect(verified.deciding.flatMap { verified.bodies[$0.index] } != nil, "\(id)") }
            case (.notCovered(let message), .notCovered):
                #expect(message.time > check.coveredUntil!, "\(id)")
            case (.invalid(_, let error), .invalid(let column)):
                #expect(error.column == column, "\(id): \(error)")
                #expect(error.line == row.line)
            default:
                Issue.record("\(id) (\(text)): expected \(expected), got \(finding)")
            }
        }
        var expected = SendCheckSummary()
        expected.rows = 22
        expected.checked = 17
        expected.consented = 7
        expected.refused = 4
        expected.neverAsked = 6
        expected.notCovered = 2
        expected.invalid = 3
        #expect(check.summary == expected)
        #expect(check.summary.violations == 10)
    }

    /// A check judges only up to the log's latest commit when it began, so events appended while it
    /// runs change none of its verdicts; a later check judges what the first left uncovered.
    @Test func appendsDuringACheckChangeNothingAndALaterCheckCoversMore() async throws {
        let dir = TempDirectory()
        let history = try await recordHistory(dir)
        // A reader in another process, as the CLI opens the ledger.
        let reader = try await Ledger.open(directory: dir.directory, store: try SQLiteStore(directory: dir.directory), writable: false)
        let rows = try SendLogParser.rows(
            "time,sender,port,number,message_id\n\(Self.at(7.5)),bank,10690001,\(Self.f),m1\n\(Self.at(9.5)),bank,10690001,\(Self.f),m2\n")
        var first = try await SendLogCheck(ledger: reader, includeBodies: false)
        guard case .violation(_, let answer, let bundle?) = try await first.check(rows[0]) else {
            Issue.record("m1 should be a violation")
            return
        }
        #expect(answer.decision == .neverAsked)
        #expect(bundle.entries.allSatisfy { $0.body == nil })
        // Meanwhile: F consents at 9h, and the log commits past 9.5h.
        history.clock.set(Self.t0 + 9 * Self.hour)
        _ = try await history.ledger.append([try EventValidator().validate(
            EventInput(sender: "bank", subject: Self.f, action: "grant", method: "app"), now: Self.t0 + 9 * Self.hour)])
        history.clock.set(Self.t0 + 10 * Self.hour)
        try await history.ledger.heartbeat()
        guard case .notCovered = try await first.check(rows[1]) else {
            Issue.record("m2 lies after the first check's horizon")
            return
        }
        var second = try await SendLogCheck(ledger: reader)
        #expect(second.coveredUntil == Self.t0 + 10 * Self.hour)
        guard case .violation(_, let again, let bundle2?) = try await second.check(rows[0]),
            case .consented(_, let later) = try await second.check(rows[1])
        else {
            Issue.record("the second check should judge m1 a violation and m2 consented")
            return
        }
        #expect(again == answer)
        #expect(later.deciding != nil)
        // The new bundle is anchored in the newer checkpoint and proves the same never-asked.
        #expect(try LogVerifier(key: reader.verifier).verify(bundle2).decision == .neverAsked)
        #expect(bundle2.checkpoint != bundle.checkpoint)
    }

    /// An empty log vouches for no time: every valid message is "not yet covered", none is judged.
    @Test func anEmptyLogJudgesNothing() async throws {
        let dir = TempDirectory()
        let ledger = try await makeLedger(dir)
        var check = try await SendLogCheck(ledger: ledger)
        #expect(check.coveredUntil == nil)
        let rows = try SendLogParser.rows("time,sender,port,number,message_id\n2026-01-01T00:00:00Z,bank,10690001,\(Self.a),m1\n")
        guard case .notCovered = try await check.check(rows[0]) else {
            Issue.record("an empty log judged a message")
            return
        }
        #expect(check.summary.notCovered == 1 && check.summary.checked == 0)
    }
}
