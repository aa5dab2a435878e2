// The audit report as one self-contained HTML file: inline CSS and SVG charts, no scripts, no
// external fonts, images or links. Every string from the log (sender ids, hold reasons and
// references, the checkpoint) is escaped.

/// Who the report is about and when it was made.
public struct ReportIdentity: Equatable, Sendable, Codable {
    public var origin: String
    public var size: Int64
    /// The latest signed checkpoint note, exactly as signed.
    public var checkpoint: String
    /// The verifier key's name (and the full key, name+keyid+base64).
    public var keyName: String
    public var verifierKey: String
    public var generatedAt: Milliseconds

    public init(origin: String, size: Int64, checkpoint: String, keyName: String, verifierKey: String, generatedAt: Milliseconds) {
        self.origin = origin
        self.size = size
        self.checkpoint = checkpoint
        self.keyName = keyName
        self.verifierKey = verifierKey
        self.generatedAt = generatedAt
    }
}

public enum ReportHTML {
    /// Escapes text for HTML element content and attribute values.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for c in text.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default:
                // Control characters other than tab and newline are shown as U+FFFD.
                if c.value < 0x20 && c != "\n" && c != "\t" || c.value == 0x7F { out += "\u{FFFD}" } else { out.unicodeScalars.append(c) }
            }
        }
        return out
    }

    /// A time in China Standard Time: `YYYY-MM-DD HH:MM:SS CST`.
    public static func cst(_ ms: Milliseconds) -> String {
        let utc = RFC3339.format(ms + ReportDay.offset)  // YYYY-MM-DDTHH:MM:SS.mmmZ, shifted
        return String(utc.prefix(10)) + " " + String(utc.dropFirst(11).prefix(8)) + " CST"
    }

    static let colors: [ReportAction: String] = [.grant: "#2e7d32", .revoke: "#ef6c00", .decline: "#c62828"]
    static let lagColors = ["#2e7d32", "#7cb342", "#fbc02d", "#ef6c00", "#c62828"]

    static func percent(_ share: Double) -> String {
        let tenths = Int((share * 1000).rounded())
        return "\(tenths / 10).\(tenths % 10)%"
    }

    static func duration(_ ms: Milliseconds) -> String {
        if ms < 60_000 { return "\(ms / 1000) s" }
        if ms < 3_600_000 { return "\(ms / 60_000) min" }
        if ms < 86_400_000 { return "\(ms / 3_600_000) h \(ms / 60_000 % 60) min" }
        return "\(ms / 86_400_000) d \(ms / 3_600_000 % 24) h"
    }

    /// A round axis maximum at or above `value`.
    static func niceMaximum(_ value: Int) -> Int {
        guard value > 0 else { return 1 }
        var step = 1
        while true {
            for m in [1, 2, 5] where m * step >= value { return m * step }
            step *= 10
        }
    }

    // MARK: - Charts

    /// A stacked bar chart: one bar per column, one segment per series.
    static func barChart(labels: [String], series: [(name: String, color: String, values: [Int])], title: String) -> String {
        let n = max(labels.count, 1)
        let left = 48.0, top = 16.0, plotHeight = 220.0, bottom = 70.0
        let barWidth = max(4.0, min(36.0, 900.0 / Double(n) - 2))
        let step = barWidth + 2
        let width = left + Double(n) * step + 20
        let height = top + plotHeight + bottom
        let totals = (0..<labels.count).map { i in series.reduce(0) { $0 + $1.values[i] } }
        let maxY = (niceMaximum(totals.max() ?? 0) + 3) / 4 * 4  // four whole-number gridline steps
        var s = "<svg role=\"img\" width=\"\(Int(width))\" height=\"\(Int(height))\" "
        s += "viewBox=\"0 0 \(Int(width)) \(Int(height))\"><title>\(escape(title))</title>"
        for k in 0...4 {
            let y = top + plotHeight - plotHeight * Double(k) / 4
            s += "<line x1=\"\(Int(left))\" y1=\"\(fmt(y))\" x2=\"\(Int(width - 10))\" y2=\"\(fmt(y))\" stroke=\"#ddd\"/>"
            s += "<text x=\"\(Int(left - 6))\" y=\"\(fmt(y + 4))\" text-anchor=\"end\" font-size=\"11\">\(maxY * k / 4)</text>"
        }
        for (i, label) in labels.enumerated() {
            let x = left + Double(i) * step + 1
            var y = top + plotHeight
            for sr in series where sr.values[i] > 0 {
                let h = plotHeight * Double(sr.values[i]) / Double(maxY)
                y -= h
                s += "<rect x=\"\(fmt(x))\" y=\"\(fmt(y))\" width=\"\(fmt(barWidth))\" height=\"\(fmt(h))\" fill=\"\(sr.color)\">"
                s += "<title>\(escape(label)): \(sr.values[i]) \(escape(sr.name))</title></rect>"
            }
            // Label every column when there are few, otherwise about twenty.
            if labels.count <= 20 || i % max(1, labels.count / 20) == 0 {
                let lx = x + barWidth / 2, ly = top + plotHeight + 8
                s += "<text x=\"\(fmt(lx))\" y=\"\(fmt(ly))\" font-size=\"10\" text-anchor=\"end\" "
                s += "transform=\"rotate(-60 \(fmt(lx)) \(fmt(ly)))\">\(escape(label))</text>"
            }
        }
        s += "</svg>"
        return s
    }

    /// One horizontal 100% bar per row, split into the lag buckets.
    static func lagChart(rows: [(name: String, histogram: LagHistogram)]) -> String {
        let left = 220.0, barWidth = 600.0, rowHeight = 26.0, top = 30.0
        let height = top + Double(rows.count) * rowHeight + 10
        let width = left + barWidth + 20
        var s = "<svg role=\"img\" width=\"\(Int(width))\" height=\"\(Int(height))\" "
        s += "viewBox=\"0 0 \(Int(width)) \(Int(height))\"><title>Opt-out lag by sender</title>"
        for (b, label) in LagHistogram.labels.enumerated() {
            let x = left + Double(b) * 110
            s += "<rect x=\"\(fmt(x))\" y=\"6\" width=\"12\" height=\"12\" fill=\"\(lagColors[b])\"/>"
            s += "<text x=\"\(fmt(x + 16))\" y=\"16\" font-size=\"11\">\(escape(label))</text>"
        }
        for (r, row) in rows.enumerated() {
            let y = top + Double(r) * rowHeight
            let name = row.name.count > 30 ? String(row.name.prefix(29)) + "…" : row.name
            s += "<text x=\"\(Int(left - 8))\" y=\"\(fmt(y + 15))\" text-anchor=\"end\" font-size=\"12\">\(escape(name))</text>"
            var x = left
            let total = max(row.histogram.total, 1)
            for (b, count) in row.histogram.buckets.enumerated() where count > 0 {
                let w = barWidth * Double(count) / Double(total)
                s += "<rect x=\"\(fmt(x))\" y=\"\(fmt(y))\" width=\"\(fmt(w))\" height=\"20\" fill=\"\(lagColors[b])\">"
                s += "<title>\(escape(row.name)): \(count) \(escape(LagHistogram.labels[b]))</title></rect>"
                x += w
            }
        }
        s += "</svg>"
        return s
    }

    static func fmt(_ v: Double) -> String {
        let r = (v * 10).rounded() / 10
        return r == r.rounded() ? String(Int(r)) : String(r)
    }

    // MARK: - The page

    static let style = """
        body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans CJK SC",sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
        h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.25em;border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
        table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}
        th{background:#f3f3f3}td.n{text-align:right;font-variant-numeric:tabular-nums}
        pre{background:#f7f7f7;border:1px solid #ddd;padding:.6em;white-space:pre-wrap;word-break:break-all}
        .muted{color:#666}.legend span{display:inline-block;margin-right:1.2em}.sw{display:inline-block;width:.9em;height:.9em;margin-right:.3em;vertical-align:-1px}
        .late{color:#c62828;font-weight:bold}svg{max-width:100%;height:auto}
        """

    /// The whole report.
    public static func render(_ stats: ReportStatistics, identity: ReportIdentity) -> String {
        var h = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        h += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        h += "<title>Consent ledger audit report — \(escape(identity.origin))</title><style>\(style)</style></head><body>\n"
        h += "<h1>Consent ledger audit report</h1>\n"
        h += "<p class=\"muted\">Made \(escape(cst(identity.generatedAt))). All days and times are China Standard Time (UTC+8). "
        h += "Window (by recording time): \(escape(stats.from.map(cst) ?? "the beginning")) to \(escape(stats.to.map(cst) ?? "the end of the log")).</p>\n"

        h += "<h2>The log</h2>\n<table>"
        h += "<tr><th>Origin</th><td>\(escape(identity.origin))</td></tr>"
        h += "<tr><th>Size (entries)</th><td>\(identity.size)</td></tr>"
        h += "<tr><th>Verifier key name</th><td>\(escape(identity.keyName))</td></tr>"
        h += "<tr><th>Verifier key</th><td><code>\(escape(identity.verifierKey))</code></td></tr></table>\n"
        h += "<p>Latest signed checkpoint (C2SP tlog-checkpoint, exactly as signed; check it with the verifier key obtained out of band):</p>"
        h += "<pre>\(escape(identity.checkpoint))</pre>\n"

        // Events per day.
        let totals = stats.totals
        h += "<h2>Consent events per day</h2>\n"
        h += "<p>\(stats.events) events in the window: \(totals.grant) grants, \(totals.revoke) revocations, \(totals.decline) global declines.</p>\n"
        let days = stats.days
        if stats.eventsPerDay.isEmpty {
            h += "<p class=\"muted\">No consent events in the window.</p>\n"
        } else {
            h += "<p class=\"legend\">" + ReportAction.allCases.map { "<span><span class=\"sw\" style=\"background:\(colors[$0]!)\"></span>\($0.rawValue)</span>" }.joined() + "</p>\n"
            let counts = days.map { stats.eventsPerDay[$0] ?? ActionCounts() }
            h += barChart(
                labels: days.map(\.description),
                series: ReportAction.allCases.map { a in (name: a.rawValue, color: colors[a]!, values: counts.map { $0[a] }) },
                title: "Consent events per day by action") + "\n"
        }

        // Opt-out lag.
        h += "<h2>Opt-out lag</h2>\n"
        h += "<p>The time from an opt-out (revocation or global decline) to its recording in the log: <code>recordedAt − occurredAt</code>. "
        h += "Opt-outs recorded 24 hours or more after they happened are late.</p>\n"
        let senders: [(name: String, histogram: LagHistogram)] = stats.lagBySender.sorted { $0.key < $1.key }.map { (name: $0.key, histogram: $0.value) }
        if senders.isEmpty {
            h += "<p class=\"muted\">No opt-outs in the window.</p>\n"
        } else {
            let all = stats.allLags
            h += lagChart(rows: senders + [(name: "all senders", histogram: all)]) + "\n"
            h += "<table><tr><th>Sender</th>" + LagHistogram.labels.map { "<th>\(escape($0))</th>" }.joined()
            h += "<th>Opt-outs</th><th>≥ 24 h</th><th>Longest</th></tr>"
            for (name, hist) in senders + [(name: "all senders", histogram: all)] {
                h += "<tr><td>\(escape(name))</td>" + hist.buckets.map { "<td class=\"n\">\($0)</td>" }.joined()
                h += "<td class=\"n\">\(hist.total)</td><td class=\"n\(hist.late > 0 ? " late" : "")\">\(hist.late) (\(percent(hist.lateShare)))</td>"
                h += "<td class=\"n\">\(duration(hist.maximum))</td></tr>"
            }
            h += "</table>\n"
        }

        // Sends without consent.
        if let checked = stats.sendsChecked {
            h += "<h2>Messages sent without consent</h2>\n"
            let violations = stats.sendViolations.sorted { ($0.value.total, $1.key) > ($1.value.total, $0.key) }
            let total = violations.reduce(0) { $0 + $1.value.total }
            h += "<p>From the send log: \(checked) messages judged, \(total) sent without consent "
            h += "(<em>refused</em>: after a revocation or decline; <em>never-asked</em>: no consent was ever recorded).</p>\n"
            if violations.isEmpty {
                h += "<p>Every judged message was sent with consent.</p>\n"
            } else {
                h += "<p class=\"legend\"><span><span class=\"sw\" style=\"background:#c62828\"></span>refused</span>"
                h += "<span><span class=\"sw\" style=\"background:#6a1b9a\"></span>never-asked</span></p>\n"
                h += barChart(
                    labels: violations.map(\.key),
                    series: [
                        (name: "refused", color: "#c62828", values: violations.map(\.value.refused)),
                        (name: "never-asked", color: "#6a1b9a", values: violations.map(\.value.neverAsked)),
                    ], title: "Messages sent without consent by sender") + "\n"
                h += "<table><tr><th>Sender</th><th>refused</th><th>never-asked</th><th>Total</th></tr>"
                for (name, c) in violations {
                    h += "<tr><td>\(escape(name))</td><td class=\"n\">\(c.refused)</td><td class=\"n\">\(c.neverAsked)</td><td class=\"n\">\(c.total)</td></tr>"
                }
                h += "</table>\n"
            }
        }

        // Purges.
        h += "<h2>Purges</h2>\n"
        let purged = stats.purgesPerDay.values.reduce(PurgeCounts()) { PurgeCounts(entries: $0.entries + $1.entries, bodies: $0.bodies + $1.bodies) }
        h += "<p>\(purged.entries) purge entries deleted \(purged.bodies) bodies past their retention in the window (the headers stay in the log).</p>\n"
        if !stats.purgesPerDay.isEmpty {
            h += barChart(
                labels: days.map(\.description),
                series: [(name: "bodies purged", color: "#455a64", values: days.map { stats.purgesPerDay[$0]?.bodies ?? 0 })],
                title: "Bodies purged per day") + "\n"
        }

        // Holds.
        h += "<h2>Legal holds in force</h2>\n"
        h += "<p>\(stats.activeHolds.count) in force at the end of the window; \(stats.holdsPlaced) placed and \(stats.holdsReleased) released in it.</p>\n"
        if !stats.activeHolds.isEmpty {
            h += "<table><tr><th>Entry</th><th>Placed</th><th>Sender</th><th>Subject key</th><th>Reference</th><th>Reason</th></tr>"
            for hold in stats.activeHolds.values.sorted(by: { $0.index < $1.index }) {
                h += "<tr><td class=\"n\">\(hold.index)</td><td>\(escape(cst(hold.placedAt)))</td><td>\(escape(hold.sender ?? "any"))</td>"
                h += "<td><code>\(escape(hold.subjectKey.map { String($0.prefix(16)) + "…" } ?? "any"))</code></td>"
                h += "<td>\(escape(hold.reference))</td><td>\(escape(hold.reason))</td></tr>"
            }
            h += "</table>\n"
        }
        h += "<p class=\"muted\">Made by consent-ledger report from \(stats.entriesRead) entries. The numbers come from the entry headers; "
        h += "run <code>consent-ledger audit</code> with the verifier key to check the log itself.</p>\n"
        h += "</body></html>\n"
        return h
    }
}
