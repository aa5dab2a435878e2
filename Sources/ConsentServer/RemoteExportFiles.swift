import ConsentCore
import ConsentVerifier
import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A running service read as an export (``ExportFiles``): `checkpoint`, `checkpoints`, `tile/…` and
/// `bodies/…` are fetched from the same paths under `base`, so `audit --url` audits the live log
/// with the export reader. A regulator token is needed for entry bundles and bodies.
public struct RemoteExportFiles: ExportFiles {
    public let base: String
    let token: String?

    public init(base: String, token: String?) {
        self.base = base.hasSuffix("/") ? String(base.dropLast()) : base
        self.token = token
    }

    public func read(_ relative: String) async throws -> [UInt8]? {
        guard let url = URL(string: base + "/" + relative) else { throw ExportError("\(base)/\(relative) is not a URL") }
        var request = URLRequest(url: url)
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        let (data, response) = try await URLSession.shared.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        switch status {
        case 200: return Array(data)
        case 404: return nil
        case 401, 403:
            let detail = (try? JSONSerialization.jsonObject(with: data) as? [String: Any])?["detail"] as? String
            throw ExportError("\(url): \(status) \(detail ?? ""): auditing a server needs a regulator token (--token)")
        default: throw ExportError("\(url): HTTP \(status)")
        }
    }
}
