import ConsentCore
import ConsentCrypto
import ConsentVerifier
import Foundation
import Hummingbird
import Logging
import NIOCore

/// A C2SP `tlog-witness` witness: checks that each checkpoint a log submits is signed by a key it
/// trusts for the origin and consistent with the latest one it cosigned, records it durably, and
/// returns a C2SP `tlog-cosignature` v1 (Ed25519) cosignature.
///
/// The check-and-persist is atomic: the stored tree the checks used is compared-and-swapped in one
/// SQLite transaction (``WitnessStore/compareAndSwap(origin:expected:new:now:)``), so of two
/// concurrent submissions from the same old size only one can win; the other gets 409.
public final class Witness: Sendable {
    public let signer: CosignatureSigner
    public let store: WitnessStore
    /// POSIX seconds, for the cosignature timestamps.
    private let clock: @Sendable () -> UInt64
    private let logger: Logger

    public init(
        signer: CosignatureSigner, store: WitnessStore, clock: @escaping @Sendable () -> UInt64 = { UInt64(Date().timeIntervalSince1970) },
        logger: Logger = Logger(label: "consent-ledger.witness")
    ) {
        self.signer = signer
        self.store = store
        self.clock = clock
        self.logger = logger
    }

    /// An `add-checkpoint` answer: the HTTP status, content type and body.
    public struct Response: Sendable, Equatable {
        public var status: Int
        public var contentType: String
        public var body: String

        static func text(_ status: Int, _ body: String) -> Response {
            Response(status: status, contentType: "text/plain; charset=utf-8", body: body + "\n")
        }
        /// 409 with the witness's latest cosigned size.
        static func conflict(_ size: Int64) -> Response { Response(status: 409, contentType: "text/x.tlog.size", body: "\(size)\n") }
    }

    /// Processes an `add-checkpoint` request body (tlog-witness): 200 with the cosignature line;
    /// 400 malformed, or old size above the checkpoint's; 403 no signature by a trusted key;
    /// 404 unknown origin; 409 the old size is not the latest cosigned size (body: that size), or the
    /// same size with another root; 422 the consistency proof does not verify.
    public func addCheckpoint(_ body: [UInt8]) async -> Response {
        do { return try await process(body) } catch {
            logger.error("add-checkpoint failed: \(error)")
            return .text(500, "internal error")
        }
    }

    private func process(_ bytes: [UInt8]) async throws -> Response {
        guard let body = String(validating: bytes, as: UTF8.self) else { return .text(400, "request body is not UTF-8") }
        let request: AddCheckpointRequest
        do { request = try AddCheckpointRequest(parsing: body) } catch { return .text(400, "\(error)") }
        let note = try SignedNote(parsing: request.checkpointNote)
        let origin = String(note.text.prefix { $0 != "\n" })
        guard let keyStrings = try await store.keys(origin: origin) else { return .text(404, "unknown log origin") }

        // Signatures by keys the witness does not trust for this origin are ignored.
        var trusted: NoteVerifier?
        for keyString in keyStrings {
            guard let key = try? NoteVerifier(parsing: keyString) else { continue }
            if (try? key.verify(note)) != nil {
                trusted = key
                break
            }
        }
        guard let key = trusted else { return .text(403, "no signature by a key trusted for \(origin)") }
        let checkpoint: Checkpoint
        do { checkpoint = try Checkpoint(text: note.text) } catch { return .text(400, "\(error)") }
        guard checkpoint.origin == origin else { return .text(400, "checkpoint origin is malformed") }
        guard request.oldSize <= checkpoint.size else {
            return .text(400, "old size \(request.oldSize) is larger than the checkpoint size \(checkpoint.size)")
        }
        guard let stored = try await store.tree(origin: origin) else { return .text(404, "unknown log origin") }
        guard request.oldSize == stored.size else { return .conflict(stored.size) }

        if request.oldSize == checkpoint.size {
            // Nothing new: the same tree may be cosigned again; another root at that size is a fork.
            if let root = stored.root, root != checkpoint.rootHash {
                try await keepEvidence(origin, 409, "a different root at the cosigned size \(stored.size)", body)
                return .conflict(stored.size)
            }
            guard request.proof.isEmpty else { return .text(422, "the consistency proof between equal sizes must be empty") }
        } else if request.oldSize > 0 {
            guard let oldRoot = stored.root else { throw WitnessError.invalid("log \(origin) has size \(stored.size) but no root") }
            do {
                try Merkle.verifyConsistency(
                    oldSize: request.oldSize, newSize: checkpoint.size, oldRoot: oldRoot, newRoot: checkpoint.rootHash,
                    proof: request.proof, hasher: Digest(suite: LogVerifier(key: key).suite))
            } catch {
                try await keepEvidence(origin, 422, "consistency proof from \(request.oldSize) to \(checkpoint.size) does not verify", body)
                return .text(422, "the consistency proof from size \(request.oldSize) to \(checkpoint.size) does not verify")
            }
        }

        let now = clock()
        let new = WitnessedTree(size: checkpoint.size, root: checkpoint.rootHash)
        if let current = try await store.compareAndSwap(origin: origin, expected: stored, new: new, now: Int64(now)) {
            // Another submission won between the check and the swap.
            return .conflict(current.size)
        }
        let line = try signer.cosign(checkpointText: note.text, timestamp: now).line
        logger.info("cosigned \(origin) at size \(checkpoint.size)")
        return Response(status: 200, contentType: "text/plain; charset=utf-8", body: line)
    }

    private func keepEvidence(_ origin: String, _ status: Int, _ reason: String, _ body: String) async throws {
        logger.warning("refused \(origin): \(reason)")
        try await store.recordEvidence(origin: origin, status: status, reason: reason, request: body, now: Int64(clock()))
    }
}

/// The witness's HTTP routes: `POST /add-checkpoint` (C2SP tlog-witness) and `GET /healthz`.
public func buildWitnessRouter(witness: Witness) -> Router<BasicRequestContext> {
    let router = Router(context: BasicRequestContext.self)
    router.post("/add-checkpoint") { request, _ -> Hummingbird.Response in
        let body = try await request.body.collect(upTo: AddCheckpointRequest.maximumSize)
        let answer = await witness.addCheckpoint(Array(buffer: body))
        return Hummingbird.Response(
            status: HTTPResponse.Status(code: answer.status), headers: [.contentType: answer.contentType, .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: answer.body)))
    }
    router.get("/healthz") { _, _ -> Hummingbird.Response in
        Hummingbird.Response(
            status: .ok, headers: [.contentType: "text/plain; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: witness.signer.verifier.encoded + "\n")))
    }
    return router
}

/// The witness as an application (`consent-ledger witness serve`); `onServerRunning` gets the bound port.
public func buildWitnessApplication(
    witness: Witness, host: String, port: Int, logger: Logger = Logger(label: "consent-ledger.witness"),
    onServerRunning: @escaping @Sendable (Int?) async -> Void = { _ in }
) -> some ApplicationProtocol {
    Application(
        router: buildWitnessRouter(witness: witness),
        configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "consent-ledger-witness"),
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port) },
        logger: logger)
}
