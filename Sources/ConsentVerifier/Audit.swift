import ConsentCore
import ConsentCrypto
import Dispatch

// The full audit of a log (docs/FORMAT.md §12 items 7–8, §13): replays every entry a source holds
// and checks everything an outsider holding only the verifier key can check. Depends only on the
// core and crypto modules, so a regulator can run it on a copy of the data, an export directory or
// (later) a server, without our storage code.

/// What a source says about an entry's body.
public enum AuditBody: Sendable, Equatable {
    /// The source holds no body for the entry (right for every entry but a consent event).
    case none
    /// The body's bytes.
    case present([UInt8])
    /// The source says the body was purged, by that purge entry if it says which.
    case purged(by: Int64?)
}

/// One entry as a source serves it.
public struct AuditEntry: Sendable, Equatable {
    public var index: Int64
    /// The encoded header: the Merkle leaf data.
    public var header: [UInt8]
    /// The leaf hash the source stores or serves for the entry (a level-0 tile, the store's
    /// hashes), checked against the header so that a changed header is named at its own index;
    /// nil when the source has none.
    public var leafHash: Hash?
    public var body: AuditBody

    public init(index: Int64, header: [UInt8], leafHash: Hash?, body: AuditBody) {
        self.index = index
        self.header = header
        self.leafHash = leafHash
        self.body = body
    }
}

/// Where an audit reads a log from: a data directory, an export directory, a server.
/// Nothing it serves is trusted: the audit checks it all against the verifier key.
public protocol AuditSource: Sendable {
    /// The newest signed checkpoint the source serves.
    func latestCheckpoint() async throws -> String
    /// The entries in `range`, in index order; a source may return fewer (missing entries).
    func entries(_ range: Range<Int64>) async throws -> [AuditEntry]
    /// The signed checkpoints it holds whose sizes lie in `sizes`, in increasing size order.
    func checkpoints(_ sizes: ClosedRange<Int64>) async throws -> [(size: Int64, note: String)]
    /// Merkle hashes by stored hash index (``Merkle/storedHashIndex(level:index:)``), for
    /// consistency proofs and for checking the hashes the source serves.
    func readHashes(_ indexes: [Int64]) async throws -> [Hash]
    /// The bodies of some entries (to check that bodies a later purge named are gone).
    func bodies(at indexes: [Int64]) async throws -> [Int64: AuditBody]
    /// ``entries(_:)`` in one buffer, what the replay reads: a source that can build it directly
    /// saves two allocations per entry.
    func page(_ range: Range<Int64>) async throws -> AuditPage
}

extension AuditSource {
    public func page(_ range: Range<Int64>) async throws -> AuditPage { AuditPage(try await entries(range)) }
}

/// How to audit.
public struct AuditOptions: Sendable {
    /// Recompute the state map and check every commit entry's state root (the slow part).
    public var recomputeMap = true
    /// Entries read per page; a multiple of 256 suits tiled sources.
    public var pageSize: Int64 = 8192
    /// Threads that hash (leaf hashes, body hashes, header decoding) in parallel.
    public var threads = 2
    /// No entry may be recorded before this time (the log's `createdAt`, when known).
    public var notBefore: Milliseconds?
    /// Handed the memory of the large key tables before it is first written
    /// (``HashTable/prepareLargeMemory``): the command line asks for huge pages there.
    public var tableMemory: (@Sendable (UnsafeMutableRawBufferPointer) -> Void)?

    public init(recomputeMap: Bool = true, pageSize: Int64 = 8192, threads: Int = 2, notBefore: Milliseconds? = nil) {
        self.recomputeMap = recomputeMap
        self.pageSize = max(1, pageSize)
        self.threads = max(1, threads)
        self.notBefore = notBefore
    }
}

/// Two signed checkpoints that cannot both be honest, kept as evidence.
public struct AuditEvidence: Sendable, Equatable, Codable {
    /// What they show.
    public var reason: String
    /// The checkpoint verified earlier (the saved state).
    public var savedCheckpoint: String
    /// The checkpoint the source serves now.
    public var servedCheckpoint: String
}

/// What an audit found.
public struct AuditReport: Sendable, Codable, Equatable {
    /// The first index replayed: 0 for a full audit, the saved size for an incremental one.
    public var from: Int64 = 0
    /// The tree size verified (the newest signed checkpoint's).
    public var size: Int64 = 0
    /// The root hash at `size`, hex.
    public var root: String?
    /// Entries replayed (this run).
    public var entries: Int64 = 0
    /// Consent events among them.
    public var events: Int64 = 0
    /// Bodies present whose hash and subject key were checked.
    public var bodies: Int64 = 0
    /// Consent events whose body a purge entry took (checked absent).
    public var purgedBodies: Int64 = 0
    /// Signed checkpoints whose signature and root were checked.
    public var checkpoints: Int64 = 0
    /// Commit entries whose event count was checked.
    public var commits: Int64 = 0
    /// Commit entries whose state root was recomputed (0 with `recomputeMap` off).
    public var stateRoots: Int64 = 0
    public var holds: Int64 = 0
    public var purges: Int64 = 0
    /// Whether the state map was recomputed.
    public var mapRecomputed = true
    /// The first problem, naming the entry; nil when everything checks.
    public var problem: String?
    /// The index of the first bad entry, when the problem is about one entry.
    public var firstBadIndex: Int64?
    /// Conflicting signed checkpoints (a rewritten or rolled-back log).
    public var evidence: AuditEvidence?

    public var ok: Bool { problem == nil }

    public init() {}
}

/// Why an audit stopped: the first bad entry (if the problem is one entry's) and what is wrong.
struct AuditProblem: Error {
    var index: Int64?
    var message: String
    var evidence: AuditEvidence?

    init(_ index: Int64?, _ message: String, evidence: AuditEvidence? = nil) {
        self.index = index
        self.message = message
        self.evidence = evidence
    }

    var text: String { index.map { "entry \($0): \(message)" } ?? message }
}

