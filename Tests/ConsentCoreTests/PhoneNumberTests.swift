import Testing

import ConsentTestSupport
@testable import ConsentCore

/// Every accepted input shape, with the E.164 form it must normalise to.
private let accepted: [(input: String, e164: String)] = [
    ("13800138000", "+8613800138000"),
    ("+8613800138000", "+8613800138000"),
    ("+86 138-0013-8000", "+8613800138000"),
    ("+86-138 0013 8000", "+8613800138000"),
    ("008613800138000", "+8613800138000"),
    ("0086 138 0013 8000", "+8613800138000"),
    ("86 13800138000", "+8613800138000"),
    ("8613800138000", "+8613800138000"),  // SGIP gateway form
    ("(+86) 138 0013 8000", "+8613800138000"),
    ("(+86)13800138000", "+8613800138000"),
    ("(86) 138 0013 8000", "+8613800138000"),
    ("(0086) 138 0013 8000", "+8613800138000"),
    ("138.0013.8000", "+8613800138000"),
    ("138 - 0013 - 8000", "+8613800138000"),
    ("138\u{2013}0013\u{2013}8000", "+8613800138000"),  // en dash
    ("138\u{3000}0013\u{3000}8000", "+8613800138000"),  // ideographic space
    ("１３８００１３８０００", "+8613800138000"),  // full-width digits
    ("＋８６ １３８－００１３－８０００", "+8613800138000"),  // full-width plus, hyphen
    ("（＋８６）　１３８　００１３　８０００", "+8613800138000"),  // full-width parentheses, space
    ("  13800138000  ", "+8613800138000"),
    ("\t+86 138 0013 8000\n", "+8613800138000"),
    ("\u{3000}13800138000\u{3000}", "+8613800138000"),
    ("19912345678", "+8619912345678"),
    ("+86 166 0000 0000", "+8616600000000"),
]

/// Rejected inputs, with a substring the error message must contain.
private let rejected: [(input: String, message: String)] = [
    ("", "is empty"),
    ("   ", "is empty"),
    ("\u{3000}", "is empty"),
    ("010-12345678", "not a mobile number"),
    ("+86 10 1234 5678", "not a mobile number"),
    ("(010) 1234 5678", "not a mobile number"),
    ("0138 0013 8000", "not a mobile number"),
    ("12345678901", "not a mobile number"),
    ("+86 120 0000 0000", "not a mobile number"),
    ("4155550100", "not a mobile number"),
    ("1380013800", "must have 11 digits, got 10"),
    ("138001380001", "must have 11 digits, got 12"),
    ("+86 138 0013 800", "must have 11 digits after the country code 86, got 10"),
    ("86138001380001", "must have 11 digits after the country code 86, got 12"),
    ("+86", "got 0"),
    ("138x0013800", "contains an invalid character 'x'"),
    ("1380013800O", "contains an invalid character 'O'"),
    ("138/0013/8000", "contains an invalid character '/'"),
    ("138\t0013\t8000", "contains an invalid character U+0009"),
    ("138_0013_8000", "contains an invalid character '_'"),
    ("+1 415 555 0100", "only Chinese mobile numbers (+86) are accepted"),
    ("+852 9123 4567", "only Chinese mobile numbers (+86) are accepted"),
    ("00852 9123 4567", "only Chinese mobile numbers (+86) are accepted"),
    ("(+852) 9123 4567", "only Chinese mobile numbers (+86) are accepted"),
    ("+0086 138 0013 8000", "country code starting with 0"),
    ("00", "no digits after the international prefix"),
    ("138+00138000", "'+' at the start"),
    ("++8613800138000", "'+' at the start"),
    ("-13800138000", "not between digits"),
    ("13800138000-", "not between digits"),
    ("+ 86 138 0013 8000", "not between digits"),
    ("138 (0013) 8000", "parentheses"),
    ("(+86 138 0013 8000", "parentheses"),
    ("+86) 138 0013 8000", "parentheses"),
    ("(13) 800138000", "parentheses"),
    ("(+8)613800138000", "parentheses"),
    ("+", "contains no digits"),
    (String(repeating: "1", count: 65), "too long"),
    (String(repeating: " ", count: 60) + "13800138000", "too long"),
]

/// Other countries, accepted only with `allowOtherCountries`.
private let otherCountries: [(input: String, e164: String)] = [
    ("+1 415 555 0100", "+14155550100"),
    ("+852 9123 4567", "+85291234567"),
    ("00852 9123 4567", "+85291234567"),
    ("(+852) 9123-4567", "+85291234567"),
    ("+44 20 7946 0958", "+442079460958"),
    ("+12345678", "+12345678"),  // shortest allowed: 8 digits
    ("+123456789012345", "+123456789012345"),  // longest allowed: 15 digits
]

