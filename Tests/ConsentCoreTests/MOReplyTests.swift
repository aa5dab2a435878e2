import Testing

@testable import ConsentCore

/// The expected verdict of a reply; `optOut(nil)` accepts any deciding keyword.
private enum Expected: CustomStringConvertible, Sendable {
    case optOut(String?)
    case optIn(String)
    case unrelated
    case unclear

    func matches(_ v: MOVerdict) -> Bool {
        switch (self, v) {
        case (.optOut(nil), .optOut): return true
        case (.optOut(let k?), .optOut(let got)): return k == got
        case (.optIn(let k), .optIn(let got)): return k == got
        case (.unrelated, .unrelated), (.unclear, .unclear): return true
        default: return false
        }
    }

    var description: String {
        switch self {
        case .optOut(let k): return "opt-out(\(k ?? "any"))"
        case .optIn(let k): return "opt-in(\(k))"
        case .unrelated: return "unrelated"
        case .unclear: return "unclear"
        }
    }
}

/// Replies to a sender that configured no consent request.
private let replies: [(text: String, expected: Expected)] = [
    // Every whole-reply code keyword: half- and full-width, upper and lower case, spaces, punctuation.
    ("R", .optOut("R")), ("r", .optOut("R")), (" r ", .optOut("R")), ("Ｒ", .optOut("R")), ("ｒ。", .optOut("R")),
    ("R!", .optOut("R")), ("\u{3000}Ｒ\u{3000}", .optOut("R")), ("R\n", .optOut("R")),
    ("T", .optOut("T")), ("t", .optOut("T")), ("Ｔ", .optOut("T")), ("ｔ！", .optOut("T")), ("T.", .optOut("T")),
    ("TD", .optOut("TD")), ("td", .optOut("TD")), ("Td", .optOut("TD")), ("td。", .optOut("TD")), ("TD!", .optOut("TD")),
    ("ＴＤ", .optOut("TD")), ("ｔｄ？", .optOut("TD")), ("【TD】", .optOut("TD")), ("\"TD\"", .optOut("TD")),
    ("「TD」", .optOut("TD")), ("“td”", .optOut("TD")), ("T D", .optOut("TD")), ("t.d.", .optOut("TD")), ("TD～", .optOut("TD")),
    ("N", .optOut("N")), ("n", .optOut("N")), ("Ｎ。", .optOut("N")),
    ("QX", .optOut("QX")), ("qx", .optOut("QX")), ("ＱＸ！", .optOut("QX")),
    ("0000", .optOut("0000")), ("００００", .optOut("0000")), ("00000", .optOut("00000")), ("０００００。", .optOut("00000")),
    ("STOP", .optOut("STOP")), ("stop", .optOut("STOP")), ("Stop!", .optOut("STOP")), ("ＳＴＯＰ", .optOut("STOP")),
    ("UNSUBSCRIBE", .optOut("UNSUBSCRIBE")), ("unsubscribe.", .optOut("UNSUBSCRIBE")), ("Ｕｎｓｕｂｓｃｒｉｂｅ", .optOut("UNSUBSCRIBE")),
    ("STOPALL", .optOut("STOPALL")), ("cancel", .optOut("CANCEL")), ("END", .optOut("END")), ("quit", .optOut("QUIT")),
    ("no", .optOut("NO")), ("No.", .optOut("NO")),
    // Chinese keywords, with width/punctuation variants and the common typo and traditional forms.
    ("退订", .optOut("退订")), ("退订！", .optOut("退订")), ("退订 ", .optOut("退订")), ("　退订　", .optOut("退订")),
    ("退订。", .optOut("退订")), ("退订!!!", .optOut("退订")), ("退 订", .optOut("退订")), ("【退订】", .optOut("退订")),
    ("退订～", .optOut("退订")), ("退訂", .optOut("退订")), ("退定", .optOut("退定")), ("退订短信", .optOut("退订短信")),
    ("拒收", .optOut("拒收")), ("拒收！", .optOut("拒收")), ("取消", .optOut("取消")), ("退", .optOut("退")),
    ("不要", .optOut("不要")), ("停止", .optOut("停止")), ("停止。", .optOut("停止")), ("拒绝", .optOut("拒绝")),
    ("不", .optOut("不")), ("否", .optOut("否")), ("不需要", .optOut("不需要")), ("取消订阅", .optOut("取消订阅")),
    ("退订\u{200B}", .optOut("退订")),  // zero-width space
    ("TD👍", .optOut("TD")),  // trailing emoji
    // Keywords with courtesy words.
    ("TD退订", .optOut("TD")), ("退订谢谢", .optOut("退订")), ("R 谢谢", .optOut("R")), ("T谢谢", .optOut("T")),
    ("回复TD", .optOut("TD")), ("回复TD退订", .optOut("TD")), ("请退订", .optOut("退订")), ("STOP please", .optOut("STOP")),
    ("please stop", .optOut("STOP")), ("stop, thank you", .optOut("STOP")), ("不了，谢谢", .optOut("不")),
    ("不要了谢谢", .optOut("不要")), ("no thanks", .optOut("NO")), ("好的，退订", .optOut("退订")), ("退订吧", .optOut("退订")),
    ("Ｔ Ｔ Ｔ", .optOut("T")), ("退订退订退订", .optOut("退订")), ("不不不", .optOut("不")),
    // Plain refusals in words.
    ("我要退订", .optOut("退订")), ("我要退订。", .optOut("退订")), ("别再发了", .optOut("别再发")), ("不要再发了", .optOut("不要再发")),
    ("别发了", .optOut("别发")), ("不要给我发短信", .optOut("不要给我发短信")), ("不要再給我發短信了", .optOut("不要再给我发短信")),
    ("请勿再发", .optOut("请勿再发")), ("别打扰我", .optOut("别打扰")), ("停止推送", .optOut("停止推送")),
    ("不想再收到你们的短信", .optOut("不想再收到")), ("我不要你们的广告", .optOut("不要你们的广告")),
    ("别再给我发这种垃圾短信了", .optOut(nil)), ("你们烦不烦，别发了！", .optOut("别发")),
    ("能不能别发了？", .optOut("别发")), ("不要再发了好吗", .optOut("不要再发")), ("再发就投诉", .optOut("再发就")),
    ("STOP please", .optOut("STOP")), ("unsubscribe me", .optOut("unsubscribe")), ("Unsubscribe me please", .optOut("unsubscribe")),
    ("please stop texting me", .optOut("stop texting")), ("don't text me again", .optOut("don't text")),
    ("Don’t send me these", .optOut("don't send")), ("can you stop?", .optOut("stop")),
    ("拒收请回复R", .optOut("拒收")), ("我已经退订了，怎么还发？", .optOut("退订")), ("已经退订了还发", .optOut("退订")),
    ("无法退订", .optOut("退订")), ("退订不了", .optOut("退订")), ("不能退订", .optOut("退订")),
    ("没有退订成功", .optOut("退订")), ("可以帮我退订吗？", .optOut("退订")), ("能退订吗", .optOut("退订")),
    ("退订好吗", .optOut("退订")), ("要不退订吧", .optOut("退订")), ("怎么退订？别再发了", .optOut("别再发")),
    ("我不想退订，但是别再发了", .optOut("别再发")), ("谢谢你们的优惠，不过不需要了", .optOut("不需要")),
    ("已经回复TD了怎么还在发", .optOut("TD")), ("回复了R还发", .optOut("R")), ("I replied STOP already", .optOut("stop")),
    ("请问我可以退订吗", .optOut("退订")), ("我不是说了退订吗", .optOut("退订")), ("NO STOP", .optOut("stop")),
    ("😡 stop", .optOut("STOP")), ("取消了", .optOut("取消")), ("停停停", .optOut("停")), ("怎么退订 别发了", .optOut("别发")), ("我要把你们拉黑", .optOut("拉黑")),
    // Negated: not an opt-out.
    ("我不想退订", .unrelated), ("不退订", .unrelated), ("没有要退订", .unrelated), ("不用退订", .unrelated),
    ("不要退订", .unrelated), ("我没说要退订", .unrelated), ("我暂时不退订", .unrelated), ("不需要退订", .unrelated),
    ("don't stop", .unrelated), ("Don't stop!", .unrelated), ("I don't want to unsubscribe", .unrelated),
    ("do not unsubscribe me", .unrelated), ("不要停止", .unrelated), ("我不想退订，只是问问", .unrelated),
    ("我没有回复TD", .unrelated), ("I never said stop", .unrelated), ("don't cancel", .unrelated),
    // Undecidable: kept and flagged.
    ("不是不想退订", .unclear),  // double negation
    ("怎么退订？", .unclear), ("怎么退订", .unclear), ("如何退订呢", .unclear), ("退订要收费吗", .unclear),
    ("R是什么意思", .unclear), ("回T有用吗？", .unclear), ("how do I unsubscribe?", .unclear), ("what does STOP do", .unclear),
    ("要不要退订", .unclear), ("我不想退订？", .unclear), ("你们这是骚扰", .unclear), ("怎么还在发", .unclear),
    ("取消订单", .unclear), ("我要投诉", .unclear), ("我退订了，不，我不退订", .unclear),
    ("请问回复TD是退订吗", .unclear), ("不 TD", .unclear), ("不是T", .unclear), ("老是发烦死了", .unclear),
    ("我不是说不要再发了吗", .unclear), ("你好，请问怎么退订", .unclear), ("退订了吗", .unclear),
    (String(repeating: "好", count: MOClassifier.maximumInputLength + 1), .unclear),
    // Unrelated.
    ("好的谢谢", .unrelated), ("好的，谢谢！", .unrelated), ("你好", .unrelated), ("ok", .unrelated), ("OK👌", .unrelated),
    ("👍", .unrelated), ("😀😀😀", .unrelated), ("", .unrelated), ("   ", .unrelated), ("\u{3000}", .unrelated),
    ("。。。", .unrelated), ("收到", .unrelated), ("谢谢", .unrelated), ("不好意思", .unrelated), ("什么时候发货？", .unrelated),
    ("地址不要发错了", .unrelated), ("要不要发给你", .unrelated), ("T恤有货吗", .unrelated), ("特别发达", .unrelated),
    ("我想要这个优惠", .unrelated), ("Y", .unrelated), ("是", .unrelated), ("同意", .unrelated), ("1", .unrelated),
    ("N95口罩还有吗", .unrelated), ("不要发货", .unrelated), ("不要收费", .unrelated), ("不想收到货", .unrelated),
    ("不要紧", .unrelated), ("别客气", .unrelated), ("不客气", .unrelated), ("打错了", .unrelated), ("退款怎么弄", .unrelated),
    ("Ｔ恤", .unrelated), ("🙅", .unrelated), ("订单号10000", .unrelated), ("thanks", .unrelated), ("non-stop", .unrelated),
]

