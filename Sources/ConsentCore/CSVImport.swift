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

    /// A parsed record and the line it starts on.
    struct Record {
        var line: Int
        var fields: [String]
    }

    /// Splits RFC 4180 CSV (quoted fields may hold commas, newlines and doubled quotes; CRLF or LF).
    /// Blank lines are skipped.
    static func parse(_ text: String) throws(EventValidationError) -> [Record] {
        var records: [Record] = []
        var fields: [String] = []
        var field: [UInt8] = []
        var line = 1
        var recordLine = 1
        var quoted = false
        var fieldWasQuoted = false
        var bytes = Array(text.utf8)
        // Spreadsheet programs start UTF-8 CSV with a byte-order mark; it is not part of the first column name.
        if bytes.starts(with: [0xef, 0xbb, 0xbf]) { bytes.removeFirst(3) }
        var i = 0
        func endField() {
            fields.append(String(decoding: field, as: UTF8.self))
            field.removeAll(keepingCapacity: true)
            fieldWasQuoted = false
        }
        func endRecord() {
            endField()
            if !(fields.count == 1 && fields[0].isEmpty) { records.append(Record(line: recordLine, fields: fields)) }
            fields.removeAll(keepingCapacity: true)
        }
        while i < bytes.count {
            let c = bytes[i]
            if quoted {
                if c == UInt8(ascii: "\"") {
                    if i + 1 < bytes.count, bytes[i + 1] == UInt8(ascii: "\"") {
                        field.append(c)
                        i += 1
                    } else {
                        quoted = false
                    }
                } else {
                    if c == 0x0a { line += 1 }
                    field.append(c)
                }
            } else if c == UInt8(ascii: "\"") {
                guard field.isEmpty, !fieldWasQuoted else {
                    throw EventValidationError(field: "line \(line)", "a quote inside an unquoted field")
                }
                quoted = true
                fieldWasQuoted = true
            } else if c == UInt8(ascii: ",") {
                endField()
            } else if c == 0x0a || c == 0x0d {
                if c == 0x0d, i + 1 < bytes.count, bytes[i + 1] == 0x0a { i += 1 }
                endRecord()
                line += 1
                recordLine = line
            } else {
                guard !fieldWasQuoted else { throw EventValidationError(field: "line \(line)", "text after a closing quote") }
                field.append(c)
            }
            i += 1
        }
        guard !quoted else { throw EventValidationError(field: "line \(recordLine)", "unterminated quoted field") }
        if !field.isEmpty || !fields.isEmpty || fieldWasQuoted { endRecord() }
        return records
    }
}
