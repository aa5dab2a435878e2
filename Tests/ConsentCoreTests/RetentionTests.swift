import ConsentTestSupport
import Foundation
import Testing

@testable import ConsentCore

/// An instant written by hand as RFC 3339.
private func at(_ text: String) -> Milliseconds {
    guard let t = RFC3339.parse(text) else { fatalError("bad test time \(text)") }
    return t
}

/// A period written as ISO 8601.
private func period(_ text: String) -> RetentionPeriod {
    guard let p = RetentionPeriod(iso8601: text) else { fatalError("bad test period \(text)") }
    return p
}

@Suite struct RetentionTests {
    // MARK: Calendar arithmetic (expected answers worked out by hand)

    @Test(arguments: [
        // Month ends clamp.
        ("2027-01-31T10:00:00+08:00", "P1M", "2027-02-28T10:00:00+08:00"),
        ("2028-01-31T10:00:00+08:00", "P1M", "2028-02-29T10:00:00+08:00"),
        ("2027-01-31T10:00:00+08:00", "P5M", "2027-06-30T10:00:00+08:00"),
        ("2027-03-31T10:00:00+08:00", "P1M", "2027-04-30T10:00:00+08:00"),
        ("2027-01-30T10:00:00+08:00", "P1M", "2027-02-28T10:00:00+08:00"),
        ("2027-01-28T10:00:00+08:00", "P1M", "2027-02-28T10:00:00+08:00"),
        ("2027-01-27T10:00:00+08:00", "P1M", "2027-02-27T10:00:00+08:00"),
        // Leap years.
        ("2027-09-30T12:00:00+08:00", "P5M", "2028-02-29T12:00:00+08:00"),
        ("2027-08-31T09:15:00+08:00", "P6M", "2028-02-29T09:15:00+08:00"),
        ("2027-10-31T00:00:00+08:00", "P4M", "2028-02-29T00:00:00+08:00"),
        ("2028-02-29T23:59:59.999+08:00", "P1Y", "2029-02-28T23:59:59.999+08:00"),
        ("2028-02-29T12:00:00+08:00", "P4Y", "2032-02-29T12:00:00+08:00"),
        ("2099-09-30T12:00:00+08:00", "P5M", "2100-02-28T12:00:00+08:00"),  // 2100 is not a leap year
        ("2399-09-30T12:00:00+08:00", "P5M", "2400-02-29T12:00:00+08:00"),  // 2400 is
        // The UTC+8 day boundary: 16:30Z on 30 Sep is 1 Oct 00:30 in Beijing.
        ("2027-09-30T16:30:00Z", "P5M", "2028-02-29T16:30:00Z"),  // 1 Oct + 5M = 1 Mar 00:30 CST
        ("2027-09-30T15:59:59.999Z", "P5M", "2028-02-29T15:59:59.999Z"),  // still 30 Sep CST → 29 Feb
        ("2027-01-30T16:00:00Z", "P1M", "2027-02-27T16:00:00Z"),  // 31 Jan 00:00 CST → 28 Feb 00:00 CST
        ("2027-12-31T16:00:00Z", "P1M", "2028-01-31T16:00:00Z"),  // 1 Jan 2028 CST → 1 Feb CST
        ("2027-12-31T15:59:59Z", "P2M", "2028-02-29T15:59:59Z"),  // 31 Dec 2027 CST → 29 Feb CST
        // Days across month and year ends.
        ("2027-12-25T08:00:00+08:00", "P10D", "2028-01-04T08:00:00+08:00"),
        ("2028-02-25T12:00:00+08:00", "P5D", "2028-03-01T12:00:00+08:00"),
        ("2027-02-25T12:00:00+08:00", "P5D", "2027-03-02T12:00:00+08:00"),
        ("2027-12-20T12:00:00+08:00", "P2W", "2028-01-03T12:00:00+08:00"),
        ("2027-01-01T00:00:00+08:00", "P200D", "2027-07-20T00:00:00+08:00"),
        ("2027-12-31T23:30:00+08:00", "P1D", "2028-01-01T23:30:00+08:00"),
        // Months first, then days.
        ("2027-01-31T12:00:00+08:00", "P1Y2M10D", "2028-04-10T12:00:00+08:00"),
        ("2027-10-31T12:00:00+08:00", "P4M31D", "2028-03-31T12:00:00+08:00"),
        ("2027-10-31T12:00:00+08:00", "P4M30D", "2028-03-30T12:00:00+08:00"),
        ("2027-12-31T23:30:00+08:00", "P2M", "2028-02-29T23:30:00+08:00"),
        ("2027-05-15T12:00:00+08:00", "P0D", "2027-05-15T12:00:00+08:00"),
        // Before 1970.
        ("1969-12-31T20:00:00Z", "P1M", "1970-01-31T20:00:00Z"),  // 1 Jan 1970 04:00 CST → 1 Feb
        ("1960-01-31T12:00:00+08:00", "P1M", "1960-02-29T12:00:00+08:00"),
        ("1899-12-31T23:00:00+08:00", "P2M", "1900-02-28T23:00:00+08:00"),
    ])
    func added(start: String, by text: String, expected: String) {
        #expect(RFC3339.format(period(text).added(to: at(start))) == RFC3339.format(at(expected)))
    }

