import ArgumentParser
import ConsentCore
import ConsentLedger
import Foundation

extension ConsentLedgerCommand {
    struct Compact: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Purge the bodies whose retention has ended (and that no legal hold covers), recording each purge in the log.",
            discussion: """
                A body is kept while its grant is the current state of its key, and for the log's retention period \
                (at least five calendar months, China Standard Time) after it was superseded, or after it was recorded \
                for a revocation. Compaction purges it once the log's purge-after period has passed and no hold covers \
                it: it appends purge entries of up to 10,000 entries each, every one in its own batch that also deletes \
                those bodies, so a run killed at any moment leaves whole purges only and a rerun finishes the work. \
                Headers, roots and every proof stay valid. Freed space is returned to the file system at the end.
                """)

        @OptionGroup var dataOptions: DataOptions
        @Option(help: "Apply the policy as of this RFC 3339 time (default: now). Never before the log's latest entry; a real run records its purges then, moving the log's clock forward.")
        var now: String?
        @Flag(help: "Only report what would be purged.")
        var dryRun = false
        @Option(help: "Bodies per purge entry (and per transaction), 1-10000.")
        var batchSize = PurgeHeader.maximumCount
        @Flag(help: "Afterwards rebuild the database (SQLite VACUUM): repacks pages that purges left partly empty; needs free space the size of the database and blocks appends while it runs.")
        var vacuum = false
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let at = try parseTime(now, option: "--now")
            let ledger = try await dataOptions.open(writable: !dryRun)
            let showProgress = !output.json && isatty(STDERR_FILENO) == 1
            let report = try await ledger.compact(now: at, dryRun: dryRun, batchSize: batchSize, vacuum: vacuum) { phase, done, total in
                if showProgress { FileHandle.standardError.write(Data("\r\(phase) \(done)/\(total)   ".utf8)) }
            }
            if showProgress { printError("") }
            if output.json {
                try printJSON(report)
                return
            }
            let verb = dryRun ? "would purge" : "purged"
            print("\(dryRun ? "Dry run at" : "Compacted at") \(RFC3339.format(report.now)) under retention \(report.retention), purge after \(report.purgeAfter)")
            print("examined \(report.examined) bodies: \(verb) \(report.purged), kept \(report.kept) "
                + "(\(report.keptCurrent) current grants, \(report.keptRetained) within retention, \(report.keptHeld) under a legal hold)")
            if !report.purgeEntries.isEmpty {
                print("purge entries: \(report.purgeEntries.map(String.init).joined(separator: ", "))")
            }
            if let before = report.bytesBefore, let after = report.bytesAfter {
                print("database: \(before) bytes before, \(after) after (\(before - after) reclaimed)")
            }
        }
    }

    struct Hold: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Place, release and list legal holds: a held body is never purged, whatever its age.",
            subcommands: [Add.self, Release.self, List.self])

        /// `--reason` and `--reference`, shared by add and release.
        struct Why: ParsableArguments {
            @Option(help: "Why (recorded in the log and kept forever: no personal data; 1-1000 bytes, one line).")
            var reason: String
            @Option(help: "An external reference, e.g. a 12321 complaint number (1-64 printable ASCII characters, no spaces).")
            var reference: String

            func validate() throws {
                guard HoldHeader.isValidReason(reason) else { throw ValidationError("--reason must be 1-1000 bytes of text on one line") }
                guard HoldHeader.isValidReference(reference) else {
                    throw ValidationError("--reference must be 1-64 printable ASCII characters without spaces")
                }
            }
        }

        struct Add: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Place a hold on a subject, a sender, or a (subject, sender) pair.")
            @OptionGroup var dataOptions: DataOptions
            @Option(help: "The subject's phone number (the log records only its subject key).")
            var subject: String?
            @Option(help: "The sender id.")
            var sender: String?
            @OptionGroup var why: Why
            @OptionGroup var output: OutputOptions

            func validate() throws {
                guard subject != nil || sender != nil else { throw ValidationError("give --subject, --sender or both") }
                if let sender, !EventValidator.isValidSenderID(sender) { throw ValidationError("--sender: not a valid sender id") }
            }

            func run() async throws {
                let ledger = try await dataOptions.open(writable: true)
                let subjectKey = try await subject.map { try PhoneNumber(normalizing: $0) }.asyncMap { await ledger.subjectKey(of: $0).key }
                let target: HoldTarget =
                    switch (subjectKey, sender) {
                    case (let key?, let sender?): .subjectSender(key, sender)
                    case (let key?, nil): .subject(key)
                    case (nil, let sender?): .sender(sender)
                    default: fatalError("validated")
                    }
                let index = try await ledger.placeHold(target, reason: why.reason, reference: why.reference)
                if output.json { try printJSON(["index": index]) } else { print("hold placed: entry \(index)") }
            }
        }

        struct Release: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Release the hold placed by an entry (see `hold list`).")
            @OptionGroup var dataOptions: DataOptions
            @Option(help: "The index of the entry that placed the hold.")
            var entry: Int64
            @OptionGroup var why: Why
            @OptionGroup var output: OutputOptions

            func run() async throws {
                let ledger = try await dataOptions.open(writable: true)
                let index = try await ledger.releaseHold(placedAt: entry, reason: why.reason, reference: why.reference)
                if output.json { try printJSON(["index": index]) } else { print("hold of entry \(entry) released: entry \(index)") }
            }
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List the holds in force.")
            @OptionGroup var dataOptions: DataOptions
            @OptionGroup var output: OutputOptions

            func run() async throws {
                let ledger = try await dataOptions.open(writable: false)
                let holds = try await ledger.holdsInForce()
                if output.json {
                    try printJSON(holds)
                } else if holds.isEmpty {
                    print("no holds in force")
                } else {
                    for h in holds {
                        let target = [h.subjectKey.map { "subject key \($0.hex)" }, h.sender.map { "sender \($0)" }].compactMap { $0 }
                        print("entry \(h.index) at \(h.placedAt): \(target.joined(separator: ", ")) — \(h.reason) [\(h.reference)]")
                    }
                }
            }
        }
    }
}

extension Optional {
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        switch self {
        case .some(let value): return try await transform(value)
        case .none: return nil
        }
    }
}
