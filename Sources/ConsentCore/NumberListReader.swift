/// Splits a streamed list of numbers (the send gate's CSV upload) into numbers, chunk by chunk: one
/// number per line, taken from the line's first field (comma-separated; a field in double quotes
/// may hold commas, `""` for a quote; spaces and tabs around it are dropped); empty lines are skipped, and so is a first line
/// whose field is `number` (a header row). Lines end with LF, CRLF or CR. A line may span chunks;
/// lines are capped at ``maximumLineBytes`` so that a stream without line breaks cannot grow
/// memory: a longer line is cut there and comes out as one (invalid) number.
public struct NumberListReader: Sendable {
    /// The longest line kept whole.
    public static let maximumLineBytes = 1024

    private var partial: [UInt8] = []
    private var lineNumber = 0
    /// True after a CR, so that the LF of a CRLF split across chunks is not a second line break.
    private var afterCR = false

    public init() {}

    /// The numbers completed by `chunk`, in order.
    public mutating func read(_ chunk: some Sequence<UInt8>) -> [String] {
        var numbers: [String] = []
        for byte in chunk {
            if byte == 0x0A, afterCR {
                afterCR = false
                continue
            }
            afterCR = byte == 0x0D
            if byte == 0x0A || byte == 0x0D {
                endLine(into: &numbers)
            } else if partial.count < Self.maximumLineBytes {
                partial.append(byte)
            }
        }
        return numbers
    }

    /// The number on a last line without a line break, if any.
    public mutating func finish() -> [String] {
        var numbers: [String] = []
        endLine(into: &numbers)
        return numbers
    }

    private mutating func endLine(into numbers: inout [String]) {
        defer {
            partial.removeAll(keepingCapacity: true)
            lineNumber += 1
        }
        var line = partial[...]
        while let first = line.first, first == 0x20 || first == 0x09 { line = line.dropFirst() }
        var field: [UInt8] = []
        if line.first == 0x22 {
            // A quoted field (RFC 4180): up to the closing quote, "" standing for one quote.
            var rest = line.dropFirst()
            while let byte = rest.popFirst() {
                if byte == 0x22 {
                    guard rest.first == 0x22 else { break }
                    rest = rest.dropFirst()
                }
                field.append(byte)
            }
        } else {
            var unquoted = line.prefix { $0 != 0x2C }
            while let last = unquoted.last, last == 0x20 || last == 0x09 { unquoted = unquoted.dropLast() }
            field = Array(unquoted)
        }
        if field.isEmpty { return }
        let text = String(decoding: field, as: UTF8.self)
        if lineNumber == 0, text.lowercased() == "number" { return }
        numbers.append(text)
    }
}
