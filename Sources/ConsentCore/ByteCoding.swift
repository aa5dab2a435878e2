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
struct ByteReader {
    let bytes: [UInt8]
    private(set) var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isAtEnd: Bool { offset == bytes.count }

    mutating func take(_ count: Int) throws -> ArraySlice<UInt8> {
        try need(count)
        defer { offset += count }
        return bytes[offset..<offset + count]
    }
    /// Throws unless `count` more bytes follow. The fixed-size reads below index the array directly:
    /// decoding runs once per entry in an audit, where slices and `reduce` cost more than the hashing.
    @inline(__always) func need(_ count: Int) throws {
        guard count >= 0, bytes.count - offset >= count else { throw EntryError("truncated at byte \(offset)") }
    }
    mutating func u8() throws -> UInt8 {
        try need(1)
        defer { offset += 1 }
        return bytes[offset]
    }
    mutating func u16() throws -> UInt16 {
        try need(2)
        defer { offset += 2 }
        return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }
    mutating func u32() throws -> UInt32 {
        try need(4)
        defer { offset += 4 }
        return bytes.withUnsafeBytes { UInt32(bigEndian: $0.loadUnaligned(fromByteOffset: offset, as: UInt32.self)) }
    }
    mutating func i64() throws -> Int64 {
        try need(8)
        defer { offset += 8 }
        return bytes.withUnsafeBytes { Int64(bitPattern: UInt64(bigEndian: $0.loadUnaligned(fromByteOffset: offset, as: UInt64.self))) }
    }
    mutating func hash() throws -> Hash {
        try need(32)
        defer { offset += 32 }
        return bytes.withUnsafeBytes { raw in
            Hash { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[offset..<offset + 32])) }
        }
    }
    /// Skips `count` bytes.
    mutating func skip(_ count: Int) throws {
        try need(count)
        offset += count
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
        let valid = bytes.withUnsafeBufferPointer { buffer in
            let utf8 = UnsafeBufferPointer(rebasing: buffer[range])
            // ASCII is valid UTF-8: skip the generic validator.
            return utf8.allSatisfy { $0 < 0x80 } || String(validating: utf8, as: UTF8.self) != nil
        }
        guard valid else { throw EntryError("invalid UTF-8 at byte \(range.lowerBound)") }
        return range
    }
    mutating func string(length: Int) throws -> String {
        String(decoding: bytes[try utf8Range(length: length)], as: UTF8.self)
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
