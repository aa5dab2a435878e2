/// A Chinese mobile number in E.164 form, "+86" followed by 11 digits starting with "1".
///
/// With `allowOtherCountries` the value may instead be a generic E.164 number ("+" then 8–15 digits).
/// Values are only ever built by `init(normalizing:allowOtherCountries:)`, so `e164` is always canonical.
public struct PhoneNumber: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// "+8613800138000"
    public let e164: String

    /// Inputs longer than this (in Unicode scalars, before trimming) are rejected outright.
    public static let maxInputLength = 64

    /// Normalises the common input shapes or throws PhoneNumberError with a clear, human-readable message.
    ///
    /// Accepted shapes (all give "+8613800138000"): `13800138000`, `+8613800138000`, `008613800138000`,
    /// `8613800138000` (SGIP "86" prefix), `+86 138-0013-8000`, `(+86) 138 0013 8000`, full-width forms,
    /// surrounding whitespace. Separators (space, `-`, `.`, U+3000, U+FF0D, en dash) may only sit between
    /// digits or after the closing parenthesis; parentheses may only enclose a leading country code.
    /// Error messages never repeat the number itself, so they are safe to log.
    public init(normalizing input: String, allowOtherCountries: Bool = false) throws {
        // The shapes send lists are made of, without the general scan (same result; tested).
        if let e164 = PhoneNumber.plainMobile(input) {
            self.init(canonical: e164)
        } else {
            try self.init(scanning: input, allowOtherCountries: allowOtherCountries)
        }
    }

    private init(canonical e164: String) { self.e164 = e164 }

    /// `13800138000` or `+8613800138000` in ASCII: the E.164 form, or nil for any other input.
    static func plainMobile(_ input: String) -> String? {
        var input = input
        return input.withUTF8 { utf8 -> String? in
            let national: UnsafeBufferPointer<UInt8>
            switch utf8.count {
            case 11: national = utf8
            case 14 where utf8[0] == UInt8(ascii: "+") && utf8[1] == UInt8(ascii: "8") && utf8[2] == UInt8(ascii: "6"):
                national = UnsafeBufferPointer(rebasing: utf8[3...])
            default: return nil
            }
            guard national[0] == UInt8(ascii: "1"), (UInt8(ascii: "3")...UInt8(ascii: "9")).contains(national[1]),
                national.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) })
            else { return nil }
            return "+86" + String(decoding: national, as: UTF8.self)
        }
    }

    /// The general parser: every accepted shape, and the reason for every refused one.
    init(scanning input: String, allowOtherCountries: Bool = false) throws {
        guard input.unicodeScalars.dropFirst(PhoneNumber.maxInputLength).isEmpty else {
            throw PhoneNumberError("phone number is too long (more than \(PhoneNumber.maxInputLength) characters)")
        }
        let scanned = try PhoneNumber.scan(input)
        var digits = scanned.digits[...]

        // Decide which form we are looking at; `national` is set for every +86 form.
        let national: ArraySlice<UInt8>
        let hadCountryCode: Bool
        if scanned.plus || digits.starts(with: [0, 0]) {
            // International: "+CC…" or "00CC…".
            if !scanned.plus { digits = digits.dropFirst(2) }
            guard let first = digits.first else {
                throw PhoneNumberError("phone number has no digits after the international prefix")
            }
            guard first != 0 else { throw PhoneNumberError("phone number has a country code starting with 0") }
            if let cc = scanned.parenCountryCode {
                // "(+8)6…" or "(+86138)…" would be misleading; the parentheses must hold exactly the code.
                let isChina = cc == [8, 6]
                guard isChina == digits.starts(with: [8, 6]), (1...3).contains(cc.count) else {
                    throw PhoneNumber.parenthesesError
                }
            }
            if !digits.starts(with: [8, 6]) {
                guard allowOtherCountries else {
                    throw PhoneNumberError("only Chinese mobile numbers (+86) are accepted")
                }
                guard (8...15).contains(digits.count) else {
                    throw PhoneNumberError(
                        "an international phone number must have 8 to 15 digits including the country code, got \(digits.count)")
                }
                e164 = "+" + PhoneNumber.string(digits)
                return
            }
            national = digits.dropFirst(2)
            hadCountryCode = true
        } else if let cc = scanned.parenCountryCode {
            // "(86) 138…" is the only bare form allowed in parentheses; "(010) …" is a landline area code.
            guard cc == [8, 6] else {
                if cc.first == 0 { throw PhoneNumber.notMobileError }
                throw PhoneNumber.parenthesesError
            }
            national = digits.dropFirst(2)
            hadCountryCode = true
        } else if digits.starts(with: [8, 6]) {
            // The SGIP gateway form: "86" then the national number.
            national = digits.dropFirst(2)
            hadCountryCode = true
        } else {
            national = digits
            hadCountryCode = false
        }
        try PhoneNumber.checkMobile(national, hadCountryCode: hadCountryCode)
        e164 = "+86" + PhoneNumber.string(national)
    }

    public var description: String { e164 }

    /// A masked form for logs: "+86138****8000".
    ///
    /// Chinese numbers keep the 3-digit network prefix and the last 4 digits; other numbers keep
    /// the first 3 and last 2 digits (at least 3 digits are always hidden).
    public var masked: String {
        let digits = Array(e164.dropFirst())
        let head = isChineseMobile ? 5 : 3
        let tail = isChineseMobile ? 4 : 2
        return "+" + String(digits.prefix(head)) + String(repeating: "*", count: digits.count - head - tail)
            + String(digits.suffix(tail))
    }

    /// Whether this is a +86 mobile number (always true unless built with `allowOtherCountries`).
    public var isChineseMobile: Bool { e164.hasPrefix("+86") }

    public static func < (lhs: PhoneNumber, rhs: PhoneNumber) -> Bool { lhs.e164 < rhs.e164 }

    // MARK: - Parsing helpers

    /// One meaningful input character after full-width folding.
    private enum Token: Equatable {
        case digit(UInt8), plus, open, close, separator
    }

    /// The digits of the input plus the markers that decide how to read them.
    private struct Scanned {
        var digits: [UInt8] = []
        /// A leading "+" (possibly inside the parentheses).
        var plus = false
        /// The digits inside a leading "(…)" group, without any "00" prefix.
        var parenCountryCode: [UInt8]?
    }

    private static let parenthesesError = PhoneNumberError(
        "phone number may only use parentheses around the country code, e.g. (+86)")
    private static let notMobileError = PhoneNumberError(
        "phone number is not a mobile number: Chinese mobile numbers have 11 digits starting with 13 to 19 (landlines are not accepted)")

    /// Folds full-width forms to ASCII, classifies each scalar, or nil for anything not allowed.
    private static func token(_ s: Unicode.Scalar) -> Token? {
        switch s.value {
        case 0x30...0x39: return .digit(UInt8(s.value - 0x30))
        case 0xFF10...0xFF19: return .digit(UInt8(s.value - 0xFF10))  // full-width digits
        case 0x2B, 0xFF0B: return .plus
        case 0x28, 0xFF08: return .open
        case 0x29, 0xFF09: return .close
        // space, hyphen, dot, ideographic space, full-width hyphen, en dash
        case 0x20, 0x2D, 0x2E, 0x3000, 0xFF0D, 0x2013: return .separator
        default: return nil
        }
    }

    /// Checks the layout (where "+", parentheses and separators may appear) and collects the digits.
    private static func scan(_ input: String) throws -> Scanned {
        // Trim leading/trailing whitespace (this includes U+3000 and tabs/newlines).
        var scalars = Array(input.unicodeScalars)[...]
        while let s = scalars.first, s.properties.isWhitespace { scalars.removeFirst() }
        while let s = scalars.last, s.properties.isWhitespace { scalars.removeLast() }
        guard !scalars.isEmpty else { throw PhoneNumberError("phone number is empty") }

        var tokens: [Token] = []
        for s in scalars {
            guard let t = token(s) else {
                throw PhoneNumberError("phone number contains an invalid character \(display(s))")
            }
            tokens.append(t)
        }

        // Parentheses are checked first so "138 (0013) 8000" reports them rather than the space before.
        if tokens.dropFirst().contains(.open) { throw parenthesesError }

        var result = Scanned()
        var openDigitsStart: Int?  // digit count when "(" was seen, while the group is open
        var closed = false
        for (i, t) in tokens.enumerated() {
            let previous = i > 0 ? tokens[i - 1] : nil
            switch t {
            case .digit(let d):
                result.digits.append(d)
            case .plus:
                // Only as the very first character, or first inside a leading "(".
                guard i == 0 || (i == 1 && previous == .open) else {
                    throw PhoneNumberError("phone number may only have '+' at the start")
                }
                result.plus = true
            case .open:
                guard i == 0 else { throw parenthesesError }
                openDigitsStart = 0
            case .close:
                guard let start = openDigitsStart, !closed, case .digit = previous else { throw parenthesesError }
                var cc = Array(result.digits[start...])
                if !result.plus, cc.starts(with: [0, 0]) { cc.removeFirst(2) }
                result.parenCountryCode = cc
                closed = true
            case .separator:
                // Separators sit between digits (runs like " - " are fine) or right after ")".
                let next = i + 1 < tokens.count ? tokens[i + 1] : nil
                var prevOK = false
                var nextOK = false
                switch previous {
                case .digit, .close, .separator: prevOK = true
                default: break
                }
                switch next {
                case .digit, .separator: nextOK = true
                default: break
                }
                guard prevOK && nextOK else {
                    let shown = Character(scalars[scalars.startIndex + i])
                    throw PhoneNumberError("phone number has a separator '\(shown)' that is not between digits")
                }
            }
        }
        if openDigitsStart != nil && !closed { throw parenthesesError }
        guard !result.digits.isEmpty else { throw PhoneNumberError("phone number contains no digits") }
        return result
    }

    /// Validates the 11-digit national part of a +86 number.
    private static func checkMobile(_ national: ArraySlice<UInt8>, hadCountryCode: Bool) throws {
        let n = Array(national)
        // Mobile prefixes are 13…19; a leading 0 (trunk prefix) or 10/11/12 means a landline or service number.
        if let first = n.first, first != 1 { throw notMobileError }
        if n.count >= 2, !(3...9).contains(n[1]) { throw notMobileError }
        guard n.count == 11 else {
            let after = hadCountryCode ? " after the country code 86" : ""
            throw PhoneNumberError("phone number must have 11 digits\(after), got \(n.count)")
        }
    }

    private static func string(_ digits: some Sequence<UInt8>) -> String {
        String(decoding: digits.map { $0 + 0x30 }, as: UTF8.self)
    }

    /// Quotes a visible character ('x'); shows invisible or combining ones as U+XXXX.
    private static func display(_ s: Unicode.Scalar) -> String {
        switch s.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned,
            .nonspacingMark, .spacingMark, .enclosingMark,
            .spaceSeparator, .lineSeparator, .paragraphSeparator:
            let hex = String(s.value, radix: 16, uppercase: true)
            return "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
        default:
            return "'\(Character(s))'"
        }
    }
}

/// Why an input could not be read as a phone number; `description` is a message a person can act on.
public struct PhoneNumberError: Error, Equatable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) { self.description = description }
}
