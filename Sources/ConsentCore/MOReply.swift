// Mobile-originated (MO) SMS replies: what a user's reply to a 106 port means, and which sender the
// port belongs to. Pure and table-driven: no Foundation, no I/O; everything works on Unicode scalars.
//
// The classifier is deliberately asymmetric (DESIGN §1): a missed opt-out is a violation while a
// spurious one only costs a message, so a reply that plainly says stop is an opt-out, anything with an
// opt-out signal that cannot be decided safely is `unclear` (kept and flagged for review), and an
// opt-in is only ever the whole reply matching a keyword the sender configured.
//
// The sender's number in a delivery needs no extra helper: `PhoneNumber(normalizing:)` already reads
// the gateway forms ("8613800138000" from SGIP, "+8613800138000", "008613800138000", "13800138000").

// MARK: - Verdict

/// What an MO reply means for consent.
public enum MOVerdict: Equatable, Sendable, CustomStringConvertible {
    /// The user refused: record a revocation. `keyword` is the keyword or phrase that decided it.
    case optOut(keyword: String)
    /// The whole reply is an opt-in keyword the sender configured (e.g. "Y" to a consent request).
    case optIn(keyword: String)
    /// No opt-out or opt-in signal (or an opt-out word that is plainly negated): no consent change.
    case unrelated
    /// An opt-out signal that cannot be decided safely: store the reply and flag it for review.
    case unclear

    /// The stable name used in JSON: "opt-out", "opt-in", "unrelated", "unclear".
    public var name: String {
        switch self {
        case .optOut: return "opt-out"
        case .optIn: return "opt-in"
        case .unrelated: return "unrelated"
        case .unclear: return "unclear"
        }
    }

    /// Every verdict name, in declaration order.
    public static let names = ["opt-out", "opt-in", "unrelated", "unclear"]

    /// The deciding keyword of an opt-out or opt-in.
    public var keyword: String? {
        switch self {
        case .optOut(let k), .optIn(let k): return k
        case .unrelated, .unclear: return nil
        }
    }

    public var description: String { keyword.map { "\(name)(\($0))" } ?? name }
}

/// Which rule produced a verdict; the name is meant for a review queue and logs.
public enum MOReason: String, Sendable, CaseIterable {
    /// Nothing left after normalisation (empty, spaces, punctuation, emoji).
    case empty
    /// Longer than ``MOClassifier/maximumInputLength``: not analysed, flagged.
    case tooLong = "too-long"
    /// The whole reply is an opt-out keyword ("TD", "退订", "00000").
    case keyword
    /// Opt-out keywords with courtesy words only ("TD 谢谢", "请退订", "STOP please", "不了，谢谢").
    case keywordWithCourtesy = "keyword-with-courtesy"
    /// An opt-out phrase inside the text ("我要退订", "别再发了", "unsubscribe me").
    case phrase
    /// The whole reply is a configured opt-in keyword.
    case optInKeyword = "opt-in-keyword"
    /// Opt-out words that are negated ("我不想退订", "don't stop").
    case negated
    /// A question about opting out ("怎么退订？", "退订要收费吗").
    case question
    /// Affirmed and negated opt-out words together, or a double negation ("不是不想退订").
    case conflicting
    /// An opt-out keyword mentioned inside other content ("R是什么意思", "取消订单").
    case mention
    /// A complaint without an explicit refusal ("你们这是骚扰", "怎么还在发").
    case complaint
    /// No opt-out or opt-in signal at all.
    case noSignal = "no-signal"

    public var name: String { rawValue }
}

/// A verdict with the rule that produced it.
public struct MOClassification: Sendable, Equatable {
    public var verdict: MOVerdict
    public var reason: MOReason

    public init(verdict: MOVerdict, reason: MOReason) {
        self.verdict = verdict
        self.reason = reason
    }
}

// MARK: - Classifier

/// Classifies the text of an MO reply. Rule-based and table-driven; see `docs` and ``explain(_:)``.
///
/// Steps, in order (the first that decides wins):
/// 1. Normalise (``normalize(_:)``): full-width ASCII to ASCII, U+3000 and other spaces to a space, ASCII
///    lower-cased, a few traditional characters to simplified, invisible format characters dropped,
///    leading/trailing whitespace, punctuation, symbols and emoji trimmed, inner whitespace collapsed.
/// 2. The whole reply (also with inner spaces/punctuation removed: "T D", "t.d") is an opt-out keyword
///    (``optOutKeywords``): opt-out.
/// 3. The reply is only opt-out keywords plus courtesy words ("TD 谢谢", "回复R", "请退订", "STOP please",
///    "不了，谢谢"): opt-out. A negative keyword (不, 不要, no) followed by another keyword ("不退订") is not.
/// 4. Phrase analysis per clause (split at punctuation, line breaks and spaces between CJK characters):
///    a clause that passes rule 3 on its own, opt-out phrases (退订, 拒收, unsubscribe …), refusal patterns
///    (「别再发了」, 「不要给我发短信」, 「不想再收到」, "stop texting"), code keywords inside text ("R是什么意思";
///    after a reply verb, 「回复了TD还发」, they count as keywords), complaints (骚扰, 投诉, 还在发). Each is
///    checked for negation right before it (「我不想退订」, "don't stop"; 「不能退订」 and 「退订不了」 mean the user
///    tried and failed, so they are not negations) and for a question in its clause (「怎么退订？」). Then:
///    any affirmed refusal command → opt-out; affirmed opt-out phrases without a negated one → opt-out;
///    anything else with a signal → unclear, except plain negations only → unrelated.
/// 5. The whole reply is a configured opt-in keyword: opt-in.
/// 6. Otherwise unrelated.
public struct MOClassifier: Sendable {
    /// Replies longer than this (in Unicode scalars) are not analysed and come back `unclear`.
    public static let maximumInputLength = 1000

    /// The whole-reply opt-out keywords, as displayed in verdicts. Matching ignores width and case.
    public static let optOutKeywords: [String] = MOLexicon.wholeKeywords.map(\.display)