/// What a replay knows after a verified checkpoint: enough to continue with the next entries
/// without reading the earlier ones again (incremental monitoring, `audit --state`).
public struct AuditState: Sendable {
    /// The last verified signed checkpoint; `size` entries, ending a batch.
    public var checkpointNote: String
    public var size: Int64
    /// The tree's frontier at `size` (``MerkleFrontier/peaks``).
    public var peaks: [Hash]
    /// The leaf hash of entry `size - 1` (zero for the empty log).
    public var lastLeafHash: Hash
    /// `recordedAt` of the last entry (the last batch's), if any.
    public var lastRecordedAt: Milliseconds?
    /// The state root of the last commit entry (zero for the empty map).
    public var stateRoot: Hash
    /// The state map's values: every state key's latest event.
    public var latest: HashTable<MapValue>
    /// Every idempotency key hash seen.
    public var idempotencyKeys: HashSet
    /// H("consent-ledger/audit/number/v1" ‖ 0x00 ‖ number) → pepper, for every body seen: one
    /// pepper per number. Numbers are not kept in the state file.
    public var peppers: HashTable<Hash>
    /// Retention: every consent event's times, holds in force, purges.
    public var retention: RetentionTracker

    /// The state before entry 0.
    public init(emptyCheckpoint: String) {
        checkpointNote = emptyCheckpoint
        size = 0
        peaks = []
        lastLeafHash = .zero
        lastRecordedAt = nil
        stateRoot = .zero
        latest = HashTable()
        idempotencyKeys = HashSet()
        peppers = HashTable()
        retention = RetentionTracker()
    }

    public init(
        checkpointNote: String, size: Int64, peaks: [Hash], lastLeafHash: Hash, lastRecordedAt: Milliseconds?, stateRoot: Hash,
        latest: HashTable<MapValue>, idempotencyKeys: HashSet, peppers: HashTable<Hash>, retention: RetentionTracker
    ) {
        self.checkpointNote = checkpointNote
        self.size = size
        self.peaks = peaks
        self.lastLeafHash = lastLeafHash
        self.lastRecordedAt = lastRecordedAt
        self.stateRoot = stateRoot
        self.latest = latest
        self.idempotencyKeys = idempotencyKeys
        self.peppers = peppers
        self.retention = retention
    }
}

/// What the parallel phase computes for one entry: everything that is a function of the entry
/// alone (decoding, hashing), so the sequential phase only compares and updates. Plain values, no
/// references: pages of millions of these copy and free as memory, with no reference counting.
struct PreparedEntry {
    var leaf: Hash = .zero
    var header: PreparedHeader = .rejected
    /// The body does not match the header (reported after the chain checks, which say more about a
    /// moved entry).
    var bodyProblem: BodyProblem?
    /// A consent event with nothing wrong so far: what the link stage adds to the tables.
    var keys: LinkKeys?
}

/// An entry's header as the parallel phase leaves it.
enum PreparedHeader {
    /// The header does not decode, or its served leaf hash differs (the sequential phase, which
    /// stops at the first problem, says which).
    case rejected
    case consent(ConsentFacts)
    case commit(CommitHeader)
    /// A hold or purge entry: rare, decoded again when checked.
    case other
}

/// What the sequential checks need of a consent header (``ConsentFields`` holds more).
struct ConsentFacts {
    var previousLeafHash: Hash
    var recordedAt: Milliseconds
    var subjectKey: Hash
    var action: ConsentAction
    var keyPredecessor: KeyLink?
    var sender: ConsentFields.Span

    init(_ fields: ConsentFields) {
        previousLeafHash = fields.previousLeafHash
        recordedAt = fields.recordedAt
        subjectKey = fields.subjectKey
        action = fields.action
        keyPredecessor = fields.keyPredecessor
        sender = fields.sender
    }
}

enum BodyProblem {
    case hashDiffers, doesNotOpenSubjectKey

    var message: String {
        switch self {
        case .hashDiffers: return "body does not match its hash"
        case .doesNotOpenSubjectKey: return "body does not open the header's subject key"
        }
    }
}

/// A consent event's keys, plain values (the link stage reads them without touching the
/// decoded header's reference-counted parts).
struct LinkKeys {
    var stateKey: Hash
    /// At the index the source gave the entry (the checks make sure it is the entry's place).
    var event: MapValue
    var idempotencyKey: Hash?
    /// A present, well-formed body: the hashed number and the pepper.
    var number: (key: Hash, pepper: Hash)?
}

/// What the source serves for one page of the replay.
struct SourcePage: Sendable {
    var entries = AuditPage()
    /// The signed checkpoints whose sizes fall on the page's entries.
    var checkpoints: [(size: Int64, note: String)] = []
}

/// A page read, prepared and linked, ready for the sequential checks.
struct PreparedPage: Sendable {
    var source: SourcePage
    var prepared: [PreparedEntry]
    /// Filled by the link stage.
    var links: [EntryLinks] = []
}

/// The tables of everything keyed that the replay has seen.
struct KeyTables: Sendable {
    /// Every state key's latest event.
    var latest = HashTable<MapValue>()
    var idempotency = HashSet()
    /// Number key → pepper.
    var peppers = HashTable<Hash>()
}

/// What the tables said about one entry when it was added to them.
struct EntryLinks: Sendable {
    /// A consent event's state key's previous event.
    var previousOfKey: MapValue?
    /// An earlier event used the same idempotency key hash.
    var reusedIdempotencyKey = false
    /// An earlier body of the same number had another pepper.
    var otherPepper = false
}

/// The pipeline's link stage: adds each page's keyed events to the tables, in log order, and
/// records what was there before (random accesses into tables of millions of keys: memory
/// latency, kept off the sequential checks). The state-key table and the other two are updated
/// on two threads at once.
///
/// Used by one task at a time: the replay hands it its tables before the loop and takes them
/// back after, and the pipeline links one page at a time.
final class KeyLinker: @unchecked Sendable {
    // Separate properties: the two threads each own theirs.
    private var latest: HashTable<MapValue>
    private var idempotency: HashSet
    private var peppers: HashTable<Hash>
    /// Events still to come that the client-key and number tables were not reserved for yet.
    private var unreserved: Int?

