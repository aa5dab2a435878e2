import ConsentTestSupport
import Testing

@testable import ConsentCore

@Suite struct SendLogTests {
    let header = "time,sender,port,number,message_id\n"

    /// The error of an invalid row, or nil for a valid one.
    func error(_ row: SendLogRow) -> SendLogError? {
        if case .failure(let e) = row.message { return e }
        return nil
    }

    @Test func readsValidRows() throws {
        let text = "\u{FEFF}Time , SENDER,port,number,message_id,purpose\r\n"
            + "2026-11-23T20:00:00+08:00,bank,10690001,138 0013 8000,m-1,\r\n"
            + "\r\n"
            + "2026-11-23T12:00:00.250Z, bank ,10690001,\"+86 139-0013-9000\",\"id, with comma\",promo\n"
            + "2026-11-23t12:00:01z,shop,1069000123,００８６１３７００１３７０００,\"say \"\"hi\"\"\",loans"
        let rows = try SendLogParser.rows(text)
        #expect(rows.count == 3)
        let a = try rows[0].message.get()
        #expect(a == SentMessage(line: 2, time: 1_795_435_200_000, sender: "bank", port: "10690001",
            subject: try PhoneNumber(normalizing: "13800138000"), messageID: "m-1", purpose: nil))
        let b = try rows[1].message.get()
        #expect(b.line == 4 && b.time == 1_795_435_200_250 && b.sender == "bank" && b.messageID == "id, with comma" && b.purpose == "promo")
        #expect(b.subject.e164 == "+8613900139000")
        let c = try rows[2].message.get()
        #expect(c.line == 5 && c.subject.e164 == "+8613700137000" && c.messageID == "say \"hi\"" && c.purpose == "loans")
        #expect(c.question == ConsentQuestion(subject: c.subject, sender: "shop", port: "1069000123", purpose: "loans", at: c.time))
    }

    /// Each kind of bad row is reported with its line and column, and the rows after it still count.
    @Test func badRowsNameTheirLineAndColumn() throws {
        let text = header
            + "2026-11-23T12:00:00Z,bank,10690001,13800138000,ok-1\n"  // 2
            + "2026-11-23 12:00:00,bank,10690001,13800138000,no-offset\n"  // 3
            + "23/11/2026 12:00,bank,10690001,13800138000,garbage-time\n"  // 4
            + "2026-02-30T12:00:00Z,bank,10690001,13800138000,no-such-day\n"  // 5
            + "2026-11-23T12:00:00Z,bank,10690001,010-12345678,landline\n"  // 6
            + "2026-11-23T12:00:00Z,bank,10690001,1380013800,short\n"  // 7
            + "2026-11-23T12:00:00Z,bad sender,10690001,13800138000,sender\n"  // 8
            + "2026-11-23T12:00:00Z,bank,95555,13800138000,port\n"  // 9
            + "2026-11-23T12:00:00Z,bank,,13800138000,no-port\n"  // 10
            + "2026-11-23T12:00:00Z,bank,10690001,13800138000,\n"  // 11
            + "2026-11-23T12:00:00Z,bank,10690001,13800138000\n"  // 12
            + ",bank,10690001,13800138000,no-time\n"  // 13
            + "2026-11-23T12:00:00Z,bank,10690001,13800138000,ok-2\n"  // 14
        let rows = try SendLogParser.rows(text)
        #expect(rows.map(\.line) == Array(2...14))
        let expected: [(Int, String?, String)] = [
            (3, "time", "no UTC offset"), (4, "time", "not an ISO 8601 time"), (5, "time", "not an ISO 8601 time"),
            (6, "number", "mobile"), (7, "number", "digits"), (8, "sender", "not a sender id"), (9, "port", "not a 106 port"),
            (10, "port", "is empty"), (11, "message_id", "is empty"), (12, nil, "has 4 fields, the header has 5"), (13, "time", "is empty"),
        ]
        for (line, column, text) in expected {
            let row = rows[line - 2]
            let e = try #require(error(row), "line \(line) should be invalid")
            #expect(e.line == line && e.column == column)
            #expect(e.message.contains(text), "line \(line): \(e)")
            #expect(e.description.hasPrefix("line \(line): "))
        }
        #expect(rows[1].messageID == "no-offset" && rows[9].messageID == nil)
        #expect(try rows[0].message.get().messageID == "ok-1")
        #expect(try rows[12].message.get().messageID == "ok-2")
        // Errors never repeat the number.
        #expect(!error(rows[4])!.description.contains("12345678"))
    }

    @Test func theHeaderIsRequiredAndExact() throws {
        func headerError(_ text: String) -> SendLogError? {
            do {
                _ = try SendLogParser.rows(text)
                return nil
            } catch { return error }
        }
        #expect(headerError("")?.message.contains("header row is required") == true)
        #expect(headerError("\n\n")?.message.contains("header row is required") == true)
        // A data row where the header should be.
        #expect(headerError("2026-11-23T12:00:00Z,bank,10690001,13800138000,m1\n")?.message.contains("unknown column") == true)
        #expect(headerError("time,sender,port,number\n")?.message.contains("missing column \"message_id\"") == true)
        #expect(headerError("time,sender,port,number,message_id,purpse\n")?.message.contains("unknown column \"purpse\"") == true)
        #expect(headerError("time,sender,port,number,message_id,time\n")?.message.contains("appears twice") == true)
        #expect(try SendLogParser.rows(header).isEmpty)
        #expect(try SendLogParser.rows("message_id,number,port,sender,time\nm,13800138000,10690001,bank,2026-11-23T12:00:00Z")
            .map { try $0.message.get().messageID } == ["m"])
        // CSV that cannot be split into rows stops the file, naming the line.
        let e = headerError(header + "2026-11-23T12:00:00Z,bank,10690001,13800138000,\"open\n")
        #expect(e?.line == 2 && e?.message.contains("unterminated") == true)
        #expect(headerError(header + "2026-11-23T12:00:00Z,bank,10690001,13800138000,a\"b\n")?.line == 2)
    }

    /// Feeding the file in chunks of any size (cut inside quotes, between CR and LF, inside the
    /// byte-order mark or a multi-byte character) gives exactly the rows of the whole file.
    @Test func chunkedInputGivesTheSameRows() throws {
        let text = "\u{FEFF}time,sender,port,number,message_id,purpose\r\n"
            + "2026-11-23T12:00:00Z,bank,10690001,\"+86 138 0013 8000\",\"a,\"\"b\"\"\r\nc\",promo\r\n"
            + "2026-11-23T12:00:01Z,bank,10690001,１３９００１３９０００,消息-2,\r"
            + "bad,bank,10690001,13800138000,m3,\n"
            + "2026-11-23T12:00:02Z,bank,10690001,13800138000,\"\","
        func describe(_ rows: [SendLogRow]) -> [String] {
            rows.map { row in
                switch row.message {
                case .success(let m): "\(m.line) \(m.time) \(m.subject) \(m.messageID) \(m.purpose ?? "-")"
                case .failure(let e): "\(row.messageID ?? "-") \(e)"
                }
            }
        }
        let whole = describe(try SendLogParser.rows(text))
        #expect(whole.count == 4)
        #expect(whole[0] == "a,\"b\"\r\nc line 2: message_id: contains a control character")
        #expect(whole[1] == "4 1795435201000 +8613900139000 消息-2 -")
        #expect(whole[2].hasPrefix("m3 line 5: time:"))
        #expect(whole[3] == "- line 6: message_id: is empty")
        let bytes = Array(text.utf8)
        var rng = SplitMix(seed: 6)
        for size in [1, 2, 3, 5, 7, 64] + (0..<20).map({ _ in Int(rng.next() % 40) + 1 }) {
            var parser = SendLogParser()
            var rows: [SendLogRow] = []
            for start in stride(from: 0, to: bytes.count, by: size) {
                rows += try parser.feed(bytes[start..<min(start + size, bytes.count)])
            }
            rows += try parser.finish()
            #expect(describe(rows) == whole, "chunks of \(size)")
        }
    }

    /// The incremental CSV reader behind `import` gives the same records whatever the chunking.
    @Test func csvReaderIsChunkingIndependent() throws {
        let text = "a,b\r\n\"x\"\"y\",\"1\n2\"\r\n\n,\r\r\n\"\",z"
        let whole = try CSVImport.parse(text)
        #expect(whole.map(\.line) == [1, 2, 5, 7])
        #expect(whole.map(\.fields) == [["a", "b"], ["x\"y", "1\n2"], ["", ""], ["", "z"]])
        let bytes = Array(text.utf8)
        for size in 1...bytes.count {
            var reader = CSVReader()
            var records: [CSVRecord] = []
            for start in stride(from: 0, to: bytes.count, by: size) {
                records += try reader.feed(bytes[start..<min(start + size, bytes.count)])
            }
            records += try reader.finish()
            #expect(records.map(\.fields) == whole.map(\.fields) && records.map(\.line) == whole.map(\.line), "chunks of \(size)")
        }
    }
}
