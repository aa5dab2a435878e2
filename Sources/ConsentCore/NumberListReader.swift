/// Splits a streamed list of numbers (the send gate's CSV upload) into numbers, chunk by chunk: one
/// number per line, taken from the line's first comma-separated field, trimmed of spaces and tabs
/// and of one pair of surrounding double quotes; empty lines are skipped, and so is a first line
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
        var field = partial[...]
        if let comma = field.firstIndex(of: 0x2C) { field = field[..<comma] }
        while let first = field.first, first == 0x20 || first == 0x09 { field = field.dropFirst() }
        while let last = field.last, last == 0x20 || last == 0x09 { field = field.dropLast() }
        if field.count >= 2, field.first == 0x22, field.last == 0x22 { field = field.dropFirst().dropLast() }
        if field.isEmpty { return }
        let text = String(decoding: field, as: UTF8.self)
        if lineNumber == 0, text.lowercased() == "number" { return }
        numbers.append(text)
    }
}
