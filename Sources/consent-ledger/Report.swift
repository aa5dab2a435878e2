import ArgumentParser
import ConsentCore
import ConsentLedger
import Foundation

extension ConsentLedgerCommand {
    struct Report: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write an audit report for a regulator: one self-contained HTML file with charts.",
            discussion: """
                The report (inline CSS and SVG, no scripts, fonts, images or links: it opens offline and can be \
                archived or mailed as it is) shows the log's origin, size, latest signed checkpoint and verifier key \
                name; consent events per day by action (grant, revoke, global decline); the opt-out lag \
                (recordedAt − occurredAt of revocations and declines) per sender in buckets (< 1 min, < 1 h, < 24 h, \
                < 72 h, ≥ 72 h) with the share of 24 hours or more; bodies purged per day; the legal holds in force; \
                and, with --sends FILE (the CSV that check-sends reads), the messages sent without consent per sender \
                (refused or never-asked). Days are China Standard Time (UTC+8) days of the recording time; --from \
                and --to restrict the report to entries recorded in [from, to) (holds placed earlier and still in \
                force are shown). The numbers come from the entry headers; `audit` checks the log itself.
                """)

        @OptionGroup var dataOptions: DataOptions
        @Option(help: ArgumentHelp("Where to write the HTML report.", valueName: "FILE")) var out: String
        @Option(help: ArgumentHelp("A send log (the CSV of check-sends) to check for messages sent without consent.", valueName: "FILE"))
        var sends: String?
        @Option(help: ArgumentHelp("Only entries recorded at or after this RFC 3339 time.", valueName: "T")) var from: String?
        @Option(help: ArgumentHelp("Only entries recorded before this RFC 3339 time.", valueName: "T")) var to: String?
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let from = try parseTime(from, option: "--from")
            let to = try parseTime(to, option: "--to")
            if let from, let to, to <= from { throw ValidationError("--to must be later than --from") }
            let ledger = try await dataOptions.open(writable: false)
            let note = await ledger.checkpointNote
            let checkpoint = try ledger.verifier.openCheckpoint(note)
            var stats = ReportStatistics(from: from, to: to)
            let tty = !output.json && isatty(STDERR_FILENO) == 1
            var lastShown = ContinuousClock.now
            func progress(_ text: String) {
                guard tty, ContinuousClock.now - lastShown > .milliseconds(250) else { return }
                lastShown = .now
                FileHandle.standardError.write(Data("\r\u{1B}[K\(text)".utf8))
            }

            // The entries covered by the latest checkpoint, page by page.
            let page: Int64 = 10_000
            var next: Int64 = 0
            while next < checkpoint.size {
                let entries = try await ledger.store.entries(next..<min(next + page, checkpoint.size))
                guard !entries.isEmpty else { break }
                for entry in entries {
                    stats.add(index: entry.index, header: try EntryHeader(decoding: entry.header))
                }
                next = entries.last!.index + 1
                progress("read \(next) of \(checkpoint.size) entries (\(next * 100 / max(checkpoint.size, 1))%)")
            }

            var sendSummary: SendCheckSummary?
            if let sends {
                stats.startSends()
                guard let input = FileHandle(forReadingAtPath: sends) else { throw ValidationError("--sends: cannot read \(sends)") }
                var check = try await SendLogCheck(ledger: ledger, proofs: false, includeBodies: false)
                var parser = SendLogParser()
                while true {
                    let chunk = try input.read(upToCount: 1 << 16) ?? Data()
                    let rows = chunk.isEmpty ? try parser.finish() : try parser.feed(chunk)
                    for row in rows {
                        switch try await check.check(row) {
                        case .consented(let m, _): stats.addSend(sender: m.sender, decision: .consented)
                        case .violation(let m, let answer, _): stats.addSend(sender: m.sender, decision: answer.decision)
                        case .notCovered, .invalid: break
                        }
                    }
                    progress("checked \(check.summary.rows) sent messages, \(check.summary.violations) without consent")
                    if chunk.isEmpty { break }
                }
                sendSummary = check.summary
            }
            if tty { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }

            let identity = ReportIdentity(
                origin: checkpoint.origin, size: checkpoint.size, checkpoint: note, keyName: ledger.verifier.name,
                verifierKey: ledger.verifier.encoded, generatedAt: systemClock())
            let html = ReportHTML.render(stats, identity: identity)
            let temporary = out + ".tmp"
            guard FileManager.default.createFile(atPath: temporary, contents: Data(html.utf8)) else {
                throw LedgerError.io("cannot write \(temporary)")
            }
            if FileManager.default.fileExists(atPath: out) { try FileManager.default.removeItem(atPath: out) }
            try FileManager.default.moveItem(atPath: temporary, toPath: out)

            let totals = stats.totals
            let lags = stats.allLags
            let violations = stats.sendViolations.values.reduce(0) { $0 + $1.total }
            if output.json {
                try printJSON(AuditReportSummary(
                    out: out, origin: checkpoint.origin, size: checkpoint.size, events: stats.events, grants: totals.grant,
                    revocations: totals.revoke, declines: totals.decline, optOuts: lags.total, lateOptOuts: lags.late,
                    purgedBodies: stats.purgesPerDay.values.reduce(0) { $0 + $1.bodies }, activeHolds: stats.activeHolds.count,
                    sends: sendSummary, eventsPerDay: Dictionary(uniqueKeysWithValues: stats.eventsPerDay.map { ($0.key.description, $0.value) }),
                    lagBySender: stats.lagBySender,
                    purgesPerDay: Dictionary(uniqueKeysWithValues: stats.purgesPerDay.map { ($0.key.description, $0.value) }),
                    holds: stats.activeHolds.values.sorted { $0.index < $1.index }, sendViolations: stats.sendViolations))
            } else {
                print("wrote \(out): \(checkpoint.origin), \(checkpoint.size) entries")
                print("events: \(stats.events) (\(totals.grant) grants, \(totals.revoke) revocations, \(totals.decline) declines)")
                print("opt-outs: \(lags.total), \(lags.late) recorded 24 hours or more after they happened")
                for (sender, h) in stats.lagBySender.sorted(by: { $0.key < $1.key }) where h.late > 0 {
                    print("  \(sender): \(h.late) of \(h.total) late")
                }
                print("purged bodies: \(stats.purgesPerDay.values.reduce(0) { $0 + $1.bodies }); holds in force: \(stats.activeHolds.count)")
                if let sendSummary {
                    print("send log: \(sendSummary.checked) judged, \(violations) without consent, \(sendSummary.notCovered) not yet covered, \(sendSummary.invalid) invalid rows")
                }
            }
        }
    }
}

struct AuditReportSummary: Encodable {
    var out: String
    var origin: String
    var size: Int64
    var events: Int
    var grants: Int
    var revocations: Int
    var declines: Int
    var optOuts: Int
    var lateOptOuts: Int
    var purgedBodies: Int
    var activeHolds: Int
    var sends: SendCheckSummary?
    var eventsPerDay: [String: ActionCounts]
    var lagBySender: [String: LagHistogram]
    var purgesPerDay: [String: PurgeCounts]
    var holds: [ReportHold]
    var sendViolations: [String: SendViolationCounts]
}
