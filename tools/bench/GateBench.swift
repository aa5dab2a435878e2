import ConsentCore
import ConsentLedger
import ConsentStoreSQLite
import Foundation

/// `ledger-bench gate [entries]`: the send gate in process, without HTTP. A log of `entries` events
/// over entries/2 subjects and 100 senders; loads the gate's table, then checks 1,000,000 numbers
/// for one sender (chunks of 16,384, as `POST /v1/gate` does), and 100,000 the key-link way for
/// comparison. Parsing the numbers is timed on its own.
enum GateBench {
    static func run(target: Int) async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("consent-ledger-bench-gate-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let directory = DataDirectory(path)
        let store = try SQLiteStore(directory: directory)
        _ = try await Ledger.create(directory: directory, store: store, origin: "bench.example/gate", suite: .sha256Ed25519)
        let gate = try await Ledger.open(directory: directory, store: store)
        print("gate benchmark: \(target) events, data in \(path)")
        let validator = EventValidator()
        let now = await gate.now
        let subjects = max(target / 2, 1)
        var filled = 0
        let fill = try await seconds {
            while filled < target {
                let n = min(10_000, target - filled)
                let events = try (filled..<filled + n).map { i in
                    try validator.validate(
                        EventInput(
                            sender: "sender\(i % 100)", subject: "13\(String(format: "%09d", (i &* 2_654_435_761) % subjects))",
                            action: i % 4 == 0 ? "revoke" : "grant", port: i % 3 == 0 ? "10690001" : nil, method: "web-form",
                            evidence: ["ip": "203.0.113.\(i % 250)"]),
                        now: now)
                }
                _ = try await gate.append(events)
                filled += n
            }
        }
        print("fill:                                   \(rate(target, fill))")
        // The table is read from the stored map, as `serve` does at start.
        var keys = 0
        let load = try await seconds { keys = try await gate.loadGateIndex() }
        print(String(format: "gate table loaded: %d keys in %.2f s", keys, load))
        let count = 1_000_000
        // Numbers of subjects that sender7 has events for (every 100th event) mixed with others.
        let texts = (0..<count).map { i in "13\(String(format: "%09d", (i * 100 + 7) &* 2_654_435_761 % subjects))" }
        var numbers: [PhoneNumber] = []
        let parse = try await seconds { numbers = try texts.map { try PhoneNumber(normalizing: $0) } }
        print("numbers parsed:                         \(rate(count, parse))")
        let position = await gate.committedPosition!
        var tally: [ConsentDecision: Int] = [:]
        let fast = try await seconds {
            for start in stride(from: 0, to: count, by: 16_384) {
                let answers = try await gate.gateAnswers(
                    subjects: Array(numbers[start..<min(start + 16_384, count)]), sender: "sender7", port: "10690001", purpose: nil, at: position)
                for a in answers { tally[a.decision, default: 0] += 1 }
            }
        }
        print("gate, table:                            \(rate(count, fast)) (\(tally.map { "\($0.key.rawValue) \($0.value)" }.sorted().joined(separator: ", ")))")
        let slowCount = 100_000
        let slow = try await seconds {
            for start in stride(from: 0, to: slowCount, by: 10_000) {
                _ = try await gate.answers(
                    subjects: Array(numbers[start..<start + 10_000]), sender: "sender7", port: "10690001", purpose: nil, at: position.time)
            }
        }
        print("gate, key links (before the table):     \(rate(slowCount, slow))")
    }
}