    /// The opt-in keywords that were accepted, as configured.
    public let optInKeywords: [String]
    /// Configured opt-in keywords that were refused (see ``optInKeywordProblem(_:)``); they never match.
    public let rejectedOptInKeywords: [String]

    private let optInIndex: [[Unicode.Scalar]: String]

    /// - Parameter optInKeywords: the replies that count as consent, only when the sender configured a
    ///   consent request that expects them (e.g. "Y", "是", "同意"). Matched against the whole reply with
    ///   the same normalisation. Keywords that could be mistaken for a refusal are dropped (listed in
    ///   ``rejectedOptInKeywords``): a false opt-in must never happen.
    public init(optInKeywords: [String] = []) {
        var accepted: [String] = []
        var rejected: [String] = []
        var index: [[Unicode.Scalar]: String] = [:]
        for keyword in optInKeywords {
            guard MOClassifier.optInKeywordProblem(keyword) == nil else {
                rejected.append(keyword)
                continue
            }
            let normalized = MOText.normalized(MOText.fold(keyword))
            if index[normalized] == nil { accepted.append(keyword) }
            index[normalized] = index[normalized] ?? keyword
            let compact = MOText.compact(normalized)
            index[compact] = index[compact] ?? keyword
        }
        self.optInKeywords = accepted
        self.rejectedOptInKeywords = rejected
        self.optInIndex = index
    }

    /// Why `keyword` cannot be an opt-in keyword, or nil when it can.
    ///
    /// Refused: empty after normalisation, longer than 32 characters, an opt-out keyword ("T", "N"),
    /// anything with a negation (不, 没, 别, 勿, 否, 无, 非, 拒, no, not, never, n't) or with any opt-out
    /// signal of its own ("退订吧").
    public static func optInKeywordProblem(_ keyword: String) -> String? {
        let normalized = MOText.normalized(MOText.fold(keyword))
        guard !normalized.isEmpty else { return "an opt-in keyword must not be empty" }
        guard normalized.count <= 32 else { return "an opt-in keyword must be at most 32 characters" }
        if normalized.contains(where: { MOLexicon.negationScalars.contains($0) })
            || MOText.words(normalized).contains(where: { MOLexicon.negationWords.contains($0) })
        {
            return "an opt-in keyword must not contain a negation"
        }
        let verdict = MOClassifier().explain(keyword)
        guard verdict.verdict == .unrelated, verdict.reason == .noSignal else {
            return "an opt-in keyword must not look like a refusal (it classifies as \(verdict.verdict.name), \(verdict.reason.name))"
        }
        return nil
    }

    /// The normalised form of a reply, as used for whole-reply matching ("ＴＤ！" → "td", " 退订。" → "退订").
    public static func normalize(_ text: String) -> String {
        MOText.string(MOText.normalized(MOText.fold(text)))
    }

    /// The verdict for a reply text.
    public func classify(_ text: String) -> MOVerdict { explain(text).verdict }

    /// The verdict for a reply text, with the rule that produced it.
    public func explain(_ text: String) -> MOClassification {
        guard text.unicodeScalars.dropFirst(MOClassifier.maximumInputLength).isEmpty else {
            return MOClassification(verdict: .unclear, reason: .tooLong)
        }
        let folded = MOText.fold(text)
        let normalized = MOText.normalized(folded)
        guard !normalized.isEmpty else { return MOClassification(verdict: .unrelated, reason: .empty) }

        // 2. The whole reply is a keyword.
        let compact = MOText.compact(normalized)
        if let display = MOLexicon.wholeKeywordIndex[normalized] ?? MOLexicon.wholeKeywordIndex[compact] {
            return MOClassification(verdict: .optOut(keyword: display), reason: .keyword)
        }
        // 3. Keywords with courtesy words only.
        if let display = MOSegments.keyword(in: normalized) {
            return MOClassification(verdict: .optOut(keyword: display), reason: .keywordWithCourtesy)
        }
        // 4. Phrases in clauses.
        let analysis = MOPhrases.analyse(folded)
        switch analysis.verdict {
        case .optOut, .unclear: return analysis
        case .optIn, .unrelated: break
        }
        // 5. Opt-in: only a configured keyword, only the whole reply.
        if let keyword = optInIndex[normalized] ?? optInIndex[compact] {
            return MOClassification(verdict: .optIn(keyword: keyword), reason: .optInKeyword)
        }
        return analysis
    }
}

// MARK: - Port registry

/// Maps the 106 port an MO reply was sent to onto the sender that registered it.
///
/// Gateways deliver the destination as the registered port followed by an optional extension
/// ("10690001" registered, "106900011234" delivered); the registered port that is the longest prefix
/// of the destination wins, so a sender owning "106900011" takes replies to "1069000112" even though
/// another owns "10690001".
public struct PortRegistry: Sendable, Equatable {
    private var senderByPort: [String: String] = [:]

    /// The longest destination accepted (CMPP's Dest_Id / SGIP's SPNumber are 21 octets).
    public static let maximumDestinationLength = 21

    public init() {}

    /// Builds a registry from (sender id, port) pairs. Ports are validated like event ports (5–21 ASCII
    /// digits starting with 106) and sender ids like event senders; the same pair may appear twice, but
    /// a port registered to two different senders is an error.
    public init(_ pairs: [(sender: String, port: String)]) throws(PortRegistryError) {
        for (sender, port) in pairs { try add(sender: sender, port: port) }
    }

    /// Registers `port` for `sender`.
    public mutating func add(sender: String, port: String) throws(PortRegistryError) {
        guard EventValidator.isValidSenderID(sender) else {
            throw PortRegistryError("\"\(sender.prefix(80))\" is not a sender id (1-64 of A-Z a-z 0-9 . _ -)")
        }
        guard EventValidator.isValidPort(port) else {
            throw PortRegistryError("\"\(port.prefix(40))\" is not a 106 port (5-21 digits starting with 106)")
        }
        if let existing = senderByPort[port], existing != sender {
            throw PortRegistryError("port \(port) is already registered to sender \(existing)")
        }
        senderByPort[port] = sender
    }

