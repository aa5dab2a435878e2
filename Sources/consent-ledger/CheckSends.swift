import ArgumentParser
import ConsentCore
import ConsentLedger
import Foundation

extension ConsentLedgerCommand {
    struct CheckSends: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "check-sends",
            abstract: "Check a log of sent messages: every message sent without consent at its send time, each with a proof bundle.",
            discussion: """
                FILE is CSV (RFC 4180, UTF-8) with a header row naming these columns, in any order:
                  time        when it was sent: ISO 8601 with an offset or Z
                  sender      the sender id, as recorded in the ledger
                  port        the 106 port it was sent from
                  number      the recipient (13800138000, +86 138-0013-8000, ...)
                  message_id  the message id (it names the proof bundle)
                  purpose     optional: the purpose (marketing category), or empty
                For example:
                  time,sender,port,number,message_id,purpose
                  2026-11-23T20:00:00+08:00,bank,10690001,13800138000,M0001,promo

                Each message is the question "had this number consented to this sender, port and purpose when it \
                was sent?", answered from the events recorded by then. A refused or never-asked answer is a \
                violation: it is listed (line, message id, time, sender, port, masked number, decision, deciding \
                entry) and its proof bundle is written to DIR/<message id>.json, which `verify bundle` checks offline. \
                Messages sent after the log's latest commit are not judged but reported as not yet covered: run \
                the check again once the log has committed past them (any batch, or `heartbeat`). Invalid rows \
                (a bad time, number, port, ...) are reported with their line and the check goes on. DIR also gets \
                report.json: every violation, uncovered message and invalid row, and the totals. The file is read \
                as a stream, so logs of any size are checked in bounded memory.

                Exit status: 1 if any violation was found; otherwise 2 if the input was bad (unreadable, bad \
                header, invalid rows) or the check failed; otherwise 3 if some messages are not yet covered; \
                otherwise 0: every message was sent with consent.
                """)

        @OptionGroup var dataOptions: DataOptions
        @Argument(help: "The send log (CSV; - for standard input, which needs --out).") var file: String
        @Option(help: ArgumentHelp(
            "Where to write the proof bundles and report.json (default: FILE.violations). It must not exist, or be empty.",
            valueName: "DIR"))
        var out: String?
        @Flag(help: "Leave the bodies (number and evidence) of the events out of the bundles.") var noBodies = false
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let code: Int32
            do {
                code = try await check()
            } catch {
                printError("Error: \(error)")
                throw ExitCode(2)
            }
            if code != 0 { throw ExitCode(code) }
        }

        private func check() async throws -> Int32 {
            guard let outDir = out ?? (file == "-" ? nil : file + ".violations") else {
                throw CheckSendsError("reading the send log from standard input needs --out DIR")
            }
            try prepare(outDir, create: false)
            let ledger = try await dataOptions.open(writable: false)
            let input: FileHandle
            if file == "-" {
                input = FileHandle.standardInput
            } else {
                guard let handle = FileHandle(forReadingAtPath: file) else { throw CheckSendsError("cannot read \(file)") }
                input = handle
            }
            let fileSize = file == "-" ? nil : (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int)
            // The first chunk (and so the header) is read before anything is written: a wrong file or
            // header leaves no output directory behind.
            var bytesRead = 0
            var parser = SendLogParser()
            let first = try input.read(upToCount: 1 << 16) ?? Data()
            bytesRead += first.count
            var ended = first.isEmpty
            var rows = ended ? try parser.finish() : try parser.feed(first)
            try prepare(outDir, create: true)
            let report = try ReportWriter(directory: outDir)
            var check = try await SendLogCheck(ledger: ledger, includeBodies: !noBodies)
            let progress = Progress(enabled: !output.json && isatty(STDERR_FILENO) == 1, total: fileSize)
            var aborted: String?
            var invalidShown = 0
            while true {
                do {
                    for row in rows {
                        switch try await check.check(row) {
                        case .consented: break
                        case .violation(let message, let answer, let bundle):
                            let name = try report.writeBundle(bundle!, messageID: message.messageID, line: message.line)
                            let view = ViolationView(message, answer, bundle: name)
                            try report.add(violation: view)
                            if !output.json {
                                progress.clear()
                                print(view.text)
                            }
                        case .notCovered(let message):
                            try report.add(notCovered: MessageView(message))
                        case .invalid(let row, let error):
                            try report.add(invalid: InvalidView(row, error))
                            if invalidShown < 50 {
                                progress.clear()
                                printError("line \(row.line): invalid: \(error.column.map { "\($0): " } ?? "")\(error.message)")
                            }
                            invalidShown += 1
                        }
                        progress.update(rows: check.summary.rows, violations: check.summary.violations, bytes: bytesRead)
                    }
                    if ended { break }
                    let chunk = try input.read(upToCount: 1 << 16) ?? Data()
                    bytesRead += chunk.count
                    ended = chunk.isEmpty
                    rows = ended ? try parser.finish() : try parser.feed(chunk)
                } catch {
                    aborted = "\(error)"
                    break
                }
            }
            progress.clear()
            if invalidShown > 50 { printError("... and \(invalidShown - 50) more invalid rows (all are in report.json)") }
            if let aborted { printError("Error: the check stopped: \(aborted)") }

            let s = check.summary
            let code: Int32 = s.violations > 0 ? 1 : (s.invalid > 0 || aborted != nil) ? 2 : s.notCovered > 0 ? 3 : 0
            let summary = ReportSummary(
                file: file, origin: ledger.parameters.origin, verifierKey: ledger.verifier.encoded,
                coveredUntil: check.coveredUntil.map(RFC3339.format), rows: s.rows, checked: s.checked, consented: s.consented,
                violations: s.violations, refused: s.refused, neverAsked: s.neverAsked, notCovered: s.notCovered, invalid: s.invalid,
                aborted: aborted, exitCode: code, out: outDir)
            try report.finish(summary)
            if output.json { try printJSON(summary) } else { print(summary.text) }
            return code
        }

        /// The output directory must be new or empty, so that no bundle of an earlier run is mistaken for this one's.
        private func prepare(_ dir: String, create: Bool) throws {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory) {
                guard isDirectory.boolValue else { throw CheckSendsError("\(dir) exists and is not a directory") }
                guard try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty else {
                    throw CheckSendsError("\(dir) is not empty (an earlier run?): remove it or choose another --out")
                }
            } else if create {
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            }
        }
    }
}