@Suite struct PhoneNumberTests {
    @Test(arguments: accepted)
    func acceptsAndNormalises(input: String, e164: String) throws {
        let phone = try PhoneNumber(normalizing: input)
        #expect(phone.e164 == e164)
        #expect(phone.description == e164)
        // Normalisation is idempotent.
        #expect(try PhoneNumber(normalizing: phone.e164) == phone)
    }

    @Test(arguments: rejected)
    func rejectsWithClearMessage(input: String, message: String) {
        #expect {
            _ = try PhoneNumber(normalizing: input)
        } throws: { error in
            guard let error = error as? PhoneNumberError else { return false }
            return error.description.contains(message)
        }
    }

    @Test(arguments: rejected)
    func errorMessagesDoNotEchoTheNumber(input: String, message: String) {
        do {
            _ = try PhoneNumber(normalizing: input)
        } catch {
            #expect(!"\(error)".contains("0013"))
        }
    }

    @Test(arguments: otherCountries)
    func acceptsOtherCountriesWhenAllowed(input: String, e164: String) throws {
        #expect(try PhoneNumber(normalizing: input, allowOtherCountries: true).e164 == e164)
        #expect(throws: PhoneNumberError.self) { try PhoneNumber(normalizing: input) }
    }

    @Test(arguments: [
        ("+1234567", "8 to 15 digits"),
        ("+1234567890123456", "8 to 15 digits"),
        ("+0123456789", "country code starting with 0"),
        ("4155550100", "not a mobile number"),  // other countries still need "+" or "00"
        ("+86 10 1234 5678", "not a mobile number"),  // +86 must still be a mobile number
        ("(+1234) 5678 9012", "parentheses"),
    ])
    func rejectsBadInternationalNumbers(input: String, message: String) {
        #expect {
            _ = try PhoneNumber(normalizing: input, allowOtherCountries: true)
        } throws: { error in
            (error as? PhoneNumberError)?.description.contains(message) ?? false
        }
    }

    @Test(arguments: [
        ("+8613800138000", "+86138****8000"),
        ("19912345678", "+86199****5678"),
        ("+1 415 555 0100", "+141******00"),
        ("+852 9123 4567", "+852******67"),
    ])
    func masked(input: String, expected: String) throws {
        let phone = try PhoneNumber(normalizing: input, allowOtherCountries: true)
        #expect(phone.masked == expected)
        #expect(phone.isChineseMobile == expected.hasPrefix("+86"))
    }

    @Test func equalityHashingAndOrdering() throws {
        let a = try PhoneNumber(normalizing: "13800138000")
        let b = try PhoneNumber(normalizing: "+86 139 0000 0000")
        #expect(a < b)
        #expect(Set([a, try PhoneNumber(normalizing: "008613800138000")]).count == 1)
    }
}

@Suite struct PlainMobileFastPathTests {
    /// The fast path for plain 11-digit and +86 numbers accepts exactly what the general parser
    /// accepts among such shapes, with the same E.164 form, and declines everything else.
    @Test func agreesWithTheGeneralParser() {
        var rng = SplitMix(seed: 21)
        let alphabet = Array("0123456789+ -８()".utf8)
        var inputs = ["13800138000", "+8613800138000", "12800138000", "1380013800", "138001380000", "+8612800138000", "+8513800138000",
            "1380013800a", "+86138001380001", "19999999999", "10000000000", "86138001380", "00000000000"]
        for _ in 0..<20_000 {
            let length = [11, 14, 10, 12, 13][Int(rng.next() % 5)]
            var bytes = (0..<length).map { _ in UInt8(ascii: "0") + UInt8(rng.next() % 10) }
            if rng.next() % 2 == 0, length == 14 { bytes[0] = UInt8(ascii: "+"); bytes[1] = UInt8(ascii: "8"); bytes[2] = UInt8(ascii: "6") }
            if rng.next() % 3 == 0 { bytes[bytes.count - 11 < 0 ? 0 : bytes.count - 11] = UInt8(ascii: "1") }
            if rng.next() % 10 == 0 { bytes[Int(rng.next() % UInt64(length))] = alphabet[Int(rng.next() % UInt64(alphabet.count))] }
            inputs.append(String(decoding: bytes, as: UTF8.self))
        }
        var accepted = 0
        for input in inputs {
            let general = try? PhoneNumber(scanning: input)
            if let fast = PhoneNumber.plainMobile(input) {
                #expect(fast == general?.e164, "\(input)")
                accepted += 1
            }
            #expect((try? PhoneNumber(normalizing: input))?.e164 == general?.e164, "\(input)")
        }
        #expect(accepted > 1000)
    }
}
