import ArgumentParser
import ConsentCore
import ConsentLedger
import Foundation

extension ConsentLedgerCommand {
    struct Query: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Did SUBJECT consent to SENDER (port, purpose) at a time? Optionally write a proof bundle.",
            discussion: """
                The covering events are the subject's global declines, its sender-wide events, and its events \
                narrowed to this port, this purpose, or both. The latest of them recorded at or before the time \
                decides: a grant means consented, a revocation or global decline means refused, none means \
                never-asked (which is a refusal). Without --at the answer is for the log's latest commit.
                """)

        @OptionGroup var dataOptions: DataOptions
        @Option(help: "The user's mobile number.") var subject: String
        @Option(help: "Sender id.") var sender: String
        @Option(help: "The 106 port the message is sent from.") var port: String?
        @Option(help: "The message's purpose (marketing category).") var purpose: String?
        @Option(help: "The time to answer for (RFC 3339). Default: the log's latest commit.") var at: String?
        @Option(help: "Write a self-contained proof bundle (JSON) to this file.") var proof: String?
        @Flag(help: "Leave the bodies (number and evidence) out of the bundle.") var noBodies = false
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let ledger = try await dataOptions.open(writable: false)
            let question = try await makeQuestion(subject: subject, sender: sender, port: port, purpose: purpose, at: at, ledger: ledger)
            let answer = try await ledger.answer(question)
            if let proof {
                var bundle = try await ledger.proveConsent(question, includeBodies: !noBodies)
                bundle.checkpoint = try await withCosignatures(bundle.checkpoint, dataOptions)
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                try encoder.encode(bundle).write(to: URL(fileURLWithPath: proof))
            }
            let view = DecisionView(question: question, answer: answer, proof: proof)
            if output.json {
                try printJSON(view)
            } else {
                print(view.text)
            }
        }
    }

    struct History: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List every event of a subject (with one sender, or all), with times and methods.")

        @OptionGroup var dataOptions: DataOptions
        @Option(help: "The user's mobile number.") var subject: String
        @Option(help: "Only this sender's events (global declines are always listed).") var sender: String?
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let ledger = try await dataOptions.open(writable: false)
            let number = try PhoneNumber(normalizing: subject)
            let events = try await ledger.history(of: number, sender: sender).map(EventView.init)
            if output.json {
                try printJSON(events)
            } else if events.isEmpty {
                print("No events for \(number.masked)\(sender.map { " and \($0)" } ?? ""): never asked.")
            } else {
                for e in events {
                    print("#\(e.index)  \(e.recordedAt)  \(e.action.padding(toLength: 6, withPad: " ", startingAt: 0))  \(e.sender)  scope \(e.scope)  via \(e.method)  (occurred \(e.occurredAt), lag \(e.lagSeconds) s)")
                }
            }
        }
    }
}

/// Validates the question's parts the way `record` validates events.
func makeQuestion(subject: String, sender: String, port: String?, purpose: String?, at: String?, ledger: Ledger) async throws
    -> ConsentQuestion
{
    let number: PhoneNumber
    do { number = try PhoneNumber(normalizing: subject) } catch { throw ValidationError("--subject: \(error)") }
    guard EventValidator.isValidSenderID(sender) else { throw ValidationError("--sender: \"\(sender)\" is not a sender id") }
    if let port, !EventValidator.isValidPort(port) { throw ValidationError("--port: \"\(port)\" is not a 106 port") }
    if let purpose, !EventValidator.isValidPurpose(purpose) {
        throw ValidationError("--purpose: \"\(purpose)\" is not a purpose (1-64 of A-Z a-z 0-9 . _ -)")
    }
    let latest = await ledger.latestCommitTime
    var time = latest != nil ? latest! : await ledger.now
    if let t = try parseTime(at, option: "--at") { time = t }
    return ConsentQuestion(subject: number, sender: sender, port: port, purpose: purpose, at: time)
}

/// An event as `history` and `query` print it.
struct EventView: Encodable {
    var index: Int64
    var action: String
    var sender: String
    var scope: String
    var method: String
    var recordedAt: String
    var occurredAt: String
    /// recordedAt − occurredAt: how long the log took to learn of the user's act.
    var lagSeconds: Int64

    init(_ event: DecidingEvent) {
        index = event.index
        action = event.header.action.name
        sender = event.header.sender
        scope = event.header.scope.description
        method = event.header.method.name
        recordedAt = RFC3339.format(event.header.recordedAt)
        occurredAt = RFC3339.format(event.header.occurredAt)
        lagSeconds = (event.header.recordedAt - event.header.occurredAt) / 1000
    }
}

/// A decision as `query` prints it.
struct DecisionView: Encodable {
    var decision: String
    var maySend: Bool
    var subject: String
    var sender: String
    var port: String?
    var purpose: String?
    var at: String
    var deciding: EventView?
    var proof: String?

    init(question: ConsentQuestion, answer: ConsentAnswer, proof: String?) {
        decision = answer.decision.rawValue
        maySend = answer.decision.allowsSending
        subject = question.subject.masked
        sender = question.sender
        port = question.port
        purpose = question.purpose
        at = RFC3339.format(answer.at)
        deciding = answer.deciding.map(EventView.init)
        self.proof = proof
    }

    var text: String {
        var lines = ["\(decision.uppercased()): \(subject) \(maySend ? "may" : "may not") receive commercial messages from \(sender)"
            + "\(port.map { " via port \($0)" } ?? "")\(purpose.map { " for \($0)" } ?? "") at \(at)"]
        if let d = deciding {
            lines.append("  decided by entry \(d.index): \(d.action) (\(d.scope)) via \(d.method), occurred \(d.occurredAt), recorded \(d.recordedAt)")
        } else {
            lines.append("  no covering event was recorded by then: silence counts as refusal")
        }
        if let proof { lines.append("  proof bundle written to \(proof) (check it with `consent-ledger verify bundle`)") }
        return lines.joined(separator: "\n")
    }
}
