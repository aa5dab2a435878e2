import ConsentCore
import ConsentVerifier
import Foundation

/// What `consent-ledger export` did.
public struct ExportSummary: Sendable, Codable, Equatable {
    /// The export directory.
    public var out: String
    public var origin: String
    public var suite: String
    /// The size the export had before (0 for a new one) and has now.
    public var previousSize: Int64
    public var size: Int64
    /// Files written this run.
    public var hashTiles: Int
    public var entryBundles: Int
    public var bodyFiles: Int
    /// Older body files rewritten because a new purge entry took bodies in them.
    public var bodyFilesPurged: Int
    /// Signed checkpoints appended to `checkpoints`.
    public var checkpointsAdded: Int
    public var manifest: ExportManifest
}

/// Writes a store as an export directory (docs/FORMAT.md §13). Resumable and idempotent: a rerun
/// writes only what the store has beyond the export's `manifest.json` (and rewrites the body files
/// that later purges emptied); every file is written atomically and `checkpoint` and
/// `manifest.json` last, so an export interrupted at any point reads as the export it was before.
public enum LogExport {
    /// The body file of an entry bundle's entries (``ExportLayout/encodeBodies(_:consent:)``): what
    /// `export` writes under `bodies/` and the service serves at `GET /bodies/…`.
    public static func bodyFile(_ entries: some Collection<StoredEntry>) -> [UInt8] {
        ExportLayout.encodeBodies(entries.map(StoreAuditSource.body), consent: entries.map(isConsentEvent))
    }

    /// True for a consent event's header (by its kind byte, without decoding it).
    static func isConsentEvent(_ entry: StoredEntry) -> Bool { entry.header.count > 1 && entry.header[1] == EntryKind.consent.rawValue }

