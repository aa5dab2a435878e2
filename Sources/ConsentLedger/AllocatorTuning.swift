import CMalloc
import ConsentCore
import ConsentVerifier

extension LogAudit {
    /// Tunes this process's allocator for a replay: freed memory is kept for reuse instead of being
    /// returned to the system at once. A replay allocates and frees arrays of megabytes for every
    /// page of entries; with glibc's defaults many came back as fresh pages, and faulting those in
    /// cost about 5% of an audit. For batch processes (`audit`, `check`, the benchmark), not for
    /// long-running servers, whose resident memory would stay near its peak. Does nothing where the
    /// C library is not glibc.
    public static func tuneAllocatorForReplay() {
        // Allocations up to 32 MiB (glibc's largest threshold) come from the heap, and up to 1 GiB
        // of free memory at its top stays mapped.
        _ = cl_keep_freed_memory(32 << 20, 1 << 30)
    }
}

extension AuditOptions {
    /// Asks the system for transparent huge pages for the audit's key tables (madvise through
    /// ``tableMemory``): their random reads miss the TLB less, and faulting them in takes 500 times
    /// fewer faults (an audit of 10^6 entries ran about 8% faster). A hint: where it is refused,
    /// nothing changes.
    public mutating func askForHugePages() {
        tableMemory = { memory in _ = cl_advise_huge_pages(memory.baseAddress, memory.count) }
    }
}