    /// How many ports are registered.
    public var count: Int { senderByPort.count }

    /// Every registration, ordered by port.
    public var entries: [(sender: String, port: String)] {
        senderByPort.sorted { $0.key < $1.key }.map { (sender: $0.value, port: $0.key) }
    }

    /// The sender that registered exactly `port`.
    public func sender(forPort port: String) -> String? { senderByPort[port] }

    /// The sender and registered port for an MO destination ("106900011234"): the registered port that
    /// is the longest prefix of it. Nil when nothing matches, and for anything but 1–21 ASCII digits.
    public func resolve(_ destination: String) -> (sender: String, port: String)? {
        let digits = Array(destination.utf8)
        guard (1...PortRegistry.maximumDestinationLength).contains(digits.count),
            digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 })
        else { return nil }
        for length in stride(from: digits.count, through: 1, by: -1) {
            let port = String(decoding: digits[..<length], as: UTF8.self)
            if let sender = senderByPort[port] { return (sender: sender, port: port) }
        }
        return nil
    }
}

/// Why a port registration was refused; `description` is a message a person can act on.
public struct PortRegistryError: Error, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

// MARK: - Text helpers

private typealias Scalars = [Unicode.Scalar]

private enum MOText {
    /// Folds full-width ASCII and a few look-alikes, lower-cases ASCII, maps spaces to " " and line breaks
    /// to "\n", maps listed traditional characters to simplified, drops invisible format characters.
    static func fold(_ text: String) -> Scalars {
        var out: Scalars = []
        out.reserveCapacity(text.unicodeScalars.count)
        for s in text.unicodeScalars {
            var v = s.value
            switch v {
            case 0xFF01...0xFF5E: v -= 0xFEE0  // full-width ASCII
            case 0xFF61: v = 0x3002  // halfwidth ideographic full stop
            case 0xFF62: v = 0x300C
            case 0xFF63: v = 0x300D
            case 0xFF64: v = 0x3001
            case 0x2018, 0x2019, 0x2032: v = 0x27  // curly apostrophes: "don’t"
            case 0x201C, 0x201D: v = 0x22
            case 0x0A, 0x0D, 0x85, 0x2028, 0x2029, 0x0B, 0x0C:
                out.append("\n")
                continue
            case 0xFE00...0xFE0F, 0xE0100...0xE01EF: continue  // variation selectors
            default: break
            }
            guard var scalar = Unicode.Scalar(v) else { continue }
            if scalar.properties.isWhitespace {
                out.append(" ")
                continue
            }
            if scalar.properties.generalCategory == .format || scalar.properties.generalCategory == .control { continue }
            if v >= 0x41 && v <= 0x5A { scalar = Unicode.Scalar(v + 0x20)! }
            if let simplified = MOLexicon.traditional[scalar] { scalar = simplified }
            out.append(scalar)
        }
        return out
    }

    /// Whitespace, punctuation, symbols (emoji included) and marks: trimmed at the ends of a reply.
    static func isTrimmable(_ s: Unicode.Scalar) -> Bool {
        if s == " " || s == "\n" { return true }
        switch s.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
            .initialPunctuation, .finalPunctuation, .otherPunctuation,
            .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol,
            .nonspacingMark, .spacingMark, .enclosingMark:
            return true
        default:
            return false
        }
    }

    /// Trims the ends and collapses inner whitespace (line breaks included) to one space.
    static func normalized(_ folded: Scalars) -> Scalars {
        var lo = 0
        var hi = folded.count
        while lo < hi, isTrimmable(folded[lo]) { lo += 1 }
        while hi > lo, isTrimmable(folded[hi - 1]) { hi -= 1 }
        var out: Scalars = []
        var space = false
        for s in folded[lo..<hi] {
            if s == " " || s == "\n" {
                space = true
                continue
            }
            if space { out.append(" ") }
            space = false
            out.append(s)
        }
        return out
    }

    /// Without spaces, punctuation or symbols: "t d" → "td", "t.d" → "td".
    static func compact(_ normalized: Scalars) -> Scalars { normalized.filter { !isTrimmable($0) } }

    static func string(_ scalars: some Sequence<Unicode.Scalar>) -> String {
        var s = String()
        s.unicodeScalars.append(contentsOf: scalars)
        return s
    }

    static func isASCIIAlnum(_ s: Unicode.Scalar) -> Bool {
        (s.value >= 0x30 && s.value <= 0x39) || (s.value >= 0x61 && s.value <= 0x7A) || (s.value >= 0x41 && s.value <= 0x5A)
    }

    /// ASCII words (letters, digits, inner apostrophes) of a folded text.
    static func words(_ c: Scalars) -> [Scalars] {
        var result: [Scalars] = []
        var i = 0
        while i < c.count {
            guard isASCIIAlnum(c[i]) || c[i] == "'" else {
                i += 1
                continue
            }
            var j = i
            while j < c.count, isASCIIAlnum(c[j]) || c[j] == "'" { j += 1 }
            var word = Array(c[i..<j])
            while word.first == "'" { word.removeFirst() }
            while word.last == "'" { word.removeLast() }
            if !word.isEmpty { result.append(word) }
            i = j
        }
        return result
    }

    static func has(_ c: Scalars, _ w: Scalars, at i: Int) -> Bool {
        guard i >= 0, i + w.count <= c.count, !w.isEmpty else { return false }
        for k in 0..<w.count where c[i + k] != w[k] { return false }
        return true
    }

    /// `has`, plus: an entry that starts (ends) with an ASCII letter or digit must not be glued to one.
    static func hasWord(_ c: Scalars, _ w: Scalars, at i: Int) -> Bool {
        guard has(c, w, at: i) else { return false }
        // A hyphen between letters joins a word too: "non-stop", "stop-over".
        if let f = w.first, isASCIIAlnum(f), i > 0,
            isASCIIAlnum(c[i - 1]) || (c[i - 1] == "-" && i > 1 && isASCIIAlnum(c[i - 2]))
        {
            return false
        }
        let end = i + w.count
        if let l = w.last, isASCIIAlnum(l), end < c.count,
            isASCIIAlnum(c[end]) || (c[end] == "-" && end + 1 < c.count && isASCIIAlnum(c[end + 1]))
        {
            return false
        }
        return true
    }

    /// Length of the longest entry of `list` that ends right before `end`.
    static func longestSuffix(_ c: Scalars, endingAt end: Int, in list: [Scalars]) -> Int? {
        var best: Int?
        for w in list where w.count > (best ?? 0) && hasWord(c, w, at: end - w.count) { best = w.count }
        return best
    }

    /// Length of the longest entry of `list` that starts at `i`.
    static func longestPrefix(_ c: Scalars, at i: Int, in list: [Scalars]) -> Int? {
        var best: Int?
        for w in list where w.count > (best ?? 0) && hasWord(c, w, at: i) { best = w.count }
        return best
    }

    /// Whether any entry of `list` occurs in `c[range]`.
    static func contains(_ c: Scalars, _ range: Range<Int>, anyOf list: [Scalars]) -> Bool {
        for w in list where w.count <= range.count {
            for i in range.lowerBound...(range.upperBound - w.count) where hasWord(c, w, at: i) { return true }
        }
        return false
    }
}

