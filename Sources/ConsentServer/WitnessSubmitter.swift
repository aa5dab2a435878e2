import ConsentCore
import ConsentCrypto
import ConsentLedger
import Foundation
import Logging

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// How the submitter reaches a witness: one HTTP POST. Tests plug a witness in directly.
public protocol WitnessTransport: Sendable {
    /// POSTs `body` to `url` and returns the status, the content type and the body.
    func post(url: String, body: String) async throws -> (status: Int, contentType: String?, body: String)
}

/// The transport over Foundation's `URLSession` (libcurl on Linux); no extra package.
public struct URLSessionTransport: WitnessTransport {
    public var timeout: TimeInterval

    public init(timeout: TimeInterval = 10) { self.timeout = timeout }

    public func post(url: String, body: String) async throws -> (status: Int, contentType: String?, body: String) {
        guard let target = URL(string: url) else { throw ServiceError.invalid("bad witness URL \(url)") }
        var request = URLRequest(url: target, timeoutInterval: timeout)
        request.httpMethod = "POST"
        request.httpBody = Data(body.utf8)
        request.setValue("text/plain; charset=utf-8", forHTTPHeaderField: "Content-Type")
        let (data, response) = try await URLSession.shared.data(for: request)
        guard let http = response as? HTTPURLResponse else { throw ServiceError.internal("no HTTP response from \(url)") }
        return (http.statusCode, http.value(forHTTPHeaderField: "Content-Type"), String(decoding: data, as: UTF8.self))
    }
}

/// What the submitter reads from the log: its newest signed checkpoint and stored hashes.
public protocol WitnessedLogSource: Sendable {
    /// The newest signed checkpoint note and its tree size.
    func latestCheckpoint() async throws -> (size: Int64, note: String)
    /// Stored hashes by ``Merkle/storedHashIndex(level:index:)``, for consistency proofs.
    func readHashes(_ indexes: [Int64]) async throws -> [Hash]
}

/// A log store as a source: works in the process that writes the log and beside it (SQLite WAL).
public struct StoreLogSource: WitnessedLogSource {
    public let store: any LedgerStore

    public init(_ store: any LedgerStore) { self.store = store }

    public func latestCheckpoint() async throws -> (size: Int64, note: String) {
        let head = try await store.head()
        return (head.size, head.checkpointNote)
    }

    public func readHashes(_ indexes: [Int64]) async throws -> [Hash] { try await store.readHashes(indexes) }
}