    /// Takes `keys` over; their large slot arrays from now on go through `tableMemory` first.
    init(_ keys: KeyTables, tableMemory: (@Sendable (UnsafeMutableRawBufferPointer) -> Void)? = nil) {
        latest = keys.latest
        idempotency = keys.idempotency
        peppers = keys.peppers
        latest.prepareLargeMemory = tableMemory
        idempotency.prepareLargeMemory = tableMemory
        peppers.prepareLargeMemory = tableMemory
    }

    /// Makes room for `events` more consent events: tables of millions of keys grown by doubling
    /// spent a tenth of the audit rehashing them. Each event may bring a new state key. Not every
    /// event brings a client key or a body, so the other two tables are reserved when the first
    /// page is linked, in proportion to that page: a log without client keys would otherwise keep
    /// an empty table sized for all of its events (70 bytes per event).
    func reserveCapacity(events: Int) {
        latest.reserveCapacity(latest.count + events)
        unreserved = events
    }

    /// With `keyed` of `consent` events carrying a client key and `numbered` a body, reserves the
    /// client-key and number tables for the rest of the log (with a tenth to spare: a last doubling
    /// would rehash every key).
    private func reserveByFirstPage(keyed: Int, numbered: Int, consent: Int) {
        guard let events = unreserved, consent > 0 else { return }
        unreserved = nil
        func share(_ part: Int) -> Int { Int((Double(events) * Double(part) / Double(consent) * 1.1).rounded(.up)) }
        idempotency.reserveCapacity(idempotency.count + share(keyed))
        peppers.reserveCapacity(peppers.count + share(numbered))
    }

    var keys: KeyTables { KeyTables(latest: latest, idempotency: idempotency, peppers: peppers) }

    func link(_ prepared: [PreparedEntry], threads: Int) -> [EntryLinks] {
        var links = [EntryLinks](repeating: EntryLinks(), count: prepared.count)
        prepared.withUnsafeBufferPointer { prepared in
            links.withUnsafeMutableBufferPointer { links in
                nonisolated(unsafe) let (prepared, links) = (prepared, links)
                // Each part writes its own fields of the entries' links, and reads the prepared
                // entries' fields in place (copies of their optional keys cost as much as the rest).
                // Each table is updated in one batch per page (``HashTable/updateValues(_:)``), whose
                // cache misses overlap.
                let parts: [@Sendable () -> Void] = [
                    { [self] in
                        var events: [Int] = []
                        var updates: [(key: Hash, value: MapValue)] = []
                        for i in prepared.indices {
                            guard let stateKey = prepared[i].keys?.stateKey, let event = prepared[i].keys?.event else { continue }
                            events.append(i)
                            updates.append((stateKey, event))
                        }
                        for (i, value) in zip(events, latest.updateValues(updates)) { links[i].previousOfKey = value }
                    },
                    { [self] in
                        var keyed: [Int] = []
                        var keys: [Hash] = []
                        var numbered: [Int] = []
                        var numbers: [(key: Hash, value: Hash)] = []
                        var consent = 0
                        for i in prepared.indices {
                            if prepared[i].keys != nil { consent += 1 }
                            if let key = prepared[i].keys?.idempotencyKey {
                                keyed.append(i)
                                keys.append(key)
                            }
                            if let number = prepared[i].keys?.number {
                                numbered.append(i)
                                numbers.append((number.key, number.pepper))
                            }
                        }
                        reserveByFirstPage(keyed: keys.count, numbered: numbers.count, consent: consent)
                        for (i, new) in zip(keyed, idempotency.insert(contentsOf: keys)) where !new { links[i].reusedIdempotencyKey = true }
                        for (n, known) in peppers.updateValues(numbers).enumerated() where known.map({ $0 != numbers[n].value }) == true {
                            links[numbered[n]].otherPepper = true
                        }
                    },
                ]
                if threads > 1 && prepared.count >= 256 {
                    DispatchQueue.concurrentPerform(iterations: parts.count) { parts[$0]() }
                } else {
                    for part in parts { part() }
                }
            }
        }
        return links
    }
}

/// Runs `work` on a Dispatch thread and returns its result: for blocking work that would otherwise
/// hold one of the cooperative pool's few threads.
func onDispatchThread<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(returning: work()) }
    }
}

/// The state map's part of a replay: applies each batch's events to the map and compares the root
/// with the one the batch's commit entry claims. The slowest part of an audit that recomputes the
/// map, and sequential, so it is a pipeline stage of its own (a page's batches are applied while
/// the next page is checked), and it keeps the map as two halves, the keys whose first bit is 0
/// and those whose first bit is 1, updated on two threads at once: the map's root is computed from
/// the two halves' roots (``joinedRoot(_:_:hasher:)``). Used by one task at a time.
final class MapReplay: @unchecked Sendable {
    /// One batch: its events in order, and the commit entry that ends it.
    struct Batch: Sendable {
        var updates: [(key: Hash, value: MapValue)]
        var stateRoot: Hash
        var commit: Int64
    }

    /// State roots that matched, and the first that did not.
    typealias Result = (verified: Int64, problem: AuditProblem?)

    /// One half of the map, with what updates it (one thread at a time each).
    final class Half: @unchecked Sendable {
        let map = LiveStateMap(rootID: 0, rootHash: .zero)
        /// Node identifiers only number the nodes an update builds; an audit compares hashes.
        var nextID: MapNodeID = 1
        let hasher: Digest
        var error: (any Error)?

        init(suite: Suite) { hasher = Digest(suite: suite) }

        func update(_ updates: [(key: Hash, value: MapValue)]) {
            guard !updates.isEmpty else { return }
            do { nextID = try map.updateRoot(updates, nextID: nextID, hasher: hasher).nextID } catch { self.error = error }
        }
    }

    private let halves: [Half]
    private let hasher: Digest

