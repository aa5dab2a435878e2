import ConsentCore
import ConsentCrypto
import Foundation
import Logging

/// The result of appending one event.
public struct AppendReceipt: Sendable, Equatable, Codable {
    /// The entry's index in the log.
    public var index: Int64
    /// The entry's RFC 9162 leaf hash.
    public var leafHash: Hash
    /// When the log recorded it.
    public var recordedAt: Milliseconds
    /// True when the client key was already used: nothing was appended and this is the original entry.
    public var duplicate: Bool
}

/// Map nodes read ahead of an operation; a path that is not here is empty.
struct PrefetchedMapNodes: MapNodeSource {
    let nodes: [MapNodeID: MapNode]
    /// The value of each key whose path was read and that is in the map.
    var values: [Hash: MapValue] = [:]
    func node(_ id: MapNodeID) throws -> MapNode {
        guard let node = nodes[id] else { throw LedgerError.corrupt("state map node \(id) is missing") }
        return node
    }
}

/// The wall clock in milliseconds since the epoch.
public let systemClock: @Sendable () -> Milliseconds = { Milliseconds(Date().timeIntervalSince1970 * 1000) }

/// The ledger service for one log: sequences appends with group commit, integrates the Merkle tree,
/// signs a checkpoint after every committed batch, and answers proofs.
///
/// Appends that arrive while a batch is being committed are queued and committed together in the
/// next batch, so durable throughput grows with load while each append waits for at most about
/// two commits. An append returns only after its batch is durable.
public actor Ledger {
    public nonisolated let parameters: LogParameters
    public nonisolated let store: any LedgerStore
    /// The key that verifies this log's checkpoints.
    public nonisolated let verifier: NoteVerifier

    private let signer: NoteSigner
    let pepperMAC: HMAC
    let hasher: Digest
    /// Contexts for a second thread (``deriveKeys(_:_:)``).
    private let secondMAC: HMAC
    private let secondHasher: Digest
    private let clock: @Sendable () -> Milliseconds
    private let maximumBatch: Int
    private let logger: Logger
    private let lock: DirectoryLock?

    private var frontier: MerkleFrontier
    private var lastLeafHash: Hash
    private var lastRecordedAt: Milliseconds
    private var latestCheckpoint: String
    /// The last commit entry (every batch ends with one), nil for the empty log.
    private(set) var lastCommit: (index: Int64, header: CommitHeader)?
    /// The state map's root node and the next free node identifier.
    private(set) var mapRootID: MapNodeID = 0
    private var nextMapNodeID: MapNodeID = 1
    /// The writer's in-memory copy of the current map (loaded as batches reach its nodes), so that a
    /// batch's map update reads nothing from the store once the map is loaded.
    var liveMap = LiveStateMap(rootID: 0, rootHash: StateMap.emptyRoot)
    /// The most nodes `liveMap` holds before it starts over from the stored root.
    private let liveMapLimit: Int
    /// The default bound of the writer's in-memory map: 2^25 nodes (about 2.5 GB), the whole map of
    /// some 14 million keys.
    public static let defaultLiveMapLimit = 1 << 25
    /// The send gate's table of every state key's latest event (``loadGateIndex(progress:)``), kept
    /// current after each durable commit; nil until loaded.
    var gateIndex: StateKeyIndex?
    /// While the gate index loads: the map updates of the batches committed meanwhile, in order.
    var gateIndexBacklog: [[Hash: MapValue]]?
    /// What this writer has committed since it opened the log.
    public private(set) var commitStatistics = CommitStatistics()

    private struct Pending {
        var events: [ValidatedEvent]
        var continuation: CheckedContinuation<[AppendReceipt], any Error>
    }
    private var queue: [Pending] = []
    private var flushing = false
    /// Administrative appends waiting for the batch being committed to end.
    private var administrativeWaiting = 0

    /// Creates a new log in `directory` (keys there, parameters and the empty checkpoint in `store`).
    public static func create(
        directory: DataDirectory, store: any LedgerStore, origin: String, suite: Suite, retention: RetentionPolicy = .default,
        clock: @escaping @Sendable () -> Milliseconds = systemClock
    ) async throws -> LogParameters {
        guard SignedNote.isValidKeyName(origin), origin.utf8.count <= 255 else {
            throw LedgerError.invalidRequest("origin \"\(origin)\" must be non-empty, at most 255 bytes, without spaces or '+'")
        }
        let lock = try directory.lockForWriting()
        defer { withExtendedLifetime(lock) {} }
        if try await store.parameters() != nil { throw StoreError.alreadyInitialized }
        let (key, _) = try directory.createKeys(suite: suite)
        let parameters = LogParameters(origin: origin, suite: suite, createdAt: clock(), retention: RetentionSetting(retention))
        let signer = try NoteSigner(name: origin, key: key)
        let empty = Checkpoint(origin: origin, size: 0, rootHash: Digest(suite: suite).hash([]))
        try await store.initialize(parameters, checkpointNote: try signer.sign(empty.text).serialized)
        return parameters
    }

    /// Opens the log in `directory`. With `writable`, takes the directory's writer lock.
    public static func open(
        directory: DataDirectory, store: any LedgerStore, writable: Bool = true,
        clock: @escaping @Sendable () -> Milliseconds = systemClock, maximumBatch: Int = 10_000,
        liveMapLimit: Int = Ledger.defaultLiveMapLimit, logger: Logger = Logger(label: "consent-ledger")
    ) async throws -> Ledger {
        let lock = writable ? try directory.lockForWriting() : nil
        guard let parameters = try await store.parameters() else { throw StoreError.notInitialized }
        let (key, secret) = try directory.loadKeys()
        let signer = try NoteSigner(name: parameters.origin, key: key)
        let head = try await store.head()
        let peaks = try await store.readHashes(Merkle.treeHashIndexes(size: head.size))
        let frontier = try MerkleFrontier(size: head.size, peaks: peaks)
        let hasher = Digest(suite: parameters.suite)
        // The stored checkpoint must be ours and match the tree we just read.
        let checkpoint = try signer.verifier.openCheckpoint(head.checkpointNote)
        guard checkpoint.size == head.size, checkpoint.rootHash == frontier.root(hasher: hasher) else {
            throw LedgerError.corrupt("latest checkpoint (size \(checkpoint.size)) does not match the stored tree (size \(head.size))")
        }
        var lastRecordedAt = parameters.createdAt
        var lastCommit: (index: Int64, header: CommitHeader)?
        if let bytes = head.lastHeader {
            let header = try EntryHeader(decoding: bytes)
            lastRecordedAt = header.recordedAt
            guard case .commit(let commit) = header else {
                throw LedgerError.corrupt("the last entry (\(head.size - 1)) is not a commit entry: a batch was cut short")
            }
            lastCommit = (head.size - 1, commit)
        }
        let ledger = Ledger(
            parameters: parameters, store: store, signer: signer,
            pepperMAC: try HMAC(parameters.suite == .sm3SM2 ? .sm3 : .sha256, key: secret), hasher: hasher,
            clock: clock, maximumBatch: maximumBatch, liveMapLimit: liveMapLimit, logger: logger, lock: lock, frontier: frontier,
            lastLeafHash: head.lastLeafHash, lastRecordedAt: lastRecordedAt, latestCheckpoint: head.checkpointNote,
            lastCommit: lastCommit)
        if writable { try await ledger.recoverMapNodes(head) }
        try await ledger.loadMapRoot(head)
        return ledger
    }

    private init(
        parameters: LogParameters, store: any LedgerStore, signer: NoteSigner, pepperMAC: HMAC, hasher: Digest,
        clock: @escaping @Sendable () -> Milliseconds, maximumBatch: Int, liveMapLimit: Int, logger: Logger, lock: DirectoryLock?,
        frontier: MerkleFrontier, lastLeafHash: Hash, lastRecordedAt: Milliseconds, latestCheckpoint: String,
        lastCommit: (index: Int64, header: CommitHeader)?
    ) {
        self.parameters = parameters
        self.store = store
        self.signer = signer
        self.verifier = signer.verifier
        self.pepperMAC = pepperMAC
        self.hasher = hasher
        self.secondMAC = pepperMAC.copy()
        self.secondHasher = Digest(suite: parameters.suite)
        self.clock = clock
        self.maximumBatch = maximumBatch
        self.liveMapLimit = liveMapLimit
        self.logger = logger
        self.lock = lock
        self.frontier = frontier
        self.lastLeafHash = lastLeafHash
        self.lastRecordedAt = lastRecordedAt
        self.latestCheckpoint = latestCheckpoint
        self.lastCommit = lastCommit
    }

    /// Reads the state map's root and checks it against the last commit entry.
    private func loadMapRoot(_ head: StoreHead) async throws {
        mapRootID = head.mapRootID
        nextMapNodeID = head.nextMapNodeID
        var root = StateMap.emptyRoot
        if mapRootID != 0 {
            guard let node = try await store.mapNodes([mapRootID])[mapRootID] else {
                throw LedgerError.corrupt("the state map's root node \(mapRootID) is missing")
            }
            root = node.hash(hasher)
        }
        guard root == (lastCommit?.header.stateRoot ?? StateMap.emptyRoot) else {
            throw LedgerError.corrupt("the stored state map does not match the last commit entry's state root")
        }
        liveMap = LiveStateMap(rootID: mapRootID, rootHash: root)
    }

    /// Recomputes the state-map nodes of the batches after the newest durable map root: the store
    /// may have lost them if the operating system crashed before they were synced (they are derived
    /// from the entries, so commits do not wait for them). Each batch's recomputed root must equal
    /// its commit entry's state root and the root the store committed.
    private func recoverMapNodes(_ head: StoreHead) async throws {
        let durable = try await store.durableMapRoot()
        guard durable.nextID < head.nextMapNodeID else { return }
        var rootID = durable.rootID
        var nextID = durable.nextID
        var pending: [Hash: MapValue] = [:]
        var start = durable.size
        var restored = 0
        while start < head.size {
            let page = try await store.entries(start..<min(start + 10_000, head.size))
            guard !page.isEmpty else { throw LedgerError.corrupt("entries from index \(start) are missing") }
            for entry in page {
                switch try EntryHeader(decoding: entry.header) {
                case .consent(let h):
                    pending[h.stateKey(hasher: hasher)] = MapValue(index: entry.index, action: h.action, leafHash: entry.leafHash)
                case .hold, .purge:
                    break
                case .commit(let c):
                    let source = try await readMapPaths(Set(pending.keys), rootID: rootID)
                    let map = try StateMap.update(
                        pending.map { ($0.key, $0.value) }, rootID: rootID, source: source, nextID: nextID, hasher: hasher)
                    guard map.root == c.stateRoot, try await store.mapRoot(size: entry.index + 1) == map.rootID else {
                        throw LedgerError.corrupt("the state map recomputed for the batch ending at entry \(entry.index) does not match the log")
                    }
                    try await store.restoreMapNodes(map.nodes)
                    restored += map.nodes.count
                    rootID = map.rootID
                    nextID += Int64(map.nodes.count)
                    pending = [:]
                }
            }
            start += Int64(page.count)
        }
        logger.notice("recomputed \(restored) state-map nodes for the entries after \(durable.size) (not yet synced when the process stopped)")
    }

    /// The number of entries.
    public var size: Int64 { frontier.size }

    /// True when this instance holds the directory's writer lock (it can append).
    public var isWriter: Bool { lock != nil }

    /// Reloads the end of the log from the store: for readers, while another process appends.
    func refresh() async throws {
        let head = try await store.head()
        guard head.size != frontier.size else { return }
        let peaks = try await store.readHashes(Merkle.treeHashIndexes(size: head.size))
        frontier = try MerkleFrontier(size: head.size, peaks: peaks)
        lastLeafHash = head.lastLeafHash
        latestCheckpoint = head.checkpointNote
        if let bytes = head.lastHeader, case .commit(let commit) = try EntryHeader(decoding: bytes) {
            lastCommit = (head.size - 1, commit)
            lastRecordedAt = commit.recordedAt
        }
        try await loadMapRoot(head)
    }

    /// The newest signed checkpoint note.
    public var checkpointNote: String { latestCheckpoint }

    /// The log's clock now: never earlier than the last recorded entry.
    public var now: Milliseconds { max(clock(), lastRecordedAt) }

    /// Appends events and returns once they are durably committed, one receipt per event in order.
    /// Events whose client key was used before are not appended again; their receipt names the original.
    public func append(_ events: [ValidatedEvent]) async throws -> [AppendReceipt] {
        if events.isEmpty { return [] }
        return try await withCheckedThrowingContinuation { continuation in
            queue.append(Pending(events: events, continuation: continuation))
            if !flushing {
                flushing = true
                Task { await self.drain() }
            }
        }
    }

    /// Commits queued requests in batches until the queue is empty.
    private func drain() async {
        // An administrative batch (hold, purge) waiting goes next: appends under steady load would
        // otherwise keep it out for good. Its end starts draining again.
        while !queue.isEmpty && administrativeWaiting == 0 {
            var taken: [Pending] = []
            var count = 0
            while let next = queue.first, taken.isEmpty || count + next.events.count <= maximumBatch {
                taken.append(queue.removeFirst())
                count += next.events.count
            }
            let results = await commit(taken.map(\.events))
            for (request, result) in zip(taken, results) { request.continuation.resume(with: result) }
        }
        flushing = false
    }

    /// Builds, signs and durably commits one batch from several requests, and returns one result per
    /// request. A request with a conflicting client key fails alone and writes nothing; if the commit
    /// itself fails, every request fails and nothing in memory changes.
    ///
    /// The batch is the accepted events followed by a commit entry carrying the batch's `recordedAt`
    /// and the state-map root after it. Each event links to the previous event of its state key.
    private func commit(_ requests: [[ValidatedEvent]]) async -> [Result<[AppendReceipt], any Error>] {
        let recordedAt = max(clock(), lastRecordedAt + 1)
        let salts: [UInt8]
        do { salts = try secureRandomBytes(16 * requests.reduce(0) { $0 + $1.count }) } catch { return requests.map { _ in .failure(error) } }
        // Per event: client key hash, pepper, subject key, state key, and the body with its hash.
        struct Keys {
            var idempotency: Hash?
            var pepper: Hash
            var subject: Hash
            var state: Hash
            var body: [UInt8]
            var bodyHash: Hash
        }
        let keys = deriveKeys(requests) { n, event, mac, hasher in
            let (pepper, subject) = Ledger.subjectKey(e164: event.subject.e164, mac: mac, hasher: hasher)
            let body = ConsentBody(salt: Array(salts[16 * n..<16 * n + 16]), pepper: pepper, subject: event.subject.e164, evidence: event.evidence)
                .encoded()
            return Keys(
                idempotency: event.clientKey.map { Derivation.idempotencyKeyHash(sender: event.sender, clientKey: $0, hasher: hasher) },
                pepper: pepper, subject: subject,
                state: StateMap.stateKey(subjectKey: subject, sender: event.sender, scope: event.scope, hasher: hasher),
                body: body, bodyHash: hasher.hash(body))
        }
        let existing: [Hash: StoredEntry]
        let mapValues: [Hash: MapValue]
        do {
            existing = try await store.entries(withIdempotencyKeys: keys.flatMap { $0.compactMap(\.idempotency) })
            mapValues = try await prefetchMapPaths(keys.flatMap { $0.map(\.state) })
        } catch {
            return requests.map { _ in .failure(error) }
        }

        var frontier = self.frontier
        var previous = lastLeafHash
        var entries: [NewEntry] = []
        var results: [Result<[AppendReceipt], any Error>] = []
        // Client keys first used in this batch, and the latest event per state key in this batch.
        var firstInBatch: [Hash: (event: ValidatedEvent, receipt: AppendReceipt)] = [:]
        var latestInBatch: [Hash: MapValue] = [:]
        var eventCount: UInt32 = 0
        requests: for (r, events) in requests.enumerated() {
            // Work on copies so that a conflict leaves the batch as it was before this request.
            var requestFrontier = frontier
            var requestPrevious = previous
            var requestEntries: [NewEntry] = []
            var requestFirsts: [Hash: (event: ValidatedEvent, receipt: AppendReceipt)] = [:]
            var requestLatest: [Hash: MapValue] = [:]
            var receipts: [AppendReceipt] = []
            for (i, event) in events.enumerated() {
                let k = keys[r][i]
                if let key = k.idempotency {
                    if let original = existing[key] {
                        guard let header = try? EntryHeader(decoding: original.header), case .consent(let h) = header,
                            Ledger.sameEvent(event, subjectKey: k.subject, as: h)
                        else {
                            results.append(.failure(LedgerError.conflict(
                                "client key \"\(event.clientKey!)\" of \(event.sender) was already used for a different event (index \(original.index)); nothing was written")))
                            continue requests
                        }
                        receipts.append(AppendReceipt(index: original.index, leafHash: original.leafHash, recordedAt: h.recordedAt, duplicate: true))
                        continue
                    }
                    if let first = firstInBatch[key] ?? requestFirsts[key] {
                        guard first.event == event else {
                            results.append(.failure(LedgerError.conflict(
                                "client key \"\(event.clientKey!)\" of \(event.sender) is used for two different events; nothing was written")))
                            continue requests
                        }
                        var receipt = first.receipt
                        receipt.duplicate = true
                        receipts.append(receipt)
                        continue
                    }
                }
                let predecessor = requestLatest[k.state] ?? latestInBatch[k.state] ?? mapValues[k.state]
                let header = EntryHeader.consent(
                    ConsentHeader(
                        previousLeafHash: requestPrevious, recordedAt: recordedAt, sender: event.sender, scope: event.scope,
                        subjectKey: k.subject, action: event.action, method: event.method, templateHash: event.templateHash,
                        occurredAt: event.occurredAt ?? recordedAt, bodyHash: k.bodyHash, idempotencyKeyHash: k.idempotency,
                        keyPredecessor: predecessor.map { KeyLink(index: $0.index, leafHash: $0.leafHash) })
                ).encoded()
                let leaf = hasher.leafHash(header)
                let index = requestFrontier.size
                let receipt = AppendReceipt(index: index, leafHash: leaf, recordedAt: recordedAt, duplicate: false)
                let stored = requestFrontier.append(leafHash: leaf, hasher: hasher)
                requestEntries.append(
                    NewEntry(header: header, storedHashes: stored, body: k.body, idempotencyKeyHash: k.idempotency, subjectKey: k.subject))
                if let key = k.idempotency { requestFirsts[key] = (event, receipt) }
                requestLatest[k.state] = MapValue(index: index, action: event.action, leafHash: leaf)
                receipts.append(receipt)
                requestPrevious = leaf
            }
            frontier = requestFrontier
            previous = requestPrevious
            entries += requestEntries
            eventCount += UInt32(requestEntries.count)
            firstInBatch.merge(requestFirsts) { a, _ in a }
            latestInBatch.merge(requestLatest) { _, new in new }
            results.append(.success(receipts))
        }
        if entries.isEmpty { return results }
        do {
            try await seal(
                entries: entries, frontier: frontier, previous: previous, recordedAt: recordedAt, eventCount: eventCount,
                mapUpdates: latestInBatch)
            return results
        } catch {
            logger.error("batch of \(entries.count) entries not committed: \(error)")
            return requests.map { _ in .failure(error) }
        }
    }

    /// `derive` for every event of `requests` (given its position among all of them), keeping their
    /// shape; large batches on two threads (each with its own MAC and hash contexts, which are not
    /// thread-safe).
    private func deriveKeys<K>(_ requests: [[ValidatedEvent]], _ derive: (Int, ValidatedEvent, HMAC, Digest) -> K) -> [[K]] {
        let events = requests.flatMap { $0 }
        var flat: [K?] = Array(repeating: nil, count: events.count)
        flat.withUnsafeMutableBufferPointer { out in
            nonisolated(unsafe) let out = out
            withKeyContexts(count: events.count) { range, mac, hasher in
                for i in range { out[i] = derive(i, events[i], mac, hasher) }
            }
        }
        var offset = 0
        return requests.map { request in
            defer { offset += request.count }
            return flat[offset..<offset + request.count].map { $0! }
        }
    }

    /// Runs `body` over `0..<count`: from 2,048 items on, in two halves on two threads, each with its
    /// own MAC and hash contexts (which are not thread-safe); below that on this thread. `body` must
    /// write only to its own range of any shared output.
    func withKeyContexts(count: Int, _ body: (Range<Int>, HMAC, Digest) -> Void) {
        nonisolated(unsafe) let contexts = [(pepperMAC, hasher), (secondMAC, secondHasher)]
        onTwoThreads(count: count, minimum: 2048) { part, range in body(range, contexts[part].0, contexts[part].1) }
    }

    /// Updates the state map, appends the commit entry, signs the checkpoint, commits durably and
    /// only then moves the in-memory state forward.
    private func seal(
        entries: [NewEntry], frontier: MerkleFrontier, previous: Hash, recordedAt: Milliseconds, eventCount: UInt32,
        mapUpdates: [Hash: MapValue], purgedBodies: [PurgedBody] = []
    ) async throws {
        // The store writes the events while the map is updated and the checkpoint signed (two cores).
        let started = ContinuousClock.now
        let firstIndex = self.frontier.size
        let rest = BatchCompletion()
        let store = self.store
        async let written: Void = store.commit(firstIndex: firstIndex, leading: entries, rest: rest)
        var frontier = frontier
        let map: MapUpdate
        let commitHeader: CommitHeader
        let commitLeaf: Hash
        let note: String
        do {
            map = try liveMap.update(mapUpdates.map { ($0.key, $0.value) }, nextID: nextMapNodeID, hasher: hasher)
            commitHeader = CommitHeader(previousLeafHash: previous, recordedAt: recordedAt, stateRoot: map.root, eventCount: eventCount)
            let commitBytes = EntryHeader.commit(commitHeader).encoded()
            commitLeaf = hasher.leafHash(commitBytes)
            let stored = frontier.append(leafHash: commitLeaf, hasher: hasher)
            let checkpoint = Checkpoint(origin: parameters.origin, size: frontier.size, rootHash: frontier.root(hasher: hasher))
            note = try signer.sign(checkpoint.text).serialized
            rest.succeed(
                CommitBatch(
                    firstIndex: frontier.size - 1,
                    entries: [NewEntry(header: commitBytes, storedHashes: stored, body: nil, idempotencyKeyHash: nil, subjectKey: nil)],
                    checkpointNote: note, mapNodes: map.nodes, mapRootID: map.rootID, purgedBodies: purgedBodies))
        } catch {
            rest.fail(error)
            try? await written
            restartLiveMap()
            throw error
        }
        do { try await written } catch {
            restartLiveMap()
            throw error
        }
        self.frontier = frontier
        self.lastLeafHash = commitLeaf
        self.lastRecordedAt = recordedAt
        self.latestCheckpoint = note
        self.lastCommit = (frontier.size - 1, commitHeader)
        mapRootID = map.rootID
        nextMapNodeID += Int64(map.nodes.count)
        if liveMap.nodeCount > liveMapLimit { restartLiveMap() }
        recordInGateIndex(mapUpdates)
        commitStatistics.record(events: Int(eventCount), seconds: (ContinuousClock.now - started).inSeconds)
    }

    /// Ends a batch committed outside ``drain()`` (a heartbeat, holds, purges): appends that queued
    /// meanwhile start draining.
    private func endExclusiveBatch() {
        flushing = false
        if !queue.isEmpty {
            flushing = true
            Task { await self.drain() }
        }
    }

    /// Appends a batch with no events: a commit entry that moves the log's clock forward, so that an
    /// idle log still bounds every time up to now (a heartbeat). Does nothing while a batch is being
    /// committed: that batch moves the clock itself.
    public func heartbeat() async throws {
        guard !flushing else { return }
        flushing = true
        defer { endExclusiveBatch() }
        try await seal(
            entries: [], frontier: frontier, previous: lastLeafHash, recordedAt: max(clock(), lastRecordedAt + 1), eventCount: 0,
            mapUpdates: [:])
    }

    /// Appends hold or purge entries as one batch (with its commit entry; the state map does not
    /// change) and deletes the bodies the purge entries name, in the same transaction. `make` runs
    /// while no other batch can commit, with the log's size before the batch, and returns the
    /// headers (their `previousLeafHash` and `recordedAt` are filled in here). The batch's
    /// `recordedAt` is `at` when given (never before the log's latest time: compaction run for a
    /// future time moves the log's clock there). Returns the new entries' indexes.
    func appendAdministrative(
        at: Milliseconds? = nil, _ make: (_ size: Int64) async throws -> [EntryHeader]
    ) async throws -> [Int64] {
        administrativeWaiting += 1
        while flushing {
            do { try await Task.sleep(nanoseconds: 1_000_000) } catch {
                administrativeWaiting -= 1
                throw error
            }
        }
        administrativeWaiting -= 1
        flushing = true
        defer { endExclusiveBatch() }
        let headers = try await make(frontier.size)
        let recordedAt = max(at ?? clock(), lastRecordedAt + 1)
        var frontier = self.frontier
        var previous = lastLeafHash
        var entries: [NewEntry] = []
        var indexes: [Int64] = []
        var purgedBodies: [PurgedBody] = []
        for header in headers {
            var header = header
            switch header {
            case .hold(var h):
                h.previousLeafHash = previous
                h.recordedAt = recordedAt
                do { try h.validate() } catch { throw LedgerError.invalidRequest("invalid hold: \(error)") }
                header = .hold(h)
            case .purge(var h):
                h.previousLeafHash = previous
                h.recordedAt = recordedAt
                do { try h.validate() } catch { throw LedgerError.invalidRequest("invalid purge: \(error)") }
                purgedBodies += h.purged.map { PurgedBody(index: $0, purgeEntry: frontier.size) }
                header = .purge(h)
            default:
                throw LedgerError.invalidRequest("only hold and purge entries are administrative")
            }
            let bytes = header.encoded()
            let leaf = hasher.leafHash(bytes)
            indexes.append(frontier.size)
            let stored = frontier.append(leafHash: leaf, hasher: hasher)
            entries.append(NewEntry(header: bytes, storedHashes: stored, body: nil, idempotencyKeyHash: nil, subjectKey: nil))
            previous = leaf
        }
        guard !entries.isEmpty else { return [] }
        _ = try await prefetchMapPaths([])
        try await seal(
            entries: entries, frontier: frontier, previous: previous, recordedAt: recordedAt, eventCount: 0, mapUpdates: [:],
            purgedBodies: purgedBodies)
        return indexes
    }

    /// The `recordedAt` of the log's latest entry (its creation time when empty).
    var lastRecordedTime: Milliseconds { lastRecordedAt }

    /// Walks the paths of `keys` through the in-memory map, loading the nodes it lacks from the store,
    /// so that the batch's map update finds every node it needs; returns the current value of each
    /// key that is in the map. Only the batch being committed may call this (it loads into the map
    /// the batch will update).
    func prefetchMapPaths(_ keys: [Hash]) async throws -> [Hash: MapValue] {
        var values: [Hash: MapValue] = [:]
        var walks = liveMap.walks(for: keys)
        while true {
            let stubs = advanceInParallel(&walks, values: &values)
            if stubs.isEmpty { return values }
            let read = try await store.mapNodes(stubs.map(\.id))
            try liveMap.load(
                try stubs.map { stub in
                    guard let node = read[stub.id] else { throw LedgerError.corrupt("state map node \(stub.id) is missing") }
                    return (stub, node)
                }, hasher: hasher)
        }
    }

    /// ``LiveStateMap/advance(_:values:)``, for many walks on two threads (each reads the map, which
    /// nothing changes meanwhile: this runs on the actor without suspending).
    private func advanceInParallel(_ walks: inout [LiveStateMap.Walk], values: inout [Hash: MapValue]) -> [LiveStateMap.Stub] {
        guard walks.count >= 4096 else { return liveMap.advance(&walks, values: &values) }
        /// One thread's share: only that thread touches it until both are done.
        final class Share: @unchecked Sendable {
            var walks: [LiveStateMap.Walk]
            var values: [Hash: MapValue] = [:]
            var stubs: [LiveStateMap.Stub] = []
            init(_ walks: ArraySlice<LiveStateMap.Walk>) { self.walks = Array(walks) }
        }
        let shares = [Share(walks[..<(walks.count / 2)]), Share(walks[(walks.count / 2)...])]
        nonisolated(unsafe) let map = liveMap
        DispatchQueue.concurrentPerform(iterations: 2) { i in
            shares[i].stubs = map.advance(&shares[i].walks, values: &shares[i].values)
        }
        walks = shares[0].walks + shares[1].walks
        values.merge(shares[0].values) { found, _ in found }
        values.merge(shares[1].values) { found, _ in found }
        return Array(Set(shares[0].stubs + shares[1].stubs))
    }

    /// The value of each of `keys` that is in the map rooted at `rootID`: from the writer's in-memory
    /// map when it is at that root (the walk does not suspend, so no batch changes the map during it)
    /// for the keys whose paths it has loaded, and from the store for the rest. While a batch is
    /// being sealed the in-memory map is ahead of the last checkpoint, so everything comes from the store.
    func mapValues(_ keys: [Hash], rootID: MapNodeID) async throws -> [Hash: MapValue] {
        var values: [Hash: MapValue] = [:]
        var rest = Set(keys)
        if isWriter, rootID != 0, liveMap.rootID == rootID {
            var walks = liveMap.walks(for: keys)
            _ = liveMap.advance(&walks, values: &values)
            rest = Set(walks.map(\.key))
        }
        if !rest.isEmpty { values.merge(try await readMapPaths(rest, rootID: rootID).values) { found, _ in found } }
        return values
    }

    /// Drops the in-memory map (after a failed batch, which may have left it part-updated, or when it
    /// is over its limit); it reloads from the stored current root as batches need it.
    private func restartLiveMap() {
        liveMap = LiveStateMap(rootID: mapRootID, rootHash: lastCommit?.header.stateRoot ?? StateMap.emptyRoot)
    }

    /// Reads from the store, level by level, every node on the paths of `keys` in the map rooted at
    /// `rootID` (for readers, recovery and audits; the writer's appends and answers go through its cache).
    nonisolated func readMapPaths(_ keys: Set<Hash>, rootID: MapNodeID) async throws -> PrefetchedMapNodes {
        guard rootID != 0 else { return PrefetchedMapNodes(nodes: [:]) }
        var nodes: [MapNodeID: MapNode] = [:]
        var values: [Hash: MapValue] = [:]
        var level: Set<MapNodeID> = [rootID]
        var walks = keys.map { (key: $0, id: rootID) }
        var depth = 0
        while !level.isEmpty {
            for (id, node) in try await store.mapNodes(level.filter { nodes[$0] == nil }) { nodes[id] = node }
            walks = try walks.compactMap { walk in
                guard let node = nodes[walk.id] else { throw LedgerError.corrupt("state map node \(walk.id) is missing") }
                if case .leaf(let key, let value) = node, key == walk.key { values[key] = value }
                return StateMap.nextNode(for: walk.key, depth: depth, node: node).map { (walk.key, $0) }
            }
            level = Set(walks.map(\.id))
            depth += 1
        }
        return PrefetchedMapNodes(nodes: nodes, values: values)
    }

    /// True when a re-sent event matches the entry first recorded under its client key. The body
    /// (evidence) is not compared: it may have been purged since.
    static func sameEvent(_ event: ValidatedEvent, subjectKey: Hash, as header: ConsentHeader) -> Bool {
        header.sender == event.sender && header.scope == event.scope && header.subjectKey == subjectKey
            && header.action == event.action && header.method == event.method && header.templateHash == event.templateHash
            && (event.occurredAt == nil || event.occurredAt == header.occurredAt)
    }
}