// MARK: - Lexicon

/// The word lists. Entries are written in normalised form (lower-case, simplified); `prepare` folds them
/// anyway so a stray capital or full-width letter cannot silently break a list.
private enum MOLexicon {
    static func prepare(_ list: [String]) -> [Scalars] { list.map { MOText.fold($0) } }

    struct Keyword {
        /// As shown in verdicts.
        let display: String
        /// Negative answers (不, 不要, no): never followed by another keyword ("不退订" is not an opt-out).
        let negative: Bool
    }

    /// Whole-reply opt-out keywords. Sources: the carriers' footers 「拒收请回复R」, 「回T退订」,
    /// 「回复TD退订」, 「退订回N」, 「回复QX退订」; China Mobile's 0000 (list subscriptions) and 00000 (cancel
    /// all); the CTIA keywords STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT; common Chinese refusals.
    static let wholeKeywords: [Keyword] =
        ["R", "T", "TD", "QX", "0000", "00000", "STOP", "STOPALL", "UNSUBSCRIBE", "UNSUB", "CANCEL", "END", "QUIT",
         "OPTOUT", "TUIDING", "退订", "退定", "退钉", "退订短信", "退", "拒收", "拒收短信", "拒绝", "取消", "取消订阅",
         "停止", "停止发送", "停", "退出", "屏蔽", "拉黑", "勿扰", "免打扰", "别发", "滚", "滚蛋"]
        .map { Keyword(display: $0, negative: false) }
        + ["N", "NO", "NOPE", "不", "不要", "不需要", "不用了", "否", "别"].map { Keyword(display: $0, negative: true) }

    /// Normalised keyword → display.
    static let wholeKeywordIndex: [Scalars: String] = {
        var index: [Scalars: String] = [:]
        for k in wholeKeywords { index[MOText.fold(k.display)] = k.display }
        return index
    }()

    /// Opt-out words and phrases found inside a text (ASCII ones only on word boundaries).
    static let keywordPhrases = prepare([
        "退订", "退定", "退钉", "拒收", "拒绝接收", "拒绝接受", "拒绝此类", "拒绝这类", "拒绝短信", "拒绝推送", "拒绝营销",
        "拒绝广告", "拒绝骚扰", "取消订阅", "取消短信", "取消推送", "取消通知", "取消此类", "取消营销", "取消订购", "退出订阅",
        "退出短信", "解除订阅", "停止订阅", "屏蔽", "拉黑", "黑名单", "免打扰", "勿扰", "tuiding",
        "unsubscribe", "unsubscribed", "unsub", "opt out", "opt-out", "optout", "opted out", "remove me", "take me off",
        "stopall",
    ])

    /// Refusals that are commands (stop sending): opt-outs even when phrased as a yes/no question
    /// (「能不能别发了？」), overriding a negated keyword elsewhere.
    static let directivePhrases = prepare([
        "再发就", "再发我就", "再骚扰就", "再打扰就", "再发一次就", "再发一条就",
        "stop", "stop texting", "stop sending", "stop messaging", "stop spamming", "stop it", "don't text", "dont text",
        "do not text", "don't send", "dont send", "do not send", "don't message", "do not message", "don't contact",
        "do not contact", "no more texts", "no more messages", "no more sms", "leave me alone",
    ])

    /// Complaints without an explicit refusal: unclear unless an opt-out is also present.
    static let complaintPhrases = prepare([
        "垃圾短信", "垃圾信息", "骚扰短信", "骚扰", "投诉", "举报", "烦死", "烦不烦", "有病", "还发", "还在发", "还给我发",
        "又发", "一直发", "天天发", "老是发", "spam", "harassment",
    ])
    static let complaintCodes = prepare(["12321"])

    /// Keyword words that, inside other content, only mention opting out: unclear.
    static let mentionWords = prepare(["取消", "停止", "拒绝", "退出", "cancel", "quit"])
    /// Code keywords that count as a mention when they stand as an ASCII word inside other text.
    static let mentionCodes = prepare(["r", "t", "td", "n", "qx", "0000", "00000"])
    /// Before a code: the user says they sent it (「回复了TD」, "replied R").
    static let replyVerbs = prepare([
        "回复", "回", "回了", "回复了", "回过", "回复过", "发了", "发过", "发送", "发送了", "发", "reply", "replied", "sent",
        "texted", "send", "text",
    ])
    /// A code followed by one of these is an ordinary word: "T恤" (T-shirt), "N多" (lots).
    static let mentionCodeExceptions: [Scalars: [Unicode.Scalar]] = [
        ["t"]: ["恤"], ["n"]: ["多", "次", "个", "年", "天", "遍"],
    ]

    /// Refusal patterns: head, then fillers, then a verb.
    struct Pattern {
        let heads: [Scalars]
        let fillers: [Scalars]
        let verbs: [Scalars]
    }