    init(suite: Suite) {
        halves = [Half(suite: suite), Half(suite: suite)]
        hasher = Digest(suite: suite)
    }

    /// Loads every key's latest event (a resumed audit's saved state); returns the map's root.
    func load(_ latest: HashTable<MapValue>) throws -> Hash {
        try update(Array(latest))
        return Self.joinedRoot(halves[0].map, halves[1].map, hasher: hasher)
    }

    /// Applies `updates` to both halves, at once when both have some.
    private func update(_ updates: [(key: Hash, value: MapValue)]) throws {
        let parts = [updates.filter { StateMap.bit($0.key, 0) == 0 }, updates.filter { StateMap.bit($0.key, 0) == 1 }]
        if parts.allSatisfy({ !$0.isEmpty }) {
            DispatchQueue.concurrentPerform(iterations: 2) { halves[$0].update(parts[$0]) }
        } else {
            for i in 0..<2 { halves[i].update(parts[i]) }
        }
        for half in halves { if let error = half.error { throw error } }
    }

    /// Applies `batches` in order, stopping at the first whose state root does not match.
    func apply(_ batches: [Batch]) -> Result {
        var verified: Int64 = 0
        for batch in batches {
            do { try update(batch.updates) } catch {
                return (verified, AuditProblem(batch.commit, "the state map cannot be replayed: \(error)"))
            }
            guard Self.joinedRoot(halves[0].map, halves[1].map, hasher: hasher) == batch.stateRoot else {
                return (verified, AuditProblem(batch.commit, "state root does not match the replayed state map"))
            }
            verified += 1
        }
        return (verified, nil)
    }

    /// The root of the map holding the keys of `zero` (keys whose first bit is 0) and of `one` (first
    /// bit 1): what ``StateMap`` builds for all of them. The map is empty, or a single leaf, or an
    /// inner node over the two halves' subtrees one level down, which each half's root shows.
    static func joinedRoot(_ zero: LiveStateMap, _ one: LiveStateMap, hasher: some HashFunction) -> Hash {
        // Each half's subtree below the root, and whether it is a single leaf.
        func subtree(_ half: LiveStateMap, bit: Int) -> (hash: Hash, leaf: Bool)? {
            switch half.rootShape {
            case .empty: return nil
            case .leaf(let hash): return (hash, true)
            case .inner(let left, let right): return (bit == 0 ? left : right, false)
            case .unloaded: preconditionFailure("an audit's map is built in memory")
            }
        }
        switch (subtree(zero, bit: 0), subtree(one, bit: 1)) {
        case (nil, nil): return StateMap.emptyRoot
        case (let only?, nil) where only.leaf, (nil, let only?) where only.leaf: return only.hash
        case (let l, let r): return StateMap.innerHash(l?.hash ?? .zero, r?.hash ?? .zero, hasher: hasher)
        }
    }
}

/// Replays a log from a source and checks it. One use per audit.
public struct LogAudit {
    public let verifier: NoteVerifier
    public let options: AuditOptions
    let suite: Suite

    /// `verifier` is the key the auditor trusts, obtained out of band; never a key from the data.
    public init(verifier: NoteVerifier, options: AuditOptions = AuditOptions()) {
        self.verifier = verifier
        self.options = options
        suite = verifier.publicKey.algorithm == .sm2 ? .sm3SM2 : .sha256Ed25519
    }

    /// Audits `source`: the whole log, or with `resume` (a state saved by an earlier audit) only
    /// what was appended since, after checking that the log still extends the saved checkpoint.
    /// Returns the report and, when everything checked, the state to save for the next run.
    public func run(
        source: some AuditSource, resume: AuditState? = nil, progress: (@Sendable (Int64, Int64) -> Void)? = nil
    ) async throws -> (AuditReport, AuditState?) {
        var report = AuditReport()
        report.mapRecomputed = options.recomputeMap
        var replay = Replay(audit: self, report: report)
        do {
            let state = try await replay.run(source: source, resume: resume, progress: progress)
            return (replay.report, state)
        } catch let problem as AuditProblem {
            report = replay.report
            report.problem = problem.text
            report.firstBadIndex = problem.index
            report.evidence = problem.evidence
            return (report, nil)
        }
    }

    /// H("consent-ledger/audit/number/v1" ‖ 0x00 ‖ number): how the state file names a number
    /// (given as its UTF-8 bytes).
    static func numberKey(utf8: UnsafeRawBufferPointer, hasher: some HashFunction) -> Hash {
        hasher.begin()
        numberKeyPrefix.withUnsafeBytes { hasher.update($0) }
        hasher.update(utf8)
        return hasher.finish()
    }

    static let numberKeyPrefix = Array("consent-ledger/audit/number/v1".utf8) + [0]
}

/// The replay's working state.
struct Replay {
    let audit: LogAudit
    var report: AuditReport
    let hasher: Digest

    var frontier = MerkleFrontier()
    var previous = Hash.zero
    var lastTime: Milliseconds = .min
    var lastBatchTime: Milliseconds?
    var batchTime: Milliseconds?
    var batchEvents: UInt32 = 0
    /// The tables of keys seen (latest event per state key, idempotency keys, peppers), updated
    /// by the pipeline's middle stage; the sequential checks read only its per-entry results.
    var keys = KeyTables()
    /// The open batch's events (key, value) in order, for the state map (only with `recomputeMap`).
    var pending: [(key: Hash, value: MapValue)] = []
    var stateRoot = Hash.zero
    /// The state map's replay (only with `recomputeMap`), and the batches the checks handed it
    /// since it last ran.
    let mapper: MapReplay
    var mapBatches: [MapReplay.Batch] = []
    var retention = RetentionTracker()
    /// What the source said about purged bodies: index → the purge entry it named.
    var sourcePurges: [Int64: Int64?] = [:]
    var lastCheckpoint: String = ""
    /// Hashes of completed level-8k subtrees (the data of hash tiles above level 0), by stored
    /// index, to compare with what the source serves.
    var tileHashes: [(storedIndex: Int64, hash: Hash)] = []

