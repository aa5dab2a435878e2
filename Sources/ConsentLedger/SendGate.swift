import ConsentCore
import ConsentCrypto

/// The end of a committed batch: the log's size after its commit entry and that entry's time.
/// Everything recorded at or before `time` has an index below `size`.
public struct LogPosition: Sendable, Equatable {
    public var size: Int64
    public var time: Milliseconds
}

/// The send gate's answer for one number: the decision and the entry that decides it.
public struct GateAnswer: Sendable, Equatable {
    public var decision: ConsentDecision
    /// The deciding event's index (nil for never asked).
    public var deciding: Int64?

    public init(decision: ConsentDecision, deciding: Int64?) {
        self.decision = decision
        self.deciding = deciding
    }
}

extension Ledger {
    /// The latest committed batch's end (nil for a log with no commit yet).
    public var committedPosition: LogPosition? {
        lastCommit.map { LogPosition(size: $0.index + 1, time: $0.header.recordedAt) }
    }

    /// True once ``loadGateIndex(progress:)`` has loaded the gate's table.
    public var hasGateIndex: Bool { gateIndex != nil }

    /// Loads the send gate's table of every state key's latest event from the current state map
    /// (every leaf, read level by level), so that ``gateAnswers(subjects:sender:port:purpose:at:)``
    /// answers from memory; from then on each durable commit updates it. Batches committed while it
    /// loads are applied once it is loaded. Costs about 40 bytes per state key (twice that while
    /// the table grows) and a read of the whole map; writers only. Returns the number of keys.
    ///
    /// A writer whose in-memory map nothing has walked yet (just opened) gets the nodes read on
    /// the way too, checked against their parents' hashes, so that the first batches after a start
    /// read no map nodes from the store (until a batch commits meanwhile: then that part stops).
    @discardableResult
    public func loadGateIndex(progress: (@Sendable (_ nodesRead: Int) -> Void)? = nil) async throws -> Int {
        guard isWriter else { throw LedgerError.invalidRequest("the send gate's index is kept by the log's writer only") }
        if let gateIndex { return gateIndex.count }
        let rootID = mapRootID
        gateIndexBacklog = []
        do {
            var index = StateKeyIndex(capacity: 1024)
            var level: [MapNodeID] = rootID == 0 ? [] : [rootID]
            // The in-memory map's stubs for the nodes of this level, while it is being loaded too.
            var stubs: [MapNodeID: LiveStateMap.Stub]? = liveMap.rootID == rootID ? liveMap.rootStub.map { [rootID: $0] } : nil
            var read = 0
            while !level.isEmpty {
                var next: [MapNodeID] = []
                var nextStubs: [MapNodeID: LiveStateMap.Stub] = [:]
                for start in stride(from: 0, to: level.count, by: 65_536) {
                    let ids = Array(level[start..<min(start + 65_536, level.count)])
                    let nodes = try await store.mapNodes(ids)
                    var loading: [(stub: LiveStateMap.Stub, node: MapNode)] = []
                    for id in ids {
                        guard let node = nodes[id] else { throw LedgerError.corrupt("state map node \(id) is missing") }
                        switch node {
                        case .leaf(let key, let value): index.set(key, index: value.index, action: value.action)
                        case .inner(_, _, let left, let right):
                            if left != 0 { next.append(left) }
                            if right != 0 { next.append(right) }
                        }
                        if let stub = stubs?[id] { loading.append((stub, node)) }
                    }
                    // A batch committed during the read has changed the map: stop loading it.
                    if stubs != nil, mapRootID != rootID { stubs = nil }
                    if stubs != nil {
                        for stub in try liveMap.load(loading, hasher: hasher) { nextStubs[stub.id] = stub }
                    }
                    read += ids.count
                    progress?(read)
                }
                level = next
                if stubs != nil { stubs = nextStubs }
            }
            for updates in gateIndexBacklog ?? [] {
                for (key, value) in updates { index.set(key, index: value.index, action: value.action) }
            }
            gateIndex = index
            gateIndexBacklog = nil
            return index.count
        } catch {
            gateIndexBacklog = nil
            throw error
        }
    }

