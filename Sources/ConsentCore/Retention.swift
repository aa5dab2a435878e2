/// An ISO 8601 duration restricted to calendar parts: `PnYnMnD` (each part optional, at least one,
/// in that order) or `PnW` alone. No time part (`PT…`), no signs, no fractions; designators are
/// upper case only, as ISO 8601 writes them (`p5m` is refused). Years fold into months (`P1Y6M` is
/// 18 months) and weeks into days (`P2W` is 14 days). Each part is limited to 1,000 years
/// (``maximumMonths``, ``maximumDays``); longer texts are refused.
///
/// Encoded (`Codable`) as its canonical string, ``description``.
public struct RetentionPeriod: Hashable, Sendable, CustomStringConvertible {
    /// Calendar months (years × 12 + months).
    public let months: Int
    /// Calendar days (weeks × 7 + days).
    public let days: Int

    /// The largest month part: 1,000 years.
    public static let maximumMonths = 12_000
    /// The largest day part: 1,000 years of 365.25 days.
    public static let maximumDays = 365_250

    /// The legal minimum, `P5M`: consent certificates are kept at least five calendar months.
    public static let floor = RetentionPeriod(months: 5, days: 0)

    /// A period of `months` calendar months then `days` days; both in `0...maximumMonths` and
    /// `0...maximumDays` (a precondition).
    public init(months: Int, days: Int) {
        precondition((0...Self.maximumMonths).contains(months), "retention months out of range")
        precondition((0...Self.maximumDays).contains(days), "retention days out of range")
        self.months = months
        self.days = days
    }

    /// Parses `P5M`, `P1Y6M`, `P200D`, `P1Y2M10D`, `P2W`. Nil for anything else: `""`, `P`, `5M`,
    /// `P-1M`, `PT5H`, `P1M1Y` (out of order), `P1Y1Y` (repeated), `P1W2D` (weeks mixed with other
    /// parts), `p5m`, or a part above 1,000 years. Leading zeros are accepted (`P05M`).
    public init?(iso8601 text: String) {
        var rest = text.utf8.makeIterator()
        guard rest.next() == UInt8(ascii: "P") else { return nil }
        var months = 0
        var days = 0
        var rank = 0  // the last designator read: 1 Y, 2 M, 3 D, 4 W
        var value = 0
        var digits = 0
        while let c = rest.next() {
            if c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") {
                guard digits < 9 else { return nil }
                value = value * 10 + Int(c - UInt8(ascii: "0"))
                digits += 1
                continue
            }
            let r: Int
            switch c {
            case UInt8(ascii: "Y"): r = 1
            case UInt8(ascii: "M"): r = 2
            case UInt8(ascii: "D"): r = 3
            case UInt8(ascii: "W"): r = 4
            default: return nil
            }
            guard digits > 0, r > rank, r != 4 || rank == 0 else { return nil }
            switch r {
            case 1: months += value * 12
            case 2: months += value
            case 3: days = value
            default: days = value * 7
            }
            rank = r
            value = 0
            digits = 0
        }
        guard rank > 0, digits == 0, months <= Self.maximumMonths, days <= Self.maximumDays else { return nil }
        self.init(months: months, days: days)
    }

    /// The canonical ISO 8601 text: `PnYnMnD` with zero parts left out (`P1Y6M` for 18 months,
    /// `P14D` for `P2W`), `P0D` for the empty period.
    public var description: String {
        if months == 0 && days == 0 { return "P0D" }
        var s = "P"
        if months >= 12 { s += "\(months / 12)Y" }
        if months % 12 != 0 { s += "\(months % 12)M" }
        if days != 0 { s += "\(days)D" }
        return s
    }

    /// Whether `start + self >= start + other` for every possible start instant. A partial order:
    /// `P153D` is at least `P5M` (five consecutive months never exceed 153 days) but `P152D` is not;
    /// `P4M31D` is at least `P5M`, `P4M30D` is not; and `P5M` is not at least `P153D` either.
    public func isAtLeast(_ other: RetentionPeriod) -> Bool {
        if months == other.months { return days >= other.days }
        if months >= other.months && days >= other.days { return true }
        if months <= other.months && days <= other.days { return false }  // months differ: strictly shorter
        // Day counts never depend on the time of day (CST has no daylight saving), so compare dates:
        // the month part of `self` must outrun that of `other` by `other.days - days` at every start.
        return Self.monthGap(from: other.months, to: months, isAlwaysAtLeast: other.days - days)
    }

    /// `start` plus ``months`` calendar months in China Standard Time (UTC+8), the day of the month
    /// clamped to the target month's end and the time of day kept, plus ``days`` CST calendar days
    /// (each exactly 24 hours: CST has no daylight saving). Saturates at `Milliseconds.max`.
    public func added(to start: Milliseconds) -> Milliseconds {
        let day = Self.cstDay(start)
        var target = day
        if months != 0 {
            let (y, m, d) = RFC3339.civilFromDays(day)
            let (ty, tm) = Self.monthAfter(year: y, month: m, adding: months)
            target = RFC3339.daysFromCivil(year: ty, month: tm, day: min(d, RFC3339.daysInMonth(year: ty, month: tm)))
        }
        target += days
        let (shift, overflowA) = Int64(target - day).multipliedReportingOverflow(by: Self.dayMs)
        let (result, overflowB) = start.addingReportingOverflow(shift)
        return overflowA || overflowB ? .max : result
    }

    static let dayMs: Milliseconds = 86_400_000
    static let cstOffsetMs: Milliseconds = 28_800_000

    /// The CST (UTC+8) calendar day of an instant, as days since 1970-01-01; safe for any instant.
    static func cstDay(_ t: Milliseconds) -> Int {
        var day = t / dayMs
        var ms = t % dayMs
        if ms < 0 {
            day -= 1
            ms += dayMs
        }
        return Int(day) + (ms + cstOffsetMs >= dayMs ? 1 : 0)
    }

    static func monthAfter(year: Int, month: Int, adding n: Int) -> (year: Int, month: Int) {
        let index = year * 12 + (month - 1) + n
        let y = index >= 0 ? index / 12 : (index - 11) / 12
        return (y, index - y * 12 + 1)
    }

    /// Whether, for every start date s, `date(s + b months) - date(s + a months) >= needed` (in days).
    /// Exhaustive over one 400-year Gregorian cycle (4,800 start months), which repeats exactly; per
    /// start month only days 28 (standing for 1...28, never clamped), 29, 30 and 31 can differ.
    static func monthGap(from a: Int, to b: Int, isAlwaysAtLeast needed: Int) -> Bool {
        for start in 0..<4800 {
            let sy = 2000 + start / 12
            let sm = start % 12 + 1
            let startLength = RFC3339.daysInMonth(year: sy, month: sm)
            let (ay, am) = monthAfter(year: sy, month: sm, adding: a)
            let (by, bm) = monthAfter(year: sy, month: sm, adding: b)
            let aFirst = RFC3339.daysFromCivil(year: ay, month: am, day: 1)
            let bFirst = RFC3339.daysFromCivil(year: by, month: bm, day: 1)
            let aLength = RFC3339.daysInMonth(year: ay, month: am)
            let bLength = RFC3339.daysInMonth(year: by, month: bm)
            for d in 28...startLength where (bFirst + min(d, bLength)) - (aFirst + min(d, aLength)) < needed {
                return false
            }
        }
        return true
    }
}

