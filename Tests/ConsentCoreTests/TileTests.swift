import ConsentCrypto
import ConsentTestSupport
import Foundation
import Testing

@testable import ConsentCore

/// A tree grown leaf by leaf in memory: the stored hashes, and the root at every size.
private final class TileTree: HashReader {
    var stored: [Hash] = []
    var roots: [Hash]
    var leaves: [Hash] = []
    var frontier = MerkleFrontier()
    let hasher: Digest

    init(hasher: Digest) {
        self.hasher = hasher
        roots = [hasher.hash([])]
    }

    func append(_ leaf: Hash) {
        leaves.append(leaf)
        stored += frontier.append(leafHash: leaf, hasher: hasher)
        roots.append(frontier.root(hasher: hasher))
    }

    func readHashes(_ indexes: [Int64]) throws -> [Hash] {
        try indexes.map { i in
            guard i >= 0, i < stored.count else { throw MerkleError("no hash \(i)") }
            return stored[Int(i)]
        }
    }

    /// Every tile of the tree of `size` leaves with its hashes, read through the stored indexes.
    func tiles(size: Int64) throws -> [TileID: [Hash]] {
        var tiles: [TileID: [Hash]] = [:]
        for t in TileID.tiles(forTreeSize: size) {
            #expect(t.isAvailable(inTreeSize: size))
            tiles[t] = try t.hashes(fromData: t.data(reader: self))
        }
        return tiles
    }
}

/// Go's sumdb/tlog output (tools/interop/tiles/main.go).
private struct TileVectors: Decodable {
    struct Inclusion: Decodable { var index: Int64; var proof: [Hash] }
    struct Size: Decodable { var size: Int64; var root: Hash; var tileRoot: Hash; var newTiles: [String]; var inclusion: [Inclusion] }
    struct Update: Decodable { var old: Int64; var new: Int64; var newTiles: [String] }
    var sizes: [Size]
    var updates: [Update]
    var tileDataSHA256: [String: Hash]
    var tileDataHex: [String: String]
}

private func tileKey(_ t: TileID) -> String { "\(t.level)/\(t.index)/\(t.width)" }

/// Go x/mod 0.7.0's NewTiles lists every width of a partial tile up to the widest; keep only the
/// widest per (L, N), in order.
private func widestOnly(_ keys: [String]) -> [String] {
    func ln(_ k: String) -> Substring { k[..<k.lastIndex(of: "/")!] }
    return keys.enumerated().filter { i, k in i + 1 == keys.count || ln(keys[i + 1]) != ln(k) }.map(\.element)
}

@Suite struct TileTests {
    let hasher = Digest(.sha256)

    // MARK: Paths

    @Test func pathKnownAnswers() {
        // The spec's own example: index 1234067 encodes as x001/x234/067.
        #expect(TileID(level: 0, index: 1_234_067).path == "tile/0/x001/x234/067")
        // Go tile.go's examples (with C2SP's path, which has no height element).
        #expect(TileID(level: 4, index: 1_234_067, width: 1).path == "tile/4/x001/x234/067.p/1")
        #expect(TileID(level: 4, index: 1_234_067, width: 256).path == "tile/4/x001/x234/067")
        #expect(TileID(level: 0, index: 123_456_789).path == "tile/0/x123/x456/789")
        #expect(TileID(level: 0, index: 0).path == "tile/0/000")
        #expect(TileID(level: 1, index: 5, width: 17).path == "tile/1/005.p/17")
        #expect(TileID(level: 63, index: 999, width: 255).path == "tile/63/999.p/255")
        #expect(TileID(level: 2, index: 1000).path == "tile/2/x001/000")
        #expect(TileID(level: 0, index: 1_000_000).path == "tile/0/x001/x000/000")
        #expect(TileID(level: 0, index: Int64.max).path == "tile/0/x009/x223/x372/x036/x854/x775/807")
        #expect(EntryBundleID(index: 1_234_067).path == "tile/entries/x001/x234/067")
        #expect(EntryBundleID(index: 273, width: 112).path == "tile/entries/273.p/112")

        for t in [
            TileID(level: 0, index: 1_234_067), TileID(level: 4, index: 1_234_067, width: 1),
            TileID(level: 63, index: Int64.max, width: 255), TileID(level: 10, index: 999_999),
        ] {
            #expect(TileID(path: t.path) == t)
            #expect(TileResource(path: t.path) == .tile(t))
            #expect(EntryBundleID(path: t.path) == nil)
        }
        let b = EntryBundleID(index: 1_234_067, width: 3)
        #expect(EntryBundleID(path: b.path) == b)
        #expect(TileResource(path: "tile/entries/x001/x234/067.p/3") == .entries(b))
        #expect(TileID(path: "tile/entries/000") == nil)
        #expect(TileID(path: "tile/0/x001/x234/067") == TileID(level: 0, index: 1_234_067))
    }