    /// Brings the gate's table up to a batch just committed (called by the commit path).
    func recordInGateIndex(_ updates: [Hash: MapValue]) {
        if gateIndex != nil {
            for (key, value) in updates { gateIndex!.set(key, index: value.index, action: value.action) }
        } else if gateIndexBacklog != nil {
            gateIndexBacklog!.append(updates)
        }
    }

    /// The send gate: "may `sender` text each of `subjects` from `port` for `purpose`?", answered for
    /// the log as of `position` (take ``committedPosition`` once and pass it with every chunk of a
    /// long list, so that the whole list is answered for one moment). Each answer is exactly what
    /// ``answer(_:)`` gives at `position.time`; no proofs.
    ///
    /// With the gate's table loaded this is a few hashes and one table probe per covering scope and
    /// number, on two threads for large chunks; a number whose covering keys changed after
    /// `position` is answered from the key links instead. Without the table, it is
    /// ``answers(subjects:sender:port:purpose:at:)``.
    public func gateAnswers(subjects: [PhoneNumber], sender: String, port: String?, purpose: String?, at position: LogPosition)
        async throws -> [GateAnswer]
    {
        guard let table = gateIndex else {
            return try await answers(subjects: subjects, sender: sender, port: port, purpose: purpose, at: position.time)
                .map { GateAnswer(decision: $0.decision, deciding: $0.deciding?.index) }
        }
        let scopes = ConsentQuestion.coveringScopes(port: port, purpose: purpose).map { StateMap.scopeBytes(sender: sender, scope: $0) }
        var answers = [GateAnswer](repeating: GateAnswer(decision: .neverAsked, deciding: nil), count: subjects.count)
        // Numbers whose covering keys changed after `position`: answered from the key links below.
        var changed = [Bool](repeating: false, count: subjects.count)
        answers.withUnsafeMutableBufferPointer { out in
            changed.withUnsafeMutableBufferPointer { late in
                nonisolated(unsafe) let out = out
                nonisolated(unsafe) let late = late
                withKeyContexts(count: subjects.count) { range, mac, hasher in
                    // All keys first, then all lookups in one loop (the table's cache misses overlap).
                    let k = scopes.count
                    var keys = [Hash](repeating: .zero, count: range.count * k)
                    for (j, i) in range.enumerated() {
                        let subjectKey = Ledger.subjectKey(e164: subjects[i].e164, mac: mac, hasher: hasher).key
                        for (s, scope) in scopes.enumerated() {
                            keys[j * k + s] = StateMap.stateKey(subjectKey: subjectKey, scopeBytes: scope, hasher: hasher)
                        }
                    }
                    var packed = [UInt64](repeating: 0, count: keys.count)
                    keys.withUnsafeBufferPointer { keys in packed.withUnsafeMutableBufferPointer { table.lookupPacked(keys, into: $0) } }
                    for (j, i) in range.enumerated() {
                        var best: (index: Int64, action: ConsentAction)?
                        for s in 0..<k {
                            guard let latest = StateKeyIndex.unpack(packed[j * k + s]) else { continue }
                            if latest.index >= position.size { late[i] = true }
                            if best.map({ latest.index > $0.index }) ?? true { best = latest }
                        }
                        out[i] = GateAnswer(decision: ConsentDecision(latest: best?.action), deciding: best?.index)
                    }
                }
            }
        }
        let late = changed.indices.filter { changed[$0] }
        if !late.isEmpty {
            let slow = try await self.answers(
                subjects: late.map { subjects[$0] }, sender: sender, port: port, purpose: purpose, at: position.time)
            for (i, answer) in zip(late, slow) { answers[i] = GateAnswer(decision: answer.decision, deciding: answer.deciding?.index) }
        }
        return answers
    }
}