    init(audit: LogAudit, report: AuditReport) {
        self.audit = audit
        self.report = report
        hasher = Digest(suite: audit.suite)
        mapper = MapReplay(suite: audit.suite)
    }

    mutating func run(
        source: some AuditSource, resume: AuditState?, progress: (@Sendable (Int64, Int64) -> Void)?
    ) async throws -> AuditState {
        let latestNote = try await source.latestCheckpoint()
        let latestCheckpoint: Checkpoint
        do { latestCheckpoint = try audit.verifier.openCheckpoint(latestNote) } catch {
            throw AuditProblem(nil, "the newest checkpoint the source serves does not verify with the key: \(error)")
        }
        let target = latestCheckpoint.size
        if let resume { try await restore(resume, source: source, newest: latestNote, newestCheckpoint: latestCheckpoint) }
        let start = frontier.size
        report.from = start
        lastTime = max(lastTime, audit.options.notBefore ?? .min)
        // Checkpoints at the starting size: the empty log's, or the saved one's size.
        for (size, note) in try await source.checkpoints(start...start) where size == start {
            try checkCheckpoint(size: size, note: note)
        }
        var next = start
        // Nearly every entry is a consent event: grow the largest table once, not by rehashing.
        retention.reserveCapacity(events: Int(clamping: target - start))
        let pageSize = audit.options.pageSize
        // A pipeline: each page is read, prepared (decoded and hashed on `threads` threads), linked
        // (its keys looked up and added to the tables) and checked (sequentially), and up to
        // `window` pages are on their way while one is checked, so that the source's reads, the
        // hashing, the tables' memory latency and the checks all overlap. A page's stages start as
        // soon as their input is ready: pages moved through the stages in lockstep left cores idle
        // while the slowest stage of each round finished. A stage's failure is kept until its page
        // is due, so problems in earlier pages are still reported first.
        let suite = audit.suite
        let threads = audit.options.threads
        // Only the link stage touches the tables during the loop (one page at a time, in order).
        let linker = KeyLinker(keys, tableMemory: audit.options.tableMemory)
        // Reserved while the first pages are read and prepared (a tenth of an audit of 10^6 entries
        // when it was not).
        let events = Int(clamping: target - start)
        let reserving = Task { await onDispatchThread { linker.reserveCapacity(events: events) } }
        typealias Stage<T> = Result<T, any Error>
        @Sendable func read(_ from: Int64) async -> Stage<SourcePage> {
            let end = min(from + pageSize, target)
            do {
                // One read per page: pages on their way are read at once (a database reads them on
                // separate connections), so one page need not be read in parts.
                let entries = try await source.page(from..<end)
                return .success(SourcePage(entries: entries, checkpoints: try await source.checkpoints((from + 1)...end)))
            } catch { return .failure(error) }
        }
        @Sendable func prepare(_ read: Stage<SourcePage>) -> Stage<PreparedPage> {
            read.map { PreparedPage(source: $0, prepared: Replay.prepare($0.entries, suite: suite, threads: threads)) }
        }
        @Sendable func link(_ prepared: Stage<PreparedPage>) -> Stage<PreparedPage> {
            prepared.map { page in
                var page = page
                page.links = linker.link(page.prepared, threads: threads)
                return page
            }
        }
        // Pages on their way, in order. The link stage takes them one at a time, in order: each
        // page's link waits for the previous page's (and the first for the tables' reservation).
        let window = 4
        var onTheirWay: [Task<Stage<PreparedPage>, Never>] = []
        var launched = next
        func launch() {
            let from = launched
            let previous = onTheirWay.last
            onTheirWay.append(
                Task {
                    let raw = await read(from)
                    // The CPU stages block their threads (they hash and probe on Dispatch's threads):
                    // they run off Swift's cooperative pool, which has one thread per core and must
                    // stay free for the reads and the checks.
                    let prepared = await onDispatchThread { prepare(raw) }
                    await reserving.value
                    _ = await previous?.value
                    return await onDispatchThread { link(prepared) }
                })
            launched = min(from + pageSize, target)
        }
        // What is still on its way when the replay stops at a problem is not needed.
        defer { for page in onTheirWay { page.cancel() } }
        while launched < target && onTheirWay.count < window { launch() }
        var mapping: Task<MapReplay.Result, Never>?
        while next < target {
            let end = min(next + pageSize, target)
            let linked = await onTheirWay.removeFirst().value
            if launched < target { launch() }
            do {
                try check(try linked.get(), from: next, to: end)
                try await checkServedHashes(source: source)
            } catch let problem as AuditProblem {
                // A wrong state root in a batch before the problem comes first.
                throw await settleMap(mapping) ?? problem
            }
            // The map stage: the previous page's batches were applied while this page was checked;
            // this page's are applied while the next one is.
            if let problem = await awaitMap(mapping) { throw problem }
            let batches = mapBatches
            mapBatches = []
            mapping = batches.isEmpty ? nil : Task { [mapper] in await onDispatchThread { mapper.apply(batches) } }
            next = end
            progress?(next, target)
        }
        if let problem = await settleMap(mapping) { throw problem }
        await reserving.value  // (an empty replay links no page)
        keys = linker.keys
        if batchTime != nil {
            throw AuditProblem(target - 1, "the log ends inside a batch (no commit entry after it)")
        }
        guard frontier.root(hasher: hasher) == latestCheckpoint.rootHash else {
            throw AuditProblem(nil, "the newest checkpoint (size \(target)) does not match the root recomputed from the entries")
        }
        lastCheckpoint = latestNote
        // Signed checkpoints beyond the newest one would be entries the source does not serve.
        if target < Int64.max, let beyond = try await source.checkpoints((target + 1)...Int64.max).first {
            throw AuditProblem(
                target, "the source holds a signed checkpoint of size \(beyond.size) but serves entries only up to \(target): entries are missing")
        }
        try await checkBodiesAccounted(source: source, start: start)
        // The hashes the source serves for proofs (tiles, stored hashes) must agree with the entries.
        let served = try? await source.readHashes(Merkle.treeHashIndexes(size: target))
        guard served == frontier.peaks else {
            throw AuditProblem(nil, "the Merkle hashes the source serves for proofs disagree with the entries")
        }
        report.size = target
        report.root = frontier.root(hasher: hasher).hex
        return AuditState(
            checkpointNote: latestNote, size: frontier.size, peaks: frontier.peaks, lastLeafHash: previous,
            lastRecordedAt: lastTime == .min ? nil : lastTime, stateRoot: stateRoot, latest: keys.latest,
            idempotencyKeys: keys.idempotency, peppers: keys.peppers, retention: retention)
    }

