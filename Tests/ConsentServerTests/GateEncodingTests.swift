import ConsentCore
import ConsentLedger
import ConsentTestSupport
import Testing

@testable import ConsentServer

@Suite struct GateEncodingTests {
    @Test func decimalsAreWrittenLikeStringDescribing() {
        for value: Int64 in [0, 7, 9, 10, 99, 100, 123_456_789, Int64.max] {
            var out: [UInt8] = []
            ConsentRoutes.appendDecimal(value, to: &out)
            #expect(String(decoding: out, as: UTF8.self) == String(value))
        }
    }

    /// The rows of a large chunk, encoded on two threads, are the rows one by one, in order.
    @Test func parallelRowsEqualRowByRow() {
        var rng = SplitMix(seed: 17)
        let decisions: [ConsentDecision?] = [.consented, .refused, .neverAsked, nil]
        let verdicts = (0..<10_001).map { i -> ConsentRoutes.GateVerdict in
            let decision = decisions[Int(rng.next() % 4)]
            let number = i % 97 == 0 ? "a,\"b\"" : "139\(String(format: "%08d", i))"
            guard let decision else { return ConsentRoutes.GateVerdict(number: number, answer: nil, invalid: "bad, \"really\"") }
            return ConsentRoutes.GateVerdict(
                number: number, answer: GateAnswer(decision: decision, deciding: decision == .neverAsked ? nil : Int64(rng.next() % 1_000_000)))
        }
        var expected = ""
        for v in verdicts {
            func field(_ s: String) -> String { s.contains(",") || s.contains("\"") ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s }
            expected += "\(field(v.number)),\(v.allowed),\(v.reason),\(v.answer?.deciding.map(String.init) ?? ""),\(v.invalid.map(field) ?? "")\n"
        }
        #expect(String(decoding: ConsentRoutes.csvRows(verdicts[...]), as: UTF8.self) == expected)
        #expect(String(decoding: ConsentRoutes.csvRows(verdicts[..<100]), as: UTF8.self) == expected.split(separator: "\n").prefix(100).map { $0 + "\n" }.joined())
    }
}
