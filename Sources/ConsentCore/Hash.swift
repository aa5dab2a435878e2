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
        if let value = bytes.withContiguousStorageIfAvailable({ buffer in Hash { $0.copyMemory(from: UnsafeRawBufferPointer(buffer)) } }) {
            self = value
            return
        }
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

    /// What `Dictionary` and `Set` call: a keyed universal hash instead of SipHash over 32 bytes,
    /// which dominated the audit's sequential phase (one to several table operations per entry).
    /// Vector multiply-shift (Dietzfelbinger) over the eight 32-bit halves with per-process random
    /// multipliers, so inputs chosen to collide (a forged log's idempotency key hashes, a client's
    /// template hash) collide no more often than random ones; then a 64-bit finaliser that mixes in
    /// the table's per-instance `seed`, so that tables of different sizes do not order keys alike.
    /// (`hash(into:)` above still feeds the whole value to `Hasher` for composite keys.)
    @inlinable public func _rawHashValue(seed: Int) -> Int {
        let k = HashTableKeys.shared
        var h = k.8 ^ UInt64(UInt(bitPattern: seed))
        h &+= k.0 &* (words.0 & 0xffff_ffff) &+ k.1 &* (words.0 >> 32)
        h &+= k.2 &* (words.1 & 0xffff_ffff) &+ k.3 &* (words.1 >> 32)
        h &+= k.4 &* (words.2 & 0xffff_ffff) &+ k.5 &* (words.2 >> 32)
        h &+= k.6 &* (words.3 & 0xffff_ffff) &+ k.7 &* (words.3 >> 32)
        h ^= h >> 33
        h &*= 0xff51_afd7_ed55_8ccd
        h ^= h >> 33
        h &*= 0xc4ce_b9fe_1a85_ec53
        h ^= h >> 33
        return Int(truncatingIfNeeded: h)
    }

    /// Byte-wise lexicographic order.
    public static func < (lhs: Hash, rhs: Hash) -> Bool {
        // A word read from memory compares like its eight bytes once in big-endian order.
        let l = (lhs.words.0.bigEndian, lhs.words.1.bigEndian, lhs.words.2.bigEndian, lhs.words.3.bigEndian)
        let r = (rhs.words.0.bigEndian, rhs.words.1.bigEndian, rhs.words.2.bigEndian, rhs.words.3.bigEndian)
        if l.0 != r.0 { return l.0 < r.0 }
        if l.1 != r.1 { return l.1 < r.1 }
        if l.2 != r.2 { return l.2 < r.2 }
        return l.3 < r.3
    }
}

/// The random multipliers of ``Hash/_rawHashValue(seed:)``, drawn once per process from `Hasher`
/// (so `SWIFT_DETERMINISTIC_HASHING` makes them deterministic too).
@usableFromInline enum HashTableKeys {
    @usableFromInline static let shared: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = {
        func draw(_ i: Int) -> UInt64 {
            var hasher = Hasher()
            hasher.combine(0x636f_6e73_656e_7448 as UInt64)
            hasher.combine(i)
            return UInt64(UInt(bitPattern: hasher.finalize()))
        }
        return (draw(0), draw(1), draw(2), draw(3), draw(4), draw(5), draw(6), draw(7), draw(8))
    }()
}

extension Hash: CustomStringConvertible {
    public var description: String { hex }
}
