import ConsentCore
import ConsentCrypto
import ConsentVerifier

/// The answer to a consent question, without a proof.
public struct ConsentAnswer: Sendable, Equatable {
    public var decision: ConsentDecision
    public var deciding: DecidingEvent?
    /// The time answered for: the question's, or the log's latest commit if that is earlier.
    public var at: Milliseconds
}

extension Ledger {
    /// The subject key of a number in this log.
    public func subjectKey(of subject: PhoneNumber) -> (pepper: Hash, key: Hash) {
        Ledger.subjectKey(e164: subject.e164, mac: pepperMAC, hasher: hasher)
    }

    /// A number's pepper (HMAC of the log's secret) and subject key, with the given contexts (one
    /// pair per thread), hashed in place.
    nonisolated static func subjectKey(e164: String, mac: HMAC, hasher: Digest) -> (pepper: Hash, key: Hash) {
        let pepper = mac.authenticate(prefix: Derivation.pepperMessagePrefix, utf8: e164)
        return (pepper, Derivation.subjectKey(pepper: pepper, e164: e164, hasher: hasher))
    }

    /// The log's latest commit time: the last moment the log has recorded (nil for the empty log).
    public var latestCommitTime: Milliseconds? { lastCommit?.header.recordedAt }

    /// Every consent event of `subject`, optionally only those of `sender` (global declines included),
    /// in log order, among the first `size` entries.
    public func history(of subject: PhoneNumber, sender: String? = nil, size: Int64? = nil) async throws -> [DecidingEvent] {
        let (_, subjectKey) = subjectKey(of: subject)
        let limit = size ?? self.size
        return try await store.entries(forSubject: subjectKey).compactMap { entry in
            guard entry.index < limit, case .consent(let h) = try EntryHeader(decoding: entry.header), h.subjectKey == subjectKey,
                sender == nil || h.sender == sender || h.scope == .global
            else { return nil }
            return DecidingEvent(index: entry.index, header: h)
        }
    }

    /// Answers a consent question (no proof) from the state map and the key links: the latest event
    /// of each covering key, then back along its links to the one recorded at or before the question's
    /// time. A question about a time after the latest commit is answered as of the latest commit.
    public func answer(_ question: ConsentQuestion) async throws -> ConsentAnswer {
        if !isWriter { try await refresh() }
        let at = min(question.at, lastCommit?.header.recordedAt ?? question.at)
        let (_, subjectKey) = subjectKey(of: question.subject)
        let keys = question.stateKeys(subjectKey: subjectKey, hasher: hasher)
        let events = try await keyEvents(keys, at: at, size: size, rootID: mapRootID)
        let (decision, deciding) = ConsentDecision.decide(events.map(\.deciding))
        return ConsentAnswer(decision: decision, deciding: deciding, at: at)
    }

    /// For each state key, among the first `size` entries (whose state map has root `rootID`): the
    /// latest event recorded at or before `at` (the deciding one) and the key's next event after it
    /// (its successor). Starts from the key's latest event in the map and follows the key links
    /// back, reading the entries of all keys one step at a time.
    func keyEvents(_ keys: [Hash], at: Milliseconds, size: Int64, rootID: MapNodeID) async throws
        -> [(deciding: DecidingEvent?, successor: DecidingEvent?)]
    {
        let latest = try await mapValues(keys, rootID: rootID)
        var result: [(deciding: DecidingEvent?, successor: DecidingEvent?)] = keys.map { _ in (nil, nil) }
        // The next entry to read for each key still walking.
        var walking: [Int: Int64] = [:]
        for (i, key) in keys.enumerated() {
            if let value = latest[key] { walking[i] = value.index }
        }
        while !walking.isEmpty {
            let read = try await store.entries(at: Array(Set(walking.values)))
            var next: [Int: Int64] = [:]
            for (i, index) in walking {
                guard let entry = read[index], index < size, case .consent(let h) = try EntryHeader(decoding: entry.header),
                    h.stateKey(hasher: hasher) == keys[i]
                else { throw LedgerError.corrupt("the state map or a key link points at entry \(index), which is not an event of that key") }
                let event = DecidingEvent(index: index, header: h)
                if h.recordedAt <= at {
                    result[i].deciding = event
                } else {
                    result[i].successor = event
                    if let link = h.keyPredecessor { next[i] = link.index }
                }
            }
            walking = next
        }
        return result
    }

