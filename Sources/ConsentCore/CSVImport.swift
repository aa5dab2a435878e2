/// RFC 4180 CSV rows mapped to ``EventInput``s.
///
/// Columns (header row required, any order): `sender`, `subject`, `action`, and optionally `scope`,
/// `port`, `purpose`, `method`, `templateHash`, `occurredAt`, `clientKey`, and `evidence.<key>` for
/// each evidence key. Empty cells are absent values.
public enum CSVImport {
    /// The columns a file may have besides `evidence.<key>`.
    public static let columns = ["sender", "subject", "action", "scope", "port", "purpose", "method", "templateHash", "occurredAt", "clientKey"]

    /// One data row: its 1-based line number in the file and the event it describes, or why it is invalid.
    public struct Row: Sendable {
        public var line: Int
        public var input: Result<EventInput, EventValidationError>

        public init(line: Int, input: Result<EventInput, EventValidationError>) {
            self.line = line
            self.input = input
        }
    }

    /// Parses a whole CSV file. Throws for a bad header; bad rows come back as failures.
    public static func rows(_ text: String) throws(EventValidationError) -> [Row] {
        let records = try parse(text)
        guard let header = records.first else { throw EventValidationError(field: "line 1", "empty file: a header row is required") }
        for name in header.fields where !columns.contains(name) && !name.hasPrefix("evidence.") {
            throw EventValidationError(field: "line 1", "unknown column \"\(name)\" (known: \(columns.joined(separator: ", ")), evidence.<key>)")
        }
        for required in ["sender", "subject", "action"] where !header.fields.contains(required) {
            throw EventValidationError(field: "line 1", "missing required column \"\(required)\"")
        }
        guard Set(header.fields).count == header.fields.count else { throw EventValidationError(field: "line 1", "repeated column") }
        return records.dropFirst().map { record in
            guard record.fields.count == header.fields.count else {
                return Row(line: record.line, input: .failure(EventValidationError(
                    field: "line \(record.line)", "has \(record.fields.count) fields, the header has \(header.fields.count)")))
            }
            var values: [String: String] = [:]
            var evidence: [String: String] = [:]
            for (name, value) in zip(header.fields, record.fields) where !value.isEmpty {
                if name.hasPrefix("evidence.") { evidence[String(name.dropFirst("evidence.".count))] = value } else { values[name] = value }
            }
            let input = EventInput(
                sender: values["sender"] ?? "", subject: values["subject"] ?? "", action: values["action"] ?? "",
                scope: values["scope"], port: values["port"], purpose: values["purpose"], method: values["method"],
                templateHash: values["templateHash"], occurredAt: values["occurredAt"], evidence: evidence.isEmpty ? nil : evidence,
                clientKey: values["clientKey"])
            return Row(line: record.line, input: .success(input))
        }
    }

    /// Splits RFC 4180 CSV (quoted fields may hold commas, newlines and doubled quotes; CRLF or LF).
    /// Blank lines are skipped.
    static func parse(_ text: String) throws(EventValidationError) -> [CSVRecord] {
        var reader = CSVReader()
        do {
            return try reader.feed(text.utf8) + reader.finish()
        } catch {
            throw EventValidationError(field: "line \(error.line)", error.reason)
        }
    }
}

/// A parsed CSV record and the 1-based line it starts on.
struct CSVRecord: Sendable {
    var line: Int
    var fields: [String]
}

/// A CSV syntax error that makes the rest of the file unreadable.
struct CSVSyntaxError: Error, Equatable {
    var line: Int
    var reason: String
}

/// An incremental RFC 4180 reader: feed the bytes in chunks of any size (a chunk may end anywhere,
/// even inside a quoted field or between CR and LF) and get back the records completed so far, so
/// a file of any size is read in bounded memory. Quoted fields may hold commas, newlines and
/// doubled quotes; records end with CRLF, LF or CR; blank lines are skipped; a leading UTF-8
/// byte-order mark (spreadsheet programs write one) is dropped.
struct CSVReader: Sendable {
    private var fields: [String] = []
    private var field: [UInt8] = []
    private var line = 1
    private var recordLine = 1
    private var quoted = false
    private var fieldWasQuoted = false
    /// A quote seen inside a quoted field: the next byte says whether it was a doubled quote.
    private var pendingQuote = false
    /// A CR just ended a record: an LF right after it belongs to the same line end.
    private var skipLF = false
    /// The first bytes, held until they show whether the input starts with a byte-order mark.
    private var head: [UInt8]? = []

    init() {}

    /// Consumes a chunk and returns the records it completed.
    mutating func feed(_ bytes: some Sequence<UInt8>) throws(CSVSyntaxError) -> [CSVRecord] {
        var records: [CSVRecord] = []
        for c in bytes {
            if head != nil {
                head!.append(c)
                if head!.count < 3 { continue }
                try flushHead(into: &records)
            } else {
                try consume(c, into: &records)
            }
        }
        return records
    }

    /// Ends the input and returns the last record, if the input did not end with a line end.
    mutating func finish() throws(CSVSyntaxError) -> [CSVRecord] {
        var records: [CSVRecord] = []
        if head != nil { try flushHead(into: &records) }
        if pendingQuote {
            pendingQuote = false
            quoted = false
        }
        guard !quoted else { throw CSVSyntaxError(line: recordLine, reason: "unterminated quoted field") }
        if !field.isEmpty || !fields.isEmpty || fieldWasQuoted { endRecord(into: &records) }
        return records
    }

    private mutating func flushHead(into records: inout [CSVRecord]) throws(CSVSyntaxError) {
        guard var bytes = head else { return }
        head = nil
        if bytes.starts(with: [0xef, 0xbb, 0xbf]) { bytes.removeFirst(3) }
        for c in bytes { try consume(c, into: &records) }
    }

    private mutating func consume(_ c: UInt8, into records: inout [CSVRecord]) throws(CSVSyntaxError) {
        if skipLF {
            skipLF = false
            if c == 0x0a { return }
        }
        if pendingQuote {
            pendingQuote = false
            if c == UInt8(ascii: "\"") {
                field.append(c)
                return
            }
            quoted = false
        }
        if quoted {
            if c == UInt8(ascii: "\"") {
                pendingQuote = true
            } else {
                if c == 0x0a { line += 1 }
                field.append(c)
            }
        } else if c == UInt8(ascii: "\"") {
            guard field.isEmpty, !fieldWasQuoted else { throw CSVSyntaxError(line: line, reason: "a quote inside an unquoted field") }
            quoted = true
            fieldWasQuoted = true
        } else if c == UInt8(ascii: ",") {
            endField()
        } else if c == 0x0a || c == 0x0d {
            skipLF = c == 0x0d
            endRecord(into: &records)
            line += 1
            recordLine = line
        } else {
            guard !fieldWasQuoted else { throw CSVSyntaxError(line: line, reason: "text after a closing quote") }
            field.append(c)
        }
    }

    private mutating func endField() {
        fields.append(String(decoding: field, as: UTF8.self))
        field.removeAll(keepingCapacity: true)
        fieldWasQuoted = false
    }

    private mutating func endRecord(into records: inout [CSVRecord]) {
        endField()
        if !(fields.count == 1 && fields[0].isEmpty) { records.append(CSVRecord(line: recordLine, fields: fields)) }
        fields.removeAll(keepingCapacity: true)
    }
}
