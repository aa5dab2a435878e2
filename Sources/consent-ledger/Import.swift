import ArgumentParser
import ConsentCore
import ConsentLedger
import Foundation

extension ConsentLedgerCommand {
    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record many events from a JSON Lines or CSV file, durably, in batches.",
            discussion: """
                JSON Lines: one object per line with the fields of `record` (sender, subject, action, scope, port, \
                purpose, method, templateHash, occurredAt, evidence {key: value}, clientKey).
                CSV: a header row naming columns sender, subject, action, scope, port, purpose, method, templateHash, \
                occurredAt, clientKey and evidence.<key>. Format from --format, else from the extension (.csv).

                Every line is validated first: if any is invalid, each is reported with its line number and nothing \
                is written, unless --skip-invalid, which writes the valid lines and reports the rejects.
                Batches are committed durably one after another; a progress line on standard error reports each. \
                Give events client keys to make a re-run after an interruption append nothing twice.
                """)

        @OptionGroup var dataOptions: DataOptions
        @Argument(help: "The file to import (- for standard input).") var file: String
        @Option(help: "jsonl or csv (default: from the file extension).") var format: String?
        @Flag(help: "Write the valid lines and report the invalid ones instead of writing nothing.")
        var skipInvalid = false
        @Option(help: "Events per durable batch.") var batchSize = 10_000
        @OptionGroup var output: OutputOptions

        func validate() throws {
            guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
            if let format, format != "jsonl", format != "csv" { throw ValidationError("--format must be jsonl or csv") }
        }

        func run() async throws {
            let text = try readText(file)
            let isCSV = (format ?? (file.lowercased().hasSuffix(".csv") ? "csv" : "jsonl")) == "csv"
            let rows = isCSV ? try CSVImport.rows(text) : jsonLines(text)
            let ledger = try await dataOptions.open(writable: true)
            let validator = EventValidator()
            let now = await ledger.now
            var valid: [(line: Int, event: ValidatedEvent)] = []
            var rejects: [(line: Int, reason: String)] = []
            for row in rows {
                do {
                    valid.append((row.line, try validator.validate(try row.input.get(), now: now)))
                } catch {
                    rejects.append((row.line, error.description))
                }
            }
            for reject in rejects.prefix(50) { printError("line \(reject.line): \(reject.reason)") }
            if rejects.count > 50 { printError("... and \(rejects.count - 50) more invalid lines") }
            if !rejects.isEmpty && !skipInvalid {
                throw LedgerError.invalidRequest(
                    "\(rejects.count) of \(rows.count) lines are invalid; nothing was written (fix them, or pass --skip-invalid)")
            }
            var appended = 0
            var duplicates = 0
            var firstIndex: Int64?
            var lastIndex: Int64?
            var done = 0
            for start in stride(from: 0, to: valid.count, by: batchSize) {
                let chunk = valid[start..<min(start + batchSize, valid.count)]
                let receipts = try await ledger.append(chunk.map(\.event))
                for receipt in receipts {
                    if receipt.duplicate { duplicates += 1 } else {
                        appended += 1
                        firstIndex = firstIndex ?? receipt.index
                        lastIndex = receipt.index
                    }
                }
                done += chunk.count
                if valid.count > batchSize {
                    printError("committed \(done)/\(valid.count) events through line \(chunk.last!.line); log size \(await ledger.size)")
                }
            }
            let summary = ImportSummary(
                lines: rows.count, appended: appended, duplicates: duplicates, rejected: rejects.count,
                rejects: rejects.map { ImportSummary.Reject(line: $0.line, reason: $0.reason) }, firstIndex: firstIndex,
                lastIndex: lastIndex, size: await ledger.size)
            if output.json {
                try printJSON(summary)
            } else {
                var text = "Imported \(appended) events"
                if let firstIndex, let lastIndex { text += " (indexes \(firstIndex)-\(lastIndex))" }
                if duplicates > 0 { text += ", \(duplicates) already recorded" }
                if !rejects.isEmpty { text += ", \(rejects.count) invalid lines skipped" }
                print(text + "; log size \(summary.size)")
            }
        }

        /// One row per non-empty line, decoded on two threads (JSON decoding is most of an import's time).
        private func jsonLines(_ text: String) -> [CSVImport.Row] {
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            var rows = [CSVImport.Row?](repeating: nil, count: lines.count)
            rows.withUnsafeMutableBufferPointer { out in
                nonisolated(unsafe) let out = out
                onTwoThreads(count: lines.count, minimum: 2048) { _, range in
                    let decoder = JSONDecoder()
                    for offset in range {
                        let trimmed = lines[offset].trimmingCharacters(in: .whitespaces)
                        if trimmed.isEmpty { continue }
                        do {
                            out[offset] = .init(line: offset + 1, input: .success(try decoder.decode(EventInput.self, from: Data(trimmed.utf8))))
                        } catch {
                            out[offset] = .init(line: offset + 1, input: .failure(EventValidationError(field: "json", describe(error))))
                        }
                    }
                }
            }
            return rows.compactMap { $0 }
        }

        private func describe(_ error: any Error) -> String {
            switch error {
            case DecodingError.keyNotFound(let key, _): return "missing field \"\(key.stringValue)\""
            case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
                return "wrong type at \(context.codingPath.map(\.stringValue).joined(separator: "."))"
            case DecodingError.dataCorrupted(let context): return context.debugDescription
            default: return "not a JSON object"
            }
        }
    }
}

struct ImportSummary: Encodable {
    struct Reject: Encodable {
        var line: Int
        var reason: String
    }
    var lines: Int
    var appended: Int
    var duplicates: Int
    var rejected: Int
    var rejects: [Reject]
    var firstIndex: Int64?
    var lastIndex: Int64?
    var size: Int64
}
