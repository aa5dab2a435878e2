/// C2SP `tlog-cosignature` v1 (Ed25519, signature type 0x04): the message a witness signs and the
/// layout of its signature. Pure: the crypto module signs, verifies and computes key IDs.
///
/// A cosignature is a signed-note signature line `— <witness name> base64(key ID ‖ timestamp ‖ sig)`
/// appended to the log's checkpoint, where `timestamp` is a big-endian u64 of POSIX seconds and `sig`
/// an Ed25519 signature over ``Cosignature/message(checkpointText:timestamp:)``.
public enum Cosignature {
    /// The signature type byte of Ed25519 cosigner keys (key IDs and verifier keys).
    public static let signatureType: UInt8 = 0x04
    /// The header line that separates cosignatures from every other signed message.
    public static let header = "cosignature/v1\n"
    /// The largest timestamp the format allows (2^63 - 1).
    public static let maximumTimestamp = UInt64(Int64.max)

    /// The signed message: `cosignature/v1\n`, `time <seconds>\n`, then the checkpoint's whole note
    /// body (its text, with the final newline, without signature lines).
    public static func message(checkpointText: String, timestamp: UInt64) -> [UInt8] {
        Array((header + "time \(timestamp)\n" + checkpointText).utf8)
    }

    /// The bytes after the key ID in a cosignature line: the timestamp and the Ed25519 signature.
    public struct TimestampedSignature: Equatable, Sendable {
        /// POSIX seconds when the witness cosigned.
        public var timestamp: UInt64
        /// The 64-byte Ed25519 signature.
        public var signature: [UInt8]

        public init(timestamp: UInt64, signature: [UInt8]) {
            self.timestamp = timestamp
            self.signature = signature
        }

        /// Splits a note signature's bytes (after the key ID): exactly 8 + 64 bytes, a timestamp
        /// at most 2^63 - 1.
        public init(parsing bytes: [UInt8]) throws {
            guard bytes.count == 8 + 64 else { throw NoteError("a cosignature is 72 bytes after the key ID, not \(bytes.count)") }
            let timestamp = bytes[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            guard timestamp <= Cosignature.maximumTimestamp else { throw NoteError("cosignature timestamp exceeds 2^63 - 1") }
            self.init(timestamp: timestamp, signature: Array(bytes[8...]))
        }

        /// The bytes as they follow the key ID in the signature line.
        public var bytes: [UInt8] {
            (0..<8).map { UInt8(truncatingIfNeeded: timestamp >> (56 - 8 * $0)) } + signature
        }
    }
}

/// The body of a C2SP `tlog-witness` `add-checkpoint` request:
///
///     old <size>\n
///     <base64 hash>\n      (zero to 63 consistency proof lines)
///     \n
///     <signed checkpoint note>
///
/// The parser is strict: a canonical decimal old size, canonical base64 of 32-byte hashes, no
/// proof when the old size is zero, and a well-formed signed note.
public struct AddCheckpointRequest: Equatable, Sendable {
    /// The tree size of the witness's latest cosigned checkpoint, as the client believes it.
    public var oldSize: Int64
    /// The RFC 6962 / 9162 consistency proof from `oldSize` to the checkpoint's size.
    public var proof: [Hash]
    /// The signed checkpoint note, exactly as sent (it may carry several signatures).
    public var checkpointNote: String

    /// The most consistency proof lines a client may send.
    public static let maximumProofLines = 63
    /// The largest request body accepted.
    public static let maximumSize = 64 << 10

    public init(oldSize: Int64, proof: [Hash], checkpointNote: String) {
        self.oldSize = oldSize
        self.proof = proof
        self.checkpointNote = checkpointNote
    }

    /// The request body.
    public var serialized: String {
        "old \(oldSize)\n" + proof.map { $0.base64 + "\n" }.joined() + "\n" + checkpointNote
    }

    /// Parses a request body; throws a ``NoteError`` naming what is malformed.
    public init(parsing body: String) throws {
        let bytes = Array(body.utf8)
        guard bytes.count <= AddCheckpointRequest.maximumSize else {
            throw NoteError("request body is larger than \(AddCheckpointRequest.maximumSize) bytes")
        }
        // The first blank line ends the proof; everything after it is the note.
        guard let blank = (0..<max(0, bytes.count - 1)).first(where: { bytes[$0] == 0x0a && bytes[$0 + 1] == 0x0a }) else {
            throw NoteError("request has no blank line before the checkpoint")
        }
        let head = String(decoding: bytes[...blank], as: UTF8.self)
        let note = String(decoding: bytes[(blank + 2)...], as: UTF8.self)
        var lines = head.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        lines.removeLast()  // after the final newline
        guard let first = lines.first, first.hasPrefix("old ") else { throw NoteError("request does not start with an old size line") }
        let digits = String(first.dropFirst(4))
        guard let old = Int64(digits), old >= 0, String(old) == digits else {
            throw NoteError("old size \"\(digits.prefix(40))\" is not a canonical decimal number")
        }
        let proofLines = lines.dropFirst()
        guard proofLines.count <= AddCheckpointRequest.maximumProofLines else {
            throw NoteError("more than \(AddCheckpointRequest.maximumProofLines) consistency proof lines")
        }
        var proof: [Hash] = []
        for line in proofLines {
            guard let hash = Hash(base64: line), hash.base64 == line else {
                throw NoteError("consistency proof line is not base64 of a 32-byte hash")
            }
            proof.append(hash)
        }
        guard old > 0 || proof.isEmpty else { throw NoteError("the consistency proof must be empty when the old size is 0") }
        _ = try SignedNote(parsing: note)
        self.init(oldSize: old, proof: proof, checkpointNote: note)
    }
}
