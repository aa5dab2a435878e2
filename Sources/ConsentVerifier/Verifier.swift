import ConsentCore
import ConsentCrypto

/// Why a verification failed: the first check that did not hold.
public struct VerificationFailure: Error, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Offline verification of checkpoints and RFC 9162 proofs, trusting nothing but a verifier key.
/// Depends only on the core and crypto modules.
public struct LogVerifier: Sendable {
    /// The log's checkpoint key (its name is the log origin).
    public let key: NoteVerifier

    public init(key: NoteVerifier) { self.key = key }

    /// Parses a verifier key string (`name+keyid+base64`).
    public init(verifierKey: String) throws {
        self.init(key: try NoteVerifier(parsing: verifierKey))
    }

    /// The log suite implied by the key's algorithm.
    public var suite: Suite { key.publicKey.algorithm == .sm2 ? .sm3SM2 : .sha256Ed25519 }

    /// Checks the checkpoint's signature and origin and returns its body.
    public func checkpoint(_ note: String) throws -> Checkpoint {
        do { return try key.openCheckpoint(note) } catch { throw VerificationFailure("checkpoint: \(error)") }
    }

    /// Checks that the proof's entry is in the tree the signed checkpoint commits to.
    /// Pass `leafData` (an encoded header) to also check that it hashes to the proof's leaf hash.
    @discardableResult
    public func verify(_ proof: InclusionProof, checkpoint note: String, leafData: [UInt8]? = nil) throws -> Checkpoint {
        let checkpoint = try self.checkpoint(note)
        let hasher = Digest(suite: suite)
        guard proof.size == checkpoint.size else {
            throw VerificationFailure("proof is for tree size \(proof.size) but the checkpoint has size \(checkpoint.size)")
        }
        guard proof.root == checkpoint.rootHash else { throw VerificationFailure("proof root is not the checkpoint's root") }
        if let leafData, hasher.leafHash(leafData) != proof.leafHash {
            throw VerificationFailure("entry does not hash to the proof's leaf hash")
        }
        do {
            try Merkle.verifyInclusion(
                index: proof.index, size: proof.size, leafHash: proof.leafHash, proof: proof.proof, root: checkpoint.rootHash,
                hasher: hasher)
        } catch {
            throw VerificationFailure("inclusion proof of index \(proof.index) in size \(proof.size): \(error)")
        }
        return checkpoint
    }

    /// Checks that the tree of `proof.oldSize` is a prefix of the tree the signed checkpoint commits to.
    /// Pass `oldCheckpoint` to also check the old root against a checkpoint saved earlier.
    @discardableResult
    public func verify(_ proof: ConsistencyProof, checkpoint note: String, oldCheckpoint: String? = nil) throws -> Checkpoint {
        let checkpoint = try self.checkpoint(note)
        guard proof.newSize == checkpoint.size, proof.newRoot == checkpoint.rootHash else {
            throw VerificationFailure("proof's new tree (size \(proof.newSize)) is not the checkpoint's (size \(checkpoint.size))")
        }
        if let oldCheckpoint {
            let old = try self.checkpoint(oldCheckpoint)
            guard old.size == proof.oldSize, old.rootHash == proof.oldRoot else {
                throw VerificationFailure("proof's old tree (size \(proof.oldSize)) is not the old checkpoint's (size \(old.size))")
            }
        }
        do {
            try Merkle.verifyConsistency(
                oldSize: proof.oldSize, newSize: proof.newSize, oldRoot: proof.oldRoot, newRoot: proof.newRoot, proof: proof.proof,
                hasher: Digest(suite: suite))
        } catch {
            throw VerificationFailure("consistency proof from size \(proof.oldSize) to \(proof.newSize): \(error)")
        }
        return checkpoint
    }
}
