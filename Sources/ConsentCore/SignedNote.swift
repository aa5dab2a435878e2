/// A C2SP `signed-note`: a text ending in a newline, a blank line, and one or more signature lines
/// `— <key name> base64(key ID ‖ signature)`. This type only parses and serialises; the crypto
/// module signs and verifies.
public struct SignedNote: Equatable, Sendable {
    /// One signature line.
    public struct Signature: Equatable, Sendable {
        /// The key name: non-empty, no Unicode spaces, no `+`.
        public var keyName: String
        /// The 32-bit key ID (first four bytes of the decoded signature, big-endian).
        public var keyID: UInt32
        /// The signature bytes after the key ID.
        public var signature: [UInt8]

        public init(keyName: String, keyID: UInt32, signature: [UInt8]) {
            self.keyName = keyName
            self.keyID = keyID
            self.signature = signature
        }

        /// The line as it appears in a note, with its trailing newline.
        public var line: String {
            let id: [UInt8] = [UInt8(keyID >> 24), UInt8(keyID >> 16 & 0xff), UInt8(keyID >> 8 & 0xff), UInt8(keyID & 0xff)]
            return "\u{2014} \(keyName) \(Base64.encode(id + signature))\n"
        }
    }

    /// The signed text, including its final newline.
    public var text: String
    /// The signatures, in order.
    public var signatures: [Signature]

    /// The most bytes a note may have; larger input is rejected before parsing.
    public static let maximumSize = 1 << 20
    /// The most signatures a note may carry (C2SP asks verifiers to accept at least 16).
    public static let maximumSignatures = 100

    public init(text: String, signatures: [Signature]) {
        self.text = text
        self.signatures = signatures
    }

    /// The note as text: the signed text, a blank line, the signature lines.
    public var serialized: String {
        text + "\n" + signatures.map(\.line).joined()
    }

    /// Parses a signed note, rejecting anything the C2SP format does not allow.
    public init(parsing note: String) throws {
        let bytes = Array(note.utf8)
        guard bytes.count <= SignedNote.maximumSize else { throw NoteError("note is larger than \(SignedNote.maximumSize) bytes") }
        for b in bytes where b < 0x20 && b != 0x0a { throw NoteError("note contains a control character") }
        guard bytes.last == 0x0a else { throw NoteError("note does not end in a newline") }
        // The text is separated from the signatures by the last blank line.
        guard let split = SignedNote.lastBlankLine(bytes) else { throw NoteError("note has no blank line before its signatures") }
        let text = String(decoding: bytes[..<split], as: UTF8.self)
        let signatureBlock = String(decoding: bytes[(split + 1)...], as: UTF8.self)
        var lines = signatureBlock.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.last == "" else { throw NoteError("malformed signature block") }
        lines.removeLast()
        guard !lines.isEmpty else { throw NoteError("note has no signatures") }
        guard lines.count <= SignedNote.maximumSignatures else { throw NoteError("note has too many signatures") }
        var signatures: [Signature] = []
        for line in lines {
            guard line.hasPrefix("\u{2014} ") else { throw NoteError("signature line does not start with an em dash and a space") }
            let rest = line.dropFirst(2)
            let parts = rest.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2, SignedNote.isValidKeyName(String(parts[0])) else {
                throw NoteError("malformed signature line")
            }
            guard let decoded = Base64.decode(String(parts[1])), decoded.count > 4 else {
                throw NoteError("signature is not valid base64 of a key ID and a signature")
            }
            let id = decoded[0..<4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            signatures.append(Signature(keyName: String(parts[0]), keyID: id, signature: Array(decoded[4...])))
        }
        self.init(text: text, signatures: signatures)
    }

    /// True for a valid key name: non-empty, no Unicode white space, no `+`.
    public static func isValidKeyName(_ name: String) -> Bool {
        !name.isEmpty && !name.unicodeScalars.contains { $0 == "+" || $0.properties.isWhitespace }
    }

    /// The byte offset just past the text (which includes its final newline) when the note is
    /// `text` + "\n" + signatures; nil when there is no blank line.
    private static func lastBlankLine(_ bytes: [UInt8]) -> Int? {
        var i = bytes.count - 2
        while i >= 0 {
            if bytes[i] == 0x0a && bytes[i + 1] == 0x0a { return i + 1 }
            i -= 1
        }
        return nil
    }
}

/// A malformed note or checkpoint.
public struct NoteError: Error, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The body of a C2SP `tlog-checkpoint`: origin, tree size, root hash, optional extension lines.
public struct Checkpoint: Equatable, Sendable {
    /// The log's unique name, e.g. `example.com/consent/2026`.
    public var origin: String
    /// The number of entries in the tree.
    public var size: Int64
    /// The RFC 9162 root hash of the tree.
    public var rootHash: Hash
    /// Further lines (each non-empty), opaque to checkpoint parsers.
    public var extensions: [String]

    public init(origin: String, size: Int64, rootHash: Hash, extensions: [String] = []) {
        self.origin = origin
        self.size = size
        self.rootHash = rootHash
        self.extensions = extensions
    }

    /// The checkpoint body: the text a signed note signs.
    public var text: String {
        "\(origin)\n\(size)\n\(rootHash.base64)\n" + extensions.map { $0 + "\n" }.joined()
    }

    /// Parses a checkpoint body (the text of a signed note).
    public init(text: String) throws {
        guard text.hasSuffix("\n") else { throw NoteError("checkpoint does not end in a newline") }
        let lines = text.dropLast().split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard lines.count >= 3 else { throw NoteError("checkpoint has fewer than three lines") }
        guard !lines[0].isEmpty else { throw NoteError("checkpoint origin is empty") }
        guard let size = Int64(lines[1]), size >= 0, String(size) == lines[1] else {
            throw NoteError("checkpoint size \"\(lines[1])\" is not a canonical decimal number")
        }
        guard let root = Hash(base64: lines[2]) else { throw NoteError("checkpoint root is not base64 of 32 bytes") }
        let extensions = Array(lines[3...])
        guard !extensions.contains(where: \.isEmpty) else { throw NoteError("checkpoint has an empty extension line") }
        self.init(origin: lines[0], size: size, rootHash: root, extensions: extensions)
    }
}
