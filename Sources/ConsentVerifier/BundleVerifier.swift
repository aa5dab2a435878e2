import ConsentCore
import ConsentCrypto

/// What a verified proof bundle establishes.
/// A body purged under the log's retention policy, as a bundle proves it.
public struct PurgeNotice: Sendable, Equatable {
    /// The purge entry that names the body's entry.
    public var purgeEntry: Int64
    /// When it was recorded.
    public var at: Milliseconds
}

public struct VerifiedConsent: Sendable, Equatable {
    public var decision: ConsentDecision
    /// The deciding event (nil for never-asked), with its index.
    public var deciding: DecidingEvent?
    /// The time the answer holds for.
    public var at: Milliseconds
    /// The checkpoint the proof is anchored in.
    public var checkpoint: Checkpoint
    /// Bodies that were disclosed and checked, by entry index.
    public var bodies: [Int64: ConsentBody]
    /// Entries whose bodies were purged: the purge entry and its time.
    public var purgedBodies: [Int64: PurgeNotice] = [:]
}

extension LogVerifier {
    /// Verifies a proof bundle offline and returns what it proves, or throws naming the first
    /// check that failed. Every claim is recomputed from the signed checkpoint, the entries and
    /// their inclusion proofs, the key links and the state-map proofs; the bundle's own `decision`
    /// must match the recomputed one.
    public func verify(_ bundle: ProofBundle) throws -> VerifiedConsent {
        func fail(_ text: String) -> VerificationFailure { VerificationFailure(text) }
        guard bundle.format == ProofBundle.formatV1 else { throw fail("unknown bundle format \"\(bundle.format)\"") }
        let hasher = Digest(suite: suite)
        let checkpoint = try self.checkpoint(bundle.checkpoint)

        // The question.
        let subject: PhoneNumber
        do { subject = try PhoneNumber(normalizing: bundle.question.subject) } catch {
            throw fail("question: the subject is not a valid number")
        }
        guard subject.e164 == bundle.question.subject else { throw fail("question: the subject is not in E.164 form") }
        guard let at = RFC3339.parse(bundle.question.at) else { throw fail("question: \"at\" is not an RFC 3339 time") }
        let question = ConsentQuestion(
            subject: subject, sender: bundle.question.sender, port: bundle.question.port, purpose: bundle.question.purpose, at: at)
        let subjectKey = Derivation.subjectKey(pepper: bundle.subjectPepper, e164: subject.e164, hasher: hasher)

        // Every entry: in the checkpoint's tree; disclosed bodies match their hash and the question.
        var headers: [Int64: (header: EntryHeader, leaf: Hash)] = [:]
        var bodies: [Int64: ConsentBody] = [:]
        for entry in bundle.entries {
            guard headers[entry.index] == nil else { throw fail("entry \(entry.index) appears twice") }
            guard let bytes = Base64.decode(entry.header) else { throw fail("entry \(entry.index): header is not base64") }
            let header: EntryHeader
            do { header = try EntryHeader(decoding: bytes) } catch { throw fail("entry \(entry.index): header does not decode: \(error)") }
            let leaf = hasher.leafHash(bytes)
            guard entry.index >= 0, entry.index < checkpoint.size else { throw fail("entry \(entry.index) is outside the checkpoint") }
            do {
                try Merkle.verifyInclusion(
                    index: entry.index, size: checkpoint.size, leafHash: leaf, proof: entry.inclusion, root: checkpoint.rootHash, hasher: hasher)
            } catch {
                throw fail("entry \(entry.index): not included in the checkpoint's tree")
            }
            if let encoded = entry.body {
                guard case .consent(let h) = header, let bodyBytes = Base64.decode(encoded), hasher.hash(bodyBytes) == h.bodyHash else {
                    throw fail("entry \(entry.index): body does not match the header's body hash")
                }
                let body: ConsentBody
                do { body = try ConsentBody(decoding: bodyBytes) } catch { throw fail("entry \(entry.index): body does not decode") }
                guard body.subject == subject.e164, body.pepper == bundle.subjectPepper else {
                    throw fail("entry \(entry.index): body is not the questioned subject's")
                }
                bodies[entry.index] = body
            }
            headers[entry.index] = (header, leaf)
        }
        var purged: [Int64: PurgeNotice] = [:]
        for entry in bundle.entries {
            guard let purge = entry.bodyPurgedBy else { continue }
            guard entry.body == nil, case .consent = headers[entry.index]?.header else {
                throw fail("entry \(entry.index): only a consent event without a disclosed body can be purged")
            }
            guard let found = headers[purge], case .purge(let p) = found.header, p.purged.contains(entry.index) else {
                throw fail("entry \(entry.index): purge entry \(purge) is not in the bundle or does not name it")
            }
            purged[entry.index] = PurgeNotice(purgeEntry: purge, at: p.recordedAt)
        }
        func consent(_ index: Int64, _ role: String) throws -> (ConsentHeader, Hash) {
            guard let found = headers[index] else { throw fail("\(role) entry \(index) is not in the bundle") }
            guard case .consent(let h) = found.header else { throw fail("\(role) entry \(index) is not a consent event") }
            return (h, found.leaf)
        }

        // The state commit, when any key relies on the map: the checkpoint's last entry, at or after T.
        var stateRoot: Hash?
        if let index = bundle.stateCommit {
            guard let found = headers[index], case .commit(let c) = found.header else {
                throw fail("state commit \(index) is not a commit entry in the bundle")
            }
            guard index == checkpoint.size - 1 else { throw fail("state commit \(index) is not the checkpoint's last entry (stale state root)") }
            guard at <= c.recordedAt else { throw fail("question time is after the state commit: the log cannot answer for it") }
            stateRoot = c.stateRoot
        }
        guard checkpoint.size > 0 else { throw fail("the checkpoint is of the empty log: it bounds no time") }

        // Each covering key: the latest event at or before T, bounded by a successor or the map.
        let scopes = question.coveringScopes
        guard bundle.keys.count == scopes.count else {
            throw fail("the bundle proves \(bundle.keys.count) keys; the question has \(scopes.count) covering scopes")
        }
        var latest: [DecidingEvent?] = []
        for (scope, proof) in zip(scopes, bundle.keys) {
            guard proof.scope == scope.description else { throw fail("key \"\(proof.scope)\" is not the covering scope \"\(scope)\"") }
            let stateKey = StateMap.stateKey(subjectKey: subjectKey, sender: question.sender, scope: scope, hasher: hasher)
            var deciding: (index: Int64, header: ConsentHeader, leaf: Hash)?
            if let index = proof.deciding {
                let (h, leaf) = try consent(index, "deciding")
                guard h.stateKey(hasher: hasher) == stateKey else { throw fail("deciding entry \(index) is not an event of scope \(scope)") }
                guard h.recordedAt <= at else { throw fail("deciding entry \(index) was recorded after the question time") }
                deciding = (index, h, leaf)
            }
            switch (proof.successor, proof.map) {
            case (let index?, nil):
                let (s, _) = try consent(index, "successor")
                guard s.stateKey(hasher: hasher) == stateKey else { throw fail("successor entry \(index) is not an event of scope \(scope)") }
                guard s.recordedAt > at else { throw fail("successor entry \(index) was recorded at or before the question time") }
                guard s.keyPredecessor == deciding.map({ KeyLink(index: $0.index, leafHash: $0.leaf) }) else {
                    throw fail("successor entry \(index) does not link to the deciding event of scope \(scope)")
                }
            case (nil, let json?):
                guard let root = stateRoot else { throw fail("scope \(scope) uses the state map but the bundle has no state commit") }
                guard let mapProof = json.proof else { throw fail("scope \(scope): malformed map proof") }
                let value: MapValue?
                do { value = try StateMap.verify(mapProof, key: stateKey, root: root, hasher: hasher) } catch {
                    throw fail("scope \(scope): map proof does not lead to the state root")
                }
                switch (value, deciding) {
                case (nil, nil): break
                case (let v?, let d?) where v.index == d.index && v.leafHash == d.leaf && v.action == d.header.action: break
                default: throw fail("scope \(scope): the state map's latest event is not the deciding event")
                }
            default:
                throw fail("scope \(scope) must be bounded by exactly one of a successor event or a map proof")
            }
            latest.append(deciding.map { DecidingEvent(index: $0.index, header: $0.header) })
        }
        let (decision, decidingEvent) = ConsentDecision.decide(latest)
        guard decision == bundle.decision else {
            throw fail("the bundle claims \(bundle.decision.rawValue) but its evidence proves \(decision.rawValue)")
        }
        guard decidingEvent?.index == bundle.deciding else {
            throw fail("the bundle names entry \(bundle.deciding.map(String.init) ?? "none") as deciding, its evidence entry \(decidingEvent.map { String($0.index) } ?? "none")")
        }
        var verified = VerifiedConsent(decision: decision, deciding: decidingEvent, at: at, checkpoint: checkpoint, bodies: bodies)
        verified.purgedBodies = purged
        return verified
    }
}