    static let patterns: [Pattern] = [
        // 「别再发了」「不要给我发短信」「请勿打扰」「停止推送」「不用再联系我」
        Pattern(
            heads: prepare([
                "不要", "别", "勿", "请勿", "不许", "不准", "不用再", "不必再", "不需要再", "不能再", "停止", "停", "莫", "甭",
                "再也别", "禁止",
            ]),
            fillers: prepare([
                "再", "再也", "给我", "给我们", "给", "向我", "对我", "往我", "跟我", "老是", "老", "总是", "总", "一直", "天天",
                "每天", "乱", "瞎", "都", "还", "继续", "来", "这么多", "那么多",
            ]),
            verbs: prepare([
                "发", "发送", "群发", "发信息", "发短信", "推送", "推销", "推广", "推荐", "打扰", "骚扰", "联系", "烦", "打电话",
                "打来", "来电", "短信", "信息", "消息", "广告",
            ])),
        // 「不想再收到」「不需要你们的短信」「不要这种广告」
        Pattern(
            heads: prepare([
                "不想要", "不想再", "不想", "不要再", "不要", "不愿意", "不愿", "不希望", "不再", "不需要", "不用", "无需", "不接受",
                "不接收", "不收", "不喜欢",
            ]),
            fillers: prepare([
                "再", "收到", "接收", "接到", "收", "看到", "看", "你们的", "你们", "你家的", "你家", "贵司的", "贵公司的", "这些",
                "这种", "这样的", "这类", "此类", "这个", "那些", "那种", "任何", "的", "类似的", "类似", "营销", "推广", "垃圾",
                "广告", "了", "什么", "这", "条", "些",
            ]),
            verbs: prepare(["收到", "接收", "接到", "收", "短信", "信息", "消息", "广告", "推送", "营销", "推广", "通知"])),
    ]

    /// A verb followed by more text that makes it a different word: "不要发货", "不要收费", "别烦恼".
    static let verbExclusions = prepare([
        "发货", "发错", "发票", "发现", "发生", "发烧", "发展", "发火", "发脾气", "发言", "发表", "发布", "发财", "发达",
        "发愁", "发型", "发育", "发明", "发音", "发动", "发射", "收费", "收钱", "收款", "收货", "收据", "收入", "收益",
        "收藏", "收拾", "收获", "收集", "收银", "收件", "收养", "收到", "收到货", "收到钱", "收到款", "收到快递", "收到包裹",
        "接收货", "接到货", "烦恼", "推荐人", "推广码",
    ])

    /// "别" glued to these is part of a word (特别, 区别, 分别 …), not "don't".
    static let bieWordPrefixes: Set<Unicode.Scalar> = ["特", "区", "分", "告", "识", "级", "类", "性", "离", "派", "个", "差", "辨", "鉴", "判", "惜", "送", "道", "永", "话", "职"]

    // Negation, looking back from a phrase.
    static let negators = prepare([
        "不", "没有", "没", "别", "勿", "甭", "未", "无需", "无须", "毋须", "莫",
        "don't", "dont", "not", "never", "won't", "wont", "didn't", "didnt", "doesn't", "doesnt", "shouldn't", "no need",
    ])
    /// Skipped between a negation and the phrase: 「不想退订」「没有要退订」「不需要退订」, "don't want to".
    static let negationFillers = prepare([
        "想", "要", "用", "需", "需要", "必", "打算", "准备", "会", "愿意", "愿", "是", "再", "去", "急着", "着急", "先", "暂时",
        "暂", "还", "说", "说过", "希望", "必要", "一定", "真的", "真", "也", "都", "就",
        "to", "want", "wanna", "need", "i", "really", "please", "gonna", "going", "will", "would", "like", "plan",
        "planning", "ever", "just", "say", "said", "even", "actually", "yet", "you", "we",
    ])
    /// "Cannot" right before a keyword: the user wants out and failed (「无法退订」「不能退订」).
    static let impossibility = prepare([
        "不能", "无法", "没法", "没办法", "不可以", "没能", "can't", "cant", "cannot", "unable to", "couldn't", "not able to",
    ])
    /// Failure right after a keyword: 「退订不了」「退订失败」「没有退订成功」「退订了也没用」.
    static let failureAfter = prepare([
        "不了", "失败", "没成功", "没有成功", "不成功", "成功", "没用", "没有用", "无效", "不掉", "没反应", "不行",
        "doesn't work", "didn't work", "not working", "failed",
    ])
    static let afterSkips = prepare(["了", "都", "还", "也", "根本"])

    // Questions.
    /// Information questions: the clause asks about opting out rather than asking for it.
    static let infoQuestionWords = prepare([
        "怎么", "怎样", "如何", "什么", "啥", "为什么", "为何", "咋", "哪", "干嘛", "何时", "多久",
        "how", "what", "what's", "whats", "why", "where", "when", "which", "who", "how's",
    ])
    /// After an info word these make it rhetorical: 「怎么还发」「为什么又发」, 「别发什么短信了」.
    static let rhetoricalFollowers = prepare(["还", "又", "老", "总", "一直", "天天", "再"])
    static let whatNounFollowers = prepare(["短信", "信息", "消息", "广告", "东西", "玩意", "鬼"])
    static let yesNoMarkers = prepare(["吗", "能不能", "可不可以", "是不是", "有没有", "行不行", "好不好", "要不要", "会不会", "是否", "可否", "能否"])
    /// A yes/no question that asks for the opt-out: 「可以帮我退订吗」「能退订吗」「退订好吗」.
    static let requestBefore = prepare([
        "帮我", "给我", "请", "麻烦", "可以", "能", "我要", "我想", "要求", "申请",
        "please", "pls", "can you", "could you", "can i", "could i", "i want", "i'd like", "i would like", "wanna",
    ])
    /// Not a request: 「请问」 is "may I ask".
    static let requestBeforeExceptions = prepare(["请问"])
    static let requestTails = prepare(["可以吗", "好吗", "行吗", "行不行", "好不好", "可以不", "谢谢"])
    static let alreadyMarkers = prepare(["已经", "已", "早就", "早已", "之前", "上次", "说过", "说了", "already"])

