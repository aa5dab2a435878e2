// C2SP tlog-tiles (https://c2sp.org/tlog-tiles): the Merkle tree served as static "tiles".
//
// The tile math follows Go's golang.org/x/mod/sumdb/tlog tile.go (Russ Cox, BSD licence) with the
// tile height fixed at 8: a tile at level L lists up to 256 consecutive hashes of level-8L subtrees
// (level 0: leaf hashes), and stands for the whole height-8 subtree above them. A client rebuilds
// every other hash it needs by hashing inside one tile. The paths are C2SP's, which (unlike
// sumdb's `tile/H/L/...`) carry no height element.

/// Errors from tile lookups and tile data.
public struct TileError: Error, Equatable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// One Merkle tree tile: `tile/<L>/<N>[.p/<W>]`.
///
/// The tile at level `level` and index `index` holds the hashes of the level-`8·level` subtrees
/// `index·256 ..< index·256 + width`, that is `MTH(D[(n·256 + i)·256^L ..< (n·256 + i + 1)·256^L])`
/// for `i` in `0 ..< width`. A full tile has width 256; a partial tile (the right edge of the
/// tree at that level) has width 1...255.
public struct TileID: Hashable, Sendable, CustomStringConvertible {
    /// The tile height: every tile spans 8 tree levels.
    public static let height = 8
    /// The width of a full tile: 2^8 hashes (8,192 bytes).
    public static let fullWidth = 256

    /// `L`, the tile level, 0...63.
    public let level: Int
    /// `N`, the tile's index within its level, ≥ 0.
    public let index: Int64
    /// `W`, the number of hashes, 1...256 (256 = full tile).
    public let width: Int

    /// Creates a tile; traps on a level outside 0...63, a negative index or a width outside 1...256.
    public init(level: Int, index: Int64, width: Int = TileID.fullWidth) {
        precondition((0...63).contains(level), "tile level \(level) out of range")
        precondition(index >= 0, "negative tile index \(index)")
        precondition((1...TileID.fullWidth).contains(width), "tile width \(width) out of range")
        self.level = level
        self.index = index
        self.width = width
    }

    /// Whether the tile is full (256 hashes wide).
    public var isFull: Bool { width == TileID.fullWidth }

    /// The C2SP path: `tile/<L>/<N>` or `tile/<L>/<N>.p/<W>`.
    public var path: String { "tile/\(level)/" + TilePath.encode(index: index, width: width) }

    public var description: String { path }

    /// Parses a C2SP tile path, accepting only the canonical form (see ``TileResource/init(path:)``).
    public init?(path: String) {
        guard case .tile(let tile) = TileResource(path: path) else { return nil }
        self = tile
    }

    /// The size of the data this tile serves: 32 bytes per hash.
    public var byteCount: Int { width * Hash.byteCount }

    /// The number of level-`8·level` subtree hashes in a tree of `size` leaves.
    private static func hashCount(level: Int, size: Int64) -> Int64 {
        let shift = height * level
        return shift >= 64 ? 0 : size >> Int64(shift)
    }

    /// Whether every hash of this tile exists in the tree of `size` leaves, so that the tile's
    /// data can be served for that tree (a full tile, or a partial one of any width up to the
    /// tree's edge). Check this before ``storedHashIndexes()`` on a tile parsed from a request.
    public func isAvailable(inTreeSize size: Int64) -> Bool {
        let count = TileID.hashCount(level: level, size: size)
        let (start, overflow) = index.multipliedReportingOverflow(by: Int64(TileID.fullWidth))
        return !overflow && start <= count && Int64(width) <= count - start
    }

    // MARK: Tile sets

    /// Every tile of the tree of `size` leaves, as C2SP tlog-tiles defines them: at each level L
    /// with `size >> 8L > 0`, the full tiles and then, if `(size >> 8L) mod 256 > 0`, the one partial
    /// tile of that width. Levels in increasing order, indexes in increasing order. (Go x/mod
    /// 0.7.0's `tlog.NewTiles(8, 0, size)` lists these plus every narrower width of each partial
    /// tile; keeping its widest tile per level and index gives this list.)
    public static func tiles(forTreeSize size: Int64) -> [TileID] {
        tiles(from: 0, to: size)
    }

