import ConsentCore
import ConsentTestSupport
import ConsentVerifier
import Foundation
import Testing

/// fixtures/bundles: valid bundles for each kind of answer and tampered copies, each with the
/// verdict a verifier must reach (tools/vectors/make_bundles.sh).
@Suite struct BundleVectorTests {
    struct Manifest: Decodable {
        struct Item: Decodable {
            var file: String
            var valid: Bool
            var decision: ConsentDecision?
            var failure: String?
        }
        var verifierKey: String
        var bundles: [Item]
    }

    static let directory = Fixtures.url("bundles")

    static func manifest() throws -> Manifest {
        try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: directory.appendingPathComponent("manifest.json")))
    }

    @Test func everyBundleGetsItsVerdict() throws {
        let manifest = try Self.manifest()
        let verifier = try LogVerifier(verifierKey: manifest.verifierKey)
        #expect(manifest.bundles.filter(\.valid).count >= 6)
        #expect(manifest.bundles.filter { !$0.valid }.count >= 6)
        for item in manifest.bundles {
            let bundle = try JSONDecoder().decode(ProofBundle.self, from: Data(contentsOf: Self.directory.appendingPathComponent(item.file)))
            do {
                let result = try verifier.verify(bundle)
                #expect(item.valid, "\(item.file) verified but must fail")
                #expect(result.decision == item.decision, "\(item.file)")
            } catch {
                #expect(!item.valid, "\(item.file) must verify: \(error)")
                #expect("\(error)".contains(item.failure ?? ""), "\(item.file): \(error)")
            }
        }
    }

    @Test func validBundlesFailUnderAnotherKey() throws {
        let other = try LogVerifier(verifierKey: "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
        for item in try Self.manifest().bundles where item.valid {
            let bundle = try JSONDecoder().decode(ProofBundle.self, from: Data(contentsOf: Self.directory.appendingPathComponent(item.file)))
            #expect(throws: VerificationFailure.self) { try other.verify(bundle) }
        }
    }
}