/// Replies to a sender whose consent request expects "Y", "是" or "同意".
private let optInReplies: [(text: String, expected: Expected)] = [
    ("Y", .optIn("Y")), ("y", .optIn("Y")), ("Ｙ！", .optIn("Y")), (" y。", .optIn("Y")), ("是", .optIn("是")),
    ("是。", .optIn("是")), ("同意", .optIn("同意")), ("同意！", .optIn("同意")), ("【同意】", .optIn("同意")),
    ("是的", .unrelated), ("yes", .unrelated), ("不同意", .unrelated), ("同意吗", .unrelated), ("Y?", .optIn("Y")),
    ("Y 退订", .optOut(nil)), ("N", .optOut("N")), ("TD", .optOut("TD")), ("不", .optOut("不")), ("同意，别再发了", .optOut("别再发")),
    ("好的谢谢", .unrelated),
]

@Suite struct MOReplyTests {
    let plain = MOClassifier()
    let withOptIn = MOClassifier(optInKeywords: ["Y", "是", "同意"])

    @Test func tableIsLargeEnough() {
        #expect(replies.count >= 60)
    }

    @Test(arguments: replies.indices)
    func classifiesReply(_ index: Int) {
        let (text, expected) = replies[index]
        let got = plain.explain(text)
        #expect(expected.matches(got.verdict), "\"\(text)\": expected \(expected), got \(got.verdict) (\(got.reason.name))")
    }