    // Courtesy words for the keyword-with-courtesy rule.
    /// May stand anywhere: 「退订谢谢」「不了，谢谢」「TD 了」, "stop please".
    static let politeness = prepare([
        "谢谢", "谢谢你", "谢谢您", "谢了", "多谢", "感谢", "了", "吧", "啊", "呀", "哦", "噢", "哈", "啦", "哈哈",
        "please", "pls", "plz", "thanks", "thank", "thx", "ty",
    ])
    /// Only before the first keyword: 「请退订」「回复TD」「好的，退订」.
    static let leadIns = prepare([
        "请", "麻烦", "麻烦了", "麻烦你", "您好", "你好", "好的", "好", "我", "回复", "回", "亲", "嗯", "不过", "但是", "可是", "那",
        "那就", "还是", "算了", "ok", "okay",
    ])

    /// Negation characters and words, refused in opt-in keywords.
    static let negationScalars: Set<Unicode.Scalar> = ["不", "没", "别", "勿", "否", "无", "非", "拒", "莫", "甭", "未"]
    static let negationWords: Set<Scalars> = Set(prepare(["no", "not", "never", "nope", "don't", "dont", "n't", "cancel", "stop"]))

    /// Traditional characters that occur in the lists, mapped to simplified (「退訂」「別再發了」).
    static let traditional: [Unicode.Scalar: Unicode.Scalar] = {
        let pairs = Array(
            ("訂订發发別别訊讯絕绝擾扰給给麼么沒没請请這这來来騷骚號号碼码煩烦謝谢問问嗎吗樣样會会幫帮說说話话關关閉闭們们費费貨货錯错"
                + "銷销廣广須须願愿傳传聯联繫系舉举報报訴诉電电為为對对讓让無无還还經经應应點点個个過过開开條条類类種种單单營营專专"
                + "簡简資资際际絡络齊齐歡欢讚赞並并從从決决啟启務务驗验")
                .unicodeScalars)
        var map: [Unicode.Scalar: Unicode.Scalar] = [:]
        var i = 0
        while i + 1 < pairs.count {
            if pairs[i] != pairs[i + 1] { map[pairs[i]] = pairs[i + 1] }
            i += 2
        }
        return map
    }()
}

// MARK: - Keyword with courtesy words

private enum MOSegments {
    enum Piece {
        case keyword(String, negative: Bool)
        case politeness
        case leadIn
    }

    static let vocabulary: [Scalars: Piece] = {
        var v: [Scalars: Piece] = [:]
        for w in MOLexicon.leadIns { v[w] = .leadIn }
        for w in MOLexicon.politeness { v[w] = .politeness }
        for k in MOLexicon.wholeKeywords { v[MOText.fold(k.display)] = .keyword(k.display, negative: k.negative) }
        return v
    }()
    static let longest = vocabulary.keys.map(\.count).max() ?? 1

    /// The first keyword when the reply is only keywords and courtesy words, else nil.
    static func keyword(in normalized: Scalars) -> String? {
        var pieces: [(Piece, Scalars)] = []
        var chunk: Scalars = []
        func flush() -> Bool {
            defer { chunk = [] }
            var i = 0
            while i < chunk.count {
                if MOText.isASCIIAlnum(chunk[i]) {
                    // An ASCII run must be one vocabulary word ("td", not "tdr").
                    var j = i
                    while j < chunk.count, MOText.isASCIIAlnum(chunk[j]) { j += 1 }
                    let word = Array(chunk[i..<j])
                    if let piece = vocabulary[word] {
                        pieces.append((piece, word))
                    } else if word == ["y", "o", "u"], pieces.last?.1 == ["t", "h", "a", "n", "k"] {
                        pieces.append((.politeness, word))  // "thank you"
                    } else {
                        return false
                    }
                    i = j
                } else {
                    // Other scripts: greedy longest match ("不要了谢谢" → 不要 了 谢谢).
                    var matched = false
                    for length in stride(from: min(longest, chunk.count - i), through: 1, by: -1) {
                        let word = Array(chunk[i..<(i + length)])
                        if word.contains(where: MOText.isASCIIAlnum) { continue }
                        if let piece = vocabulary[word] {
                            pieces.append((piece, word))
                            i += length
                            matched = true
                            break
                        }
                    }
                    guard matched else { return false }
                }
            }
            return true
        }
        for s in normalized {
            if MOText.isTrimmable(s) {
                guard flush() else { return nil }
            } else {
                chunk.append(s)
            }
        }
        guard flush() else { return nil }

        var first: String?
        var lastNegative: Scalars?
        for (piece, word) in pieces {
            switch piece {
            case .keyword(let display, let negative):
                // "不退订", "no stop": a negative answer followed by another keyword; "不不不" is fine.
                if let neg = lastNegative, neg != word { return nil }
                first = first ?? display
                lastNegative = negative ? word : nil
            case .politeness:
                lastNegative = nil
            case .leadIn:
                guard first == nil else { return nil }
            }
        }
        return first
    }
}

// MARK: - Phrase analysis

private enum MOPhrases {
    enum Kind: Int {
        case mention = 0, complaint = 1, keyword = 2, directive = 3
    }

    struct Match {
        var start: Int
        var end: Int
        var kind: Kind
        var text: String
    }

    enum Question { case none, yesNo, info }

    enum Outcome {
        case optOut(String, directive: Bool)
        case unclear(MOReason)
        case negated
    }

