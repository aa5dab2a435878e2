/// Appends the big-endian, length-prefixed fields of the log's binary encodings.
struct ByteWriter {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 256) { bytes.reserveCapacity(capacity) }

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u16(_ v: UInt16) { bytes.append(UInt8(v >> 8)); bytes.append(UInt8(v & 0xff)) }
    mutating func u32(_ v: UInt32) { for shift in [24, 16, 8, 0] { bytes.append(UInt8(v >> UInt32(shift) & 0xff)) } }
    mutating func i64(_ v: Int64) {
        let u = UInt64(bitPattern: v)
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(u >> UInt64(shift) & 0xff)) }
    }
    mutating func hash(_ h: Hash) { h.withUnsafeBytes { bytes.append(contentsOf: $0) } }
    mutating func optionalHash(_ h: Hash?) {
        if let h { u8(1); hash(h) } else { u8(0) }
    }
    mutating func raw(_ b: [UInt8]) { bytes.append(contentsOf: b) }
    /// A string with a one-byte length prefix (at most 255 UTF-8 bytes; callers validate first).
    mutating func shortString(_ s: String) {
        let utf8 = Array(s.utf8)
        precondition(utf8.count <= 255, "short string over 255 bytes")
        u8(UInt8(utf8.count))
        raw(utf8)
    }
    /// A string with a two-byte length prefix (at most 65,535 UTF-8 bytes).
    mutating func longString(_ s: String) {
        let utf8 = Array(s.utf8)
        precondition(utf8.count <= 65_535, "long string over 65535 bytes")
        u16(UInt16(utf8.count))
        raw(utf8)
    }
}

/// Reads the encodings written by ``ByteWriter``, rejecting truncation and non-canonical input.
/// It reads bytes in memory (an entry of a page holding many is read in place, with no copy and no
/// reference count), so it lives inside a `withUnsafeBytes` call: ``reading(_:_:)``.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    private(set) var offset = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    /// Runs `read` with a reader of `bytes`.
    static func reading<T>(_ bytes: [UInt8], _ read: (inout ByteReader) throws -> T) throws -> T {
        try bytes.withUnsafeBytes { raw in
            var r = ByteReader(raw)
            return try read(&r)
        }
    }

    var count: Int { bytes.count }
    var isAtEnd: Bool { offset == bytes.count }

    /// The bytes in `range`.
    subscript(range: Range<Int>) -> UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: bytes[range]) }

    mutating func take(_ n: Int) throws -> UnsafeRawBufferPointer {
        try need(n)
        defer { offset += n }
        return self[offset..<offset + n]
    }
    /// Throws unless `n` more bytes follow.
    @inline(__always) func need(_ n: Int) throws {
        guard n >= 0, bytes.count - offset >= n else { throw EntryError("truncated at byte \(offset)") }
    }
    mutating func u8() throws -> UInt8 {
        try need(1)
        defer { offset += 1 }
        return bytes[offset]
    }
    mutating func u16() throws -> UInt16 {
        try need(2)
        defer { offset += 2 }
        return UInt16(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }
    mutating func u32() throws -> UInt32 {
        try need(4)
        defer { offset += 4 }
        return UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
    mutating func i64() throws -> Int64 {
        try need(8)
        defer { offset += 8 }
        return Int64(bitPattern: UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)))
    }
    mutating func hash() throws -> Hash {
        let raw = try take(32)
        return Hash { $0.copyMemory(from: raw) }
    }
    /// Skips `n` bytes.
    mutating func skip(_ n: Int) throws {
        try need(n)
        offset += n
    }
    mutating func optionalHash() throws -> Hash? {
        switch try u8() {
        case 0: return nil
        case 1: return try hash()
        case let flag: throw EntryError("invalid presence flag \(flag) at byte \(offset - 1)")
        }
    }
    /// The next `length` bytes' range, checked to be valid UTF-8, without building a string.
    mutating func utf8Range(length: Int) throws -> Range<Int> {
        try need(length)
        let range = offset..<offset + length
        offset += length
        let utf8 = UnsafeBufferPointer(rebasing: bytes.assumingMemoryBound(to: UInt8.self)[range])
        // ASCII is valid UTF-8: skip the generic validator.
        guard utf8.allSatisfy({ $0 < 0x80 }) || String(validating: utf8, as: UTF8.self) != nil else {
            throw EntryError("invalid UTF-8 at byte \(range.lowerBound)")
        }
        return range
    }
    mutating func string(length: Int) throws -> String {
        String(decoding: self[try utf8Range(length: length)], as: UTF8.self)
    }
    mutating func shortString() throws -> String { try string(length: Int(try u8())) }
    mutating func longString() throws -> String { try string(length: Int(try u16())) }
    func finish() throws {
        guard isAtEnd else { throw EntryError("\(bytes.count - offset) trailing bytes") }
    }
}

/// A malformed entry encoding.
public struct EntryError: Error, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
