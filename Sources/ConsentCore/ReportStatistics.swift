// The numbers behind `consent-ledger report`: a pure fold over decoded entry headers (and,
// optionally, the verdicts of a send-log check). Days are civil days in China Standard Time (UTC+8).

/// What a consent event did, as the report counts it: a revocation of global scope is a decline.
public enum ReportAction: String, Sendable, CaseIterable, Codable {
    case grant, revoke, decline

    public init(_ header: ConsentHeader) {
        switch (header.action, header.scope) {
        case (.grant, _): self = .grant
        case (.revoke, .global): self = .decline
        case (.revoke, _): self = .revoke
        }
    }
}

/// A civil day in China Standard Time, as days since 1970-01-01.
public struct ReportDay: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    /// UTC+8, in milliseconds.
    public static let offset: Milliseconds = 8 * 3_600_000
    public var number: Int

    public init(number: Int) { self.number = number }

    /// The CST day of an instant.
    public init(_ time: Milliseconds) {
        let shifted = time + ReportDay.offset
        number = Int(shifted >= 0 ? shifted / 86_400_000 : (shifted - 86_399_999) / 86_400_000)
    }

    /// `YYYY-MM-DD`.
    public var description: String {
        let (y, m, d) = RFC3339.civilFromDays(number)
        func pad(_ v: Int, _ n: Int) -> String { String(repeating: "0", count: max(0, n - String(v).count)) + String(v) }
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))"
    }

    public static func < (a: ReportDay, b: ReportDay) -> Bool { a.number < b.number }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        let parts = text.split(separator: "-").compactMap { Int($0) }
        guard parts.count == 3 else { throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a day")) }
        number = RFC3339.daysFromCivil(year: parts[0], month: parts[1], day: parts[2])
    }
}

/// Grants, revocations and declines in one day.
public struct ActionCounts: Equatable, Sendable, Codable {
    public var grant = 0
    public var revoke = 0
    public var decline = 0

    public init(grant: Int = 0, revoke: Int = 0, decline: Int = 0) {
        self.grant = grant
        self.revoke = revoke
        self.decline = decline
    }

    public var total: Int { grant + revoke + decline }

    public subscript(action: ReportAction) -> Int {
        get {
            switch action {
            case .grant: return grant
            case .revoke: return revoke
            case .decline: return decline
            }
        }
        set {
            switch action {
            case .grant: grant = newValue
            case .revoke: revoke = newValue
            case .decline: decline = newValue
            }
        }
    }
}

/// The distribution of opt-out lags (`recordedAt − occurredAt` of revocations and declines) in
/// fixed buckets: < 1 min, < 1 h, < 24 h, < 72 h, ≥ 72 h.
public struct LagHistogram: Equatable, Sendable, Codable {
    /// The upper bounds (exclusive) of all buckets but the last, in milliseconds.
    public static let bounds: [Milliseconds] = [60_000, 3_600_000, 86_400_000, 259_200_000]
    public static let labels = ["< 1 min", "< 1 h", "< 24 h", "< 72 h", "≥ 72 h"]
    /// Lags of 24 hours or more.
    public static let lateBound: Milliseconds = 86_400_000

    public var buckets = [0, 0, 0, 0, 0]
    /// The largest lag seen, in milliseconds (0 when empty).
    public var maximum: Milliseconds = 0

    public init(buckets: [Int] = [0, 0, 0, 0, 0], maximum: Milliseconds = 0) {
        self.buckets = buckets
        self.maximum = maximum
    }

    /// Adds one lag; a negative lag (an event dated after it was recorded) counts as zero.
    public mutating func add(_ lag: Milliseconds) {
        let lag = max(0, lag)
        buckets[LagHistogram.bounds.firstIndex { lag < $0 } ?? LagHistogram.bounds.count] += 1
        maximum = max(maximum, lag)
    }

    public var total: Int { buckets.reduce(0, +) }
    /// Opt-outs recorded 24 hours or more after they happened.
    public var late: Int { buckets[3] + buckets[4] }
    /// `late / total` (0 when empty).
    public var lateShare: Double { total == 0 ? 0 : Double(late) / Double(total) }
}

/// Purge entries and the bodies they deleted, in one day.
public struct PurgeCounts: Equatable, Sendable, Codable {
    public var entries = 0
    public var bodies = 0

    public init(entries: Int = 0, bodies: Int = 0) {
        self.entries = entries
        self.bodies = bodies
    }
}

/// A legal hold in force at the end of the report's window.
public struct ReportHold: Equatable, Sendable, Codable {
    /// The index of the hold entry that placed it.
    public var index: Int64
    public var placedAt: Milliseconds
    /// The held sender, if the hold names one.
    public var sender: String?
    /// The held subject key (hex), if the hold names one.
    public var subjectKey: String?
    public var reason: String
    public var reference: String

    public init(index: Int64, placedAt: Milliseconds, sender: String?, subjectKey: String?, reason: String, reference: String) {
        self.index = index
        self.placedAt = placedAt
        self.sender = sender
        self.subjectKey = subjectKey
        self.reason = reason
        self.reference = reference
    }
}