    /// Splits the folded text into clauses at sentence and clause punctuation, line breaks, and spaces
    /// between two CJK characters; each clause notes whether a "?" ended it.
    static func clauses(_ folded: Scalars) -> [(text: Scalars, question: Bool)] {
        func isDelimiter(_ s: Unicode.Scalar) -> Bool {
            switch s {
            case ".", ",", "!", "?", ";", ":", "。", "、", "…", "\n", "¿", "¡", "︰", "﹖", "﹗": return true
            default: return false
            }
        }
        func isCJK(_ s: Unicode.Scalar) -> Bool { s.value > 0x7F && !MOText.isTrimmable(s) }
        var result: [(text: Scalars, question: Bool)] = []
        func push(_ clause: Scalars, _ question: Bool) {
            var lo = 0
            var hi = clause.count
            while lo < hi, MOText.isTrimmable(clause[lo]) { lo += 1 }
            while hi > lo, MOText.isTrimmable(clause[hi - 1]) { hi -= 1 }
            if lo < hi { result.append((Array(clause[lo..<hi]), question)) }
        }
        var current: Scalars = []
        var i = 0
        while i < folded.count {
            let s = folded[i]
            var breaks = isDelimiter(s)
            if s == " " {
                var p = i - 1
                while p >= 0, folded[p] == " " { p -= 1 }
                var n = i + 1
                while n < folded.count, folded[n] == " " { n += 1 }
                breaks = p >= 0 && n < folded.count && isCJK(folded[p]) && isCJK(folded[n])
            }
            guard breaks else {
                current.append(s)
                i += 1
                continue
            }
            var question = false
            var j = i
            while j < folded.count, isDelimiter(folded[j]) || folded[j] == " " {
                if folded[j] == "?" || folded[j] == "﹖" { question = true }
                j += 1
            }
            push(current, question)
            current = []
            i = j
        }
        push(current, false)
        return result
    }

    static func analyse(_ folded: Scalars) -> MOClassification {
        var outcomes: [Outcome] = []
        for clause in clauses(folded) {
            let c = clause.text
            // A clause that is only keywords and courtesy words: 「谢谢你们的优惠，不过不需要了」.
            if let keyword = MOSegments.keyword(in: MOText.normalized(c)) {
                outcomes.append(.optOut(keyword, directive: false))
                continue
            }
            let question = questionType(c, endsWithQuestionMark: clause.question)
            for m in matches(c) { outcomes.append(evaluate(m, in: c, question: question)) }
        }
        guard !outcomes.isEmpty else { return MOClassification(verdict: .unrelated, reason: .noSignal) }

        var firstDirective: String?
        var firstOptOut: String?
        var negated = false
        var unclearReason: MOReason?
        for o in outcomes {
            switch o {
            case .optOut(let k, let directive):
                if directive { firstDirective = firstDirective ?? k }
                firstOptOut = firstOptOut ?? k
            case .unclear(let reason):
                if unclearReason == nil || reason == .conflicting { unclearReason = reason }
            case .negated:
                negated = true
            }
        }
        // An explicit command to stop sending wins: stopping is exactly what it asks for.
        if let k = firstDirective { return MOClassification(verdict: .optOut(keyword: k), reason: .phrase) }
        if let k = firstOptOut {
            if negated { return MOClassification(verdict: .unclear, reason: .conflicting) }
            return MOClassification(verdict: .optOut(keyword: k), reason: .phrase)
        }
        if let reason = unclearReason { return MOClassification(verdict: .unclear, reason: reason) }
        return MOClassification(verdict: .unrelated, reason: .negated)
    }

    // MARK: Finding matches

    static func matches(_ c: Scalars) -> [Match] {
        var found: [Match] = []
        func add(_ start: Int, _ end: Int, _ kind: Kind) {
            found.append(Match(start: start, end: end, kind: kind, text: MOText.string(c[start..<end])))
        }
        for i in 0..<c.count {
            for (kind, list) in [(Kind.keyword, MOLexicon.keywordPhrases), (.directive, MOLexicon.directivePhrases),
                                 (.complaint, MOLexicon.complaintPhrases), (.mention, MOLexicon.mentionWords)] {
                for w in list where MOText.hasWord(c, w, at: i) { add(i, i + w.count, kind) }
            }
            for p in MOLexicon.patterns {
                if let end = match(p, c, at: i) { add(i, end, .directive) }
            }
        }
        // Code words standing alone in other text: "R是什么意思", "回T有用吗", "12321".
        var i = 0
        while i < c.count {
            guard MOText.isASCIIAlnum(c[i]) || c[i] == "'" else {
                i += 1
                continue
            }
            var j = i
            while j < c.count, MOText.isASCIIAlnum(c[j]) || c[j] == "'" { j += 1 }
            var lo = i
            var hi = j
            while lo < hi, c[lo] == "'" { lo += 1 }
            while hi > lo, c[hi - 1] == "'" { hi -= 1 }
            let word = Array(c[lo..<hi])
            if MOLexicon.mentionCodes.contains(word) {
                let next: Unicode.Scalar? = hi < c.count ? c[hi] : nil
                if let next, MOLexicon.mentionCodeExceptions[word]?.contains(next) == true {
                    // an ordinary word ("T恤")
                } else {
                    // "回复了R还发", "I replied STOP": a code after a reply verb reports an opt-out, so it is
                    // judged like a keyword (negation and question rules still apply: 「回T有用吗？」).
                    // The match then starts at the verb, so 「我没有回复TD」 is negated.
                    var p = lo
                    while p > 0, c[p - 1] == " " { p -= 1 }
                    let display = MOLexicon.wholeKeywordIndex[word] ?? MOText.string(word)
                    if let verb = MOText.longestSuffix(c, endingAt: p, in: MOLexicon.replyVerbs) {
                        found.append(Match(start: p - verb, end: hi, kind: .keyword, text: display))
                    } else {
                        found.append(Match(start: lo, end: hi, kind: .mention, text: display))
                    }
                }
            }
            if MOLexicon.complaintCodes.contains(word) { add(lo, hi, .complaint) }
            i = j
        }
        // Keep the strongest of overlapping matches: drop one inside another ("骚扰" in "别骚扰").
        return found.enumerated().filter { (index, m) in
            !found.enumerated().contains { (otherIndex, o) in
                guard otherIndex != index, o.start <= m.start, o.end >= m.end else { return false }
                if o.start != m.start || o.end != m.end { return true }
                return o.kind.rawValue > m.kind.rawValue || (o.kind == m.kind && otherIndex < index)
            }
        }.map(\.1)
    }