extension RetentionPeriod: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let period = RetentionPeriod(iso8601: text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "not an ISO 8601 calendar duration (PnYnMnD or PnW): \(text)")
        }
        self = period
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// Why a retention configuration or change was refused; `message` is a sentence a person can act on.
public struct RetentionError: Error, Equatable, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The retention configuration of a log.
public struct RetentionPolicy: Equatable, Sendable {
    /// The earliest lawful purge: a body is kept at least this long (see ``Retention``). At least
    /// ``RetentionPeriod/floor``.
    public let minimum: RetentionPeriod
    /// When compaction purges; at least ``minimum``. Equal to it (the default) means "purge as soon as
    /// allowed" (PIPL data minimisation).
    public let purgeAfter: RetentionPeriod

    /// Refuses a minimum shorter than five calendar months, and a `purgeAfter` shorter than the
    /// minimum, both in the sense of ``RetentionPeriod/isAtLeast(_:)``. `purgeAfter` defaults to
    /// `minimum`.
    public init(minimum: RetentionPeriod = .floor, purgeAfter: RetentionPeriod? = nil) throws(RetentionError) {
        guard minimum.isAtLeast(.floor) else {
            var message = "retention \(minimum) is shorter than the legal minimum of five calendar months (P5M)"
            if minimum.months == 0 {
                message += "; five calendar months can span 153 days, so a period in days must be at least P153D"
            } else if minimum.months == 4 {
                message += "; with four months, at least 31 more days are needed (P4M31D)"
            }
            throw RetentionError(message)
        }
        let purge = purgeAfter ?? minimum
        guard purge.isAtLeast(minimum) else {
            throw RetentionError(
                "purge-after \(purge) is shorter than the retention minimum \(minimum); it must reach at least as far from every start date"
            )
        }
        self.minimum = minimum
        self.purgeAfter = purge
    }

    /// `P5M`, purged as soon as allowed.
    public static let `default` = RetentionPolicy(uncheckedMinimum: .floor, purgeAfter: .floor)

    private init(uncheckedMinimum: RetentionPeriod, purgeAfter: RetentionPeriod) {
        minimum = uncheckedMinimum
        self.purgeAfter = purgeAfter
    }

    /// Whether bodies are purged as soon as the minimum allows.
    public var purgesAsSoonAsAllowed: Bool { purgeAfter == minimum }

    /// Checks a change of a log's policy from `self` to `new`: the minimum may only grow (at every start
    /// date, see ``RetentionPeriod/isAtLeast(_:)``); `purgeAfter` may change freely, being at least the
    /// new minimum by construction.
    public func allowsChange(to new: RetentionPolicy) throws(RetentionError) {
        guard new.minimum.isAtLeast(minimum) else {
            throw RetentionError(
                "retention can only be lengthened: \(new.minimum) is shorter than the current \(minimum) for some start dates"
            )
        }
    }
}

/// When a body may be purged.
///
/// A grant's body is kept while the grant is the current state of its key (no later event for the same
/// state key), and once superseded until `period` after the later of its `recordedAt` and the
/// superseding event's `recordedAt`. A revocation's body is kept until `period` after its own
/// `recordedAt`, whether or not it has been superseded. Holds are not considered here.
public enum Retention {
    /// The instant from which the body may be purged (nil: retained indefinitely, a current grant).
    /// `supersededAt` is the `recordedAt` of the next event for the same state key, if any.
    public static func retainUntil(
        action: ConsentAction, recordedAt: Milliseconds, supersededAt: Milliseconds?, period: RetentionPeriod
    ) -> Milliseconds? {
        switch action {
        case .grant:
            guard let supersededAt else { return nil }
            return period.added(to: max(recordedAt, supersededAt))
        case .revoke:
            return period.added(to: recordedAt)
        }
    }

    /// Whether a body with this `retainUntil` may be purged at `now`: from that instant on, inclusive.
    public static func isExpired(retainUntil: Milliseconds?, at now: Milliseconds) -> Bool {
        guard let retainUntil else { return false }
        return now >= retainUntil
    }
}
