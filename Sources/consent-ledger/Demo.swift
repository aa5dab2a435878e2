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

            // Record the sample history in two batches (the opt-ins, then the rest), so that there are two
            // signed checkpoints and two times to ask about.
            let inputs = try demoHistoryJSONL.split(separator: "\n").map { try JSONDecoder().decode(EventInput.self, from: Data($0.utf8)) }
            let validator = EventValidator()
            let now = await ledger.now
            let events = try inputs.map { try validator.validate($0, now: now) }
            let half = events.firstIndex { $0.action == .revoke }!
            let firstReceipts = try await ledger.append(Array(events[..<half]))
            let early = await ledger.checkpointNote
            let earlyTime = await ledger.latestCommitTime!
            try await Task.sleep(for: .milliseconds(5))
            let secondReceipts = try await ledger.append(Array(events[half...]))
            let receipts = firstReceipts + secondReceipts
            step(2, "Recorded \(events.count) consent events from 3 senders in two batches (web form, app, call and paper opt-ins,")
            print("   opt-outs by SMS reply R, TD。, 退订, 拒收, 我要退订; one global decline from the operator platform)")
            for (event, receipt) in zip(events, receipts) where receipt.index < 3 {
                print("   #\(receipt.index) \(event.action.name) \(event.sender) \(event.subject.masked) via \(event.method.name)")
            }
            print("   ... each batch ends with a commit entry holding its time and the state-map root")
            // Replaying the same client keys appends nothing.
            let replay = try await ledger.append(Array(events[half...]))
            print("   re-sending the last \(replay.count) events with their client keys appended nothing: \(replay.allSatisfy(\.duplicate))")

            let note = await ledger.checkpointNote
            step(3, "The signed checkpoint (C2SP tlog-checkpoint in a signed note):")
            print(note.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map { "   " + $0 }.joined(separator: "\n"))

            // The first opt-out: the bank's, by the reply "R".
            let revocation = receipts[events.firstIndex { $0.action == .revoke }!].index
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

            step(6, "Consent questions, each answered with a proof bundle and verified offline:")
            let bank = events[0]  // the bank's web-form opt-in, later revoked at port 10690001 by the reply "R"
            let questions = [
                ("May \(bank.sender) text \(bank.subject.masked) from port 10690001 now?",
                    ConsentQuestion(subject: bank.subject, sender: bank.sender, port: "10690001", at: await ledger.latestCommitTime!)),
                ("... and at the time of the first batch, before the opt-out was recorded?",
                    ConsentQuestion(subject: bank.subject, sender: bank.sender, port: "10690001", at: earlyTime)),
                ("May the same bank text +86 150 0015 0000, who used the operator's decline platform?",
                    ConsentQuestion(subject: try PhoneNumber(normalizing: "15000150000"), sender: bank.sender, at: await ledger.latestCommitTime!)),
                ("May 91110000MA00EXAMP1 (a telecom sender) text \(bank.subject.masked), who never opted in to it?",
                    ConsentQuestion(subject: bank.subject, sender: "91110000MA00EXAMP1", at: await ledger.latestCommitTime!)),
            ]
            for (n, (text, question)) in questions.enumerated() {
                let bundle = try await ledger.proveConsent(question, includeBodies: true)
                let file = directory.path("proof-\(n + 1).json")
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                let data = try encoder.encode(bundle)
                try data.write(to: URL(fileURLWithPath: file))
                let verified = try verifier.verify(bundle)
                print("   \(text)")
                var line = "     → \(verified.decision.rawValue)"
                if let d = verified.deciding {
                    line += " (entry \(d.index): \(d.header.action.name) \(d.header.scope.description) via \(d.header.method.name)"
                    if let reply = verified.bodies[d.index]?.evidence[.replyText] { line += ", reply \"\(reply)\"" }
                    line += ")"
                }
                print(line + "; bundle \(file) (\(data.count) bytes) verified offline")
            }

            step(7, "Try next:")
            print("""
                   consent-ledger record --data \(path) --sender shop-youxuan --subject 13812345678 --action grant --method web-form
                   consent-ledger entry --data \(path) --index \(revocation) --body
                   consent-ledger prove inclusion --data \(path) --index \(revocation) --json > proof.json
                   consent-ledger checkpoint --data \(path) > checkpoint.txt
                   consent-ledger verify inclusion proof.json --checkpoint checkpoint.txt --key '\(ledger.verifier.encoded)'
                   consent-ledger query --data \(path) --subject 13800138000 --sender \(bank.sender) --port 10690001 --proof q.json
                   consent-ledger verify bundle \(directory.path("proof-1.json")) --key '\(ledger.verifier.encoded)'
                   consent-ledger history --data \(path) --subject 13800138000
                   consent-ledger retention --data \(path)
                   consent-ledger compact --data \(path) --now 2031-01-01T00:00:00Z --dry-run
                   consent-ledger audit --data \(path) --key '\(ledger.verifier.encoded)'
                   consent-ledger export --data \(path) --out export && consent-ledger audit --export export --key '\(ledger.verifier.encoded)'
                   consent-ledger report --data \(path) --out report.html
                   consent-ledger token create --data \(path) --role sender --sender \(bank.sender) > bank.token
                   consent-ledger serve --data \(path) --port 8080     # then: curl -H "Authorization: Bearer $(cat bank.token)" ...
                """)
        }

        private func step(_ n: Int, _ text: String) { print("\n\(n). \(text)") }
    }
}
