/// An RFC 9162 inclusion proof as the CLI prints it:
/// `{"index":I,"size":N,"leafHash":"<hex>","proof":["<hex>",...],"root":"<hex>"}`.
public struct InclusionProof: Codable, Sendable, Equatable {
    public var index: Int64
    public var size: Int64
    public var leafHash: Hash
    public var proof: [Hash]
    public var root: Hash

    public init(index: Int64, size: Int64, leafHash: Hash, proof: [Hash], root: Hash) {
        self.index = index
        self.size = size
        self.leafHash = leafHash
        self.proof = proof
        self.root = root
    }
}

/// An RFC 9162 consistency proof as the CLI prints it:
/// `{"old":M,"new":N,"oldRoot":"<hex>","newRoot":"<hex>","proof":["<hex>",...]}`.
public struct ConsistencyProof: Codable, Sendable, Equatable {
    public var oldSize: Int64
    public var newSize: Int64
    public var oldRoot: Hash
    public var newRoot: Hash
    public var proof: [Hash]

    enum CodingKeys: String, CodingKey {
        case oldSize = "old", newSize = "new", oldRoot, newRoot, proof
    }

    public init(oldSize: Int64, newSize: Int64, oldRoot: Hash, newRoot: Hash, proof: [Hash]) {
        self.oldSize = oldSize
        self.newSize = newSize
        self.oldRoot = oldRoot
        self.newRoot = newRoot
        self.proof = proof
    }
}

/// Hashes travel in JSON as 64 lower-case hex digits.
extension Hash: Codable {
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let h = Hash(hex: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a 64-digit hex hash"))
        }
        self = h
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(hex)
    }
}