    /// The end of a refusal pattern starting at `i`, or nil.
    static func match(_ p: MOLexicon.Pattern, _ c: Scalars, at i: Int) -> Int? {
        var best: Int?
        for head in p.heads where MOText.has(c, head, at: i) {
            // A-not-A questions: 「要不要发」「能不能再发」「想不想收到」.
            if head.first == "不", i > 0, i + 1 < c.count, c[i - 1] == c[i + 1] { continue }
            // 「特别」「区别」: "别" is part of a word.
            if head.first == "别", i > 0, MOLexicon.bieWordPrefixes.contains(c[i - 1]) { continue }
            if let end = tail(p, c, i + head.count, depth: 0) { best = max(best ?? 0, end) }
        }
        return best
    }

    static func tail(_ p: MOLexicon.Pattern, _ c: Scalars, _ j: Int, depth: Int) -> Int? {
        var best: Int?
        for v in p.verbs where MOText.has(c, v, at: j) && !excluded(c, verb: v, at: j) {
            best = max(best ?? 0, j + v.count)
        }
        if best != nil { return best }
        guard depth < 4 else { return nil }
        for f in p.fillers where MOText.has(c, f, at: j) {
            if let end = tail(p, c, j + f.count, depth: depth + 1) { return end }
        }
        return nil
    }

    static func excluded(_ c: Scalars, verb: Scalars, at j: Int) -> Bool {
        MOLexicon.verbExclusions.contains { e in
            e.count > verb.count && e.starts(with: verb) && MOText.has(c, e, at: j)
        }
    }

    // MARK: Judging a match

    static func questionType(_ c: Scalars, endsWithQuestionMark: Bool) -> Question {
        for i in 0..<c.count {
            for w in MOLexicon.infoQuestionWords where MOText.hasWord(c, w, at: i) {
                let after = i + w.count
                if MOLexicon.rhetoricalFollowers.contains(where: { MOText.has(c, $0, at: after) }) { continue }
                if w == ["什", "么"], MOLexicon.whatNounFollowers.contains(where: { MOText.has(c, $0, at: after) }) { continue }
                return .info
            }
        }
        if endsWithQuestionMark { return .yesNo }
        if MOText.contains(c, 0..<c.count, anyOf: MOLexicon.yesNoMarkers) { return .yesNo }
        if c.last == "么", c.count >= 2, !["什", "怎", "这", "那", "多"].contains(c[c.count - 2]) { return .yesNo }
        return .none
    }

    /// Negations right before `start` (skipping fillers), and whether a "cannot" sits there instead.
    static func lookBack(_ c: Scalars, before start: Int) -> (negations: Int, impossible: Bool) {
        var i = start
        var negations = 0
        for _ in 0..<12 {
            while i > 0, c[i - 1] == " " { i -= 1 }
            guard i > 0 else { break }
            if negations == 0, MOText.longestSuffix(c, endingAt: i, in: MOLexicon.impossibility) != nil {
                return (0, true)
            }
            if let length = MOText.longestSuffix(c, endingAt: i, in: MOLexicon.negators) {
                let p = i - length
                if length == 1, c[p] == "不" {
                    // 「要不要退订」 is a question, not a negation; 「要不退订吧」 means "how about".
                    if p > 0, i < c.count, c[p - 1] == c[i] { break }
                    if p == 1, c[0] == "要" { break }
                }
                negations += 1
                i = p
                continue
            }
            if let length = MOText.longestSuffix(c, endingAt: i, in: MOLexicon.negationFillers) {
                i -= length
                continue
            }
            break
        }
        return (negations, false)
    }

    /// Whether a failure follows the match: 「退订不了」「没有退订成功」.
    static func failureAfter(_ c: Scalars, after end: Int) -> Bool {
        var j = end
        while j < c.count {
            if c[j] == " " {
                j += 1
                continue
            }
            if let length = MOText.longestPrefix(c, at: j, in: MOLexicon.afterSkips) {
                j += length
                continue
            }
            break
        }
        return MOText.longestPrefix(c, at: j, in: MOLexicon.failureAfter) != nil
    }

    static func isRequest(_ c: Scalars, _ m: Match) -> Bool {
        for w in MOLexicon.requestBefore where w.count <= m.start {
            for i in 0...(m.start - w.count) where MOText.hasWord(c, w, at: i) {
                if MOLexicon.requestBeforeExceptions.contains(where: { MOText.has(c, $0, at: i) }) { continue }
                return true
            }
        }
        var j = m.end
        while j < c.count, c[j] == " " || c[j] == "了" { j += 1 }
        return MOText.longestPrefix(c, at: j, in: MOLexicon.requestTails) != nil
    }

    static func evaluate(_ m: Match, in c: Scalars, question: Question) -> Outcome {
        let back = lookBack(c, before: m.start)
        if back.negations >= 2 { return .unclear(.conflicting) }
        var negated = back.negations == 1
        var impossible = back.impossible
        if m.kind == .keyword, failureAfter(c, after: m.end) {
            negated = false
            impossible = true
        }
        // A negated code ("不 TD") may be "No! TD": still unclear.
        if negated, m.kind == .mention, MOLexicon.mentionCodes.contains(MOText.fold(m.text)) { return .unclear(.mention) }
        if negated { return question == .none ? .negated : .unclear(.question) }
        switch m.kind {
        case .mention:
            return .unclear(.mention)
        case .complaint:
            return .unclear(.complaint)
        case .directive:
            return question == .info ? .unclear(.question) : .optOut(m.text, directive: true)
        case .keyword:
            switch question {
            case .none:
                return .optOut(m.text, directive: false)
            case .yesNo:
                let already = MOText.contains(c, 0..<m.start, anyOf: MOLexicon.alreadyMarkers)
                return impossible || already || isRequest(c, m) ? .optOut(m.text, directive: false) : .unclear(.question)
            case .info:
                return .unclear(.question)
            }
        }
    }
}