    @Test func pathRoundTripsRandomly() {
        var rng = SplitMix(seed: 7)
        for _ in 0..<5000 {
            let level = Int(rng.next() % 64)
            let index = Int64(bitPattern: rng.next() >> (rng.next() % 64)) & Int64.max
            let width = Int(rng.next() % 256) + 1
            let t = TileID(level: level, index: index, width: width)
            #expect(TileID(path: t.path) == t)
            let b = EntryBundleID(index: index, width: width)
            #expect(EntryBundleID(path: b.path) == b)
        }
    }

    @Test func pathRejections() {
        let bad = [
            "", "tile", "tile/", "tile/0", "tile/0/", "/tile/0/000", "tile/0/000/", "tile//0/000", "tiles/0/000",
            "Tile/0/000", "tile/0/0", "tile/0/00", "tile/0/0000", "tile/0/1", "tile/0/x000", "tile/0/x001",
            "tile/0/001/002", "tile/0/x001/x002", "tile/0/x000/001", "tile/0/x000/x001/002", "tile/0/x01/234",
            "tile/0/x0001/234", "tile/0/X001/234", "tile/0/y001/234", "tile/0/x001/x234/67", "tile/0/-01",
            "tile/0/+01", "tile/0/ 01", "tile/0/0a1", "tile/0/00１", "tile/00/000", "tile/01/000", "tile/64/000",
            "tile/-1/000", "tile/+1/000", "tile/100/000", "tile/data/000", "tile/8/0/000", "tile/0/000.p/256",
            "tile/0/000.p/0", "tile/0/000.p/00", "tile/0/000.p/01", "tile/0/000.p/257", "tile/0/000.p/1000",
            "tile/0/000.p/", "tile/0/000.p", "tile/0/000.p/1/", "tile/0/000.p/1/2", "tile/0/000.q/1",
            "tile/0/000p/1", "tile/0/x001.p/1", "tile/0/x001.p/1/000", "tile/0/000.p/+1", "tile/0/000.p/-1",
            "tile/0/000.P/1", "tile/0/000/.p/1", "tile/0/x009/x223/x372/x036/x854/x775/808",
            "tile/0/x001/x009/x223/x372/x036/x854/x775/807", "tile/entries/0", "tile/entries/000.p/256",
            "tile/entries/000/", "tile/entries", "tile/entries/", "tile/Entries/000", "tile/0/000?x", "tile/0/000#",
            "tile/0/000.p/1\n", "tile\\0\\000",
        ]
        for path in bad {
            #expect(TileResource(path: path) == nil, "\(path) should be rejected")
        }
    }

    // MARK: Tile sets

