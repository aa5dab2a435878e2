// A log of sent messages (CSV), read row by row for `consent-ledger check-sends`. Pure: bytes in,
// rows out; the caller reads the file in chunks, so a log of any size is checked in bounded memory.

/// One message a sender sent: who sent it, from which port, to which number, when, and for what.
public struct SentMessage: Sendable, Equatable {
    /// The 1-based line of the file the row starts on.
    public var line: Int
    public var time: Milliseconds
    public var sender: String
    public var port: String
    public var subject: PhoneNumber
    public var messageID: String
    public var purpose: String?

    public init(line: Int, time: Milliseconds, sender: String, port: String, subject: PhoneNumber, messageID: String, purpose: String? = nil) {
        self.line = line
        self.time = time
        self.sender = sender
        self.port = port
        self.subject = subject
        self.messageID = messageID
        self.purpose = purpose
    }

    /// "Had the number consented to this sender, port and purpose when the message went out?"
    public var question: ConsentQuestion {
        ConsentQuestion(subject: subject, sender: sender, port: port, purpose: purpose, at: time)
    }
}

/// Why a send log, or one of its rows, cannot be read. Messages never repeat a phone number.
public struct SendLogError: Error, Equatable, CustomStringConvertible {
    public var line: Int
    /// The offending column, or nil for the row (or the file) as a whole.
    public var column: String?
    public var message: String

    public init(line: Int, column: String? = nil, _ message: String) {
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String { "line \(line): \(column.map { "\($0): " } ?? "")\(message)" }
}

/// One data row of a send log: the message, or why the row is invalid.
public struct SendLogRow: Sendable {
    public var line: Int
    /// The row's `message_id` cell as written (trimmed; nil when empty or missing), so that even an
    /// invalid row can be named.
    public var messageID: String?
    public var message: Result<SentMessage, SendLogError>
}

/// Reads a send log: RFC 4180 CSV (the same reader as `import`), UTF-8, with a header row.
///
/// Columns, in any order (names are matched case-insensitively, surrounding spaces ignored):
/// `time`, `sender`, `port`, `number`, `message_id`, and optionally `purpose`. Any other column is
/// an error: a misspelt `purpose` silently ignored would hide purpose-scoped revocations.
///
/// - `time`: RFC 3339 / ISO 8601 with a UTC offset or `Z` (`2026-11-23T20:00:00+08:00`,
///   `2026-11-23T12:00:00.250Z`); a time without an offset is ambiguous and invalid.
/// - `sender`: a sender id (1-64 of `A-Z a-z 0-9 . _ -`), as in the ledger.
/// - `port`: the 106 port the message went out from (required: a port-scoped opt-out must count).
/// - `number`: a Chinese mobile number in any shape ``PhoneNumber`` accepts.
/// - `message_id`: the sender's or gateway's message id, 1-128 characters, no control characters.
/// - `purpose`: the message's purpose (marketing category); an empty cell means none.
///
/// A bad header, or CSV that cannot be split into rows (an unterminated quote), is thrown: nothing
/// after it can be trusted. A bad row is returned as a failure with its line and column, and the
/// rows after it are read as usual.
public struct SendLogParser: Sendable {
    public static let requiredColumns = ["time", "sender", "port", "number", "message_id"]
    public static let optionalColumns = ["purpose"]
    /// The longest accepted message id, in characters.
    public static let maximumMessageIDLength = 128

    private var reader = CSVReader()
    /// Column name → position, once the header has been read.
    private var columns: [String: Int]?
    private var width = 0

    public init() {}

    /// Consumes a chunk of the file (any size, cut anywhere) and returns the rows it completed.
    public mutating func feed(_ bytes: some Sequence<UInt8>) throws(SendLogError) -> [SendLogRow] {
        let records: [CSVRecord]
        do { records = try reader.feed(bytes) } catch { throw SendLogError(line: error.line, error.reason) }
        return try rows(records)
    }

    /// Ends the input and returns its last row, if any. Throws for a file without a header row.
    public mutating func finish() throws(SendLogError) -> [SendLogRow] {
        let records: [CSVRecord]
        do { records = try reader.finish() } catch { throw SendLogError(line: error.line, error.reason) }
        let result = try rows(records)
        guard columns != nil else {
            throw SendLogError(line: 1, "empty file: a header row is required (\(Self.requiredColumns.joined(separator: ",")))")
        }
        return result
    }

