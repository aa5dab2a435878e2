import ConsentCore
import ConsentLedger
import Hummingbird
import Logging
import NIOCore

/// The log's public witness route: `GET /checkpoint/cosigned[?witnesses=K]`, the newest checkpoint
/// that at least K witnesses cosigned (default: every configured witness, at least one), with its
/// cosignatures appended as extra signature lines. Clients that verify a witness policy fetch this;
/// `GET /checkpoint` stays the latest checkpoint exactly as the log signed it.
struct WitnessLogRoutes {
    let ledger: Ledger
    let service: ServiceStore

    static let routes: [(method: String, path: String)] = [("GET", "/checkpoint/cosigned")]

    func add(to router: Router<ServiceContext>) {
        router.get("/checkpoint/cosigned") { request, context in try await self.cosignedCheckpoint(request, context) }
    }

    func cosignedCheckpoint(_ request: Request, _ context: ServiceContext) async throws -> Response {
        let minimum: Int
        if let text = request.query("witnesses") {
            guard let k = Int(text), (1...100).contains(k) else { throw Problem.invalid("witnesses must be a number from 1 to 100") }
            minimum = k
        } else {
            minimum = max(1, try await service.witnesses().count)
        }
        guard let size = try await service.newestCosignedSize(minimum: minimum), let note = try await ledger.store.checkpoint(size: size) else {
            throw Problem.notFound("no checkpoint has been cosigned by \(minimum) witness\(minimum == 1 ? "" : "es") yet")
        }
        let cosigned = try await service.cosignedCheckpoint(note)
        return Response(
            status: .ok, headers: [.contentType: "text/plain; charset=utf-8", .cacheControl: "no-cache"],
            body: .init(byteBuffer: ByteBuffer(bytes: Array(cosigned.utf8))))
    }
}

/// Starts the witness submitter beside the service (`serve`): every `interval`, the log's newest
/// checkpoint goes to each witness configured in the service database (`witness add`), and the
/// cosignatures are kept there. Cancel the task to stop it.
public func startWitnessSubmitter(ledger: Ledger, service: ServiceStore, every interval: Duration, logger: Logger) -> Task<Void, Never> {
    let submitter = WitnessSubmitter(source: StoreLogSource(ledger.store), suite: ledger.parameters.suite, service: service, logger: logger)
    return Task { await submitter.run(every: interval) }
}
