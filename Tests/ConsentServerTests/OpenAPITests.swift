import ConsentServer
import Foundation
import Testing

/// docs/openapi.yaml documents exactly the routes the service has.
@Suite struct OpenAPITests {
    static let document = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("docs/openapi.yaml")

    /// The (method, path) pairs under `paths:`: two-space-indented path keys, four-space-indented methods.
    static func documentedRoutes() throws -> Set<String> {
        let text = try String(contentsOf: document, encoding: .utf8)
        var routes: Set<String> = []
        var inPaths = false
        var path: String?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if !line.hasPrefix(" ") && !line.isEmpty {
                inPaths = line == "paths:"
                continue
            }
            guard inPaths else { continue }
            if line.hasPrefix("  /"), !line.hasPrefix("   "), line.hasSuffix(":") {
                path = String(line.dropFirst(2).dropLast())
            } else if let path, line.hasPrefix("    "), !line.hasPrefix("     ") {
                let key = line.dropFirst(4).dropLast(line.hasSuffix(":") ? 1 : 0)
                if ["get", "post", "put", "patch", "delete"].contains(String(key)) { routes.insert("\(key.uppercased()) \(path)") }
            }
        }
        return routes
    }

    @Test func everyDocumentedRouteExistsAndViceVersa() throws {
        let documented = try Self.documentedRoutes()
        let served = Set(serviceRoutes.map { "\($0.method) \($0.path)" })
        #expect(documented == served, "only documented: \(documented.subtracting(served)), only served: \(served.subtracting(documented))")
        #expect(documented.count >= 10)
    }
}
