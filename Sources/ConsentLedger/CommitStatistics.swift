/// What this process's writer has committed since it opened the log: for the service's metrics.
public struct CommitStatistics: Sendable, Equatable {
    /// Upper bounds of the batch-size buckets (consent events per batch).
    public static let sizeBuckets = [1, 10, 100, 1_000, 10_000]

    /// Batches committed (events, heartbeats, holds and purges).
    public internal(set) var batches = 0
    /// Consent events in them.
    public internal(set) var events = 0
    /// Batches per bucket: those with at most ``sizeBuckets``[i] events (cumulative, as Prometheus counts).
    public internal(set) var sizeBuckets = Array(repeating: 0, count: CommitStatistics.sizeBuckets.count)
    /// Total time spent sealing and committing, in seconds.
    public internal(set) var seconds = 0.0

    mutating func record(events count: Int, seconds elapsed: Double) {
        batches += 1
        events += count
        seconds += elapsed
        for (i, bound) in Self.sizeBuckets.enumerated() where count <= bound { sizeBuckets[i] += 1 }
    }
}

extension Duration {
    /// The duration in seconds, as a floating-point number (for rates and metrics).
    public var inSeconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
