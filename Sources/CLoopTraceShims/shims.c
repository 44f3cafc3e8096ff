#define _GNU_SOURCE
#include "CLoopTraceShims.h"

#include <dlfcn.h>
#include <zlib.h>
#include <stdlib.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

int lt_tsc_is_invariant(void) {
#if defined(__x86_64__) || defined(__i386__)
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(0x80000000u, &eax, &ebx, &ecx, &edx) || eax < 0x80000007u) return 0;
    if (!__get_cpuid(0x80000007u, &eax, &ebx, &ecx, &edx)) return 0;
    return (edx >> 8) & 1u;
#else
    return 0;
#endif
}

uint32_t lt_thread_id(void) { return (uint32_t)syscall(SYS_gettid); }

// libdeflate's ABI, bound once.
typedef void *(*alloc_compressor_fn)(int);
typedef void (*free_fn)(void *);
typedef size_t (*zlib_compress_fn)(void *, const void *, size_t, void *, size_t);
typedef void *(*alloc_decompressor_fn)(void);
typedef int (*zlib_decompress_fn)(void *, const void *, size_t, void *, size_t, size_t *);
typedef uint32_t (*crc32_fn)(uint32_t, const void *, size_t);

static pthread_once_t bind_once = PTHREAD_ONCE_INIT;
static alloc_compressor_fn p_alloc_compressor;
static free_fn p_free_compressor;
static zlib_compress_fn p_zlib_compress;
static alloc_decompressor_fn p_alloc_decompressor;
static free_fn p_free_decompressor;
static zlib_decompress_fn p_zlib_decompress;
static crc32_fn p_crc32;
static int bound;

static void bind_libdeflate(void) {
    if (getenv("LOOPTRACE_NO_LIBDEFLATE") != NULL) return;
    void *lib = dlopen("libdeflate.so.0", RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) return;
    p_alloc_compressor = (alloc_compressor_fn)dlsym(lib, "libdeflate_alloc_compressor");
    p_free_compressor = (free_fn)dlsym(lib, "libdeflate_free_compressor");
    p_zlib_compress = (zlib_compress_fn)dlsym(lib, "libdeflate_zlib_compress");
    p_alloc_decompressor = (alloc_decompressor_fn)dlsym(lib, "libdeflate_alloc_decompressor");
    p_free_decompressor = (free_fn)dlsym(lib, "libdeflate_free_decompressor");
    p_zlib_decompress = (zlib_decompress_fn)dlsym(lib, "libdeflate_zlib_decompress");
    p_crc32 = (crc32_fn)dlsym(lib, "libdeflate_crc32");
    bound = p_alloc_compressor && p_free_compressor && p_zlib_compress && p_alloc_decompressor &&
            p_free_decompressor && p_zlib_decompress;
}

int lt_deflate_available(void) {
    pthread_once(&bind_once, bind_libdeflate);
    return bound;
}

void *lt_deflate_alloc_compressor(int level) {
    return lt_deflate_available() ? p_alloc_compressor(level) : NULL;
}

void lt_deflate_free_compressor(void *c) {
    if (c != NULL && lt_deflate_available()) p_free_compressor(c);
}

size_t lt_deflate_zlib_compress(void *c, const void *in, size_t in_len, void *out, size_t out_cap) {
    return p_zlib_compress(c, in, in_len, out, out_cap);
}

void *lt_deflate_alloc_decompressor(void) {
    return lt_deflate_available() ? p_alloc_decompressor() : NULL;
}

void lt_deflate_free_decompressor(void *d) {
    if (d != NULL && lt_deflate_available()) p_free_decompressor(d);
}

uint32_t lt_crc32(const void *data, size_t len) {
    if (len == 0) return 0;
    if (lt_deflate_available() && p_crc32 != NULL) return p_crc32(0, data, len);
    return (uint32_t)crc32(0, (const unsigned char *)data, (unsigned int)len);
}

int lt_deflate_zlib_decompress(void *d, const void *in, size_t in_len, void *out, size_t out_len) {
    size_t actual = 0;
    int rc = p_zlib_decompress(d, in, in_len, out, out_len, &actual);
    if (rc != 0) return rc;
    return actual == out_len ? 0 : 1;
}