    @Test(arguments: optInReplies.indices)
    func classifiesReplyWithOptIn(_ index: Int) {
        let (text, expected) = optInReplies[index]
        let got = withOptIn.explain(text)
        #expect(expected.matches(got.verdict), "\"\(text)\": expected \(expected), got \(got.verdict) (\(got.reason.name))")
    }

    /// Whatever else a reply contains, an opt-in keyword configured by the sender never turns a plain
    /// refusal into consent, and without configuration nothing is ever an opt-in.
    @Test func neverOptInWithoutConfiguration() {
        for (text, _) in replies + optInReplies {
            if case .optIn = plain.classify(text) { Issue.record("\"\(text)\" became an opt-in without configuration") }
        }
    }

    @Test func everyKeywordInEveryForm() {
        for keyword in MOClassifier.optOutKeywords {
            let fullWidth = String(String.UnicodeScalarView(keyword.unicodeScalars.map { s in
                (0x21...0x7E).contains(s.value) ? Unicode.Scalar(s.value + 0xFEE0)! : s
            }))
            for form in [keyword, keyword.lowercased(), fullWidth, " \(keyword) ", "\(keyword)。", "\(keyword)！", "「\(keyword)」", "\(keyword)?"] {
                #expect(plain.classify(form) == .optOut(keyword: keyword), "\"\(form)\"")
            }
        }
    }

