import ConsentCore
import ConsentLedger
import ConsentVerifier
import Foundation
import Hummingbird
import NIOCore

/// The rest of the export layout (docs/FORMAT.md §13) served live, so that a regulator can audit
/// the running service with `consent-ledger audit --url` exactly as it audits an export directory:
/// `/tile/…` (hash tiles and entry bundles) is in ``ConsentRoutes``; these add every signed
/// checkpoint and the body files.
extension ConsentRoutes {
    /// `GET /checkpoints` (public): every checkpoint the log has signed, in the export's
    /// `checkpoints` framing (decimal length, newline, note), oldest first. Sizes and roots only.
    func allCheckpoints(_ request: Request, _ context: ServiceContext) async throws -> Response {
        let size = await ledger.size
        let notes = try await ledger.store.checkpoints(0...size)
        var out = ByteBuffer()
        for (_, note) in notes { out.writeBytes(ExportLayout.checkpointRecord(note)) }
        return Response(
            status: .ok, headers: [.contentType: "application/octet-stream", .cacheControl: "no-cache"], body: .init(byteBuffer: out))
    }

    /// `GET /bodies/<N>[.p/<W>]` (regulators): the bodies of entry bundle N (W entries), one frame
    /// per entry: no body, the body, or the purge entry that took it. A full bundle's file changes
    /// when a later purge takes one of its bodies, so it is not cached as immutable.
    func bodyFile(_ request: Request, _ context: ServiceContext) async throws -> Response {
        try context.requireRegulator()
        let rest = request.uri.path.dropFirst("/bodies/".count)
        guard let bundle = EntryBundleID(path: "tile/entries/" + rest) else {
            throw Problem.notFound("\(request.uri.path.prefix(100)) is not a body file path (/bodies/<N>[.p/<W>])")
        }
        let size = await ledger.size
        guard bundle.tile.isAvailable(inTreeSize: size) else { throw Problem.notFound("\(bundle.path) is not in the tree of size \(size)") }
        let entries = try await ledger.store.entries(bundle.entries)
        guard entries.count == bundle.width else { throw LedgerError.corrupt("entries \(bundle.entries) are missing from the store") }
        return Response(
            status: .ok, headers: [.contentType: "application/octet-stream", .cacheControl: "private, no-cache"],
            body: .init(byteBuffer: ByteBuffer(bytes: LogExport.bodyFile(entries))))
    }
}
