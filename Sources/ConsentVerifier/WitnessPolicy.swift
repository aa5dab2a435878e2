import ConsentCore
import ConsentCrypto

/// A witness policy: a checkpoint is trusted only when at least `threshold` of the listed witnesses
/// cosigned it (C2SP `tlog-cosignature` v1 lines on the checkpoint note). Lines by keys not in the
/// policy are ignored; a line that claims a listed key but does not verify fails the check, as a
/// forged cosignature is evidence of tampering, not of a missing witness.
public struct WitnessPolicy: Sendable, Equatable {
    /// The witnesses, each counted once however many lines it has.
    public let witnesses: [CosignatureVerifier]
    /// How many of them must have cosigned.
    public let threshold: Int

    /// A k-of-n policy; refuses an empty list, duplicate keys and a threshold outside 1...n.
    public init(witnesses: [CosignatureVerifier], threshold: Int) throws {
        guard !witnesses.isEmpty else { throw VerificationFailure("a witness policy needs at least one witness key") }
        guard Set(witnesses.map(\.encoded)).count == witnesses.count else {
            throw VerificationFailure("a witness key is listed twice in the policy")
        }
        guard Set(witnesses.map { "\($0.name)+\($0.keyID)" }).count == witnesses.count else {
            throw VerificationFailure("two witness keys share a name and key ID")
        }
        guard (1...witnesses.count).contains(threshold) else {
            throw VerificationFailure("witness threshold \(threshold) must be between 1 and \(witnesses.count)")
        }
        self.witnesses = witnesses
        self.threshold = threshold
    }

    /// A policy from verifier key strings (`name+keyid+base64(0x04 ‖ key)`).
    public init(verifierKeys: [String], threshold: Int) throws {
        let keys = try verifierKeys.map { key in
            do { return try CosignatureVerifier(parsing: key) } catch { throw VerificationFailure("witness key: \(error)") }
        }
        try self.init(witnesses: keys, threshold: threshold)
    }

    /// One witness that cosigned, with the time it says it did.
    public struct Cosigned: Sendable, Equatable {
        public var witness: String
        public var timestamp: UInt64
    }

    /// Checks the policy over a checkpoint note (whose log signature the caller verifies) and
    /// returns the witnesses that cosigned it; throws when fewer than `threshold` did, or when a
    /// line that claims a listed witness is forged or malformed.
    @discardableResult
    public func check(_ noteText: String) throws -> [Cosigned] {
        let note: SignedNote
        do { note = try SignedNote(parsing: noteText) } catch { throw VerificationFailure("checkpoint note: \(error)") }
        var cosigned: [Cosigned] = []
        for witness in witnesses {
            let time: UInt64?
            do { time = try witness.cosignature(on: note) } catch { throw VerificationFailure("witness policy: \(error)") }
            if let time { cosigned.append(Cosigned(witness: witness.name, timestamp: time)) }
        }
        guard cosigned.count >= threshold else {
            let names = cosigned.isEmpty ? "none" : cosigned.map(\.witness).joined(separator: ", ")
            throw VerificationFailure(
                "witness policy: \(cosigned.count) of the \(witnesses.count) witnesses cosigned the checkpoint (\(names)), \(threshold) required")
        }
        return cosigned
    }
}

extension LogVerifier {
    /// Verifies the checkpoint's log signature and the witness policy over it; returns its body.
    public func checkpoint(_ note: String, policy: WitnessPolicy) throws -> Checkpoint {
        let checkpoint = try self.checkpoint(note)
        try policy.check(note)
        return checkpoint
    }
}
