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
        let bytes = Array(chunk)
        return bytes.withUnsafeBytes { read($0) }
    }

    /// The numbers completed by `chunk`, in order: lines inside the chunk are read in place.
    public mutating func read(_ chunk: UnsafeRawBufferPointer) -> [String] {
        var numbers: [String] = []
        var start = 0
        var i = 0
        let count = chunk.count
        if afterCR, count > 0 {
            // The LF of a CRLF that the previous chunk ended inside.
            if chunk[0] == 0x0A { start = 1; i = 1 }
            afterCR = false
        }
        while i < count {
            let byte = chunk[i]
            guard byte == 0x0A || byte == 0x0D else {
                i += 1
                continue
            }
            let line = UnsafeRawBufferPointer(rebasing: chunk[start..<i])
            if partial.isEmpty {
                endLine(line, into: &numbers)
            } else {
                keep(line)
                partial.withUnsafeBytes { endLine($0, into: &numbers) }
                partial.removeAll(keepingCapacity: true)
            }
            i += 1
            if byte == 0x0D {
                if i < count {
                    if chunk[i] == 0x0A { i += 1 }
                } else {
                    afterCR = true
                }
            }
            start = i
        }
        keep(UnsafeRawBufferPointer(rebasing: chunk[start..<count]))
        return numbers
    }

    /// The number on a last line without a line break, if any.
    public mutating func finish() -> [String] {
        var numbers: [String] = []
        if !partial.isEmpty { partial.withUnsafeBytes { endLine($0, into: &numbers) } }
        partial.removeAll()
        return numbers
    }

    /// Keeps the start of a line that goes on in the next chunk (up to the line cap).
    private mutating func keep(_ bytes: UnsafeRawBufferPointer) {
        let room = Self.maximumLineBytes - partial.count
        if room > 0 { partial.append(contentsOf: bytes.prefix(room)) }
    }

    private mutating func endLine(_ raw: UnsafeRawBufferPointer, into numbers: inout [String]) {
        defer { lineNumber += 1 }
        var line = raw.prefix(Self.maximumLineBytes)[...]
        while let first = line.first, first == 0x20 || first == 0x09 { line = line.dropFirst() }
        let text: String
        if line.first == 0x22 {
            // A quoted field (RFC 4180): up to the closing quote, "" standing for one quote.
            var field: [UInt8] = []
            var rest = line.dropFirst()
            while let byte = rest.popFirst() {
                if byte == 0x22 {
                    guard rest.first == 0x22 else { break }
                    rest = rest.dropFirst()
                }
                field.append(byte)
            }
            text = String(decoding: field, as: UTF8.self)
        } else {
            var unquoted = line.prefix { $0 != 0x2C }
            while let last = unquoted.last, last == 0x20 || last == 0x09 { unquoted = unquoted.dropLast() }
            text = String(decoding: unquoted, as: UTF8.self)
        }
        if text.isEmpty { return }
        if lineNumber == 0, text.lowercased() == "number" { return }
        numbers.append(text)
    }
}
