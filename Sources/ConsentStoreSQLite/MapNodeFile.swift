import ConsentCore
import ConsentLedger
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The state map's nodes, in an append-only file of fixed-size records: node `id` is at byte
/// `(id - 1) * MapNode.recordSize`. Nodes are immutable, so a batch writes its new nodes at the
/// end in one sequential write and syncs the file before the database commit that refers to them;
/// records past the committed identifiers (from a batch that crashed before its commit) are never
/// referenced and are overwritten by the next batch.
final class MapNodeFile: @unchecked Sendable {
    private let fd: Int32
    let path: String

    init(path: String) throws {
        self.path = path
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw LedgerError.io("cannot open \(path): \(String(cString: strerror(errno)))") }
    }

    deinit { close(fd) }

    /// Writes `nodes` (consecutive identifiers) and syncs the file.
    func append(_ nodes: [(id: MapNodeID, node: MapNode)]) throws {
        guard let first = nodes.first?.id else { return }
        var buffer = [UInt8]()
        buffer.reserveCapacity(nodes.count * MapNode.recordSize)
        for (offset, entry) in nodes.enumerated() {
            precondition(entry.id == first + Int64(offset), "map node identifiers must be consecutive")
            buffer += entry.node.record()
        }
        var written = 0
        let start = off_t((first - 1) * Int64(MapNode.recordSize))
        while written < buffer.count {
            let n = buffer.withUnsafeBytes { pwrite(fd, $0.baseAddress! + written, buffer.count - written, start + off_t(written)) }
            guard n > 0 else { throw LedgerError.io("cannot write \(path): \(String(cString: strerror(errno)))") }
            written += n
        }
        guard fsync(fd) == 0 else { throw LedgerError.io("cannot sync \(path): \(String(cString: strerror(errno)))") }
    }

    /// The nodes with these identifiers; identifiers past the end of the file are left out.
    func read(_ ids: [MapNodeID]) throws -> [MapNodeID: MapNode] {
        var found: [MapNodeID: MapNode] = [:]
        var record = [UInt8](repeating: 0, count: MapNode.recordSize)
        for id in ids where id > 0 {
            let n = record.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, MapNode.recordSize, off_t((id - 1) * Int64(MapNode.recordSize))) }
            guard n == MapNode.recordSize else { continue }
            found[id] = try MapNode(record: record[...])
        }
        return found
    }
}