    @Test func addedSaturatesInsteadOfOverflowing() {
        #expect(period("P1000Y").added(to: .max - 1000) == .max)
        #expect(period("P1M").added(to: .min) > .min)
        #expect(period("P0D").added(to: .min) == .min)
    }

    /// Later starts never give earlier ends.
    @Test func addedIsMonotoneInTheStart() {
        var rng = SplitMix(seed: 4)
        let periods = ["P1M", "P5M", "P6M", "P1Y", "P153D", "P4M31D", "P1Y1M1D"].map(period)
        for _ in 0..<2000 {
            let t = Milliseconds(bitPattern: rng.next() % 20_000_000_000_000) - 5_000_000_000_000
            let u = t + Milliseconds(rng.next() % 5_000_000_000)
            for p in periods { #expect(p.added(to: t) <= p.added(to: u)) }
        }
    }

    // MARK: Parsing

    @Test(arguments: [
        ("P5M", 5, 0, "P5M"),
        ("P6M", 6, 0, "P6M"),
        ("P1Y", 12, 0, "P1Y"),
        ("P1Y6M", 18, 0, "P1Y6M"),
        ("P18M", 18, 0, "P1Y6M"),
        ("P200D", 0, 200, "P200D"),
        ("P1Y2M10D", 14, 10, "P1Y2M10D"),
        ("P1Y10D", 12, 10, "P1Y10D"),
        ("P4M31D", 4, 31, "P4M31D"),
        ("P2W", 0, 14, "P14D"),
        ("P0D", 0, 0, "P0D"),
        ("P0Y0M0D", 0, 0, "P0D"),
        ("P05M", 5, 0, "P5M"),
        ("P1000Y", 12_000, 0, "P1000Y"),
        ("P12000M", 12_000, 0, "P1000Y"),
        ("P365250D", 0, 365_250, "P365250D"),
        ("P52178W", 0, 365_246, "P365246D"),
    ])
    func parses(text: String, months: Int, days: Int, canonical: String) {
        let p = RetentionPeriod(iso8601: text)
        #expect(p == RetentionPeriod(months: months, days: days))
        #expect(p?.description == canonical)
        #expect(RetentionPeriod(iso8601: canonical) == p)
    }

    @Test(arguments: [
        "", "P", "5M", "M", "P-1M", "P+1M", "PT5H", "PT", "P1DT5H", "P1M1Y", "P1Y1Y", "P1D1M", "P5MM",
        "P1W2D", "P2D1W", "P1Y1W", "PW", "P5W5W", "P1YM", "P5", "P5M5", "p5m", "P5m", "p5M", " P5M", "P5M ",
        "P 5M", "P1.5M", "P1,5M", "P1001Y", "P1000Y1M", "P12001M", "P365251D", "P52179W", "P99999999999999999999M",
        "P1000000000D", "P５M", "PP5M", "P5M\n",
    ])
    func rejects(text: String) {
        #expect(RetentionPeriod(iso8601: text) == nil)
    }

    @Test func codableAsItsString() throws {
        let data = try JSONEncoder().encode([RetentionPeriod(months: 18, days: 0), period("P2W")])
        #expect(String(decoding: data, as: UTF8.self) == #"["P1Y6M","P14D"]"#)
        let decoded = try JSONDecoder().decode([RetentionPeriod].self, from: Data(#"["P5M","P1Y2M10D"]"#.utf8))
        #expect(decoded == [.floor, RetentionPeriod(months: 14, days: 10)])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([RetentionPeriod].self, from: Data(#"["P4X"]"#.utf8)) }
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([RetentionPeriod].self, from: Data("[5]".utf8)) }
    }

    // MARK: Comparison

    @Test(arguments: [
        ("P5M", "P5M", true),
        ("P6M", "P5M", true),
        ("P5M", "P6M", false),
        ("P153D", "P5M", true),  // five consecutive months never exceed 153 days (Jul–Nov)
        ("P152D", "P5M", false),
        ("P140D", "P5M", false),
        ("P4M", "P5M", false),
        ("P4M31D", "P5M", true),  // 31 Oct + 4M = 29 Feb, + 31D = 31 Mar = 31 Oct + 5M
        ("P4M30D", "P5M", false),
        ("P1Y", "P5M", true),
        ("P200D", "P5M", true),
        ("P0D", "P5M", false),
        ("P5M", "P0D", true),
        ("P5M", "P150D", true),  // five months are never shorter than 150 days (Feb–Jun, or 31 Jan → 30 Jun)
        ("P5M", "P151D", false),
        ("P5M", "P153D", false),
        ("P5M", "P4M28D", true),  // the fifth month adds at least 28 days...
        ("P5M", "P4M29D", false),  // ...exactly 28 from 1 Oct 2026: 1 Feb 2027 → 1 Mar 2027
        ("P1M", "P28D", true),
        ("P1M", "P29D", false),
        ("P31D", "P1M", true),
        ("P30D", "P1M", false),
        ("P184D", "P6M", true),  // Jul–Dec
        ("P183D", "P6M", false),
        ("P1Y", "P365D", true),  // 29 Feb 2028 + 1Y = 28 Feb 2029
        ("P1Y", "P366D", false),
        ("P366D", "P1Y", true),
        ("P365D", "P1Y", false),
        ("P1Y", "P12M", true),
        ("P14D", "P2W", true),
        ("P1461D", "P4Y", true),
        ("P4Y", "P1461D", false),  // 1 Mar 2097 + 4Y crosses 2100, which has no 29 Feb: 1,460 days
        ("P4Y", "P1460D", true),
        ("P100Y", "P36524D", true),
        ("P100Y", "P36525D", false),
        ("P400Y", "P146097D", true),  // the Gregorian cycle
        ("P146097D", "P400Y", true),
        ("P146096D", "P400Y", false),
    ])
    func isAtLeast(_ a: String, _ b: String, expected: Bool) {
        #expect(period(a).isAtLeast(period(b)) == expected)
    }

    /// `isAtLeast` is exact: when it holds, `a` reaches at least as far as `b` from every start (checked at
    /// every CST day of 2024–2031, at four times of day, and at random instants from 1900 to 2200); when
    /// it does not, some start in 2024–2031 witnesses it. Periods stay under four years so that eight
    /// years of starts see every pattern of month lengths.
    @Test func isAtLeastIsExact() {
        var rng = SplitMix(seed: 2027)
        let firstDay = RFC3339.daysFromCivil(year: 2024, month: 1, day: 1)
        let lastDay = RFC3339.daysFromCivil(year: 2031, month: 12, day: 31)
        let timesOfDay: [Milliseconds] = [-28_800_000, -1, 43_200_000, 57_599_999]  // CST 00:00, 23:59:59.999, …
        var held = 0
        var witnessed = 0
        for _ in 0..<400 {
            let a = RetentionPeriod(months: Int(rng.next() % 37), days: Int(rng.next() % 120))
            // b about as long as a, so that the answer is rarely obvious.
            let bMonths = Int(rng.next() % 37)
            let approx = a.months * 30 + a.months * 7 / 16 + a.days - bMonths * 30 - bMonths * 7 / 16
            let bDays = approx + Int(rng.next() % 13) - 6
            guard bDays >= 0 else { continue }
            let b = RetentionPeriod(months: bMonths, days: bDays)
            if a.isAtLeast(b) {
                held += 1
                for day in firstDay...lastDay {
                    for tod in timesOfDay {
                        let t = Milliseconds(day) * 86_400_000 + tod
                        #expect(a.added(to: t) >= b.added(to: t), "\(a) ≥ \(b) at \(RFC3339.format(t))")
                    }
                }
                for _ in 0..<200 {
                    let t = Milliseconds(bitPattern: rng.next() % 9_500_000_000_000) - 2_210_000_000_000
                    #expect(a.added(to: t) >= b.added(to: t), "\(a) ≥ \(b) at \(RFC3339.format(t))")
                }
            } else {
                let witness = (firstDay...lastDay).first { day in
                    let t = Milliseconds(day) * 86_400_000
                    return a.added(to: t) < b.added(to: t)
                }
                #expect(witness != nil, "no start shows \(a) < \(b)")
                if witness != nil { witnessed += 1 }
            }
        }
        // Both branches were exercised.
        #expect(held > 50)
        #expect(witnessed > 50)
    }

    // MARK: Policy

    @Test func defaultPolicy() throws {
        #expect(RetentionPolicy.default.minimum == .floor)
        #expect(RetentionPolicy.default.purgeAfter == .floor)
        #expect(RetentionPolicy.default.purgesAsSoonAsAllowed)
        #expect(try RetentionPolicy() == .default)
        #expect(RetentionPeriod.floor.description == "P5M")
    }

    @Test(arguments: [
        ("P5M", nil, "P5M"),
        ("P6M", nil, "P6M"),
        ("P1Y6M", nil, "P1Y6M"),
        ("P153D", nil, "P153D"),
        ("P200D", nil, "P200D"),
        ("P4M31D", nil, "P4M31D"),
        ("P5M", "P1Y", "P1Y"),
        ("P5M", "P153D", "P153D"),
        ("P6M", "P6M", "P6M"),
    ] as [(String, String?, String)])
    func acceptedPolicies(minimum: String, purgeAfter: String?, effective: String) throws {
        let policy = try RetentionPolicy(minimum: period(minimum), purgeAfter: purgeAfter.map(period))
        #expect(policy.minimum == period(minimum))
        #expect(policy.purgeAfter == period(effective))
        #expect(policy.purgesAsSoonAsAllowed == (effective == minimum))
    }

    @Test(arguments: [
        ("P4M", nil, "retention P4M is shorter than the legal minimum of five calendar months (P5M); with four months, at least 31 more days are needed (P4M31D)"),
        ("P4M30D", nil, "retention P4M30D is shorter than the legal minimum of five calendar months (P5M); with four months, at least 31 more days are needed (P4M31D)"),
        ("P140D", nil, "retention P140D is shorter than the legal minimum of five calendar months (P5M); five calendar months can span 153 days, so a period in days must be at least P153D"),
        ("P152D", nil, "retention P152D is shorter than the legal minimum of five calendar months (P5M); five calendar months can span 153 days, so a period in days must be at least P153D"),
        ("P0D", nil, "retention P0D is shorter than the legal minimum of five calendar months (P5M); five calendar months can span 153 days, so a period in days must be at least P153D"),
        ("P3M", nil, "retention P3M is shorter than the legal minimum of five calendar months (P5M)"),
        ("P6M", "P5M", "purge-after P5M is shorter than the retention minimum P6M; it must reach at least as far from every start date"),
        ("P5M", "P150D", "purge-after P150D is shorter than the retention minimum P5M; it must reach at least as far from every start date"),
    ] as [(String, String?, String)])
    func refusedPolicies(minimum: String, purgeAfter: String?, message: String) {
        #expect(throws: RetentionError(message)) {
            try RetentionPolicy(minimum: period(minimum), purgeAfter: purgeAfter.map(period))
        }
    }

    @Test func changesOnlyUpwards() throws {
        func policy(_ minimum: String, _ purgeAfter: String? = nil) throws -> RetentionPolicy {
            try RetentionPolicy(minimum: period(minimum), purgeAfter: purgeAfter.map(period))
        }
        let allowed: [(RetentionPolicy, RetentionPolicy)] = [
            (.default, .default),
            (.default, try policy("P6M")),
            (.default, try policy("P153D")),
            (.default, try policy("P5M", "P1Y")),
            (try policy("P5M", "P1Y"), .default),  // purge-after may come down to the minimum
            (try policy("P6M"), try policy("P184D")),
            (try policy("P6M"), try policy("P1Y")),
        ]
        for (old, new) in allowed { #expect(throws: Never.self) { try old.allowsChange(to: new) } }
        let refused: [(RetentionPolicy, RetentionPolicy, String)] = [
            (try policy("P6M"), .default, "retention can only be lengthened: P5M is shorter than the current P6M for some start dates"),
            (try policy("P153D"), .default, "retention can only be lengthened: P5M is shorter than the current P153D for some start dates"),
            (try policy("P6M"), try policy("P183D"), "retention can only be lengthened: P183D is shorter than the current P6M for some start dates"),
            (try policy("P1Y", "P2Y"), try policy("P6M", "P2Y"), "retention can only be lengthened: P6M is shorter than the current P1Y for some start dates"),
        ]
        for (old, new, message) in refused {
            #expect(throws: RetentionError(message)) { try old.allowsChange(to: new) }
        }
    }

    // MARK: Retention of one body

    @Test(arguments: [
        // A current grant is kept.
        (ConsentAction.grant, "2027-01-31T10:00:00+08:00", nil, "P5M", nil),
        (.grant, "2020-03-15T08:00:00+08:00", nil, "P1Y", nil),
        // A superseded grant: five months after the supersession, CST calendar.
        (.grant, "2027-01-31T10:00:00+08:00", "2027-04-30T16:30:00Z", "P5M", "2027-09-30T16:30:00Z"),  // 1 May 00:30 CST → 1 Oct
        (.grant, "2027-01-31T10:00:00+08:00", "2027-01-31T10:00:00+08:00", "P5M", "2027-06-30T10:00:00+08:00"),
        (.grant, "2027-09-30T12:00:00+08:00", "2027-09-30T12:00:00+08:00", "P5M", "2028-02-29T12:00:00+08:00"),
        // Defensive: a supersession time before the recording time counts from the recording.
        (.grant, "2027-09-30T12:00:00+08:00", "2027-09-01T12:00:00+08:00", "P5M", "2028-02-29T12:00:00+08:00"),
        // Current for years, then superseded: counted from the supersession.
        (.grant, "2020-03-15T08:00:00+08:00", "2031-01-31T20:00:00+08:00", "P5M", "2031-06-30T20:00:00+08:00"),
        (.grant, "2020-03-15T08:00:00+08:00", "2031-01-31T20:00:00+08:00", "P1Y6M", "2032-07-31T20:00:00+08:00"),
        (.grant, "2020-03-15T08:00:00+08:00", "2031-01-31T20:00:00+08:00", "P153D", "2031-07-03T20:00:00+08:00"),
        // A revocation: from its own recording, superseded or not.
        (.revoke, "2027-08-31T09:00:00+08:00", nil, "P6M", "2028-02-29T09:00:00+08:00"),
        (.revoke, "2027-08-31T09:00:00+08:00", "2027-12-01T09:00:00+08:00", "P6M", "2028-02-29T09:00:00+08:00"),
        (.revoke, "2027-09-30T15:59:59.999Z", nil, "P5M", "2028-02-29T15:59:59.999Z"),
    ] as [(ConsentAction, String, String?, String, String?)])
    func retainUntil(action: ConsentAction, recordedAt: String, supersededAt: String?, period text: String, expected: String?) {
        let until = Retention.retainUntil(
            action: action, recordedAt: at(recordedAt), supersededAt: supersededAt.map(at), period: period(text))
        #expect(until.map(RFC3339.format) == expected.map { RFC3339.format(at($0)) })
    }

    /// One key's history: grant, revoke, grant (current), then a later revoke. Each body's `retainUntil`
    /// follows from the next event for the same key.
    @Test func supersessionChain() {
        let history: [(ConsentAction, String)] = [
            (.grant, "2027-01-31T10:00:00+08:00"),
            (.revoke, "2027-03-31T09:00:00+08:00"),
            (.grant, "2027-09-30T23:00:00+08:00"),
        ]
        func untils(_ events: [(ConsentAction, String)]) -> [String?] {
            events.indices.map { i in
                let next = i + 1 < events.count ? at(events[i + 1].1) : nil
                return Retention.retainUntil(
                    action: events[i].0, recordedAt: at(events[i].1), supersededAt: next, period: .floor
                ).map(RFC3339.format)
            }
        }
        let f = { (s: String) in RFC3339.format(at(s)) }
        #expect(untils(history) == [f("2027-08-31T09:00:00+08:00"), f("2027-08-31T09:00:00+08:00"), nil])
        let later = history + [(.revoke, "2028-01-31T12:00:00+08:00")]
        #expect(
            untils(later) == [
                f("2027-08-31T09:00:00+08:00"), f("2027-08-31T09:00:00+08:00"),
                f("2028-06-30T12:00:00+08:00"), f("2028-06-30T12:00:00+08:00"),
            ])
    }

    @Test func expiryIsInclusive() {
        let until = at("2028-02-29T12:00:00+08:00")
        #expect(!Retention.isExpired(retainUntil: until, at: until - 1))
        #expect(Retention.isExpired(retainUntil: until, at: until))
        #expect(Retention.isExpired(retainUntil: until, at: until + 1))
        #expect(!Retention.isExpired(retainUntil: nil, at: .max))
    }
}

@Suite struct SenderTableTests {
    /// Numbers are given in order of first sight and stay the same through the table's growth,
    /// whether a name is looked up as a string or as bytes; names differing in one byte, or one
    /// being a prefix of another, get numbers of their own.
    @Test func internsByBytes() {
        var table = SenderTable()
        let names = (0..<300).map { "91440300MA5F\(String(format: "%06d", $0 * 7919))" } + ["a", "ab", "abc", "a.b", "A"]
        for (i, name) in names.enumerated() { #expect(table.id(name) == UInt32(i)) }
        for (i, name) in names.enumerated().reversed() {
            let bytes = Array(name.utf8)
            #expect(bytes.withUnsafeBytes { table.id(utf8: $0) } == UInt32(i))
        }
        #expect(table.names == names)
    }
}
