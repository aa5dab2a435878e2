import ArgumentParser
import ConsentCore
import ConsentCrypto
import ConsentLedger
import ConsentServer
import ConsentStoreSQLite
import ConsentVerifier
import Foundation

extension ConsentLedgerCommand {
    struct Audit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Audit a log with nothing but its verifier key: replay every entry and check everything.",
            discussion: """
                Reads a data directory (--data), an export directory (--export) or a running service (--url, with a \
                regulator --token: it serves the export's layout) and checks every leaf hash and the \
                hash chain, every signed checkpoint (signature with --key, and root), every commit entry's event count \
                and state root (recomputing the state map; --no-map skips that), entry invariants, bodies against their \
                hashes, that only purged bodies are missing, and that every purge was lawful. With --state FILE it saves \
                what it verified and later runs check only what is new, after a consistency proof from the saved \
                checkpoint; a rolled-back or rewritten log fails and both signed checkpoints are saved in FILE.evidence/. \
                Exit status: 0 everything checks, 1 a problem (the first bad entry is named), 2 bad input.
                """)

        @Option(name: .long, help: ArgumentHelp("The log's verifier key (name+keyid+base64), or a file holding it.", valueName: "VKEY"))
        var key: String
        @Option(name: .long, help: ArgumentHelp("A ledger data directory to audit.", valueName: "DIR"))
        var data: String?
        @Option(name: .long, help: ArgumentHelp("An export directory (`consent-ledger export`) to audit.", valueName: "DIR"))
        var export: String?
        @Option(name: .long, help: ArgumentHelp("A running service (`consent-ledger serve`) to audit, e.g. http://127.0.0.1:8080.", valueName: "URL"))
        var url: String?
        @Option(name: .long, help: ArgumentHelp("With --url: a regulator token, or a file holding it.", valueName: "TOKEN"))
        var token: String?
        @Option(name: .long, help: ArgumentHelp("Incremental monitoring: the state saved by the last run (created if missing).", valueName: "FILE"))
        var state: String?
        @Flag(name: .long, help: "Do not recompute the state map (state roots are not checked).")
        var noMap = false
        @OptionGroup var output: OutputOptions

        func validate() throws {
            guard [data, export, url].compactMap({ $0 }).count == 1 else {
                throw ValidationError("give exactly one of --data DIR, --export DIR and --url URL")
            }
            guard token == nil || url != nil else { throw ValidationError("--token goes with --url") }
            if let url, !(url.hasPrefix("http://") || url.hasPrefix("https://")) { throw ValidationError("--url must start with http:// or https://") }
        }

        func run() async throws {
            let verifier: NoteVerifier
            do { verifier = try NoteVerifier(parsing: try readVerifierKey(key)) } catch {
                printError("error: --key: \(error)")
                throw ExitCode(2)
            }
            let source: any AuditSource
            var notBefore: Milliseconds?
            do {
                if let data {
                    let directory = DataDirectory(data)
                    guard FileManager.default.fileExists(atPath: directory.path(SQLiteStore.fileName)) else {
                        throw LedgerError.invalidDirectory("no ledger in \(data)")
                    }
                    let store = try SQLiteStore(directory: directory)
                    notBefore = try await store.parameters()?.createdAt
                    source = try await StoreAuditSource(store: store)
                } else if let url {
                    // The suite follows from the verifier key; the service does not say when the log began.
                    let suite: Suite = verifier.publicKey.algorithm == .sm2 ? .sm3SM2 : .sha256Ed25519
                    let tokenText = try token.map { text in
                        FileManager.default.fileExists(atPath: text)
                            ? try String(contentsOfFile: text, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) : text
                    }
                    source = ExportSource(files: RemoteExportFiles(base: url, token: tokenText), suite: suite, createdAt: nil)
                } else {
                    let exportSource = try ExportSource(path: export!)
                    notBefore = exportSource.createdAt
                    source = exportSource
                }
            } catch {
                printError("error: \(error)")
                throw ExitCode(2)
            }
            var resume: AuditState?
            if let state {
                do { resume = try AuditState.load(path: state) } catch {
                    printError("error: --state \(state): \(error)")
                    throw ExitCode(2)
                }
            }
            let showProgress = !output.json && isatty(STDERR_FILENO) == 1
            LogAudit.tuneAllocatorForReplay()
            var options = AuditOptions(recomputeMap: !noMap, notBefore: notBefore)
            options.askForHugePages()
            let audit = LogAudit(verifier: verifier, options: options)
            let started = Date()
            let report: AuditReport
            let newState: AuditState?
            do {
                (report, newState) = try await audit.run(source: source, resume: resume) { done, total in
                    if showProgress { FileHandle.standardError.write(Data("\raudited \(done)/\(total) entries".utf8)) }
                }
            } catch {
                // The source could not be read (a server refusing the token, a vanished directory): not a verdict.
                if showProgress { printError("") }
                printError("error: \(error)")
                throw ExitCode(2)
            }
            if showProgress { printError("") }
            var evidenceFiles: [String] = []
            if let evidence = report.evidence {
                let dir = (state ?? "audit") + ".evidence"
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
                func size(_ note: String) -> String {
                    ((try? SignedNote(parsing: note)).flatMap { try? Checkpoint(text: $0.text) }).map { String($0.size) } ?? "unknown"
                }
                let saved = "\(dir)/checkpoint-\(size(evidence.savedCheckpoint))-verified-earlier.txt"
                let served = "\(dir)/checkpoint-\(size(evidence.servedCheckpoint))-served-now.txt"
                try AuditFiles.writeAtomically(Array(evidence.savedCheckpoint.utf8), to: saved)
                try AuditFiles.writeAtomically(Array(evidence.servedCheckpoint.utf8), to: served)
                try AuditFiles.writeAtomically(Array((evidence.reason + "\n").utf8), to: "\(dir)/reason.txt")
                evidenceFiles = [saved, served]
            }
            if let state, let newState { try newState.save(path: state) }
            let seconds = Date().timeIntervalSince(started)
            if output.json {
                struct Output: Encodable {
                    var report: AuditReport
                    var ok: Bool
                    var seconds: Double
                    var evidenceFiles: [String]
                    var stateSaved: Bool
                }
                try printJSON(
                    Output(report: report, ok: report.ok, seconds: seconds, evidenceFiles: evidenceFiles, stateSaved: state != nil && newState != nil))
            } else if let problem = report.problem {
                print("FAILED: \(problem)")
                if let index = report.firstBadIndex { print("first bad entry: \(index)") }
                for file in evidenceFiles { print("evidence saved: \(file)") }
            } else {
                let mode = report.from > 0 ? "entries \(report.from)..<\(report.size) (incremental)" : "\(report.entries) entries"
                let map = report.mapRecomputed ? " with their state roots recomputed" : " (state roots not recomputed: --no-map)"
                var line = "OK: \(mode): \(report.events) events, \(report.commits) batches" + map
                line += ", \(report.bodies) bodies, \(report.purgedBodies) purged bodies, \(report.holds) holds, \(report.purges) purges, "
                line += "\(report.checkpoints) signed checkpoints verified; size \(report.size), root \(report.root ?? "")"
                line += String(format: " (%.1f s)", seconds)
                print(line)
                if let state { print("state saved to \(state)") }
            }
            if !report.ok { throw ExitCode(1) }
        }
    }
}