    public static func export(
        store: any LedgerStore, to out: String, progress: (@Sendable (Int64, Int64) -> Void)? = nil
    ) async throws -> ExportSummary {
        guard let parameters = try await store.parameters() else { throw LedgerError.invalidDirectory("the store holds no ledger") }
        let head = try await store.head()
        let checkpoint = try Checkpoint(text: try SignedNote(parsing: head.checkpointNote).text)
        let size = checkpoint.size
        let fm = FileManager.default
        try fm.createDirectory(atPath: out, withIntermediateDirectories: true)

        // What is there already.
        var old: ExportManifest?
        if let data = fm.contents(atPath: out + "/" + ExportLayout.manifest) {
            guard let manifest = try? JSONDecoder().decode(ExportManifest.self, from: data) else {
                throw LedgerError.invalidDirectory("\(out)/\(ExportLayout.manifest) is not an export manifest")
            }
            guard manifest.origin == parameters.origin, manifest.suite == parameters.suite.rawValue else {
                throw LedgerError.invalidDirectory("\(out) holds an export of another log (\(manifest.origin))")
            }
            guard manifest.size <= size else {
                throw LedgerError.invalidDirectory(
                    "\(out) holds \(manifest.size) entries, more than this log's \(size): it is not an export of this history")
            }
            let exported = fm.contents(atPath: out + "/" + ExportLayout.checkpoint).map { String(decoding: $0, as: UTF8.self) }
            let ours = try await store.checkpoint(size: manifest.size)
            guard exported == ours else {
                throw LedgerError.invalidDirectory("\(out)'s checkpoint is not this log's checkpoint at size \(manifest.size)")
            }
            old = manifest
        }
        let oldSize = old?.size ?? 0
        var manifest =
            old
            ?? ExportManifest(
                origin: parameters.origin, suite: parameters.suite.rawValue, createdAt: parameters.createdAt, size: 0, events: 0,
                bodies: 0, purgedBodies: 0, checkpoints: 0)
        var summary = ExportSummary(
            out: out, origin: parameters.origin, suite: parameters.suite.rawValue, previousSize: oldSize, size: size, hashTiles: 0,
            entryBundles: 0, bodyFiles: 0, bodyFilesPurged: 0, checkpointsAdded: 0, manifest: manifest)
        func write(_ bytes: [UInt8], _ relative: String) throws {
            let path = out + "/" + relative
            try fm.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try AuditFiles.writeAtomically(bytes, to: path)
        }

        // Hash tiles above level 0 (level-0 tiles go with their bundles below).
        let tiles = TileID.tiles(from: oldSize, to: size)
        for tile in tiles where tile.level > 0 {
            let hashes = try await store.readHashes(tile.storedHashIndexes())
            try write(TileID.encode(hashes), tile.path)
            summary.hashTiles += 1
        }

        // Entry bundles, their level-0 tiles and body files; new purges of older bodies.
        let bundles = EntryBundleID.bundles(from: oldSize, to: size)
        var purgedEarlier = Set<Int64>()  // bundle indexes below this run's whose bodies a new purge took
        let firstRewritten = bundles.first?.index ?? (size / Int64(TileID.fullWidth))
        func exportBundle(_ bundle: EntryBundleID, entries: ArraySlice<StoredEntry>, count: Bool) throws {
            if count {
                try write(try bundle.encode(entries.map(\.header)), bundle.path)
                try write(TileID.encode(entries.map(\.leafHash)), bundle.tile.path)
                summary.entryBundles += 1
                summary.hashTiles += 1
            }
            let bodyPath = ExportLayout.bodiesPath(bundle)
            try write(bodyFile(entries), bodyPath)
            // The old edge's narrower body file holds bodies that may since have been purged.
            let oldWidth = Int(oldSize % Int64(TileID.fullWidth))
            if bundle.index == oldSize / Int64(TileID.fullWidth), oldWidth > 0, oldWidth != bundle.width {
                try? fm.removeItem(atPath: out + "/" + ExportLayout.bodiesPath(EntryBundleID(index: bundle.index, width: oldWidth)))
            }
            summary.bodyFiles += 1
            guard count else { return }
            for entry in entries where entry.index >= oldSize {
                if isConsentEvent(entry) {
                    manifest.events += 1
                    if entry.body != nil { manifest.bodies += 1 } else if entry.purgedBy != nil { manifest.purgedBodies += 1 }
                } else if entry.header.count > 1, entry.header[1] == EntryKind.purge.rawValue,
                    case .purge(let purge)? = try? EntryHeader(decoding: entry.header)
                {
                    for index in purge.purged where index < oldSize {
                        manifest.bodies -= 1
                        manifest.purgedBodies += 1
                        if index / Int64(TileID.fullWidth) < firstRewritten { purgedEarlier.insert(index / Int64(TileID.fullWidth)) }
                    }
                }
            }
        }
        let group = 16
        var done = 0
        while done < bundles.count {
            let chunk = bundles[done..<min(done + group, bundles.count)]
            let range = chunk.first!.entries.lowerBound..<chunk.last!.entries.upperBound
            let entries = try await store.entries(range)
            guard entries.count == range.count, entries.first?.index == range.lowerBound else {
                throw LedgerError.corrupt("the store is missing entries in \(range)")
            }
            for bundle in chunk {
                let lower = Int(bundle.entries.lowerBound - range.lowerBound)
                try exportBundle(bundle, entries: entries[lower..<lower + bundle.width], count: true)
            }
            done += chunk.count
            progress?(chunk.last!.entries.upperBound, size)
        }
        for index in purgedEarlier.sorted() {
            let bundle = EntryBundleID(index: index)  // below the old edge's bundle: always full
            let entries = try await store.entries(bundle.entries)
            try exportBundle(bundle, entries: entries[...], count: false)
            summary.bodyFiles -= 1
            summary.bodyFilesPurged += 1
        }

        // Every signed checkpoint, appended to `checkpoints` (a torn record is cut off first).
        let checkpointsPath = out + "/" + ExportLayout.checkpoints
        let existing = fm.contents(atPath: checkpointsPath).map { Array($0) } ?? []
        let (notes, validLength) = ExportLayout.parseCheckpoints(existing)
        let from = (notes.last?.size).map { $0 + 1 } ?? 0
        var appended = Array(existing.prefix(validLength))
        if from <= size {
            for (_, note) in try await store.checkpoints(from...size) {
                appended += ExportLayout.checkpointRecord(note)
                summary.checkpointsAdded += 1
            }
        }
        if summary.checkpointsAdded > 0 || validLength != existing.count { try write(appended, ExportLayout.checkpoints) }
        manifest.checkpoints = Int64(notes.count + summary.checkpointsAdded)

        // The newest checkpoint, then the manifest: the export now stands for `size`.
        try write(Array(head.checkpointNote.utf8), ExportLayout.checkpoint)
        manifest.size = size
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        try write(Array(try encoder.encode(manifest)) + [0x0a], ExportLayout.manifest)
        summary.manifest = manifest
        progress?(size, size)
        return summary
    }
}
