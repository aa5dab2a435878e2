import ConsentCore
import ConsentLedger
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The state map's nodes, in an append-only file of fixed-size records: node `id` is at byte
/// `(id - 1) * MapNode.recordSize`. Nodes are immutable, so a batch writes its new nodes at the
/// end in one sequential write.
///
/// The nodes are derived data: the log's entries (durable in the database) determine every one of
/// them. So a batch does not wait for this file's fsync; a background sync runs at most every
/// ``syncInterval`` and then records how far the file is durable in a small watermark file
/// (`<path>.synced`). After an operating-system crash, nodes past the watermark may be lost or torn,
/// and the ledger recomputes them from the entries when it next opens the log for writing. Records
/// past the committed identifiers (from a batch that failed before its commit) are never referenced
/// and are overwritten by the next batch; before such an overwrite the watermark is lowered, durably,
/// so it never vouches for a record that changed after its sync.
final class MapNodeFile: @unchecked Sendable {
    private let fd: Int32
    private let watermarkFD: Int32
    let path: String
    /// Serialises syncs and watermark changes.
    private let syncQueue = DispatchQueue(label: "consent-ledger.map-node-sync")
    private let state = NSLock()
    /// One above the highest identifier written by a completed write.
    private var writtenEnd: MapNodeID
    /// One above the highest identifier known durable (what the watermark file says).
    private var syncedEnd: MapNodeID
    private var syncScheduled = false
    /// The whole file mapped read-only (address space reserved far beyond its end), and how many
    /// bytes of it are known to exist: reads are memory loads, not a system call per node.
    private let mapped: UnsafeRawPointer?
    private static let mappedLength = 1 << 40
    private var readableBytes = 0
    /// How long written nodes may wait for their sync; an operating-system crash within this window
    /// costs a recomputation of the nodes written in it when the log is next opened. Each sync
    /// competes with the database's own fsync for the disk, hence not one per batch.
    static let syncInterval = DispatchTimeInterval.milliseconds(500)

    init(path: String) throws {
        self.path = path
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw LedgerError.io("cannot open \(path): \(String(cString: strerror(errno)))") }
        watermarkFD = open(path + ".synced", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard watermarkFD >= 0 else {
            close(fd)
            throw LedgerError.io("cannot open \(path).synced: \(String(cString: strerror(errno)))")
        }
        syncedEnd = MapNodeFile.readWatermark(watermarkFD)
        writtenEnd = MapNodeID(lseek(fd, 0, SEEK_END) / off_t(MapNode.recordSize)) + 1
        let map = mmap(nil, MapNodeFile.mappedLength, PROT_READ, MAP_SHARED, fd, 0)
        mapped = map == MAP_FAILED ? nil : UnsafeRawPointer(map)
    }

    deinit {
        // An orderly close leaves nothing to recompute at the next open.
        if writtenEnd > syncedEnd, fsync(fd) == 0 { try? writeWatermark(writtenEnd) }
        if let mapped { munmap(UnsafeMutableRawPointer(mutating: mapped), MapNodeFile.mappedLength) }
        close(fd)
        close(watermarkFD)
    }

    /// One above the highest node identifier that is durable in the file.
    var durableEnd: MapNodeID { state.withLock { syncedEnd } }

    /// Writes `nodes` (consecutive identifiers) and schedules a background sync. Writing below the
    /// watermark (after a failed batch, or to restore lost nodes) first lowers it, durably.
    func append(_ nodes: [(id: MapNodeID, node: MapNode)]) throws {
        guard let first = nodes.first?.id else { return }
        if state.withLock({ first < syncedEnd }) {
            try syncQueue.sync {
                try writeWatermark(first)
                state.withLock { syncedEnd = first }
            }
        }
        let size = MapNode.recordSize
        let buffer = [UInt8](unsafeUninitializedCapacity: nodes.count * size) { bytes, count in
            let raw = UnsafeMutableRawBufferPointer(bytes)
            for (offset, entry) in nodes.enumerated() {
                precondition(entry.id == first + Int64(offset), "map node identifiers must be consecutive")
                entry.node.writeRecord(to: UnsafeMutableRawBufferPointer(rebasing: raw[offset * size..<(offset + 1) * size]))
            }
            count = nodes.count * size
        }
        var written = 0
        let start = off_t((first - 1) * Int64(MapNode.recordSize))
        while written < buffer.count {
            let n = buffer.withUnsafeBytes { pwrite(fd, $0.baseAddress! + written, buffer.count - written, start + off_t(written)) }
            guard n > 0 else { throw LedgerError.io("cannot write \(path): \(String(cString: strerror(errno)))") }
            written += n
        }
        let schedule = state.withLock {
            writtenEnd = first + Int64(nodes.count)
            defer { syncScheduled = true }
            return !syncScheduled
        }
        if schedule {
            syncQueue.asyncAfter(deadline: .now() + MapNodeFile.syncInterval) { [weak self] in self?.syncInBackground() }
        }
    }