    @Test func tileSetsForKnownSizes() {
        func keys(_ size: Int64) -> [String] { TileID.tiles(forTreeSize: size).map(\.path) }
        #expect(TileID.tiles(forTreeSize: 0).isEmpty)
        #expect(keys(1) == ["tile/0/000.p/1"])
        #expect(keys(255) == ["tile/0/000.p/255"])
        // "a tree of size 256 will be represented by a full level 0 tile and a partial level 1 tile of width 1"
        #expect(keys(256) == ["tile/0/000", "tile/1/000.p/1"])
        #expect(keys(257) == ["tile/0/000", "tile/0/001.p/1", "tile/1/000.p/1"])

        let t65536 = TileID.tiles(forTreeSize: 65536)
        #expect(t65536.count == 256 + 1 + 1)
        #expect(t65536.filter { $0.level == 0 } == (0..<256).map { TileID(level: 0, index: $0) })
        #expect(Array(t65536.suffix(2)) == [TileID(level: 1, index: 0), TileID(level: 2, index: 0, width: 1)])

        let t65537 = TileID.tiles(forTreeSize: 65537)
        #expect(t65537.count == 256 + 1 + 1 + 1)
        #expect(t65537[256] == TileID(level: 0, index: 256, width: 1))
        #expect(Array(t65537.suffix(2)) == [TileID(level: 1, index: 0), TileID(level: 2, index: 0, width: 1)])

        // The spec's example: "a tree of size 70,000 will be represented by 273 full level 0 tiles,
        // one partial level 0 tile of width 112, one full level 1 tile, one partial level 1 tile of
        // width 17, and one partial level 2 tile of width 1."
        let t70000 = TileID.tiles(forTreeSize: 70000)
        #expect(t70000.count == 273 + 1 + 1 + 1 + 1)
        #expect(t70000.filter { $0.level == 0 && $0.isFull }.count == 273)
        #expect(Array(t70000.suffix(4)) == [
            TileID(level: 0, index: 273, width: 112), TileID(level: 1, index: 0),
            TileID(level: 1, index: 1, width: 17), TileID(level: 2, index: 0, width: 1),
        ])

        // 1234567 = 4822·256 + 135; 4822 = 18·256 + 214; 18 < 256.
        let big = TileID.tiles(forTreeSize: 1_234_567)
        #expect(big.count == 4822 + 1 + 18 + 1 + 1)
        #expect(big[4821] == TileID(level: 0, index: 4821))
        #expect(big[4822] == TileID(level: 0, index: 4822, width: 135))
        #expect(big[4822].path == "tile/0/x004/822.p/135")
        #expect(big[4823] == TileID(level: 1, index: 0))
        #expect(Array(big.suffix(2)) == [TileID(level: 1, index: 18, width: 214), TileID(level: 2, index: 0, width: 18)])

        // The tree of 2^56 leaves has one full tile at level 6 and a width-1 tile at level 7;
        // trees up to Int64.max reach level 7 (Int64.max >> 56 = 127).
        let huge = TileID.tiles(from: (Int64(1) << 56) - 1, to: Int64(1) << 56)
        #expect(huge.contains(TileID(level: 7, index: 0, width: 1)))
        #expect(TileID.tiles(from: Int64.max - 1, to: Int64.max) == [TileID(level: 0, index: Int64.max / 256, width: 255)])
        let edge = Int64(127) << 56 // completes one full tile at each of levels 0...6, and level 7 grows to 127
        #expect(TileID.tiles(from: edge - 1, to: edge) ==
            (0...6).map { TileID(level: $0, index: (edge >> (8 * Int64($0) + 8)) - 1) } + [TileID(level: 7, index: 0, width: 127)])
    }

    /// The partial tile at level l has floor(s / 256^l) mod 256 hashes, and the sets of
    /// tiles(from:to:) are the differences of tiles(forTreeSize:).
    @Test func tileSetsAgreeWithTheSpecFormula() {
        var rng = SplitMix(seed: 11)
        var sizes: [Int64] = Array(0...600) + [65535, 65536, 65537, 16_777_215, 16_777_216, 16_777_217]
        for _ in 0..<300 { sizes.append(Int64(rng.next() % 3_000_000)) }
        for size in sizes {
            let tiles = TileID.tiles(forTreeSize: size)
            var level = 0
            var expected: [TileID] = []
            while level < 8, size >> (8 * level) > 0 {
                let count = size >> (8 * level)
                expected += (0..<count / 256).map { TileID(level: level, index: $0) }
                if count % 256 > 0 { expected.append(TileID(level: level, index: count / 256, width: Int(count % 256))) }
                level += 1
            }
            #expect(tiles == expected)
            #expect(Set(tiles).count == tiles.count)
            #expect(tiles.allSatisfy { $0.isAvailable(inTreeSize: size) && $0.widest(inTreeSize: size) == $0 })
            #expect(EntryBundleID.bundles(forTreeSize: size).map(\.tile) == tiles.filter { $0.level == 0 })
        }
        for _ in 0..<300 {
            let a = Int64(rng.next() % 200_000)
            let b = rng.next() % 2 == 0 ? a + Int64(rng.next() % 600) : Int64(rng.next() % 200_000)
            let (old, new) = (min(a, b), max(a, b))
            let oldSet = Set(TileID.tiles(forTreeSize: old))
            #expect(TileID.tiles(from: old, to: new) == TileID.tiles(forTreeSize: new).filter { !oldSet.contains($0) })
        }
    }

    // MARK: Tile data and rebuilding from tiles

    @Test func storedHashIndexesMatchTheSpecDefinition() throws {
        // Tile data = MTH(D[(n·256 + i)·256^l ..< (n·256 + i + 1)·256^l]) for i < W (brute force).
        let tree = TileTree(hasher: hasher)
        for i in 0..<70_000 { tree.append(hasher.leafHash(Array("leaf \(i)".utf8))) }
        func mth(_ lo: Int, _ hi: Int) -> Hash {
            if hi - lo == 1 { return tree.leaves[lo] }
            var k = 1
            while k << 1 < hi - lo { k <<= 1 }
            return hasher.nodeHash(mth(lo, lo + k), mth(lo + k, hi))
        }
        for t in TileID.tiles(forTreeSize: 70_000) where !(t.level == 0 && t.index % 37 != 5) {
            let span = 1 << (8 * t.level)
            let base = Int(t.index) * 256
            let want = (0..<t.width).map { i in mth((base + i) * span, (base + i + 1) * span) }
            #expect(try tree.readHashes(t.storedHashIndexes()) == want, "\(t.path)")
        }
    }

    /// Random trees up to ~70,000 leaves: every stored hash, the root, and inclusion and
    /// consistency proofs, rebuilt from tile data alone, equal Merkle's from the stored hashes.
    @Test func rebuildFromTilesAlone() throws {
        var rng = SplitMix(seed: 2026)
        let tree = TileTree(hasher: hasher)
        var sizes: [Int64] = [0, 1, 2, 3, 255, 256, 257, 511, 512, 513, 65535, 65536, 65537, 70_001]
        for _ in 0..<8 { sizes.append(Int64(rng.next() % 70_001)) }
        for _ in 0..<8 { sizes.append(Int64(rng.next() % 3000)) }
        let maxSize = sizes.max()!
        for i in 0..<maxSize { tree.append(hasher.leafHash(Array("leaf \(i)".utf8))) }

        for size in sizes {
            let tiles = try tree.tiles(size: size)
            #expect(try TileID.rootHash(size: size, tiles: tiles, hasher: hasher) == tree.roots[Int(size)], "root \(size)")
            let reader = TileHashReader(size: size, tiles: tiles, hasher: hasher)
            // Every stored hash of the tree comes out of the tiles.
            let count = Merkle.storedHashCount(size: size)
            let all = Array(0..<count)
            #expect(try reader.readHashes(all) == Array(tree.stored[0..<Int(count)]), "stored hashes \(size)")
            #expect(throws: TileError.self) { try reader.readHashes([count]) }
            if size == 0 { continue }
            // Inclusion proofs: all of them for small trees, a sample plus the edges for big ones.
            var indexes: [Int64] = size <= 3000 ? Array(0..<size) : [0, 1, 255, 256, size / 2, size - 2, size - 1]
            if size > 3000 { for _ in 0..<300 { indexes.append(Int64(rng.next() % UInt64(size))) } }
            for index in indexes where index >= 0 && index < size {
                let fromTiles = try Merkle.inclusionProof(index: index, size: size, reader: reader, hasher: hasher)
                #expect(fromTiles == (try Merkle.inclusionProof(index: index, size: size, reader: tree, hasher: hasher)))
                try Merkle.verifyInclusion(
                    index: index, size: size, leafHash: tree.leaves[Int(index)], proof: fromTiles, root: tree.roots[Int(size)],
                    hasher: hasher)
            }
            for _ in 0..<20 {
                let old = Int64(rng.next() % UInt64(size)) + 1
                #expect(
                    try Merkle.consistencyProof(oldSize: old, newSize: size, reader: reader, hasher: hasher)
                        == Merkle.consistencyProof(oldSize: old, newSize: size, reader: tree, hasher: hasher))
            }
        }
    }

    @Test func tileLookupRules() throws {
        let tree = TileTree(hasher: hasher)
        for i in 0..<600 { tree.append(hasher.leafHash([UInt8(i & 0xff), UInt8(i >> 8)])) }
        // Go's tileForIndex: leaf 0 is in tile/0/000.p/1; the level-8 hash of leaves 0..<256 is
        // the first hash of level-1 tile 0; the level-1 hash of leaves 256, 257 needs width 2 of
        // level-0 tile 1.
        #expect(TileID.tile(forStoredIndex: 0) == (TileID(level: 0, index: 0, width: 1), 0..<1))
        let s8 = Merkle.storedHashIndex(level: 8, index: 0)
        #expect(TileID.tile(forStoredIndex: s8) == (TileID(level: 1, index: 0, width: 1), 0..<1))
        let s1 = Merkle.storedHashIndex(level: 1, index: 128)
        #expect(TileID.tile(forStoredIndex: s1) == (TileID(level: 0, index: 1, width: 2), 0..<2))
        let s7 = Merkle.storedHashIndex(level: 7, index: 1)
        #expect(TileID.tile(forStoredIndex: s7) == (TileID(level: 0, index: 0, width: 256), 128..<256))

        let full = TileID(level: 0, index: 1)
        let hashes = try full.hashes(fromData: full.data(reader: tree))
        #expect(try TileID.hash(ofStoredIndex: s1, tile: full, hashes: hashes, hasher: hasher) == tree.stored[Int(s1)])
        // A narrower tile than needed, another tile, or the wrong number of hashes: refused.
        let narrow = TileID(level: 0, index: 1, width: 1)
        #expect(throws: TileError.self) { try TileID.hash(ofStoredIndex: s1, tile: narrow, hashes: [hashes[0]], hasher: self.hasher) }
        #expect(throws: TileError.self) { try TileID.hash(ofStoredIndex: 0, tile: full, hashes: hashes, hasher: self.hasher) }
        #expect(throws: TileError.self) { try TileID.hash(ofStoredIndex: s1, tile: full, hashes: Array(hashes.dropLast()), hasher: self.hasher) }
        #expect(throws: TileError.self) { try full.hashes(fromData: Array(repeating: 0, count: 8191)) }

        // A missing tile is reported; a full tile stands in for the tree's partial one.
        var tiles = try tree.tiles(size: 600)
        let partial = TileID(level: 0, index: 2, width: 88)
        #expect(tiles[partial] != nil)
        tiles[partial] = nil
        #expect(throws: TileError.self) { try TileID.rootHash(size: 600, tiles: tiles, hasher: self.hasher) }
        let tree2 = TileTree(hasher: hasher)
        for i in 0..<768 { tree2.append(i < 600 ? tree.leaves[i] : hasher.leafHash([0xee, UInt8(i & 0xff)])) }
        let wider = TileID(level: 0, index: 2)
        tiles[wider] = try wider.hashes(fromData: wider.data(reader: tree2))
        #expect(try TileID.rootHash(size: 600, tiles: tiles, hasher: hasher) == tree.roots[600])
        // Tampered tile data changes the root.
        var bad = try tree.tiles(size: 600)
        bad[partial]![87] = hasher.hash([1])
        #expect(try TileID.rootHash(size: 600, tiles: bad, hasher: hasher) != tree.roots[600])

        #expect(!TileID(level: 0, index: 2, width: 89).isAvailable(inTreeSize: 600))
        #expect(TileID(level: 0, index: 2, width: 88).isAvailable(inTreeSize: 600))
        #expect(TileID(level: 0, index: 1, width: 5).isAvailable(inTreeSize: 600))
        #expect(!TileID(level: 1, index: 0, width: 3).isAvailable(inTreeSize: 600))
        #expect(!TileID(level: 9, index: 0, width: 1).isAvailable(inTreeSize: Int64.max))
        #expect(!TileID(level: 0, index: Int64.max, width: 1).isAvailable(inTreeSize: Int64.max))
    }

    @Test func entryBundles() throws {
        let b = EntryBundleID(index: 3, width: 3)
        #expect(b.entries == 768..<771)
        #expect(b.tile == TileID(level: 0, index: 3, width: 3))
        let entries: [[UInt8]] = [[], [1, 2, 3], Array(repeating: 7, count: 300)]
        let data = try b.encode(entries)
        #expect(data.prefix(7) == [0, 0, 0, 3, 1, 2, 3])
        #expect(data[7...8] == [0x01, 0x2c])
        #expect(try b.decode(data) == entries)
        #expect(throws: TileError.self) { try b.decode(Array(data.dropLast())) }
        #expect(throws: TileError.self) { try b.decode(data + [0]) }
        #expect(throws: TileError.self) { try b.decode(data + [0, 0]) }
        #expect(throws: TileError.self) { try b.encode(Array(entries.prefix(2))) }
        #expect(throws: TileError.self) { try b.encode([[], [], Array(repeating: 0, count: 65536)]) }
        #expect(EntryBundleID(tile: TileID(level: 1, index: 0)) == nil)
        #expect(EntryBundleID.bundles(from: 256, to: 600) == [EntryBundleID(index: 1), EntryBundleID(index: 2, width: 88)])
    }

    // MARK: Go sumdb/tlog vectors

    @Test func goVectors() throws {
        let v = try Fixtures.load("tile-vectors.json", as: TileVectors.self)
        #expect(v.sizes.count >= 10)
        let tree = TileTree(hasher: hasher)
        let maxSize = v.sizes.map(\.size).max()!
        for i in 0..<maxSize { tree.append(hasher.leafHash(Array("leaf \(i)".utf8))) }

        var checkedData = 0
        for s in v.sizes {
            #expect(tree.roots[Int(s.size)] == s.root)
            #expect(s.tileRoot == s.root)
            let ours = TileID.tiles(forTreeSize: s.size)
            #expect(ours.map(tileKey) == widestOnly(s.newTiles), "tile set for size \(s.size)")
            // Every tile Go lists (including x/mod 0.7.0's narrower partial widths) has the same data.
            for key in s.newTiles {
                let f = key.split(separator: "/").map { Int64($0)! }
                let t = TileID(level: Int(f[0]), index: f[1], width: Int(f[2]))
                let data = try t.data(reader: tree)
                #expect(hasher.hash(data) == v.tileDataSHA256[key], "data of \(key)")
                if let hex = v.tileDataHex[key] { #expect(Hex.encode(data) == hex) }
                checkedData += 1
            }
            let tiles = try tree.tiles(size: s.size)
            #expect(try TileID.rootHash(size: s.size, tiles: tiles, hasher: hasher) == s.root)
            let reader = TileHashReader(size: s.size, tiles: tiles, hasher: hasher)
            for inc in s.inclusion {
                #expect(try Merkle.inclusionProof(index: inc.index, size: s.size, reader: reader, hasher: hasher) == inc.proof)
            }
        }
        #expect(checkedData > 1000)
        for u in v.updates {
            let oldSet = Set(TileID.tiles(forTreeSize: u.old).map(tileKey))
            #expect(
                TileID.tiles(from: u.old, to: u.new).map(tileKey) == widestOnly(u.newTiles).filter { !oldSet.contains($0) },
                "update \(u.old) → \(u.new)")
        }
    }
}