// MARK: Reading and proving

extension Ledger {
    /// One entry with its decoded header.
    public nonisolated func entry(at index: Int64) async throws -> (StoredEntry, EntryHeader) {
        guard let stored = try await store.entries(index..<index + 1).first else {
            throw LedgerError.notFound("no entry at index \(index)")
        }
        return (stored, try EntryHeader(decoding: stored.header))
    }

    /// The RFC 9162 inclusion proof of entry `index` in the tree of `size` entries (default: the latest).
    /// One batched read of O(log n) stored hashes.
    public func inclusionProof(index: Int64, size: Int64? = nil) async throws -> InclusionProof {
        let size = size ?? frontier.size
        guard size <= frontier.size else { throw LedgerError.invalidRequest("the log has only \(frontier.size) entries, not \(size)") }
        guard index >= 0, index < size else { throw LedgerError.invalidRequest("index \(index) is not in a tree of \(size) entries") }
        let pathIndexes = try Merkle.inclusionProofIndexes(index: index, size: size)
        let rootIndexes = size == frontier.size ? [] : Merkle.treeHashIndexes(size: size)
        let hashes = try await store.readHashes(pathIndexes + rootIndexes + [Merkle.storedHashIndex(level: 0, index: index)])
        let path = try Merkle.inclusionProof(index: index, size: size, hashes: Array(hashes[..<pathIndexes.count]), hasher: hasher)
        let root =
            rootIndexes.isEmpty
            ? frontier.root(hasher: hasher)
            : try Merkle.treeHash(size: size, hashes: Array(hashes[pathIndexes.count..<hashes.count - 1]), hasher: hasher)
        return InclusionProof(index: index, size: size, leafHash: hashes[hashes.count - 1], proof: path, root: root)
    }