    /// The tiles of the tree of `newSize` leaves that the tree of `oldSize` leaves did not have:
    /// what a log publishes when it moves its checkpoint from `oldSize` to `newSize`. Equal to
    /// `tiles(forTreeSize: newSize)` minus `tiles(forTreeSize: oldSize)`, in the same order.
    /// Traps unless 0 ≤ oldSize ≤ newSize.
    public static func tiles(from oldSize: Int64, to newSize: Int64) -> [TileID] {
        precondition(oldSize >= 0 && oldSize <= newSize, "bad tile range \(oldSize) → \(newSize)")
        var tiles: [TileID] = []
        var level = 0
        while true {
            let newN = hashCount(level: level, size: newSize)
            if newN == 0 { break }
            let oldN = hashCount(level: level, size: oldSize)
            if oldN != newN {
                let full = Int64(fullWidth)
                for n in (oldN / full) ..< (newN / full) {
                    tiles.append(TileID(level: level, index: n))
                }
                let w = Int(newN % full)
                if w > 0 { tiles.append(TileID(level: level, index: newN / full, width: w)) }
            }
            level += 1
        }
        return tiles
    }

    /// The tile of `tiles(forTreeSize: size)` at this tile's level and index (the widest one the
    /// tree has there), or nil if the tree has no hash there.
    public func widest(inTreeSize size: Int64) -> TileID? {
        let count = TileID.hashCount(level: level, size: size)
        let (start, overflow) = index.multipliedReportingOverflow(by: Int64(TileID.fullWidth))
        guard !overflow, start < count else { return nil }
        return TileID(level: level, index: index, width: Int(min(Int64(TileID.fullWidth), count - start)))
    }

    // MARK: Tile data

    /// The stored hash indexes (``Merkle/storedHashIndex(level:index:)``) of the tile's hashes, in
    /// order: read them with ``HashReader/readHashes(_:)`` and concatenate them to get the tile
    /// data (Go's `ReadTileData`). Traps for tiles beyond any tree of at most 2^62 leaves; check
    /// ``isAvailable(inTreeSize:)`` first.
    public func storedHashIndexes() -> [Int64] {
        precondition(isAvailable(inTreeSize: Int64(1) << 62), "tile \(path) lies beyond any tree")
        let start = index * Int64(TileID.fullWidth)
        let treeLevel = TileID.height * level
        return (0..<Int64(width)).map { Merkle.storedHashIndex(level: treeLevel, index: start + $0) }
    }

    /// The tile data: its hashes, read from `reader`, concatenated (32 × width bytes).
    public func data(reader: some HashReader) throws -> [UInt8] {
        let indexes = storedHashIndexes()
        let hashes = try reader.readHashes(indexes)
        guard hashes.count == indexes.count else {
            throw TileError("hash reader returned \(hashes.count) hashes for \(indexes.count) indexes")
        }
        return TileID.encode(hashes)
    }

    /// Concatenates hashes into tile data.
    public static func encode(_ hashes: [Hash]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(hashes.count * Hash.byteCount)
        for h in hashes { h.withUnsafeBytes { bytes.append(contentsOf: $0) } }
        return bytes
    }

    /// Splits this tile's data into its hashes; throws unless it is exactly 32 × width bytes.
    public func hashes(fromData data: [UInt8]) throws -> [Hash] {
        guard data.count == byteCount else {
            throw TileError("tile \(path) has \(data.count) bytes, want \(byteCount)")
        }
        return stride(from: 0, to: data.count, by: Hash.byteCount).map {
            Hash(bytes: data[$0 ..< $0 + Hash.byteCount])!
        }
    }

    // MARK: Hashes from tiles (Go's TileForIndex / HashFromTile)