/// Submits the log's latest checkpoint to every configured witness (C2SP tlog-witness) and keeps
/// the cosignatures they return, verified, in the service database.
///
/// Coalescing: each round submits only the newest checkpoint, whatever was signed since the last
/// round, so a busy log costs a witness one request per round, not one per batch. A witness
/// answering 409 has cosigned another size: the submitter resends from that size with a fresh
/// consistency proof. A witness reporting a size larger than the log's is a sign of a fork or a
/// rolled-back log and is logged as an error, not retried.
public actor WitnessSubmitter {
    private let source: any WitnessedLogSource
    private let suite: Suite
    private let service: ServiceStore
    private let transport: any WitnessTransport
    private let logger: Logger
    private let clock: @Sendable () -> Milliseconds
    /// The size each witness (by key) is known to have cosigned.
    private var known: [String: Int64] = [:]
    /// Per witness: failed rounds in a row, and rounds left to sit out (``run(every:)`` only).
    private var failures: [String: Int] = [:]
    private var sittingOut: [String: Int] = [:]

    public init(
        source: any WitnessedLogSource, suite: Suite, service: ServiceStore, transport: any WitnessTransport = URLSessionTransport(),
        logger: Logger = Logger(label: "consent-ledger.witness-submitter"),
        clock: @escaping @Sendable () -> Milliseconds = systemClock
    ) {
        self.source = source
        self.suite = suite
        self.service = service
        self.transport = transport
        self.logger = logger
        self.clock = clock
    }

    /// What one witness said about one checkpoint.
    public enum Outcome: Sendable, Equatable {
        /// Cosigned (now or before) at this size.
        case cosigned(size: Int64)
        /// Refused, with the HTTP status and the witness's text.
        case refused(status: Int, reason: String)
        /// The witness could not be reached or answered nonsense.
        case failed(String)
    }

    /// One round: the latest checkpoint to every configured witness that has not cosigned it yet.
    /// Returns the outcome per witness key. With `backingOff`, a witness that failed recently sits
    /// this round out (it gets no outcome).
    @discardableResult
    public func submitLatest(backingOff: Bool = false) async throws -> [String: Outcome] {
        let head = try await source.latestCheckpoint()
        guard head.size > 0 else { return [:] }
        let note = try SignedNote(parsing: head.note)
        let held = Set(try await service.cosignatures(size: head.size).filter { $0.checkpoint == note.text }.map(\.witness))
        var outcomes: [String: Outcome] = [:]
        for witness in try await service.witnesses() {
            let id = witness.key.encoded
            if held.contains(id) {
                known[id] = max(known[id] ?? 0, head.size)
                outcomes[id] = .cosigned(size: head.size)
                continue
            }
            if backingOff, let left = sittingOut[id], left > 0 {
                sittingOut[id] = left - 1
                outcomes[id] = .failed("backing off")
                continue
            }
            let outcome = await submit(head, note: note, to: witness)
            if case .cosigned = outcome {
                failures[id] = nil
                sittingOut[id] = nil
            } else {
                let f = (failures[id] ?? 0) + 1
                failures[id] = f
                sittingOut[id] = min(64, 1 << min(f - 1, 6))
            }
            outcomes[id] = outcome
        }
        return outcomes
    }

    private func submit(_ head: (size: Int64, note: String), note: SignedNote, to witness: ConfiguredWitness) async -> Outcome {
        let id = witness.key.encoded
        var old: Int64
        if let k = known[id] { old = k } else { old = (try? await service.latestCosignedSize(witness: id)) ?? 0 }
        if old > head.size { old = 0 }
        // A 409 tells the witness's size; one resend from it is enough unless the log moved meanwhile.
        for _ in 0..<3 {
            let body: String
            do {
                let proof = try await consistencyProof(old: old, new: head.size)
                body = AddCheckpointRequest(oldSize: old, proof: proof, checkpointNote: head.note).serialized
            } catch { return .failed("cannot build a consistency proof from \(old) to \(head.size): \(error)") }
            let answer: (status: Int, contentType: String?, body: String)
            do { answer = try await transport.post(url: witness.url + "/add-checkpoint", body: body) } catch {
                logger.warning("witness \(witness.url) unreachable: \(error)")
                return .failed("unreachable: \(error)")
            }
            switch answer.status {
            case 200:
                do {
                    let cosigned = try SignedNote(parsing: note.text + "\n" + answer.body)
                    // Lines by other keys are ignored; ours must verify.
                    guard let line = cosigned.signatures.first(where: witness.key.claims) else {
                        return .failed("the witness answered without a cosignature by its key")
                    }
                    let timestamp = try witness.key.verify(line, checkpointText: note.text)
                    try await service.storeCosignature(
                        StoredCosignature(witness: id, size: head.size, checkpoint: note.text, line: line.line, timestamp: timestamp), now: clock())
                    known[id] = head.size
                    logger.info("witness \(witness.key.name) cosigned size \(head.size)")
                    return .cosigned(size: head.size)
                } catch {
                    logger.error("witness \(witness.url) returned a bad cosignature: \(error)")
                    return .failed("bad cosignature: \(error)")
                }
            case 409:
                let text = answer.body.trimmingCharacters(in: .whitespacesAndNewlines)
                guard answer.contentType?.hasPrefix("text/x.tlog.size") == true, let size = Int64(text), size >= 0 else {
                    return .refused(status: 409, reason: String(answer.body.prefix(200)))
                }
                if size > head.size {
                    logger.error("witness \(witness.url) has cosigned size \(size), larger than this log's \(head.size): a fork or a rollback")
                    return .refused(status: 409, reason: "the witness has cosigned size \(size), larger than the log's \(head.size)")
                }
                if size == old {
                    // Same size, other root: the witness holds a different tree at this size.
                    logger.error("witness \(witness.url) refused size \(head.size) from its own size \(size): a different tree")
                    return .refused(status: 409, reason: "the witness holds a different tree at size \(size)")
                }
                old = size
                known[id] = size
            default:
                logger.error("witness \(witness.url) refused size \(head.size) (HTTP \(answer.status)): \(answer.body.prefix(200))")
                return .refused(status: answer.status, reason: String(answer.body.prefix(200)))
            }
        }
        return .failed("the witness kept answering 409")
    }

    /// The RFC 9162 consistency proof between two sizes from the store's hashes (empty from 0 or
    /// between equal sizes).
    private func consistencyProof(old: Int64, new: Int64) async throws -> [Hash] {
        guard old > 0, old < new else { return [] }
        let indexes = try Merkle.consistencyProofIndexes(oldSize: old, newSize: new)
        return try Merkle.consistencyProof(oldSize: old, newSize: new, hashes: try await source.readHashes(indexes), hasher: Digest(suite: suite))
    }

    /// Submits every `interval` until cancelled: a round whenever the log's size changed or a
    /// witness has not yet cosigned the latest checkpoint. Errors are logged, never fatal. A witness
    /// that keeps refusing or failing is tried less often (it sits out 1, 2, 4, … up to 64 rounds)
    /// until it cosigns again; the others are not held back.
    public func run(every interval: Duration) async {
        var lastDone: Int64 = -1
        while !Task.isCancelled {
            do {
                let size = try await source.latestCheckpoint().size
                if size != lastDone {
                    let outcomes = try await submitLatest(backingOff: true)
                    if outcomes.values.allSatisfy({ if case .cosigned = $0 { true } else { false } }) { lastDone = size }
                }
            } catch { logger.error("witness submission failed: \(error)") }
            do { try await Task.sleep(for: interval) } catch { return }
        }
    }
}