struct CheckSendsError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A progress line on standard error (a terminal only), at most four times a second.
final class Progress {
    let enabled: Bool
    let total: Int?
    private var last = ContinuousClock.now
    private var shown = false

    init(enabled: Bool, total: Int?) {
        self.enabled = enabled
        self.total = total
    }

    func update(rows: Int, violations: Int, bytes: Int) {
        guard enabled, ContinuousClock.now - last > .milliseconds(250) else { return }
        last = .now
        let percent = total.flatMap { $0 > 0 ? " \(min(100, bytes * 100 / $0))%" : nil } ?? ""
        FileHandle.standardError.write(Data("\r\u{1B}[Kchecked \(rows) rows, \(violations) violations\(percent)".utf8))
        shown = true
    }

    /// Erases the progress line before other output.
    func clear() {
        guard shown else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
        shown = false
    }
}

/// Writes the bundles and report.json. The lists are streamed to files as they grow (violations into
/// the report itself, the others into side files appended at the end), so memory stays bounded;
/// report.json appears only when complete.
final class ReportWriter {
    let directory: String
    private let report: FileHandle
    private let notCovered: FileHandle
    private let invalid: FileHandle
    private var counts = [0, 0, 0]
    private let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()

    private func path(_ name: String) -> String { directory + "/" + name }

