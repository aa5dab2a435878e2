import ArgumentParser
import ConsentCore
import ConsentCrypto
import ConsentLedger
import ConsentStoreSQLite
import ConsentVerifier
import Foundation

extension ConsentLedgerCommand {
    struct Demo: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Walk through the ledger on a fresh data directory: record a sample history, sign, prove, verify.")

        @Option(help: "Where to create the demo ledger (must not exist). Default: a new temporary directory.")
        var data: String?
        @Option(help: "Hash and signature suite: sha256-ed25519 or sm3-sm2.") var suite: String = Suite.sha256Ed25519.rawValue

        func validate() throws {
            guard Suite(rawValue: suite) != nil else { throw ValidationError("--suite must be sha256-ed25519 or sm3-sm2") }
            if let data, FileManager.default.fileExists(atPath: data) {
                throw ValidationError("\(data) already exists; the demo needs a fresh directory")
            }
        }

        func run() async throws {
            let path = data ?? FileManager.default.temporaryDirectory
                .appendingPathComponent("consent-ledger-demo-\(UUID().uuidString.prefix(8).lowercased())").path
            let directory = DataDirectory(path)
            let store = try SQLiteStore(directory: directory)
            let parameters = try await Ledger.create(
                directory: directory, store: store, origin: "demo.consent-ledger.example/log", suite: Suite(rawValue: suite)!)
            let ledger = try await Ledger.open(directory: directory, store: store)
            step(1, "Created a ledger in \(path)")
            print("   origin \(parameters.origin), suite \(parameters.suite.rawValue)")
            print("   verifier key: \(ledger.verifier.encoded)")

            // Record the sample history in two batches, so that there are two signed checkpoints.
            let inputs = try demoHistoryJSONL.split(separator: "\n").map { try JSONDecoder().decode(EventInput.self, from: Data($0.utf8)) }
            let validator = EventValidator()
            let now = await ledger.now
            let events = try inputs.map { try validator.validate($0, now: now) }
            let half = events.count / 2
            _ = try await ledger.append(Array(events[..<half]))
            let early = await ledger.checkpointNote
            _ = try await ledger.append(Array(events[half...]))
            step(2, "Recorded \(events.count) consent events from 3 senders (web form, app, call and paper opt-ins;")
            print("   opt-outs by SMS reply R, TD, 退订, 拒收, 我要退订; one global decline from the operator platform)")
            for (event, index) in zip(events, 0...) where index < 3 || index == events.count - 1 {
                print("   #\(index) \(event.action.name) \(event.sender) \(event.subject.masked) via \(event.method.name)")
            }
            print("   ...")
            // Replaying the same client keys appends nothing.
            let replay = try await ledger.append(Array(events[half...]))
            print("   re-sending the last \(replay.count) events with their client keys appended nothing: \(replay.allSatisfy(\.duplicate))")

            let note = await ledger.checkpointNote
            step(3, "The signed checkpoint (C2SP tlog-checkpoint in a signed note):")
            print(note.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map { "   " + $0 }.joined(separator: "\n"))

            // The first opt-out (the bank's, by the reply "R"); a fresh log numbers events from 0.
            let revocation = Int64(events.firstIndex { $0.action == .revoke }!)
            let (entry, header) = try await ledger.entry(at: revocation)
            let proof = try await ledger.inclusionProof(index: revocation)
            step(4, "Inclusion proof for entry \(revocation) (an opt-out by SMS reply):")
            if case .consent(let h) = header {
                print("   \(h.action.name) by \(h.sender), scope \(h.scope.description), method \(h.method.name), occurred \(RFC3339.format(h.occurredAt))")
            }
            print("   leaf \(proof.leafHash.hex), \(proof.proof.count) hashes in the audit path")

            let verifier = try LogVerifier(verifierKey: ledger.verifier.encoded)
            try verifier.verify(proof, checkpoint: note, leafData: entry.header)
            step(5, "Verified offline with only the verifier key: the entry hashes to the leaf, the leaf is in the signed tree.")
            let earlyCheckpoint = try verifier.checkpoint(early)
            let consistency = try await ledger.consistencyProof(oldSize: earlyCheckpoint.size)
            try verifier.verify(consistency, checkpoint: note, oldCheckpoint: early)
            print("   and the checkpoint at size \(earlyCheckpoint.size) is consistent with the one at size \(consistency.newSize): the log only grew.")
            var tampered = proof
            tampered.leafHash = Digest(suite: parameters.suite).leafHash(Array("forged".utf8))
            let caught = (try? verifier.verify(tampered, checkpoint: note)) == nil
            print("   a forged entry is rejected: \(caught)")

            step(6, "Try next:")
            print("""
                   consent-ledger record --data \(path) --sender shop-youxuan --subject 13812345678 --action grant --method web-form
                   consent-ledger entry --data \(path) --index \(revocation) --body
                   consent-ledger prove inclusion --data \(path) --index \(revocation) --json > proof.json
                   consent-ledger checkpoint --data \(path) > checkpoint.txt
                   consent-ledger verify inclusion proof.json --checkpoint checkpoint.txt --key '\(ledger.verifier.encoded)'
                """)
        }

        private func step(_ n: Int, _ text: String) { print("\n\(n). \(text)") }
    }
}
