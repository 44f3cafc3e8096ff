// C only for what Swift cannot do well: the cycle counter, CPU feature probes, thread ids and a
// run-time binding to libdeflate. No logic lives here.
#ifndef CLOOPTRACE_SHIMS_H
#define CLOOPTRACE_SHIMS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

/// Reads the time-stamp counter; on other architectures CLOCK_MONOTONIC in ns.
/// Static inline so that Swift inlines it: the clock is the dominant cost of recording an event.
static inline uint64_t lt_ticks(void) {
#if defined(__x86_64__) || defined(__i386__)
    return __rdtsc();
#else
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
#endif
}

/// CLOCK_MONOTONIC in nanoseconds.
static inline uint64_t lt_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/// CLOCK_REALTIME in nanoseconds since the Unix epoch.
static inline uint64_t lt_wall_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/// 1 when lt_ticks() is the TSC and the CPU says it is invariant (constant rate, runs in deep
/// C-states: CPUID 0x80000007 EDX bit 8), 0 otherwise.
int lt_tsc_is_invariant(void);

/// The calling thread's kernel thread id.
uint32_t lt_thread_id(void);

/// libdeflate, bound at run time with dlopen when libdeflate.so.0 is present, so that using it
/// adds no build or install step. Returns 1 when bound.
int lt_deflate_available(void);
/// A libdeflate compressor at `level`, or NULL when libdeflate is absent.
void *lt_deflate_alloc_compressor(int level);
void lt_deflate_free_compressor(void *compressor);
/// zlib-format compression; returns the compressed size or 0 when `out` is too small.
size_t lt_deflate_zlib_compress(void *compressor, const void *in, size_t in_len, void *out, size_t out_cap);
void *lt_deflate_alloc_decompressor(void);
void lt_deflate_free_decompressor(void *decompressor);
/// CRC-32 (zlib's polynomial) with libdeflate's PCLMUL/AVX code when bound, else zlib's.
uint32_t lt_crc32(const void *data, size_t len);
/// zlib-format decompression into exactly `out_len` bytes; returns 0 on success.
int lt_deflate_zlib_decompress(void *decompressor, const void *in, size_t in_len, void *out, size_t out_len);

// The event loop's epoll/eventfd helpers, kept in their own header.
#if __has_include("LoopRuntimeShims.h")
#include "LoopRuntimeShims.h"
#include "RuntimeInternalsShims.h"
#endif

// The watchdog's stack capture and the image list, kept in their own header.
#include "StackCaptureShims.h"

#endif