    /// Waits for the map stage's work in flight; returns the first state root that did not match.
    mutating func awaitMap(_ inFlight: Task<MapReplay.Result, Never>?) async -> AuditProblem? {
        guard let inFlight else { return nil }
        let result = await inFlight.value
        report.stateRoots += result.verified
        return result.problem
    }

    /// Waits for the map stage's work in flight, then applies the batches the checks handed over
    /// since; returns the first state root that does not match, if any.
    mutating func settleMap(_ inFlight: Task<MapReplay.Result, Never>?) async -> AuditProblem? {
        if let problem = await awaitMap(inFlight) { return problem }
        let result = mapper.apply(mapBatches)
        mapBatches = []
        report.stateRoots += result.verified
        return result.problem
    }

    /// Continues from a saved state, after checking that the served log extends it.
    mutating func restore(_ state: AuditState, source: some AuditSource, newest: String, newestCheckpoint: Checkpoint) async throws {
        let saved: Checkpoint
        do { saved = try audit.verifier.openCheckpoint(state.checkpointNote) } catch {
            throw AuditProblem(nil, "the saved state's checkpoint does not verify with this key: is the state file for another log?")
        }
        func evidence(_ reason: String) -> AuditEvidence {
            AuditEvidence(reason: reason, savedCheckpoint: state.checkpointNote, servedCheckpoint: newest)
        }
        if newestCheckpoint.size < saved.size {
            let reason =
                "the log was rolled back: it now serves a signed checkpoint of size \(newestCheckpoint.size), "
                + "but a checkpoint of size \(saved.size) was verified earlier"
            throw AuditProblem(nil, reason, evidence: evidence(reason))
        }
        if newestCheckpoint.size == saved.size {
            guard newestCheckpoint.rootHash == saved.rootHash else {
                let reason = "the log rewrote history: two signed checkpoints of size \(saved.size) with different roots"
                throw AuditProblem(nil, reason, evidence: evidence(reason))
            }
        } else if saved.size > 0 {
            let proof: [Hash]
            do {
                let hashes = try await source.readHashes(
                    Merkle.consistencyProofIndexes(oldSize: saved.size, newSize: newestCheckpoint.size))
                proof = try Merkle.consistencyProof(oldSize: saved.size, newSize: newestCheckpoint.size, hashes: hashes, hasher: hasher)
            } catch {
                throw AuditProblem(nil, "cannot build a consistency proof from size \(saved.size) to \(newestCheckpoint.size) from the source: \(error)")
            }
            do {
                try Merkle.verifyConsistency(
                    oldSize: saved.size, newSize: newestCheckpoint.size, oldRoot: saved.rootHash, newRoot: newestCheckpoint.rootHash,
                    proof: proof, hasher: hasher)
            } catch {
                let reason =
                    "the log rewrote history: its signed checkpoint of size \(newestCheckpoint.size) is not consistent with the "
                    + "signed checkpoint of size \(saved.size) verified earlier (the consistency proof fails)"
                throw AuditProblem(nil, reason, evidence: evidence(reason))
            }
        }
        // A second signed checkpoint at the saved size with another root is a fork too.
        for (size, note) in try await source.checkpoints(saved.size...saved.size) where size == saved.size {
            if let other = try? audit.verifier.openCheckpoint(note), other.rootHash != saved.rootHash {
                let reason = "the log rewrote history: two signed checkpoints of size \(saved.size) with different roots"
                throw AuditProblem(
                    nil, reason, evidence: AuditEvidence(reason: reason, savedCheckpoint: state.checkpointNote, servedCheckpoint: note))
            }
        }
        frontier = try MerkleFrontier(size: state.size, peaks: state.peaks)
        guard frontier.root(hasher: hasher) == saved.rootHash, state.size == saved.size else {
            throw AuditProblem(nil, "the saved state is damaged: its frontier does not match its checkpoint")
        }
        previous = state.lastLeafHash
        lastTime = state.lastRecordedAt ?? .min
        lastBatchTime = state.lastRecordedAt
        keys = KeyTables(latest: state.latest, idempotency: state.idempotencyKeys, peppers: state.peppers)
        stateRoot = state.stateRoot
        retention = state.retention
        if audit.options.recomputeMap, !keys.latest.isEmpty {
            guard try mapper.load(keys.latest) == stateRoot else {
                throw AuditProblem(nil, "the saved state is damaged: its state map does not give its state root")
            }
        }
    }

    /// Compares the subtree hashes the replay completed with those the source serves (hash tiles
    /// above level 0, or the store's stored hashes), so that proofs built from them hold.
    mutating func checkServedHashes(source: some AuditSource) async throws {
        guard !tileHashes.isEmpty else { return }
        let wanted = tileHashes
        tileHashes = []
        let served = try? await source.readHashes(wanted.map(\.storedIndex))
        for (i, want) in wanted.enumerated() where served.map({ i < $0.count && $0[i] == want.hash }) != true {
            let (level, index) = Merkle.splitStoredHashIndex(want.storedIndex)
            let tile = TileID.tile(forStoredIndex: want.storedIndex).tile
            throw AuditProblem(
                nil,
                "the Merkle hash the source serves for entries \(index << Int64(level))..<\((index + 1) << Int64(level)) "
                    + "(\(TileID(level: tile.level, index: tile.index).path)) disagrees with the entries")
        }
    }

