/// A 32-byte hash value (SHA-256 or SM3), stored inline so that hashing on hot paths allocates nothing.
public struct Hash: Hashable, Sendable, Comparable {
    /// The number of bytes in a hash.
    public static let byteCount = 32
    /// The all-zero hash: the previous leaf hash of entry 0. (The empty tree's root is H of the empty string.)
    public static let zero = Hash(words: (0, 0, 0, 0))

    @usableFromInline var words: (UInt64, UInt64, UInt64, UInt64)

    @inlinable init(words: (UInt64, UInt64, UInt64, UInt64)) { self.words = words }

    /// Creates a hash from exactly 32 bytes; returns nil for any other length.
    public init?<Bytes: Collection>(bytes: Bytes) where Bytes.Element == UInt8 {
        guard bytes.count == Hash.byteCount else { return nil }
        var value = Hash.zero
        withUnsafeMutableBytes(of: &value.words) { raw in
            for (offset, byte) in bytes.enumerated() { raw[offset] = byte }
        }
        self = value
    }

    /// Creates a hash by letting `body` fill its 32 bytes in place.
    @inlinable public init(unsafeUninitializedBytes body: (UnsafeMutableRawBufferPointer) throws -> Void) rethrows {
        var value = Hash.zero
        try withUnsafeMutableBytes(of: &value.words) { try body($0) }
        self = value
    }

    /// Calls `body` with the 32 bytes of the hash.
    @inlinable public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try Swift.withUnsafeBytes(of: words) { try body($0) }
    }

    /// The 32 bytes of the hash as an array.
    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }

    /// Lower-case hexadecimal, 64 characters.
    public var hex: String { Hex.encode(bytes) }

    /// Standard base64 (RFC 4648 §4) with padding, 44 characters.
    public var base64: String { Base64.encode(bytes) }

    /// Parses 64 hexadecimal characters (either case).
    public init?(hex: String) {
        guard let bytes = Hex.decode(hex) else { return nil }
        self.init(bytes: bytes)
    }

    /// Parses canonical padded base64 of exactly 32 bytes.
    public init?(base64: String) {
        guard let bytes = Base64.decode(base64) else { return nil }
        self.init(bytes: bytes)
    }

    public static func == (lhs: Hash, rhs: Hash) -> Bool {
        lhs.words.0 == rhs.words.0 && lhs.words.1 == rhs.words.1
            && lhs.words.2 == rhs.words.2 && lhs.words.3 == rhs.words.3
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(words.0)
        hasher.combine(words.1)
        hasher.combine(words.2)
        hasher.combine(words.3)
    }

    /// Byte-wise lexicographic order.
    public static func < (lhs: Hash, rhs: Hash) -> Bool {
        lhs.withUnsafeBytes { l in rhs.withUnsafeBytes { r in l.lexicographicallyPrecedes(r) } }
    }
}

extension Hash: CustomStringConvertible {
    public var description: String { hex }
}
