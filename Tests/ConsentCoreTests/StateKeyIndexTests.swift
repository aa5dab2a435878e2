import ConsentCore
import ConsentCrypto
import ConsentTestSupport
import Testing

@Suite struct StateKeyIndexTests {
    /// Random sets and overwrites, through several growths, agree with a dictionary; absent keys
    /// (including ones sharing the first word with a present key) are absent.
    @Test func agreesWithADictionary() {
        var rng = SplitMix(seed: 11)
        var index = StateKeyIndex(capacity: 4)
        var oracle: [Hash: (Int64, ConsentAction)] = [:]
        let hasher = Digest(.sha256)
        let keys = (0..<5000).map { hasher.hash([UInt8(truncatingIfNeeded: $0), UInt8(truncatingIfNeeded: $0 >> 8)]) }
        for step in 0..<20_000 {
            let key = keys[Int(rng.next() % UInt64(keys.count))]
            let value = (Int64(rng.next() % (1 << 40)), rng.next() % 2 == 0 ? ConsentAction.grant : .revoke)
            index.set(key, index: value.0, action: value.1)
            oracle[key] = value
            if step % 997 == 0 { #expect(index.count == oracle.count) }
        }
        for key in keys {
            let found = index.lookup(key)
            #expect(found?.index == oracle[key]?.0)
            #expect(found?.action == oracle[key]?.1)
        }
        // Same first word (the bucket), different key: never confused.
        for key in keys.prefix(100) {
            var bytes = key.bytes
            bytes[31] ^= 1
            let twin = Hash(bytes: bytes)!
            if oracle[twin] == nil { #expect(index.lookup(twin) == nil) }
        }
        #expect(index.lookup(hasher.hash([0xff, 0xff, 0xff])) == nil)
        #expect(index.count == oracle.count)
    }

    @Test func largestIndexRoundTrips() {
        var index = StateKeyIndex()
        let key = Digest(.sha256).hash([1])
        index.set(key, index: (1 << 61) - 1, action: .revoke)
        #expect(index.lookup(key)?.index == (1 << 61) - 1)
        #expect(index.lookup(key)?.action == .revoke)
    }
}