    /// Checks a signed checkpoint at `size` (the current frontier size).
    mutating func checkCheckpoint(size: Int64, note: String) throws {
        guard let checkpoint = try? audit.verifier.openCheckpoint(note) else {
            throw AuditProblem(nil, "the signed checkpoint of size \(size) does not verify with the key")
        }
        guard checkpoint.size == size, checkpoint.rootHash == frontier.root(hasher: hasher) else {
            throw AuditProblem(nil, "the signed checkpoint of size \(size) does not match the root recomputed from entries 0..<\(size)")
        }
        if size > 0, batchTime != nil {
            throw AuditProblem(size - 1, "a signed checkpoint of size \(size) ends inside a batch")
        }
        report.checkpoints += 1
    }

    /// Decodes and hashes a page on `threads` threads.
    static func prepare(_ page: AuditPage, suite: Suite, threads: Int) -> [PreparedEntry] {
        let count = page.entries.count
        guard count > 0 else { return [] }
        let threads = min(threads, max(1, count / 64))
        // Entries are read and prepared entries written through pointers: copies of them cost as
        // much as decoding them.
        return page.bytes.withUnsafeBytes { bytes in
            page.entries.withUnsafeBufferPointer { entries in
                nonisolated(unsafe) let (bytes, entries) = (bytes, entries)
                return [PreparedEntry](unsafeUninitializedCapacity: count) { buffer, initialized in
                    nonisolated(unsafe) let base = buffer.baseAddress!
                    let chunk = (count + threads - 1) / threads
                    DispatchQueue.concurrentPerform(iterations: threads) { part in
                        let hasher = Digest(suite: suite)
                        for i in part * chunk..<min(count, part * chunk + chunk) {
                            (base + i).initialize(to: Replay.prepared(entries.baseAddress! + i, bytes: bytes, hasher: hasher))
                        }
                    }
                    initialized = count
                }
            }
        }
    }

    /// What the parallel phase computes for `entry`, whose header and body are in `bytes` (its
    /// page's). Returned, not written field by field: the result is built in place.
    static func prepared(_ entry: UnsafePointer<AuditPage.Entry>, bytes: UnsafeRawBufferPointer, hasher: Digest) -> PreparedEntry {
        var prepared = PreparedEntry()
        let header = UnsafeRawBufferPointer(rebasing: bytes[entry.pointee.header])
        let leaf = hasher.leafHash(header)
        prepared.leaf = leaf
        let servedLeafMatches = entry.pointee.leafHash.map { $0 == leaf } ?? true
        // Consent events, nearly every entry, are read in place; the other kinds are decoded.
        guard header.count > 1, header[1] == EntryKind.consent.rawValue else {
            guard servedLeafMatches, let decoded = try? EntryHeader(decoding: header) else { return prepared }
            if case .commit(let c) = decoded { prepared.header = .commit(c) } else { prepared.header = .other }
            return prepared
        }
        guard servedLeafMatches, let h = try? ConsentFields(decoding: header) else { return prepared }
        prepared.header = .consent(ConsentFacts(h))
        var keys = LinkKeys(
            stateKey: h.stateKey(header: header, hasher: hasher), event: MapValue(index: entry.pointee.index, action: h.action, leafHash: leaf),
            idempotencyKey: h.idempotencyKeyHash)
        if case .present(let range) = entry.pointee.body {
            let body = UnsafeRawBufferPointer(rebasing: bytes[range])
            guard hasher.hash(body) == h.bodyHash else {
                prepared.bodyProblem = .hashDiffers
                return prepared
            }
            guard let opened = try? ConsentBody.opening(body),
                case let number = UnsafeRawBufferPointer(rebasing: body[opened.subject]),
                Derivation.subjectKey(pepper: opened.pepper, e164UTF8: number, hasher: hasher) == h.subjectKey
            else {
                prepared.bodyProblem = .doesNotOpenSubjectKey
                return prepared
            }
            keys.number = (LogAudit.numberKey(utf8: number, hasher: hasher), opened.pepper)
        }
        prepared.keys = keys
        return prepared
    }

    /// Why the parallel phase rejected `header` (it stops the audit, so it is worked out again only
    /// then).
    static func headerProblem(_ header: UnsafeRawBufferPointer) -> String {
        do { _ = try EntryHeader(decoding: header) } catch { return "header does not decode: \(error)" }
        return "stored leaf hash is not the hash of its header"
    }

    /// Checks one page of entries `from..<to` in order.
    mutating func check(_ page: PreparedPage, from: Int64, to: Int64) throws {
        var checkpoints = page.source.checkpoints[...]
        // Entries and prepared entries are passed by pointer: copies of them cost reference counts
        // and hundreds of bytes per entry.
        try page.source.entries.bytes.withUnsafeBytes { bytes in
            try page.source.entries.entries.withUnsafeBufferPointer { entries in
                try page.prepared.withUnsafeBufferPointer { prepared in
                    for offset in entries.indices {
                        let index = frontier.size
                        guard entries[offset].index == index else {
                            throw AuditProblem(index, "missing (the source's next entry is \(entries[offset].index))")
                        }
                        try apply(entries.baseAddress! + offset, bytes: bytes, prepared.baseAddress! + offset, page.links[offset], index: index)
                        while let next = checkpoints.first, next.size <= frontier.size {
                            checkpoints.removeFirst()
                            if next.size == frontier.size { try checkCheckpoint(size: next.size, note: next.note) }
                        }
                    }
                }
            }
        }
        if frontier.size < to { throw AuditProblem(frontier.size, "missing (the source serves no entry at this index)") }
    }

