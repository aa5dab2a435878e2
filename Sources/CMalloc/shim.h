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

#endif
