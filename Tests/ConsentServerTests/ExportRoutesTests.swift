import ConsentCore
import ConsentLedger
import ConsentServer
import ConsentVerifier
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// Export files read through the in-process test client, as `audit --url` reads a server.
struct TestClientFiles: ExportFiles, @unchecked Sendable {
    let client: any TestClientProtocol
    let headers: HTTPFields

    func read(_ relative: String) async throws -> [UInt8]? {
        let response = try await client.execute(uri: "/" + relative, method: .get, headers: headers, body: nil)
        if response.status == .notFound { return nil }
        guard response.status == .ok else { throw ExportError("\(relative): \(response.status)") }
        return Array(response.body.readableBytesView)
    }
}

@Suite struct ExportRoutesTests {
    /// Every file `export` writes (hash tiles, entry bundles, body files with a purged body and a
    /// hold in the log, every checkpoint) is served byte for byte at the same path; an audit of
    /// the served files passes, and without a regulator token it cannot read the log.
    @Test func theServiceServesTheExportLayout() async throws {
        let fixture = try await ServerFixture()
        for batch in 0..<3 {
            try await fixture.record((0..<120).map { i in
                EventInput(sender: "bank", subject: "1390013" + String(format: "%04d", batch * 120 + i), action: i % 3 == 0 ? "revoke" : "grant")
            })
        }
        _ = try await fixture.ledger.placeHold(.sender("shop"), reason: "complaint", reference: "12321-2026-0007")
        let report = try await fixture.ledger.compact(now: await fixture.ledger.now + 200 * 86_400_000)
        #expect(report.purged > 0)
        let out = fixture.dir.path + ".export"
        defer { try? FileManager.default.removeItem(atPath: out) }
        _ = try await LogExport.export(store: fixture.ledger.store, to: out)
        let files = try FileManager.default.subpathsOfDirectory(atPath: out).filter { path in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: out + "/" + path, isDirectory: &isDirectory) && !isDirectory.boolValue
                && path != ExportLayout.manifest
        }
        #expect(files.contains { $0.hasPrefix("bodies/") })
        #expect(files.contains(ExportLayout.checkpoints))
        let size = await fixture.ledger.size
        try await fixture.app.test(.router) { client in
            let served = TestClientFiles(client: client, headers: fixture.headers(.regulator))
            for path in files {
                let exported = Array(try #require(FileManager.default.contents(atPath: out + "/" + path)))
                #expect(try await served.read(path) == exported, "\(path)")
            }
            let audit = LogAudit(verifier: fixture.ledger.verifier, options: AuditOptions(pageSize: 256))
            let (result, _) = try await audit.run(source: ExportSource(files: served, suite: .sha256Ed25519, createdAt: nil))
            #expect(result.ok, "\(result.problem ?? "")")
            #expect(result.size == size)
            #expect(result.purgedBodies == report.purged)
            // Bodies are for regulators; the checkpoints are public.
            let anonymous = TestClientFiles(client: client, headers: [:])
            #expect(try await anonymous.read(ExportLayout.checkpoints) != nil)
            await #expect(throws: ExportError.self) { _ = try await anonymous.read("bodies/000") }
            let bank = TestClientFiles(client: client, headers: fixture.headers(.bank))
            await #expect(throws: ExportError.self) { _ = try await bank.read("bodies/000") }
            #expect(try await served.read("bodies/999") == nil)
        }
    }
}