    init(directory: String) throws {
        self.directory = directory
        func create(_ name: String) throws -> FileHandle {
            let path = directory + "/" + name
            guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
                throw CheckSendsError("cannot write \(path)")
            }
            return handle
        }
        report = try create(".report.json.partial")
        notCovered = try create(".not-covered.partial")
        invalid = try create(".invalid.partial")
        try report.write(contentsOf: Data("{\"violations\":[".utf8))
    }

    private func append(_ value: some Encodable, to handle: FileHandle, list: Int) throws {
        var data = Data((counts[list] == 0 ? "\n" : ",\n").utf8)
        data.append(try encoder.encode(value))
        try handle.write(contentsOf: data)
        counts[list] += 1
    }

    func add(violation: ViolationView) throws { try append(violation, to: report, list: 0) }
    func add(notCovered message: MessageView) throws { try append(message, to: notCovered, list: 1) }
    func add(invalid row: InvalidView) throws { try append(row, to: invalid, list: 2) }

    /// Writes a violation's bundle, named by its message id made safe for a file name (with the
    /// line added when the id had to be changed or the name is taken), and returns the file name.
    func writeBundle(_ bundle: ProofBundle, messageID: String, line: Int) throws -> String {
        var safe = String(String.UnicodeScalarView(messageID.unicodeScalars.prefix(100).map { s in
            s.isASCII && (s.properties.isAlphabetic || s.properties.numericType != nil || s == "-" || s == "_" || s == ".") ? s : "_"
        }))
        if safe.hasPrefix(".") { safe = "_" + safe.dropFirst() }
        func taken(_ name: String) -> Bool {
            name.lowercased() == "report" || FileManager.default.fileExists(atPath: path(name + ".json"))
        }
        var name = safe
        if safe != messageID || taken(name) {
            name = safe + "-line\(line)"
            var n = 2
            while taken(name) {
                name = safe + "-line\(line)-\(n)"
                n += 1
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try encoder.encode(bundle).write(to: URL(fileURLWithPath: path(name + ".json")))
        return name + ".json"
    }

    /// Appends the other lists and the summary, and moves the finished report into place.
    func finish(_ summary: ReportSummary) throws {
        for (key, handle, temp) in [("notCovered", notCovered, ".not-covered.partial"), ("invalid", invalid, ".invalid.partial")] {
            try handle.close()
            try report.write(contentsOf: Data("],\n\"\(key)\":[".utf8))
            let reader = try FileHandle(forReadingFrom: URL(fileURLWithPath: path(temp)))
            while let chunk = try reader.read(upToCount: 1 << 20), !chunk.isEmpty { try report.write(contentsOf: chunk) }
            try reader.close()
            try FileManager.default.removeItem(atPath: path(temp))
        }
        try report.write(contentsOf: Data("],\n\"summary\":".utf8) + (try encoder.encode(summary)) + Data("}\n".utf8))
        try report.close()
        let final = path("report.json")
        if FileManager.default.fileExists(atPath: final) { try FileManager.default.removeItem(atPath: final) }
        try FileManager.default.moveItem(atPath: path(".report.json.partial"), toPath: final)
    }
}

/// A valid message as the report lists it (the number masked).
struct MessageView: Encodable {
    var line: Int
    var messageId: String
    var time: String
    var sender: String
    var port: String
    var purpose: String?
    var number: String

    init(_ m: SentMessage) {
        line = m.line
        messageId = m.messageID
        time = RFC3339.format(m.time)
        sender = m.sender
        port = m.port
        purpose = m.purpose
        number = m.subject.masked
    }
}

/// A message sent without consent.
struct ViolationView: Encodable {
    var line: Int
    var messageId: String
    var time: String
    var sender: String
    var port: String
    var purpose: String?
    var number: String
    var decision: String
    /// The event that decided (nil for never-asked).
    var deciding: EventView?
    /// The proof bundle's file name in the output directory.
    var bundle: String

    init(_ m: SentMessage, _ answer: ConsentAnswer, bundle: String) {
        let v = MessageView(m)
        line = v.line
        messageId = v.messageId
        time = v.time
        sender = v.sender
        port = v.port
        purpose = v.purpose
        number = v.number
        decision = answer.decision.rawValue
        deciding = answer.deciding.map(EventView.init)
        self.bundle = bundle
    }

    var text: String {
        let decided = deciding.map { "entry \($0.index): \($0.action) (\($0.scope)) recorded \($0.recordedAt)" } ?? "no covering event"
        return "line \(line)  \(messageId)  \(time)  \(sender)  port \(port)\(purpose.map { "  purpose \($0)" } ?? "")  \(number)  "
            + "\(decision.uppercased())  [\(decided)]  -> \(bundle)"
    }
}

/// A row that could not be read.
struct InvalidView: Encodable {
    var line: Int
    var messageId: String?
    var column: String?
    var reason: String

    init(_ row: SendLogRow, _ error: SendLogError) {
        line = row.line
        messageId = row.messageID
        column = error.column
        reason = error.message
    }
}

/// The totals, as report.json's `summary` and `--json` print them.
struct ReportSummary: Encodable {
    var file: String
    var origin: String
    var verifierKey: String
    /// The latest time the log vouched for when the check began: later messages are not judged.
    var coveredUntil: String?
    var rows: Int
    var checked: Int
    var consented: Int
    var violations: Int
    var refused: Int
    var neverAsked: Int
    var notCovered: Int
    var invalid: Int
    /// Why the check stopped before the end of the file.
    var aborted: String?
    var exitCode: Int32
    var out: String

    var text: String {
        func row(_ label: String, _ n: Int, _ note: String = "") -> String {
            label.padding(toLength: 17, withPad: " ", startingAt: 0) + String(n).leftPad(7) + (note.isEmpty ? "" : "  " + note)
        }
        var lines = [
            "Checked \(file) against \(origin), which vouches for times up to its latest commit \(coveredUntil ?? "(none: the log is empty)"):",
            row("rows", rows),
            row("consented", consented),
            row("violations", violations, violations > 0 ? "(refused \(refused), never-asked \(neverAsked))" : ""),
        ]
        if notCovered > 0 {
            lines.append(row("not yet covered", notCovered, "(sent after the latest commit: check again once the log has committed past them)"))
        }
        if invalid > 0 { lines.append(row("invalid rows", invalid, "(on standard error and in report.json)")) }
        if let aborted { lines.append("The check stopped early: \(aborted)") }
        lines.append("Proof bundles and report.json are in \(out)/")
        if violations > 0 {
            lines.append("Verify a bundle offline: consent-ledger verify bundle \(out)/<bundle> --key '\(verifierKey)'")
        }
        return lines.joined(separator: "\n")
    }
}

extension String {
    fileprivate func leftPad(_ width: Int) -> String { String(repeating: " ", count: max(0, width - count)) + self }
}