    /// Reads a whole send log held in memory.
    public static func rows(_ text: String) throws(SendLogError) -> [SendLogRow] {
        var parser = SendLogParser()
        return try parser.feed(text.utf8) + parser.finish()
    }

    private mutating func rows(_ records: [CSVRecord]) throws(SendLogError) -> [SendLogRow] {
        var result: [SendLogRow] = []
        result.reserveCapacity(records.count)
        for record in records {
            guard let columns else {
                try readHeader(record)
                continue
            }
            result.append(Self.row(record, columns: columns, width: width))
        }
        return result
    }

    private mutating func readHeader(_ record: CSVRecord) throws(SendLogError) {
        let known = Self.requiredColumns + Self.optionalColumns
        var positions: [String: Int] = [:]
        for (i, raw) in record.fields.enumerated() {
            let name = Self.trimmed(raw).lowercased()
            guard known.contains(name) else {
                throw SendLogError(
                    line: record.line,
                    "unknown column \"\(name.prefix(40))\" (the header must name \(Self.requiredColumns.joined(separator: ",")) and optionally purpose)")
            }
            guard positions[name] == nil else { throw SendLogError(line: record.line, "column \"\(name)\" appears twice") }
            positions[name] = i
        }
        for name in Self.requiredColumns where positions[name] == nil {
            throw SendLogError(
                line: record.line,
                "missing column \"\(name)\": the first row must be a header naming \(Self.requiredColumns.joined(separator: ",")) (and optionally purpose)")
        }
        columns = positions
        width = record.fields.count
    }

    private static func row(_ record: CSVRecord, columns: [String: Int], width: Int) -> SendLogRow {
        let line = record.line
        func cell(_ name: String) -> String {
            guard let i = columns[name], i < record.fields.count else { return "" }
            return trimmed(record.fields[i])
        }
        let id = cell("message_id")
        var row = SendLogRow(line: line, messageID: id.isEmpty ? nil : id, message: .failure(SendLogError(line: line, "")))
        func fail(_ column: String?, _ message: String) -> SendLogRow {
            row.message = .failure(SendLogError(line: line, column: column, message))
            return row
        }
        guard record.fields.count == width else { return fail(nil, "has \(record.fields.count) fields, the header has \(width)") }

        let timeText = cell("time")
        guard let time = RFC3339.parse(timeText) else {
            if timeText.isEmpty { return fail("time", "is empty") }
            if RFC3339.parse(timeText + "Z") != nil {
                return fail("time", "\"\(timeText.prefix(40))\" has no UTC offset: add Z or +08:00 (China Standard Time)")
            }
            return fail("time", "\"\(timeText.prefix(40))\" is not an ISO 8601 time such as 2026-11-23T20:00:00+08:00")
        }
        let sender = cell("sender")
        guard EventValidator.isValidSenderID(sender) else {
            return fail("sender", "\"\(sender.prefix(80))\" is not a sender id (1-64 of A-Z a-z 0-9 . _ -)")
        }
        let port = cell("port")
        guard EventValidator.isValidPort(port) else {
            return fail("port", port.isEmpty ? "is empty (the 106 port the message went out from)" : "\"\(port.prefix(40))\" is not a 106 port")
        }
        let purposeText = cell("purpose")
        let purpose = purposeText.isEmpty ? nil : purposeText
        if let purpose, !EventValidator.isValidPurpose(purpose) {
            return fail("purpose", "\"\(purpose.prefix(80))\" is not a purpose (1-64 of A-Z a-z 0-9 . _ -)")
        }
        let subject: PhoneNumber
        do { subject = try PhoneNumber(normalizing: cell("number")) } catch { return fail("number", "\(error)") }
        guard !id.isEmpty else { return fail("message_id", "is empty") }
        guard id.count <= maximumMessageIDLength else { return fail("message_id", "is longer than \(maximumMessageIDLength) characters") }
        guard !id.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            return fail("message_id", "contains a control character")
        }
        row.message = .success(
            SentMessage(line: line, time: time, sender: sender, port: port, subject: subject, messageID: id, purpose: purpose))
        return row
    }

    /// Drops surrounding spaces and tabs (hand-edited files often have them after commas).
    static func trimmed(_ s: String) -> String {
        guard let first = s.firstIndex(where: { $0 != " " && $0 != "\t" }) else { return "" }
        let last = s.lastIndex(where: { $0 != " " && $0 != "\t" })!
        return String(s[first...last])
    }
}
