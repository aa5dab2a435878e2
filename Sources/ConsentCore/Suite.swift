/// The hash and signature algorithms of a log, chosen at creation and never changed.
public enum Suite: String, Sendable, CaseIterable, Codable {
    /// SHA-256 hashes and Ed25519 signatures: the C2SP-compatible default.
    case sha256Ed25519 = "sha256-ed25519"
    /// SM3 hashes and SM2 signatures (GB/T 32905, GB/T 32918), for commercial-cryptography deployments.
    case sm3SM2 = "sm3-sm2"
}