    /// The narrowest tile holding stored hash `storedIndex`, and the range of that tile's hashes
    /// whose subtree hash it is (Go's `tileForIndex`).
    public static func tile(forStoredIndex storedIndex: Int64) -> (tile: TileID, hashes: Range<Int>) {
        precondition(storedIndex >= 0, "negative stored hash index")
        let (treeLevel, n) = Merkle.splitStoredHashIndex(storedIndex)
        let level = treeLevel / height
        let inner = treeLevel - level * height // level within the tile, 0...7
        let index = (n << Int64(inner)) >> Int64(height)
        let k = n - ((index << Int64(height)) >> Int64(inner)) // position among level-`inner` nodes
        let start = Int(k << Int64(inner))
        let end = Int((k + 1) << Int64(inner))
        return (TileID(level: level, index: index, width: end), start..<end)
    }

    /// The stored hash at `storedIndex`, from the hashes of `tile`: the tile must be
    /// ``tile(forStoredIndex:)``'s tile or a wider one at the same level and index, and `hashes`
    /// its `tile.width` hashes (Go's `HashFromTile`).
    public static func hash(
        ofStoredIndex storedIndex: Int64, tile: TileID, hashes: [Hash], hasher: some HashFunction
    ) throws -> Hash {
        guard hashes.count == tile.width else {
            throw TileError("tile \(tile.path) has \(hashes.count) hashes, want \(tile.width)")
        }
        let (needed, range) = TileID.tile(forStoredIndex: storedIndex)
        guard needed.level == tile.level, needed.index == tile.index, needed.width <= tile.width else {
            throw TileError("stored hash \(storedIndex) is in \(needed.path), not \(tile.path)")
        }
        return subtreeHash(hashes[range], hasher: hasher)
    }

    /// The hash of the perfect subtree whose 2^k leaves are `hashes`.
    private static func subtreeHash(_ hashes: ArraySlice<Hash>, hasher: some HashFunction) -> Hash {
        if hashes.count == 1 { return hashes[hashes.startIndex] }
        let mid = hashes.startIndex + hashes.count / 2
        return hasher.nodeHash(
            subtreeHash(hashes[..<mid], hasher: hasher), subtreeHash(hashes[mid...], hasher: hasher))
    }

    /// The root hash of the tree of `size` leaves, recomputed from tile hashes only. `tiles` maps
    /// tiles to their hashes; for each hash needed the tile of `tiles(forTreeSize: size)` at that
    /// level and index is used, or else the full tile there if present. The result must still be
    /// compared with a signed checkpoint: only then are the tiles used authenticated.
    public static func rootHash(size: Int64, tiles: [TileID: [Hash]], hasher: some HashFunction) throws -> Hash {
        try Merkle.treeHash(size: size, reader: TileHashReader(size: size, tiles: tiles, hasher: hasher), hasher: hasher)
    }
}

/// A ``HashReader`` over downloaded tiles of the tree of `size` leaves: with it, the ``Merkle``
/// functions compute roots, inclusion proofs and consistency proofs from tiles alone.
///
/// It does not authenticate the tiles: compare ``Merkle/treeHash(size:reader:hasher:)`` with the
/// checkpoint's root, and verify any proof built from it against that root.
public struct TileHashReader<H: HashFunction>: HashReader {
    public let size: Int64
    public let tiles: [TileID: [Hash]]
    public let hasher: H

    public init(size: Int64, tiles: [TileID: [Hash]], hasher: H) {
        self.size = size
        self.tiles = tiles
        self.hasher = hasher
    }

    /// The tile that serves stored hash `storedIndex` in this tree: the tree's own tile there
    /// (full, or the partial of the tree's edge width), or else the full tile if the caller has it.
    public func tile(forStoredIndex storedIndex: Int64) throws -> TileID {
        guard storedIndex >= 0, storedIndex < Merkle.storedHashCount(size: size) else {
            throw TileError("stored hash \(storedIndex) is not in the tree of size \(size)")
        }
        let (needed, _) = TileID.tile(forStoredIndex: storedIndex)
        guard let own = needed.widest(inTreeSize: size), own.width >= needed.width else {
            throw TileError("stored hash \(storedIndex) is not in the tree of size \(size)")
        }
        if tiles[own] != nil { return own }
        let full = TileID(level: own.level, index: own.index)
        if tiles[full] != nil { return full }
        throw TileError("missing tile \(own.path)")
    }