    @Test func reasons() {
        #expect(plain.explain("TD").reason == .keyword)
        #expect(plain.explain("TD 谢谢").reason == .keywordWithCourtesy)
        #expect(plain.explain("我要退订").reason == .phrase)
        #expect(plain.explain("我不想退订").reason == .negated)
        #expect(plain.explain("怎么退订？").reason == .question)
        #expect(plain.explain("不是不想退订").reason == .conflicting)
        #expect(plain.explain("R是什么意思").reason == .mention)
        #expect(plain.explain("你们这是骚扰").reason == .complaint)
        #expect(plain.explain("好的").reason == .noSignal)
        #expect(plain.explain("👍").reason == .empty)
        #expect(plain.explain(String(repeating: "a", count: 1001)).reason == .tooLong)
        #expect(withOptIn.explain("Y").reason == .optInKeyword)
    }

    @Test func verdictNames() {
        #expect(MOVerdict.optOut(keyword: "TD").name == "opt-out")
        #expect(MOVerdict.optIn(keyword: "Y").name == "opt-in")
        #expect(MOVerdict.unrelated.name == "unrelated")
        #expect(MOVerdict.unclear.name == "unclear")
        #expect(MOVerdict.names == ["opt-out", "opt-in", "unrelated", "unclear"])
        #expect(MOVerdict.optOut(keyword: "TD").keyword == "TD")
        #expect(MOVerdict.unclear.keyword == nil)
        #expect(MOVerdict.optOut(keyword: "TD").description == "opt-out(TD)")
        #expect(Set(MOReason.allCases.map(\.name)).count == MOReason.allCases.count)
    }

    @Test func normalisation() {
        #expect(MOClassifier.normalize("ＴＤ！") == "td")
        #expect(MOClassifier.normalize("  退订。 ") == "退订")
        #expect(MOClassifier.normalize("「Stop\u{3000}\u{3000}Please」") == "stop please")
        #expect(MOClassifier.normalize("退訂") == "退订")
        #expect(MOClassifier.normalize("a\n\tb") == "a b")
        #expect(MOClassifier.normalize("👍👍") == "")
        #expect(MOClassifier.normalize("don’t") == "don't")
    }