    /// Syncs what was written so far and moves the watermark there.
    private func syncInBackground() {
        let target = state.withLock {
            syncScheduled = false
            return writtenEnd
        }
        guard target > durableEnd, fsync(fd) == 0, (try? writeWatermark(target)) != nil else { return }
        state.withLock { syncedEnd = target }
    }

    /// Syncs everything written so far and moves the watermark there.
    func sync() throws {
        try syncQueue.sync {
            let target = state.withLock { writtenEnd }
            guard fsync(fd) == 0 else { throw LedgerError.io("cannot sync \(path): \(String(cString: strerror(errno)))") }
            try writeWatermark(target)
            state.withLock { syncedEnd = target }
        }
    }

    /// The watermark record: the identifier and its complement, so that a torn write reads as "nothing durable".
    private func writeWatermark(_ end: MapNodeID) throws {
        var record = [UInt8](repeating: 0, count: 16)
        for i in 0..<8 {
            record[i] = UInt8(truncatingIfNeeded: UInt64(end) >> (8 * i))
            record[8 + i] = ~record[i]
        }
        let n = record.withUnsafeBytes { pwrite(watermarkFD, $0.baseAddress!, 16, 0) }
        guard n == 16, fsync(watermarkFD) == 0 else {
            throw LedgerError.io("cannot write \(path).synced: \(String(cString: strerror(errno)))")
        }
    }

    private static func readWatermark(_ fd: Int32) -> MapNodeID {
        var record = [UInt8](repeating: 0, count: 16)
        guard record.withUnsafeMutableBytes({ pread(fd, $0.baseAddress!, 16, 0) }) == 16 else { return 1 }
        var end: UInt64 = 0
        for i in 0..<8 {
            guard record[8 + i] == ~record[i] else { return 1 }
            end |= UInt64(record[i]) << (8 * i)
        }
        return max(1, MapNodeID(truncatingIfNeeded: end))
    }

    /// The nodes with these identifiers; identifiers past the end of the file are left out.
    func read(_ ids: [MapNodeID]) throws -> [MapNodeID: MapNode] {
        if let mapped { return try readMapped(ids, mapped) }
        var found: [MapNodeID: MapNode] = [:]
        var record = [UInt8](repeating: 0, count: MapNode.recordSize)
        for id in ids where id > 0 {
            let n = record.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, MapNode.recordSize, off_t((id - 1) * Int64(MapNode.recordSize))) }
            guard n == MapNode.recordSize else { continue }
            found[id] = try MapNode(record: record[...])
        }
        return found
    }

    private func readMapped(_ ids: [MapNodeID], _ base: UnsafeRawPointer) throws -> [MapNodeID: MapNode] {
        var found: [MapNodeID: MapNode] = [:]
        found.reserveCapacity(ids.count)
        let size = MapNode.recordSize
        var readable = state.withLock { readableBytes }
        for id in ids where id > 0 {
            let end = Int(id) * size
            if end > readable {
                // Past what we know exists: touching a page beyond the end of the file would fault.
                var info = stat()
                guard fstat(fd, &info) == 0 else { throw LedgerError.io("cannot stat \(path)") }
                readable = min(Int(info.st_size), MapNodeFile.mappedLength)
                state.withLock { readableBytes = max(readableBytes, readable) }
                guard end <= readable else { continue }
            }
            let record = UnsafeRawBufferPointer(start: base + (end - size), count: size)
            found[id] = try MapNode(record: Array(record)[...])
        }
        return found
    }
}