    public func readHashes(_ indexes: [Int64]) throws -> [Hash] {
        try indexes.map { storedIndex in
            let tile = try tile(forStoredIndex: storedIndex)
            return try TileID.hash(ofStoredIndex: storedIndex, tile: tile, hashes: tiles[tile]!, hasher: hasher)
        }
    }
}

/// One entry bundle: `tile/entries/<N>[.p/<W>]`, the log entries `N·256 ..< N·256 + W`, each as a
/// big-endian `u16` length and the entry bytes (here: the entry header, the Merkle leaf data).
/// Bundle N pairs with level-0 tile N of the same width.
public struct EntryBundleID: Hashable, Sendable, CustomStringConvertible {
    /// `N`, ≥ 0.
    public let index: Int64
    /// `W`, the number of entries, 1...256 (256 = full bundle).
    public let width: Int

    public init(index: Int64, width: Int = TileID.fullWidth) {
        precondition(index >= 0, "negative bundle index \(index)")
        precondition((1...TileID.fullWidth).contains(width), "bundle width \(width) out of range")
        self.index = index
        self.width = width
    }

    /// The bundle of the same index and width as a level-0 tile.
    public init?(tile: TileID) {
        guard tile.level == 0 else { return nil }
        self.init(index: tile.index, width: tile.width)
    }

    /// The level-0 tile whose leaf hashes are the hashes of this bundle's entries.
    public var tile: TileID { TileID(level: 0, index: index, width: width) }

    /// The entry indexes in the bundle.
    public var entries: Range<Int64> {
        let start = index * Int64(TileID.fullWidth)
        return start ..< start + Int64(width)
    }

    public var isFull: Bool { width == TileID.fullWidth }

    /// The C2SP path: `tile/entries/<N>` or `tile/entries/<N>.p/<W>`.
    public var path: String { "tile/entries/" + TilePath.encode(index: index, width: width) }

    public var description: String { path }

    /// Parses a C2SP entry bundle path, accepting only the canonical form.
    public init?(path: String) {
        guard case .entries(let bundle) = TileResource(path: path) else { return nil }
        self = bundle
    }

    /// The entry bundles of the tree of `size` leaves (the level-0 tiles' indexes and widths).
    public static func bundles(forTreeSize size: Int64) -> [EntryBundleID] {
        bundles(from: 0, to: size)
    }

    /// The bundles of the tree of `newSize` leaves that the tree of `oldSize` leaves did not have.
    public static func bundles(from oldSize: Int64, to newSize: Int64) -> [EntryBundleID] {
        TileID.tiles(from: oldSize, to: newSize).compactMap { EntryBundleID(tile: $0) }
    }

    /// Encodes entries as bundle data: each a big-endian `u16` length, then its bytes. Throws if
    /// the count is not this bundle's width or an entry is longer than 65,535 bytes.
    public func encode(_ entries: [[UInt8]]) throws -> [UInt8] {
        guard entries.count == width else {
            throw TileError("bundle \(path) needs \(width) entries, got \(entries.count)")
        }
        var bytes: [UInt8] = []
        for entry in entries {
            guard entry.count <= Int(UInt16.max) else { throw TileError("entry of \(entry.count) bytes is too long for a bundle") }
            bytes.append(UInt8(entry.count >> 8))
            bytes.append(UInt8(entry.count & 0xff))
            bytes.append(contentsOf: entry)
        }
        return bytes
    }

    /// Decodes bundle data into exactly `width` entries; throws on truncation, trailing bytes or
    /// a different count.
    public func decode(_ data: [UInt8]) throws -> [[UInt8]] {
        var entries: [[UInt8]] = []
        var i = 0
        while i < data.count {
            guard data.count - i >= 2 else { throw TileError("bundle \(path): truncated length") }
            let n = Int(data[i]) << 8 | Int(data[i + 1])
            i += 2
            guard data.count - i >= n else { throw TileError("bundle \(path): truncated entry") }
            entries.append(Array(data[i ..< i + n]))
            i += n
            guard entries.count <= width else { throw TileError("bundle \(path): more than \(width) entries") }
        }
        guard entries.count == width else {
            throw TileError("bundle \(path) has \(entries.count) entries, want \(width)")
        }
        return entries
    }
}

