import ConsentCore

extension Ledger {
    /// Answers one consent question for many subjects at once (the send gate: "may this sender text
    /// these numbers from this port for this purpose?"), without proofs. One answer per subject, in
    /// order, each exactly what ``answer(_:)`` gives for it; the state map and the key links are read
    /// for all subjects together, level by level, instead of once per subject.
    ///
    /// Without `at`, or for a time after the log's latest commit, the answers are as of the latest
    /// commit (the current state: every event is followed by its batch's commit entry).
    public func answers(subjects: [PhoneNumber], sender: String, port: String?, purpose: String?, at: Milliseconds? = nil)
        async throws -> [ConsentAnswer]
    {
        if !isWriter { try await refresh() }
        guard let latest = lastCommit?.header.recordedAt else {
            let time = at ?? now
            return subjects.map { _ in ConsentAnswer(decision: .neverAsked, deciding: nil, at: time) }
        }
        let time = min(at ?? latest, latest)
        // A consistent view of the end of the log, taken without suspending.
        let size = self.size
        let rootID = mapRootID
        var keys: [Hash] = []
        var perSubject = 0
        for subject in subjects {
            let question = ConsentQuestion(subject: subject, sender: sender, port: port, purpose: purpose, at: time)
            let stateKeys = question.stateKeys(subjectKey: subjectKey(of: subject).key, hasher: hasher)
            perSubject = stateKeys.count
            keys += stateKeys
        }
        let events = try await keyEvents(keys, at: time, size: size, rootID: rootID)
        return subjects.indices.map { i in
            let (decision, deciding) = ConsentDecision.decide(events[i * perSubject..<(i + 1) * perSubject].map(\.deciding))
            return ConsentAnswer(decision: decision, deciding: deciding, at: time)
        }
    }
}