    /// Builds a proof bundle for a consent question and verifies it before returning it. The bundle
    /// reads everything at one tree size (map nodes are never rewritten), so appends that commit
    /// meanwhile do not disturb it. `includeBodies` discloses the bodies (number and evidence) of the
    /// events the proof uses.
    public func proveConsent(_ question: ConsentQuestion, includeBodies: Bool) async throws -> ProofBundle {
        // A reader in another process than the writer catches up with the log first.
        if !isWriter { try await refresh() }
        guard lastCommit != nil else {
            throw LedgerError.invalidRequest("the log is empty: it bounds no time yet (record events or run `heartbeat` first)")
        }
        let bundle = try await buildBundle(question, includeBodies: includeBodies)
        do {
            _ = try LogVerifier(key: verifier).verify(bundle)
        } catch {
            throw LedgerError.corrupt("the proof built from the store does not verify: \(error)")
        }
        return bundle
    }

    private func buildBundle(_ question: ConsentQuestion, includeBodies: Bool) async throws -> ProofBundle {
        // A consistent view of the end of the log, taken without suspending.
        let size = self.size
        let note = self.checkpointNote
        let commit = lastCommit
        let at = min(question.at, commit?.header.recordedAt ?? question.at)
        let (pepper, subjectKey) = subjectKey(of: question.subject)
        let keys = question.stateKeys(subjectKey: subjectKey, hasher: hasher)
        guard let rootID = try await store.mapRoot(size: size) else { throw LedgerError.corrupt("no state-map root at size \(size)") }

        var needed: Set<Int64> = []
        var keyProofs: [ProofBundle.KeyProof] = []
        var latest: [DecidingEvent?] = []
        var mapKeys: [Int: Hash] = [:]
        let events = try await keyEvents(keys, at: at, size: size, rootID: rootID)
        for (i, ((scope, key), (deciding, successor))) in zip(zip(question.coveringScopes, keys), events).enumerated() {
            if let d = deciding { needed.insert(d.index) }
            if let s = successor { needed.insert(s.index) } else { mapKeys[i] = key }
            keyProofs.append(ProofBundle.KeyProof(scope: scope.description, deciding: deciding?.index, successor: successor?.index, map: nil))
            latest.append(deciding)
        }
        if !mapKeys.isEmpty, let commit {
            needed.insert(commit.index)
            // The map as it was at this checkpoint: nodes are never rewritten, so old roots stay readable.
            let source = try await readMapPaths(Set(mapKeys.values), rootID: rootID)
            for (i, key) in mapKeys { keyProofs[i].map = .init(try StateMap.prove(key, rootID: rootID, source: source)) }
        }
        var entries: [ProofBundle.Entry] = []
        var stored = try await store.entries(at: Array(needed))
        // A purged body is replaced by the purge entry that names it (within this checkpoint).
        var purgedBy: [Int64: Int64] = [:]
        if includeBodies {
            for (index, entry) in stored where entry.body == nil {
                if let purge = entry.purgedBy, purge < size { purgedBy[index] = purge }
            }
            let purges = Set(purgedBy.values).subtracting(needed)
            if !purges.isEmpty {
                stored.merge(try await store.entries(at: Array(purges))) { a, _ in a }
                needed.formUnion(purges)
            }
        }
        for index in needed.sorted() {
            guard let stored = stored[index] else { throw LedgerError.notFound("entry \(index)") }
            let proof = try await inclusionProof(index: index, size: size)
            var disclosed: String?
            if includeBodies, let body = stored.body, case .consent = try EntryHeader(decoding: stored.header) {
                disclosed = Base64.encode(body)
            }
            entries.append(
                ProofBundle.Entry(
                    index: index, header: Base64.encode(stored.header), inclusion: proof.proof, body: disclosed, bodyPurgedBy: purgedBy[index]))
        }
        let (decision, deciding) = ConsentDecision.decide(latest)
        return ProofBundle(
            question: .init(
                subject: question.subject.e164, sender: question.sender, port: question.port, purpose: question.purpose,
                at: RFC3339.format(at), requestedAt: at < question.at ? RFC3339.format(question.at) : nil),
            subjectPepper: pepper, checkpoint: note, stateCommit: mapKeys.isEmpty ? nil : commit?.index, entries: entries,
            keys: keyProofs, decision: decision, deciding: deciding?.index)
    }
}