/// A tlog-tiles resource below `tile/`: a Merkle tree tile or an entry bundle.
public enum TileResource: Hashable, Sendable {
    case tile(TileID)
    case entries(EntryBundleID)

    public var path: String {
        switch self {
        case .tile(let t): t.path
        case .entries(let b): b.path
        }
    }

    /// Parses `tile/<L>/<N>[.p/<W>]` or `tile/entries/<N>[.p/<W>]`, strictly: no leading or
    /// trailing slash, L is 0...63 without leading zeros, N is groups of exactly three decimal
    /// digits with an `x` before all but the last and no all-zero leading group, W is 1...255
    /// without leading zeros, and nothing else. Exactly the strings ``path`` produces parse.
    public init?(path: String) {
        let parts = path.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).map(Array.init)
        guard parts.count >= 3, parts[0] == Array("tile".utf8) else { return nil }
        guard let (index, width) = TilePath.decode(parts[2...]) else { return nil }
        if parts[1] == Array("entries".utf8) {
            self = .entries(EntryBundleID(index: index, width: width))
        } else {
            guard let level = TilePath.decimal(parts[1], max: 63) else { return nil }
            self = .tile(TileID(level: level, index: index, width: width))
        }
        guard self.path == path else { return nil } // belt and braces: only canonical forms
    }
}

/// The `<N>[.p/<W>]` part of tile paths.
enum TilePath {
    static func encode(index: Int64, width: Int) -> String {
        var n = index
        var text = threeDigits(n % 1000)
        while n >= 1000 {
            n /= 1000
            text = "x" + threeDigits(n % 1000) + "/" + text
        }
        if width != TileID.fullWidth { text += ".p/\(width)" }
        return text
    }

    private static func threeDigits(_ v: Int64) -> String {
        let s = String(v)
        return String(repeating: "0", count: 3 - s.count) + s
    }

    /// A decimal without sign or leading zeros ("0" itself is fine), at most `max`.
    static func decimal(_ bytes: [UInt8], max: Int) -> Int? {
        guard !bytes.isEmpty, bytes.count <= 3, bytes.count == 1 || bytes[0] != UInt8(ascii: "0") else { return nil }
        var v = 0
        for b in bytes {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b) else { return nil }
            v = v * 10 + Int(b - UInt8(ascii: "0"))
        }
        return v <= max ? v : nil
    }

    /// Decodes the path elements after the level into (N, W).
    static func decode(_ elements: ArraySlice<[UInt8]>) -> (Int64, Int)? {
        var groups = Array(elements)
        var width = TileID.fullWidth
        let suffix = Array(".p".utf8)
        if groups.count >= 2, groups[groups.count - 2].count == 3 + suffix.count,
            Array(groups[groups.count - 2].suffix(2)) == suffix
        {
            guard let w = decimal(groups.removeLast(), max: TileID.fullWidth - 1), w >= 1 else { return nil }
            width = w
            groups[groups.count - 1].removeLast(2)
        }
        guard !groups.isEmpty, groups.count <= 7 else { return nil } // 7 groups: up to 10^21 > Int64.max
        var n: Int64 = 0
        for (i, group) in groups.enumerated() {
            let last = i == groups.count - 1
            var digits = group[...]
            if !last {
                guard digits.first == UInt8(ascii: "x") else { return nil }
                digits = digits.dropFirst()
            }
            guard digits.count == 3 else { return nil }
            var g: Int64 = 0
            for b in digits {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b) else { return nil }
                g = g * 10 + Int64(b - UInt8(ascii: "0"))
            }
            if i == 0 && !last && g == 0 { return nil } // x000/... is not canonical
            let (m, o1) = n.multipliedReportingOverflow(by: 1000)
            let (s, o2) = m.addingReportingOverflow(g)
            guard !o1, !o2 else { return nil }
            n = s
        }
        return (n, width)
    }
}
