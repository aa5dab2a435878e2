import ConsentCore
import ConsentVerifier

/// What checking one row of a send log found.
public enum SendFinding: Sendable {
    /// The number had consented to the sender (port, purpose) when the message went out.
    case consented(SentMessage, ConsentAnswer)
    /// Sent without consent: the answer at the send time was `refused` or `never-asked`. The bundle
    /// proves that answer offline (nil only when the check was asked for no proofs).
    case violation(SentMessage, ConsentAnswer, ProofBundle?)
    /// Sent after the log's latest commit when the check began: the log cannot vouch for that
    /// moment yet, so the message is not judged (SEMANTICS §2). A later check, after the log has
    /// committed past the send time (any batch or a heartbeat), judges it.
    case notCovered(SentMessage)
    /// The row could not be read (a bad time, number, port, …).
    case invalid(SendLogRow, SendLogError)
}

/// Running totals of a send-log check.
public struct SendCheckSummary: Sendable, Equatable, Codable {
    /// Data rows read (valid or not).
    public var rows = 0
    /// Valid messages whose send time the log covers, judged.
    public var checked = 0
    public var consented = 0
    public var refused = 0
    public var neverAsked = 0
    /// Valid messages sent after the log's latest commit: not judged.
    public var notCovered = 0
    public var invalid = 0

    public init() {}

    /// Messages sent without consent.
    public var violations: Int { refused + neverAsked }
}

/// Checks a log of sent messages against the ledger, one row at a time, so that a log of any size
/// is checked in bounded memory: the caller streams rows in and writes each finding (and its proof
/// bundle) out before asking for the next.
///
/// Every judged message is the consent question "had this number consented to this sender, port and
/// purpose at the send time?", answered from the events recorded at or before that time. Only
/// times up to the log's latest commit *when the check began* are judged: answers for them can never
/// change (the log is append-only and its clock only moves forward), so a check run while events are
/// being appended is still consistent, and re-running it gives the same verdicts.
public struct SendLogCheck: Sendable {
    public let ledger: Ledger
    /// The latest time the log vouches for: its latest commit when the check began (nil: empty log).
    public let coveredUntil: Milliseconds?
    /// Build a proof bundle for each violation.
    public var proofs: Bool
    /// Disclose the bodies (number and evidence) of the events a bundle uses.
    public var includeBodies: Bool
    public private(set) var summary = SendCheckSummary()

    public init(ledger: Ledger, proofs: Bool = true, includeBodies: Bool = true) async throws {
        self.ledger = ledger
        self.proofs = proofs
        self.includeBodies = includeBodies
        coveredUntil = try await ledger.refreshedLatestCommitTime()
    }

    /// Judges one row.
    public mutating func check(_ row: SendLogRow) async throws -> SendFinding {
        summary.rows += 1
        let message: SentMessage
        switch row.message {
        case .failure(let error):
            summary.invalid += 1
            return .invalid(row, error)
        case .success(let m): message = m
        }
        guard let coveredUntil, message.time <= coveredUntil else {
            summary.notCovered += 1
            return .notCovered(message)
        }
        summary.checked += 1
        let answer = try await ledger.answer(message.question)
        switch answer.decision {
        case .consented:
            summary.consented += 1
            return .consented(message, answer)
        case .refused: summary.refused += 1
        case .neverAsked: summary.neverAsked += 1
        }
        guard proofs else { return .violation(message, answer, nil) }
        let bundle = try await ledger.proveConsent(message.question, includeBodies: includeBodies)
        // proveConsent verified the bundle; it must prove the very answer reported, for the send time itself.
        guard bundle.decision == answer.decision, bundle.deciding == answer.deciding?.index, bundle.question.requestedAt == nil,
            bundle.question.at == RFC3339.format(message.time)
        else {
            throw LedgerError.corrupt(
                "line \(message.line): the proof bundle proves \(bundle.decision.rawValue) (entry \(bundle.deciding.map(String.init) ?? "-")) "
                    + "but the answer was \(answer.decision.rawValue) (entry \(answer.deciding.map { String($0.index) } ?? "-"))")
        }
        return .violation(message, answer, bundle)
    }
}

extension Ledger {
    /// The latest commit time after catching up with the store (a reader in another process than
    /// the writer may be behind).
    func refreshedLatestCommitTime() async throws -> Milliseconds? {
        if !isWriter { try await refresh() }
        return latestCommitTime
    }
}
