import Testing

@testable import ConsentServer

@Suite struct RateLimiterTests {
    /// A bucket of 3 refilled at 2 per second: a burst of 3, then one more every half second;
    /// tokens have separate buckets; the wait until the next request is what is missing.
    @Test func refillsAtTheRateUpToTheBurst() {
        let limiter = RateLimiter(rate: 2, burst: 3)
        let t0 = ContinuousClock.now
        for _ in 0..<3 { #expect(limiter.take("a", now: t0) == nil) }
        let wait = limiter.take("a", now: t0)
        #expect(wait.map { abs($0 - 0.5) < 1e-9 } == true)
        #expect(limiter.take("b", now: t0) == nil)
        #expect(limiter.take("a", now: t0 + .milliseconds(250)) != nil)
        #expect(limiter.take("a", now: t0 + .milliseconds(500)) == nil)
        // Idle for a minute: back to the burst, not more.
        let later = t0 + .seconds(60)
        for _ in 0..<3 { #expect(limiter.take("a", now: later) == nil) }
        #expect(limiter.take("a", now: later) != nil)
    }
}