    @Test func unsafeOptInKeywordsAreRefused() {
        for keyword in ["T", "td", "N", "Ｎ", "no", "不", "不同意", "退订吧", "别发", "stop", "cancel", "", "。", "R是什么意思", "没问题"] {
            #expect(MOClassifier.optInKeywordProblem(keyword) != nil, "\"\(keyword)\"")
        }
        for keyword in ["Y", "是", "同意", "1", "yes", "好的", "确认"] {
            #expect(MOClassifier.optInKeywordProblem(keyword) == nil, "\"\(keyword)\"")
        }
        let c = MOClassifier(optInKeywords: ["Y", "T", "不同意", "y"])
        #expect(c.optInKeywords == ["Y"])
        #expect(c.rejectedOptInKeywords == ["T", "不同意"])
        #expect(c.classify("T") == .optOut(keyword: "T"))
        #expect(c.classify("不同意") == .unrelated)
        #expect(c.classify("y") == .optIn(keyword: "Y"))
    }

    // MARK: - Port registry

    func registry() throws -> PortRegistry {
        try PortRegistry([
            (sender: "acme", port: "10690001"),
            (sender: "beta", port: "106900011"),
            (sender: "gamma", port: "1069123"),
            (sender: "acme", port: "10690001"),  // repeated pair: fine
        ])
    }

    @Test(arguments: [
        ("10690001", "acme", "10690001"),
        ("106900011234", "beta", "106900011"),  // longest prefix wins
        ("106900011", "beta", "106900011"),
        ("106900012", "acme", "10690001"),
        ("10690001999", "acme", "10690001"),
        ("1069123", "gamma", "1069123"),
        ("10691234567", "gamma", "1069123"),
        ("106912300000000000000", "gamma", "1069123"),  // 21 digits
    ])
    func resolvesLongestPrefix(destination: String, sender: String, port: String) throws {
        let r = try #require(try registry().resolve(destination))
        #expect(r.sender == sender)
        #expect(r.port == port)
    }

    @Test(arguments: [
        "1069000", "106900021", "10690", "1069", "95555", "",
        "1069000１",  // full-width digit
        "+10690001", " 10690001", "10690001 ", "10690001-12", "1069abc", "10690001\0",
        "1069123000000000000000",  // 22 digits
    ])
    func rejectsUnknownOrMalformedDestinations(destination: String) throws {
        #expect(try registry().resolve(destination) == nil)
    }

    @Test func registryContents() throws {
        let r = try registry()
        #expect(r.count == 3)
        #expect(r.entries.map(\.port) == ["10690001", "106900011", "1069123"])
        #expect(r.sender(forPort: "106900011") == "beta")
        #expect(r.sender(forPort: "1069000112") == nil)
        #expect(PortRegistry().resolve("10690001") == nil)
    }

    @Test func registryValidation() {
        #expect(throws: PortRegistryError.self) { try PortRegistry([(sender: "acme", port: "12345678")]) }
        #expect(throws: PortRegistryError.self) { try PortRegistry([(sender: "acme", port: "1069")]) }
        #expect(throws: PortRegistryError.self) { try PortRegistry([(sender: "acme", port: "1069000a")]) }
        #expect(throws: PortRegistryError.self) { try PortRegistry([(sender: "has space", port: "10690001")]) }
        #expect(throws: PortRegistryError("port 10690001 is already registered to sender acme")) {
            try PortRegistry([(sender: "acme", port: "10690001"), (sender: "beta", port: "10690001")])
        }
    }

    // MARK: - The sender's number as gateways deliver it

    @Test(arguments: [
        "8613800138000",  // SGIP UserNumber
        "+8613800138000",  // CMPP with plus
        "008613800138000",
        "13800138000",  // CMPP Src_terminal_Id, national
        "86 13800138000",
        "＋８６１３８００１３８０００",
    ])
    func gatewayNumberForms(input: String) throws {
        #expect(try PhoneNumber(normalizing: input).e164 == "+8613800138000")
    }

    @Test(arguments: ["861380013800", "86138001380001", "8610086", "10690001", "106900011234"])
    func gatewayNumberRejects(input: String) {
        #expect(throws: PhoneNumberError.self) { try PhoneNumber(normalizing: input) }
    }
}
