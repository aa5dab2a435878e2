/// A streaming 32-byte hash function (SHA-256 or SM3), implemented by the crypto module.
///
/// Implementations keep a reusable digest context, so they are not thread-safe: use one per task.
public protocol HashFunction: AnyObject {
    /// Starts a new digest, discarding any unfinished one.
    func begin()
    /// Feeds bytes into the current digest.
    func update(_ bytes: UnsafeRawBufferPointer)
    /// Finishes the current digest and returns it.
    func finish() -> Hash
}

extension HashFunction {
    /// The hash of `bytes`.
    @inlinable public func hash(_ bytes: UnsafeRawBufferPointer) -> Hash {
        begin()
        update(bytes)
        return finish()
    }

    /// The hash of `bytes`.
    @inlinable public func hash(_ bytes: [UInt8]) -> Hash {
        bytes.withUnsafeBytes { hash($0) }
    }

    /// The hash of the UTF-8 bytes of `text`.
    public func hash(utf8 text: String) -> Hash {
        hash(Array(text.utf8))
    }

    /// RFC 9162 leaf hash: H(0x00 || data).
    @inlinable public func leafHash(_ data: UnsafeRawBufferPointer) -> Hash {
        begin()
        withUnsafeBytes(of: UInt8(0)) { update($0) }
        update(data)
        return finish()
    }

    /// RFC 9162 leaf hash: H(0x00 || data).
    @inlinable public func leafHash(_ data: [UInt8]) -> Hash {
        data.withUnsafeBytes { leafHash($0) }
    }

    /// RFC 9162 interior node hash: H(0x01 || left || right).
    @inlinable public func nodeHash(_ left: Hash, _ right: Hash) -> Hash {
        withUnsafeTemporaryAllocation(byteCount: 65, alignment: 8) { buffer in
            buffer[0] = 1
            left.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: buffer[1..<33]).copyMemory(from: $0) }
            right.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: buffer[33..<65]).copyMemory(from: $0) }
            return hash(UnsafeRawBufferPointer(buffer))
        }
    }
}
