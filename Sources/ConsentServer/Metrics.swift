import ConsentCore
import ConsentLedger
import Foundation
import Synchronization

/// The service's counters, served at `GET /metrics` in the Prometheus text exposition format
/// (version 0.0.4). Written by hand: a dozen series do not need a metrics framework in the build.
/// Labels never carry personal data or unbounded values: routes are the documented templates, and
/// nothing is labelled by sender or token.
public final class ServiceMetrics: Sendable {
    /// Upper bounds of the request-duration histogram, in seconds.
    static let durationBuckets: [Double] = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30]

    struct RequestKey: Hashable {
        var method: String
        var route: String
        var status: Int
    }

    struct Histogram {
        var buckets: [Int]
        var sum = 0.0
        var count = 0

        init(bounds: Int) { buckets = Array(repeating: 0, count: bounds) }

        mutating func observe(_ value: Double, bounds: [Double]) {
            for (i, bound) in bounds.enumerated() where value <= bound { buckets[i] += 1 }
            sum += value
            count += 1
        }
    }

    struct State {
        var requests: [RequestKey: Int] = [:]
        var durations: [String: Histogram] = [:]
        var eventsRecorded = 0
        var eventsDuplicate = 0
        var gateNumbers = 0
        var moReplies: [String: Int] = [:]
        var rateLimited = 0
    }

    private let state = Mutex(State())

    public init() {}

    /// One request answered.
    func request(method: String, route: String, status: Int, seconds: Double) {
        state.withLock { s in
            s.requests[RequestKey(method: method, route: route, status: status), default: 0] += 1
            s.durations[route, default: Histogram(bounds: Self.durationBuckets.count)].observe(seconds, bounds: Self.durationBuckets)
        }
    }

    /// Events appended by `POST /v1/events` and MO replies (new ones and re-sent duplicates).
    func eventsRecorded(new: Int, duplicate: Int) {
        state.withLock {
            $0.eventsRecorded += new
            $0.eventsDuplicate += duplicate
        }
    }

    /// Numbers answered by the send gate.
    func gateChecked(_ count: Int) { state.withLock { $0.gateNumbers += count } }

    /// An MO reply classified.
    func moReply(verdict: String) { state.withLock { $0.moReplies[verdict, default: 0] += 1 } }

    /// A request refused by the per-token rate limit.
    func rateLimitHit() { state.withLock { $0.rateLimited += 1 } }

    /// The exposition text: the counters above, the ledger's commit statistics and its size.
    func exposition(ledger: LedgerGauges) -> String {
        let s = state.withLock { $0 }
        var out = ""
        func family(_ name: String, _ type: String, _ help: String) { out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n" }
        func sample(_ name: String, _ labels: [(String, String)], _ value: String) {
            let text = labels.isEmpty ? "" : "{" + labels.map { "\($0.0)=\"\(Self.escape($0.1))\"" }.joined(separator: ",") + "}"
            out += "\(name)\(text) \(value)\n"
        }
        family("consent_ledger_http_requests_total", "counter", "HTTP requests answered, by method, route template and status.")
        for (key, count) in s.requests.sorted(by: { ($0.key.route, $0.key.method, $0.key.status) < ($1.key.route, $1.key.method, $1.key.status) }) {
            sample("consent_ledger_http_requests_total", [("method", key.method), ("route", key.route), ("status", String(key.status))], String(count))
        }
        family("consent_ledger_http_request_duration_seconds", "histogram", "Time from request to response head, by route template.")
        for (route, h) in s.durations.sorted(by: { $0.key < $1.key }) {
            for (bound, count) in zip(Self.durationBuckets, h.buckets) {
                sample("consent_ledger_http_request_duration_seconds_bucket", [("route", route), ("le", Self.number(bound))], String(count))
            }
            sample("consent_ledger_http_request_duration_seconds_bucket", [("route", route), ("le", "+Inf")], String(h.count))
            sample("consent_ledger_http_request_duration_seconds_sum", [("route", route)], Self.number(h.sum))
            sample("consent_ledger_http_request_duration_seconds_count", [("route", route)], String(h.count))
        }
        family("consent_ledger_events_recorded_total", "counter", "Consent events appended through the service (events and MO replies).")
        sample("consent_ledger_events_recorded_total", [], String(s.eventsRecorded))
        family("consent_ledger_events_duplicate_total", "counter", "Events re-sent with a client key already recorded (nothing appended).")
        sample("consent_ledger_events_duplicate_total", [], String(s.eventsDuplicate))
        family("consent_ledger_gate_numbers_total", "counter", "Numbers answered by the send gate.")
        sample("consent_ledger_gate_numbers_total", [], String(s.gateNumbers))
        family("consent_ledger_mo_replies_total", "counter", "MO replies received, by verdict.")
        for (verdict, count) in s.moReplies.sorted(by: { $0.key < $1.key }) {
            sample("consent_ledger_mo_replies_total", [("verdict", verdict)], String(count))
        }
        family("consent_ledger_rate_limited_total", "counter", "Requests refused by the per-token rate limit (429).")
        sample("consent_ledger_rate_limited_total", [], String(s.rateLimited))
        family("consent_ledger_batches_committed_total", "counter", "Batches durably committed by this process (each ends with a commit entry).")
        sample("consent_ledger_batches_committed_total", [], String(ledger.commits.batches))
        family("consent_ledger_batch_events", "histogram", "Consent events per committed batch.")
        for (bound, count) in zip(CommitStatistics.sizeBuckets, ledger.commits.sizeBuckets) {
            sample("consent_ledger_batch_events_bucket", [("le", String(bound))], String(count))
        }
        sample("consent_ledger_batch_events_bucket", [("le", "+Inf")], String(ledger.commits.batches))
        sample("consent_ledger_batch_events_sum", [], String(ledger.commits.events))
        sample("consent_ledger_batch_events_count", [], String(ledger.commits.batches))
        family("consent_ledger_commit_seconds", "summary", "Time to seal and durably commit a batch.")
        sample("consent_ledger_commit_seconds_sum", [], Self.number(ledger.commits.seconds))
        sample("consent_ledger_commit_seconds_count", [], String(ledger.commits.batches))
        family("consent_ledger_log_entries", "gauge", "Entries in the log (its tree size).")
        sample("consent_ledger_log_entries", [], String(ledger.size))
        if let latest = ledger.latestCommit {
            family("consent_ledger_latest_commit_timestamp_seconds", "gauge", "recordedAt of the log's latest commit entry.")
            sample("consent_ledger_latest_commit_timestamp_seconds", [], Self.number(Double(latest) / 1000))
        }
        return out
    }

    /// What the exposition reads from the ledger, taken in one go.
    struct LedgerGauges {
        var size: Int64
        var latestCommit: Milliseconds?
        var commits: CommitStatistics

        init(_ ledger: Ledger) async {
            size = await ledger.size
            latestCommit = await ledger.latestCommitTime
            commits = await ledger.commitStatistics
        }
    }

    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }

    static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }
}
