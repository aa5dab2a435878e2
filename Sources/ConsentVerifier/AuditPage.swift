import ConsentCore

/// A page of entries as a source serves it, in one buffer: each entry's header and body are
/// ranges of `bytes`. A page of thousands of entries is then two allocations and its entries plain
/// values, where an array of ``AuditEntry`` holds two arrays per entry (an audit of 10^6 entries
/// spent a tenth of its time allocating, reference counting and freeing them).
public struct AuditPage: Sendable {
    /// What a source says about an entry's body (``AuditBody``, its bytes a range of the page's).
    public enum Body: Sendable, Equatable {
        case none
        case present(Range<Int>)
        case purged(by: Int64?)
    }

    /// One entry: its index, where its header lies in `bytes`, the leaf hash the source serves for
    /// it (see ``AuditEntry/leafHash``) and its body.
    public struct Entry: Sendable {
        public var index: Int64
        public var header: Range<Int>
        public var leafHash: Hash?
        public var body: Body

        public init(index: Int64, header: Range<Int>, leafHash: Hash?, body: Body) {
            self.index = index
            self.header = header
            self.leafHash = leafHash
            self.body = body
        }
    }

    /// The headers and bodies of the entries.
    public private(set) var bytes: [UInt8] = []
    /// The entries, in the order served.
    public private(set) var entries: [Entry] = []

    public init() {}

    /// The page of `entries`.
    public init(_ entries: [AuditEntry]) {
        reserveCapacity(entries: entries.count, bytes: entries.reduce(0) { total, entry in
            if case .present(let body) = entry.body { return total + entry.header.count + body.count }
            return total + entry.header.count
        })
        for entry in entries { append(entry) }
    }

    public mutating func reserveCapacity(entries count: Int, bytes byteCount: Int) {
        entries.reserveCapacity(count)
        bytes.reserveCapacity(byteCount)
    }

    /// Copies `raw` to the end of `bytes` and returns its range there: an entry's header or body,
    /// stored before the entry is appended.
    public mutating func store(_ raw: UnsafeRawBufferPointer) -> Range<Int> {
        let start = bytes.count
        bytes.append(contentsOf: raw)
        return start..<bytes.count
    }

    /// Adds an entry whose header and body ``store(_:)`` returned.
    public mutating func append(_ entry: Entry) {
        precondition(entry.header.upperBound <= bytes.count, "header outside the page's bytes")
        if case .present(let body) = entry.body { precondition(body.upperBound <= bytes.count, "body outside the page's bytes") }
        entries.append(entry)
    }

    /// Adds `entry`, copying its header and body.
    public mutating func append(_ entry: AuditEntry) {
        let header = entry.header.withUnsafeBytes { store($0) }
        let body: Body
        switch entry.body {
        case .none: body = .none
        case .present(let bytes): body = .present(bytes.withUnsafeBytes { store($0) })
        case .purged(let by): body = .purged(by: by)
        }
        append(Entry(index: entry.index, header: header, leafHash: entry.leafHash, body: body))
    }

    /// The entry at `position` (not its index) as an ``AuditEntry``, its bytes copied.
    public func entry(at position: Int) -> AuditEntry {
        let entry = entries[position]
        let body: AuditBody
        switch entry.body {
        case .none: body = .none
        case .present(let range): body = .present(Array(bytes[range]))
        case .purged(let by): body = .purged(by: by)
        }
        return AuditEntry(index: entry.index, header: Array(bytes[entry.header]), leafHash: entry.leafHash, body: body)
    }
}