/// Messages sent without consent, for one sender.
public struct SendViolationCounts: Equatable, Sendable, Codable {
    /// Sent after the number had refused (revoked or declined).
    public var refused = 0
    /// Sent to a number that never consented.
    public var neverAsked = 0

    public init(refused: Int = 0, neverAsked: Int = 0) {
        self.refused = refused
        self.neverAsked = neverAsked
    }

    public var total: Int { refused + neverAsked }
}

/// The report's statistics. Feed every entry header of the log in order with ``add(index:header:)``;
/// entries recorded outside `[from, to)` are not counted, except that holds placed before `from` and
/// not released by `to` are still in force. Days (events, purges) are the CST days of `recordedAt`.
public struct ReportStatistics: Equatable, Sendable, Codable {
    /// The window, by `recordedAt`: from (inclusive), to (exclusive); nil is unbounded.
    public var from: Milliseconds?
    public var to: Milliseconds?
    /// Entries fed (in the window or not).
    public private(set) var entriesRead = 0
    /// Consent events counted (in the window).
    public private(set) var events = 0
    public private(set) var eventsPerDay: [ReportDay: ActionCounts] = [:]
    /// Opt-out lags per sender (global declines count under the sender that recorded them).
    public private(set) var lagBySender: [String: LagHistogram] = [:]
    public private(set) var purgesPerDay: [ReportDay: PurgeCounts] = [:]
    /// Holds in force, by the index of the entry that placed them.
    public private(set) var activeHolds: [Int64: ReportHold] = [:]
    /// Holds placed and released in the window.
    public private(set) var holdsPlaced = 0
    public private(set) var holdsReleased = 0
    /// Send-log verdicts: messages sent without consent per sender (only with a send log).
    public private(set) var sendViolations: [String: SendViolationCounts] = [:]
    /// Send-log messages judged (nil: no send log was given).
    public private(set) var sendsChecked: Int?

    public init(from: Milliseconds? = nil, to: Milliseconds? = nil) {
        self.from = from
        self.to = to
    }

    func inWindow(_ t: Milliseconds) -> Bool { (from.map { t >= $0 } ?? true) && (to.map { t < $0 } ?? true) }

    /// Counts one entry.
    public mutating func add(index: Int64, header: EntryHeader) {
        entriesRead += 1
        let t = header.recordedAt
        switch header {
        case .commit: break
        case .consent(let h):
            guard inWindow(t) else { return }
            events += 1
            let action = ReportAction(h)
            eventsPerDay[ReportDay(t), default: ActionCounts()][action] += 1
            if action != .grant { lagBySender[h.sender, default: LagHistogram()].add(h.recordedAt - h.occurredAt) }
        case .purge(let p):
            guard inWindow(t) else { return }
            purgesPerDay[ReportDay(t), default: PurgeCounts()].entries += 1
            purgesPerDay[ReportDay(t), default: PurgeCounts()].bodies += p.purged.count
        case .hold(let h):
            if let to, t >= to { return }
            let counted = inWindow(t)
            switch h.action {
            case .place(let target, let reason, let reference):
                if counted { holdsPlaced += 1 }
                activeHolds[index] = ReportHold(
                    index: index, placedAt: t, sender: target.sender, subjectKey: target.subjectKey?.hex, reason: reason, reference: reference)
            case .release(let placedAt, _, _):
                if counted { holdsReleased += 1 }
                activeHolds[placedAt] = nil
            }
        }
    }

    /// Counts one judged message of a send log: its sender and whether it was sent with consent.
    public mutating func addSend(sender: String, decision: ConsentDecision) {
        sendsChecked = (sendsChecked ?? 0) + 1
        switch decision {
        case .consented: break
        case .refused: sendViolations[sender, default: SendViolationCounts()].refused += 1
        case .neverAsked: sendViolations[sender, default: SendViolationCounts()].neverAsked += 1
        }
    }

    /// Marks that a send log was given (even an empty one).
    public mutating func startSends() { sendsChecked = sendsChecked ?? 0 }

    /// Days with events or purges, in order, from the first to the last with every day in between.
    public var days: [ReportDay] {
        let all = Set(eventsPerDay.keys).union(purgesPerDay.keys)
        guard let first = all.min(), let last = all.max() else { return [] }
        return (first.number...last.number).map(ReportDay.init(number:))
    }

    /// Totals over the window.
    public var totals: ActionCounts {
        eventsPerDay.values.reduce(into: ActionCounts()) {
            $0.grant += $1.grant
            $0.revoke += $1.revoke
            $0.decline += $1.decline
        }
    }

    /// Opt-outs (revocations and declines) over all senders.
    public var allLags: LagHistogram {
        lagBySender.values.reduce(into: LagHistogram()) { acc, h in
            for i in 0..<acc.buckets.count { acc.buckets[i] += h.buckets[i] }
            acc.maximum = max(acc.maximum, h.maximum)
        }
    }
}
