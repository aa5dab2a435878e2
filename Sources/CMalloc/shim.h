#ifndef CONSENT_LEDGER_CMALLOC_SHIM_H
#define CONSENT_LEDGER_CMALLOC_SHIM_H

/* glibc's allocator parameters (mallopt), which Swift's Glibc module does not export. */
#include <stdlib.h> /* defines __GLIBC__ on glibc */
#if defined(__GLIBC__)
#include <malloc.h>
static inline int cl_keep_freed_memory(int mmap_threshold, int trim_threshold) {
    return mallopt(M_MMAP_THRESHOLD, mmap_threshold) && mallopt(M_TRIM_THRESHOLD, trim_threshold);
}
#else
static inline int cl_keep_freed_memory(int mmap_threshold, int trim_threshold) { return 0; }
#endif

#if defined(__linux__)
#include <stdint.h>
#include <sys/mman.h>
/* Asks for transparent huge pages on the whole pages of [start, start + length), before they are
   first touched: returns 0 on success (or when there is no whole page), -1 with errno otherwise. */
static inline int cl_advise_huge_pages(void *start, size_t length) {
    const uintptr_t page = 4096;
    uintptr_t lower = ((uintptr_t)start + page - 1) & ~(page - 1);
    uintptr_t upper = ((uintptr_t)start + length) & ~(page - 1);
    if (upper <= lower) return 0;
    return madvise((void *)lower, upper - lower, MADV_HUGEPAGE);
}
#else
static inline int cl_advise_huge_pages(void *start, size_t length) { return 0; }
#endif

#endif
