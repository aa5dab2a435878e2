import ConsentCore
import ConsentTestSupport
import Testing

@Suite struct NumberListReaderTests {
    static let text = "number,note\r\n13800138000,a\n\n \"139 0013 9000\" ,b\r+86 137-0013-7000\n\t12345\t\nlast"
    static let expected = ["13800138000", "139 0013 9000", "+86 137-0013-7000", "12345", "last"]

    @Test func readsFirstFieldsSkippingHeaderAndEmptyLines() {
        var reader = NumberListReader()
        #expect(reader.read(Array(Self.text.utf8)) + reader.finish() == Self.expected)
    }

    /// Any split into chunks, including between CR and LF and inside a multi-byte character, gives
    /// the same numbers.
    @Test func chunkBoundariesDoNotMatter() {
        var rng = SplitMix(seed: 5)
        let bytes = Array((Self.text + "\n１３８００１３８０００\r\n").utf8)
        let expected = Self.expected + ["１３８００１３８０００"]
        for _ in 0..<300 {
            var reader = NumberListReader()
            var out: [String] = []
            var start = 0
            while start < bytes.count {
                let end = min(bytes.count, start + Int(rng.next() % 7) + 1)
                out += reader.read(bytes[start..<end])
                start = end
            }
            out += reader.finish()
            #expect(out == expected)
        }
    }

    @Test func quotedFieldsMayHoldCommasAndQuotes() {
        var reader = NumberListReader()
        #expect(reader.read(Array("\"138,0013\",x\n \"say \"\"hi\"\"\"\n\"\"\n".utf8)) == ["138,0013", "say \"hi\""])
    }

    @Test func aHeaderIsOnlySkippedOnTheFirstLine() {
        var reader = NumberListReader()
        #expect(reader.read(Array("13800138000\nnumber\n".utf8)) == ["13800138000", "number"])
    }

    @Test func overlongLinesAreCut() {
        var reader = NumberListReader()
        let long = String(repeating: "1", count: 5000)
        let out = reader.read(Array((long + "\n13800138000\n").utf8))
        #expect(out.count == 2)
        #expect(out[0].utf8.count == NumberListReader.maximumLineBytes)
        #expect(out[1] == "13800138000")
    }
}
