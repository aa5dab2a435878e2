import Foundation
#if canImport(FoundationXML)
    import FoundationXML
#endif
import Testing

@testable import ConsentCore

/// The audit report's statistics (ReportStatistics) and its HTML (ReportHTML).
@Suite struct ReportStatisticsTests {
    static let minute: Milliseconds = 60_000
    static let hour: Milliseconds = 3_600_000
    /// 2026-11-23T00:00:00+08:00 (2026-11-22T16:00:00Z).
    static let day0 = RFC3339.parse("2026-11-23T00:00:00+08:00")!

    static func event(_ sender: String, _ action: ConsentAction, scope: Scope = .sender, recorded: Milliseconds, lag: Milliseconds = 0) -> EntryHeader {
        .consent(ConsentHeader(
            previousLeafHash: .zero, recordedAt: recorded, sender: sender, scope: scope, subjectKey: .zero, action: action,
            method: .smsReply, templateHash: nil, occurredAt: recorded - lag, bodyHash: .zero, idempotencyKeyHash: nil,
            keyPredecessor: nil))
    }

    static func purge(_ recorded: Milliseconds, _ indexes: [Int64]) -> EntryHeader {
        .purge(PurgeHeader(previousLeafHash: .zero, recordedAt: recorded, minimum: .floor, purgeAfter: .floor, purged: indexes))
    }

    static func place(_ recorded: Milliseconds, sender: String, reason: String = "complaint", reference: String = "12321-1") -> EntryHeader {
        .hold(HoldHeader(previousLeafHash: .zero, recordedAt: recorded, action: .place(target: .sender(sender), reason: reason, reference: reference)))
    }

    static func release(_ recorded: Milliseconds, placedAt: Int64) -> EntryHeader {
        .hold(HoldHeader(previousLeafHash: .zero, recordedAt: recorded, action: .release(placedAt: placedAt, reason: "closed", reference: "r")))
    }

    static func commit(_ recorded: Milliseconds) -> EntryHeader {
        .commit(CommitHeader(previousLeafHash: .zero, recordedAt: recorded, stateRoot: .zero, eventCount: 1))
    }

    /// A small history over three CST days (the day boundary is 16:00Z).
    static var history: [EntryHeader] {
        let d = day0
        return [
            event("bank", .grant, recorded: d + 1 * hour),  // 0: day 23
            commit(d + 1 * hour),  // 1
            event("bank", .revoke, recorded: d + 2 * hour, lag: 30_000),  // 2: < 1 min
            event("bank", .revoke, recorded: d + 3 * hour, lag: 59_999),  // 3: < 1 min
            event("bank", .revoke, recorded: d + 4 * hour, lag: 60_000),  // 4: < 1 h
            event("shop", .revoke, scope: .global, recorded: d + 23 * hour + 59 * minute, lag: 24 * hour - 1),  // 5: decline, < 24 h, day 23
            event("shop", .revoke, recorded: d + 24 * hour, lag: 24 * hour),  // 6: < 72 h (late), day 24
            event("shop", .revoke, recorded: d + 25 * hour, lag: 72 * hour),  // 7: ≥ 72 h (late)
            event("shop", .grant, recorded: d + 26 * hour, lag: 100 * hour),  // 8: grants have no lag
            place(d + 27 * hour, sender: "bank"),  // 9
            place(d + 27 * hour, sender: "shop"),  // 10
            release(d + 28 * hour, placedAt: 9),  // 11
            purge(d + 49 * hour, [0, 2, 3]),  // 12: day 25
            purge(d + 50 * hour, [4]),  // 13: day 25
            event("shop", .revoke, recorded: d + 51 * hour, lag: -5 * minute),  // 14: clock skew: counts as 0
        ]
    }

    static func statistics(from: Milliseconds? = nil, to: Milliseconds? = nil) -> ReportStatistics {
        var s = ReportStatistics(from: from, to: to)
        for (i, h) in history.enumerated() { s.add(index: Int64(i), header: h) }
        return s
    }

    @Test func days() {
        #expect(ReportDay(Self.day0).description == "2026-11-23")
        #expect(ReportDay(Self.day0 - 1).description == "2026-11-22")
        #expect(ReportDay(RFC3339.parse("2026-11-23T15:59:59.999Z")!).description == "2026-11-23")
        #expect(ReportDay(RFC3339.parse("2026-11-23T16:00:00Z")!).description == "2026-11-24")
        #expect(ReportDay(RFC3339.parse("1969-12-31T15:59:59Z")!).description == "1969-12-31")
        #expect(ReportDay(RFC3339.parse("1969-12-31T16:00:00Z")!).description == "1970-01-01")
        #expect(ReportHTML.cst(RFC3339.parse("2026-11-23T16:30:05Z")!) == "2026-11-24 00:30:05 CST")
    }

