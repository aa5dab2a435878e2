/// A self-contained proof of the answer to a consent question (docs/PROOFS.md), checkable offline
/// with nothing but the log's verifier key.
public struct ProofBundle: Codable, Sendable, Equatable {
    /// The format identifier this code writes and reads.
    public static let formatV1 = "consent-ledger/proof-bundle/v1"

    /// The question as proved.
    public struct Question: Codable, Sendable, Equatable {
        /// The E.164 number.
        public var subject: String
        public var sender: String
        public var port: String?
        public var purpose: String?
        /// The time the answer is proved for (RFC 3339).
        public var at: String
        /// The time the requester asked about, when the log could only prove an earlier one (its latest commit).
        public var requestedAt: String?

        public init(subject: String, sender: String, port: String?, purpose: String?, at: String, requestedAt: String? = nil) {
            self.subject = subject
            self.sender = sender
            self.port = port
            self.purpose = purpose
            self.at = at
            self.requestedAt = requestedAt
        }
    }

    /// An entry the proof relies on, with its inclusion proof in the checkpoint's tree.
    public struct Entry: Codable, Sendable, Equatable {
        public var index: Int64
        /// The encoded header, base64.
        public var header: String
        /// The RFC 9162 audit path to the checkpoint's root, hex.
        public var inclusion: [Hash]
        /// The encoded body, base64, when disclosed.
        public var body: String?
        /// When the body was purged under the log's retention policy: the purge entry (also in the
        /// bundle) that names this entry. The header and every proof are unchanged by a purge.
        public var bodyPurgedBy: Int64?

        public init(index: Int64, header: String, inclusion: [Hash], body: String? = nil, bodyPurgedBy: Int64? = nil) {
            self.index = index
            self.header = header
            self.inclusion = inclusion
            self.body = body
            self.bodyPurgedBy = bodyPurgedBy
        }
    }

    /// A state-map proof as JSON.
    public struct MapProofJSON: Codable, Sendable, Equatable {
        public struct Leaf: Codable, Sendable, Equatable {
            public var key: Hash
            public var index: Int64
            public var action: String
            public var leafHash: Hash
        }
        /// Sibling hashes from the root's children down, hex (all zeros for an empty sibling).
        public var siblings: [Hash]
        /// The leaf the path ends in, or nil when it ends in an empty subtree.
        public var leaf: Leaf?

        public init(_ proof: MapProof) {
            siblings = proof.siblings
            if case .leaf(let key, let value) = proof.terminal {
                leaf = Leaf(key: key, index: value.index, action: value.action.name, leafHash: value.leafHash)
            }
        }

        /// The proof, or nil when the JSON names an unknown action.
        public var proof: MapProof? {
            guard let leaf else { return MapProof(siblings: siblings, terminal: .empty) }
            guard let action = ConsentAction(name: leaf.action) else { return nil }
            return MapProof(
                siblings: siblings, terminal: .leaf(key: leaf.key, value: MapValue(index: leaf.index, action: action, leafHash: leaf.leafHash)))
        }
    }

    /// How one covering key's state at T is proved.
    public struct KeyProof: Codable, Sendable, Equatable {
        /// The covering scope, as text (`global`, `sender`, `port=P`, `purpose=X`, `port=P,purpose=X`).
        public var scope: String
        /// The latest event of this key recorded at or before T, if any (an index into `entries`).
        public var deciding: Int64?
        /// The key's next event, recorded after T, whose link names `deciding` (or none, for the key's first event).
        public var successor: Int64?
        /// When the key has no event after T: its state-map proof under the state commit's root.
        public var map: MapProofJSON?

        public init(scope: String, deciding: Int64?, successor: Int64?, map: MapProofJSON?) {
            self.scope = scope
            self.deciding = deciding
            self.successor = successor
            self.map = map
        }
    }

    public var format: String
    public var question: Question
    /// HMAC of the number under the log's secret: opens the subject key H(… ‖ pepper ‖ number).
    public var subjectPepper: Hash
    /// The signed checkpoint every inclusion proof leads to.
    public var checkpoint: String
    /// The commit entry (the checkpoint's last entry) whose state root the map proofs use.
    public var stateCommit: Int64?
    public var entries: [Entry]
    /// One per covering scope, in the order of ``ConsentQuestion/coveringScopes``.
    public var keys: [KeyProof]
    /// The claimed answer; a verifier recomputes it.
    public var decision: ConsentDecision
    /// The claimed deciding event.
    public var deciding: Int64?

    public init(
        question: Question, subjectPepper: Hash, checkpoint: String, stateCommit: Int64?, entries: [Entry], keys: [KeyProof],
        decision: ConsentDecision, deciding: Int64?
    ) {
        self.format = ProofBundle.formatV1
        self.question = question
        self.subjectPepper = subjectPepper
        self.checkpoint = checkpoint
        self.stateCommit = stateCommit
        self.entries = entries
        self.keys = keys
        self.decision = decision
        self.deciding = deciding
    }
}