    /// The sequential checks of one entry.
    mutating func apply(
        _ entry: UnsafePointer<AuditPage.Entry>, bytes: UnsafeRawBufferPointer, _ prepared: UnsafePointer<PreparedEntry>, _ link: EntryLinks,
        index: Int64
    ) throws {
        let p = prepared.pointee
        let header = UnsafeRawBufferPointer(rebasing: bytes[entry.pointee.header])
        let leaf = p.leaf
        func fail(_ message: String) -> AuditProblem { AuditProblem(index, message) }
        let previousLeafHash: Hash
        let recordedAt: Milliseconds
        var other: EntryHeader?
        switch p.header {
        case .rejected: throw fail(Replay.headerProblem(header))
        case .consent(let h): (previousLeafHash, recordedAt) = (h.previousLeafHash, h.recordedAt)
        case .commit(let c): (previousLeafHash, recordedAt) = (c.previousLeafHash, c.recordedAt)
        case .other:
            let decoded = try EntryHeader(decoding: header)
            (previousLeafHash, recordedAt, other) = (decoded.previousLeafHash, decoded.recordedAt, decoded)
        }
        guard previousLeafHash == previous else { throw fail("hash chain broken (previous leaf hash differs)") }
        guard recordedAt >= lastTime else { throw fail("recordedAt goes back in time") }
        if let batchTime, recordedAt != batchTime { throw fail("recordedAt differs from the rest of its batch") }
        if batchTime == nil, let lastBatchTime, recordedAt <= lastBatchTime {
            throw fail("a new batch must be recorded strictly later than the previous one")
        }
        if case .consent = p.header {} else if case .present = entry.pointee.body {
            throw fail("has a body, but only consent events have one")
        }
        switch p.header {
        case .rejected: break
        case .consent(let h):
            if let problem = p.bodyProblem { throw fail(problem.message) }
            var stored = false
            switch entry.pointee.body {
            case .present:
                // One number, one subject key: a second pepper would hide events from lookups by number.
                if link.otherPepper { throw fail("the number has a different pepper than in earlier entries") }
                stored = true
                report.bodies += 1
            case .purged(let by):
                sourcePurges[index] = by
            case .none:
                break
            }
            if link.reusedIdempotencyKey { throw fail("its idempotency key hash is already used by an earlier event") }
            let previousOfKey = link.previousOfKey
            let expected = previousOfKey.map { KeyLink(index: $0.index, leafHash: $0.leafHash) }
            guard h.keyPredecessor == expected else { throw fail("link to the previous event of its state key is wrong") }
            // The event's map value was built when it was prepared (at the source's index for it,
            // which `check` has compared with its place).
            if audit.options.recomputeMap, let keys = p.keys { pending.append((keys.stateKey, keys.event)) }
            retention.consent(
                index, subjectKey: h.subjectKey, recordedAt: h.recordedAt, action: h.action,
                senderUTF8: UnsafeRawBufferPointer(rebasing: header[h.sender.range]), superseding: previousOfKey?.index, stored: stored)
            batchEvents += 1
            report.events += 1
            batchTime = h.recordedAt
        case .commit(let c):
            guard c.eventCount == batchEvents else {
                throw fail("commit entry counts \(c.eventCount) events, the batch has \(batchEvents)")
            }
            // The map stage checks the state root (``MapReplay``), while the next page is checked.
            if audit.options.recomputeMap { mapBatches.append(MapReplay.Batch(updates: pending, stateRoot: c.stateRoot, commit: index)) }
            pending = []
            batchEvents = 0
            batchTime = nil
            lastBatchTime = c.recordedAt
            stateRoot = c.stateRoot
            report.commits += 1
        case .other:
            switch other {
            case .hold(let h)?:
                if let problem = retention.hold(index, h) { throw fail(problem) }
                report.holds += 1
            case .purge(let h)?:
                if let problem = retention.purge(index, h) { throw fail(problem) }
                report.purges += 1
            default: preconditionFailure("prepared as a hold or purge entry")
            }
            batchTime = recordedAt
        }
        // Every 256^k leaves complete a subtree whose hash is a hash of a level-k tile (k ≥ 1); the
        // other 255 of 256 appends need none of the hashes they store (and no array of them).
        if (frontier.size + 1).trailingZeroBitCount < TileID.height {
            frontier.appendLeaf(leaf, hasher: hasher)
        } else {
            let completed = frontier.append(leafHash: leaf, hasher: hasher)
            for level in stride(from: TileID.height, to: completed.count, by: TileID.height) {
                let subtree = (index + 1) >> Int64(level) - 1
                tileHashes.append((Merkle.storedHashIndex(level: level, index: subtree), completed[level]))
            }
        }
        previous = leaf
        lastTime = recordedAt
        report.entries += 1
    }

    /// A body leaves the source only with a purge entry that names it, and every body a purge
    /// entry names is gone.
    mutating func checkBodiesAccounted(source: some AuditSource, start: Int64) async throws {
        // Bodies of earlier runs' events that this run's purges named: read them again.
        let renamed: [Int64] =
            start == 0 ? [] : retention.events.filter { $0.index < start && $0.event.purgedBy.map { $0 >= start } == true && $0.event.stored }.map(\.index)
        if !renamed.isEmpty {
            let bodies = try await source.bodies(at: renamed)
            for index in renamed {
                switch bodies[index] ?? AuditBody.none {
                case .present: retention.setStored(index, true)
                case .purged(let by):
                    retention.setStored(index, false)
                    sourcePurges[index] = by
                case .none: retention.setStored(index, false)
                }
            }
        }
        // The first event (by index) with a problem is reported; purged bodies before it are counted.
        // One pass over the events in index order: the first problem found is the first.
        func problem(_ index: Int64, _ event: RetentionTracker.Event) -> String? {
            if event.stored, let purge = event.purgedBy { return "body still stored after purge entry \(purge)" }
            if !event.stored, event.purgedBy == nil { return "body missing, and no purge entry names it" }
            if let purge = event.purgedBy, let said = sourcePurges[index], let said, said != purge {
                return "the source says purge entry \(said) took the body, but entry \(purge) names it"
            }
            return nil
        }
        let renamedSet = Set(renamed)
        var purged: Int64 = 0
        for (index, event) in retention.events where index >= start || renamedSet.contains(index) {
            if let found = problem(index, event) {
                report.purgedBodies += purged
                throw AuditProblem(index, found)
            }
            if event.purgedBy != nil { purged += 1 }
        }
        report.purgedBodies += purged
    }
}