    @Test func lagBuckets() {
        var h = LagHistogram()
        for lag: Milliseconds in [0, 59_999, 60_000, 3_599_999, 3_600_000, 86_399_999, 86_400_000, 259_199_999, 259_200_000, 10 * 86_400_000, -1] {
            h.add(lag)
        }
        #expect(h.buckets == [3, 2, 2, 2, 2])
        #expect(h.total == 11)
        #expect(h.late == 4)
        #expect(h.maximum == 10 * 86_400_000)
    }

    @Test func wholeLog() {
        let s = Self.statistics()
        #expect(s.entriesRead == 15)
        #expect(s.events == 9)
        let d23 = ReportDay(Self.day0), d24 = ReportDay(number: d23.number + 1), d25 = ReportDay(number: d23.number + 2)
        #expect(s.eventsPerDay == [
            d23: ActionCounts(grant: 1, revoke: 3, decline: 1),
            d24: ActionCounts(grant: 1, revoke: 2, decline: 0),
            d25: ActionCounts(grant: 0, revoke: 1, decline: 0),
        ])
        #expect(s.totals == ActionCounts(grant: 2, revoke: 6, decline: 1))
        #expect(s.days == [d23, d24, d25])
        #expect(s.lagBySender["bank"] == LagHistogram(buckets: [2, 1, 0, 0, 0], maximum: 60_000))
        #expect(s.lagBySender["shop"] == LagHistogram(buckets: [1, 0, 1, 1, 1], maximum: 72 * Self.hour))
        #expect(s.lagBySender["shop"]!.lateShare == 0.5)
        #expect(s.allLags == LagHistogram(buckets: [3, 1, 1, 1, 1], maximum: 72 * Self.hour))
        #expect(s.purgesPerDay == [d25: PurgeCounts(entries: 2, bodies: 4)])
        #expect(s.activeHolds.count == 1)
        #expect(s.activeHolds[10] == ReportHold(
            index: 10, placedAt: Self.day0 + 27 * Self.hour, sender: "shop", subjectKey: nil, reason: "complaint", reference: "12321-1"))
        #expect(s.holdsPlaced == 2)
        #expect(s.holdsReleased == 1)
        #expect(s.sendsChecked == nil)
        #expect(s.sendViolations.isEmpty)
    }

    @Test func window() {
        // [day 24 00:00, day 24 28:00): events 6, 7, 8, both placements and the release; the
        // release leaves shop's hold.
        let s = Self.statistics(from: Self.day0 + 24 * Self.hour, to: Self.day0 + 28 * Self.hour + 1)
        #expect(s.entriesRead == 15)
        #expect(s.events == 3)
        #expect(s.totals == ActionCounts(grant: 1, revoke: 2, decline: 0))
        #expect(s.lagBySender == ["shop": LagHistogram(buckets: [0, 0, 0, 1, 1], maximum: 72 * Self.hour)])
        #expect(s.purgesPerDay.isEmpty)
        #expect(Array(s.activeHolds.keys) == [10])
        #expect(s.holdsPlaced == 2 && s.holdsReleased == 1)

        // Ending before the release: both holds in force, although placed before `from`.
        let early = Self.statistics(from: Self.day0 + 27 * Self.hour + 30 * Self.minute, to: Self.day0 + 28 * Self.hour)
        #expect(early.events == 0)
        #expect(early.activeHolds.keys.sorted() == [9, 10])
        #expect(early.holdsPlaced == 0 && early.holdsReleased == 0)
        #expect(early.days == [])
    }

    @Test func sends() {
        var s = ReportStatistics()
        s.startSends()
        #expect(s.sendsChecked == 0)
        s.addSend(sender: "bank", decision: .consented)
        s.addSend(sender: "bank", decision: .refused)
        s.addSend(sender: "shop", decision: .neverAsked)
        s.addSend(sender: "shop", decision: .neverAsked)
        s.addSend(sender: "shop", decision: .refused)
        #expect(s.sendsChecked == 5)
        #expect(s.sendViolations == ["bank": SendViolationCounts(refused: 1, neverAsked: 0), "shop": SendViolationCounts(refused: 1, neverAsked: 2)])
    }

    // MARK: - HTML

    static let identity = ReportIdentity(
        origin: "example.com/consent/<b>", size: 15, checkpoint: "example.com/consent\n15\nAAAA\n\n— example.com/consent x\n",
        keyName: "example.com/consent", verifierKey: "example.com/consent+01234567+AQID", generatedAt: day0)

    static let hostile = "<script>alert('x')</script>&\"https://evil.example/\u{1}"

    static func hostileStatistics() -> ReportStatistics {
        var s = statistics()
        s.add(index: 15, header: event(hostile, .revoke, recorded: day0 + 52 * hour, lag: 30 * hour))
        s.add(index: 16, header: place(day0 + 52 * hour, sender: "x", reason: hostile + " </td></table>", reference: "R-1"))
        s.startSends()
        s.addSend(sender: hostile, decision: .refused)
        s.addSend(sender: "shop", decision: .neverAsked)
        return s
    }

    @Test func escaping() {
        #expect(ReportHTML.escape("<a href=\"x\">'&'</a>") == "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;")
        #expect(ReportHTML.escape("退订\u{0}\n") == "退订\u{FFFD}\n")
        let html = ReportHTML.render(Self.hostileStatistics(), identity: Self.identity)
        #expect(!html.lowercased().contains("<script"))
        #expect(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;https://evil.example/\u{FFFD}"))
        #expect(html.contains("example.com/consent/&lt;b&gt;"))
        #expect(!html.contains("\u{1}"))
        // No external references: no URL in an attribute, no url(...) or @import in the CSS.
        for pattern in ["src=", "href=", "url(", "@import", "<link", "<img", "<iframe", "<object", "<embed"] {
            #expect(!html.lowercased().contains(pattern), "found \(pattern)")
        }
        for scheme in ["http://", "https://"] {
            var rest = Substring(html)
            while let r = rest.range(of: scheme) {
                // Only inside escaped text: the nearest '<' or '>' before it is a '>' (element content).
                let before = rest[..<r.lowerBound]
                let lastOpen = before.lastIndex(of: "<"), lastClose = before.lastIndex(of: ">")
                #expect(lastClose != nil && (lastOpen == nil || lastClose! > lastOpen!), "\(scheme) inside a tag")
                rest = rest[r.upperBound...]
            }
        }
    }

    @Test func wellFormed() throws {
        let html = ReportHTML.render(Self.hostileStatistics(), identity: Self.identity)
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        // The body after the doctype is well-formed XML (the page is written as XHTML-compatible
        // HTML); each SVG chart is too, on its own.
        let document = String(html.dropFirst("<!DOCTYPE html>\n".count))
        #expect(try Self.parse(document))
        var svgs = 0
        var rest = Substring(html)
        while let start = rest.range(of: "<svg"), let end = rest.range(of: "</svg>", range: start.upperBound..<rest.endIndex) {
            #expect(try Self.parse(String(rest[start.lowerBound..<end.upperBound])))
            svgs += 1
            rest = rest[end.upperBound...]
        }
        #expect(svgs == 4)  // events, lag, sends, purges
        #expect(try Self.balanced(document))
    }

    @Test func emptyLog() throws {
        let html = ReportHTML.render(ReportStatistics(), identity: Self.identity)
        #expect(html.contains("No consent events in the window."))
        #expect(html.contains("No opt-outs in the window."))
        #expect(!html.contains("<svg"))
        #expect(!html.contains("Messages sent without consent"))
        #expect(try Self.parse(String(html.dropFirst("<!DOCTYPE html>\n".count))))
    }

    /// Foundation's XML parser: true when the text is well-formed XML.
    static func parse(_ text: String) throws -> Bool {
        // HTML's void element <meta> is written without "/>": close it for the XML parser.
        var xml = text
        for tag in ["<meta charset=\"utf-8\">", "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"] {
            xml = xml.replacingOccurrences(of: tag, with: String(tag.dropLast()) + "/>")
        }
        let parser = XMLParser(data: Data(xml.utf8))
        let ok = parser.parse()
        if !ok { Issue.record("XML error: \(String(describing: parser.parserError)) line \(parser.lineNumber) col \(parser.columnNumber)") }
        return ok
    }

    /// A tiny tag-balance checker (independent of XMLParser).
    static func balanced(_ text: String) throws -> Bool {
        let void: Set<String> = ["meta", "br", "hr", "img", "input", "link"]
        var stack: [String] = []
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "<") {
            guard let close = rest[open...].firstIndex(of: ">") else { return false }
            let tag = rest[rest.index(after: open)..<close]
            rest = rest[rest.index(after: close)...]
            if tag.hasPrefix("/") {
                guard stack.popLast() == String(tag.dropFirst()) else { return false }
            } else if !tag.hasSuffix("/") {
                let name = String(tag.prefix { $0 != " " })
                if !void.contains(name) { stack.append(name) }
            }
        }
        return stack.isEmpty
    }
}