    /// The RFC 9162 consistency proof between two tree sizes (default new size: the latest).
    public func consistencyProof(oldSize: Int64, newSize: Int64? = nil) async throws -> ConsistencyProof {
        let newSize = newSize ?? frontier.size
        guard newSize <= frontier.size else { throw LedgerError.invalidRequest("the log has only \(frontier.size) entries, not \(newSize)") }
        guard oldSize >= 1, oldSize <= newSize else {
            throw LedgerError.invalidRequest("a consistency proof needs 1 <= old (\(oldSize)) <= new (\(newSize))")
        }
        let hashes = try await store.readHashes(Merkle.consistencyProofIndexes(oldSize: oldSize, newSize: newSize))
        let path = try Merkle.consistencyProof(oldSize: oldSize, newSize: newSize, hashes: hashes, hasher: hasher)
        return ConsistencyProof(
            oldSize: oldSize, newSize: newSize, oldRoot: try await rootHash(size: oldSize),
            newRoot: try await rootHash(size: newSize), proof: path)
    }

    /// The root hash of the tree of `size` entries, from O(log n) stored hashes.
    public func rootHash(size: Int64) async throws -> Hash {
        guard size <= frontier.size else { throw LedgerError.invalidRequest("the log has only \(frontier.size) entries, not \(size)") }
        if size == frontier.size { return frontier.root(hasher: hasher) }
        let hashes = try await store.readHashes(Merkle.treeHashIndexes(size: size))
        return try Merkle.treeHash(size: size, hashes: hashes, hasher: hasher)
    }
}

