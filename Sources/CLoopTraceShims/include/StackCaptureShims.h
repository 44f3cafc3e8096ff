// Signal-safe stack capture for LoopRuntime's watchdog, and the loaded-image list behind the
// trace's image table. C because a signal handler must not touch the Swift runtime (no
// allocation, no retain, no lock), and because reading ELF notes and /proc is pointer work.
// No logic beyond capturing and copying: deciding when to sample lives in Swift (Watchdog.swift).
#ifndef STACK_CAPTURE_SHIMS_H
#define STACK_CAPTURE_SHIMS_H

#include <stdint.h>

/// The most frames one capture keeps.
#define LT_MAX_FRAMES 128

/// Installs the capture handler on the first free real-time signal from SIGRTMIN+4 on (one
/// whose disposition is SIG_DFL; never SIGPROF, which other profilers own). Idempotent.
/// Returns the signal number, or -1 when none is free.
int lt_capture_install(void);

/// Calls glibc's backtrace() once: its first call dlopens libgcc, which is not
/// async-signal-safe. Call it before the first lt_capture_signal, off the watched thread.
void lt_capture_warm_up(void);

/// Unblocks the capture signal on the calling thread (a thread may inherit a mask that blocks
/// every signal, from a test runner say). Call it on the watched thread.
void lt_capture_unblock(void);

/// Signals thread `tid` of this process with the capture signal and waits up to `timeout_ns`
/// for its handler to unwind it with backtrace(). Frames go to `out` (at most `max`), the
/// interrupted PC first, then return addresses; the handler's own frames are dropped.
/// Serialized across threads by an internal lock (watchdog threads only; never call it from
/// the thread it signals). Returns the frame count (0 when nothing useful was captured), -1
/// when the signal could not be sent or no handler is installed, -2 on timeout (a late answer
/// is discarded).
int lt_capture_signal(int32_t tid, uintptr_t *out, int max, int64_t timeout_ns);

/// Reads /proc/self/task/TID/syscall. Returns 1 when the thread is blocked in a syscall (its
/// number, user stack pointer and PC are stored), 0 when it is running, 2 when it is blocked
/// outside a syscall (a page fault, say: only SP and PC are stored), -1 when unreadable.
int lt_thread_syscall(int32_t tid, int64_t *nr, uintptr_t *sp, uintptr_t *pc);

/// Scans a stack frozen in a syscall without stopping its thread: `pc` becomes frame 0, then
/// every 8-byte word in [sp, top) (at most 512 KiB) that points into one of the sorted
/// executable `ranges` (start, end pairs) right after a call instruction (`e8 rel32` whose
/// target is executable, or `ff /2`) becomes a frame, innermost first. A word whose direct call
/// targets another function than the one the previous frame is in (function starts from the
/// object's .eh_frame_hdr, PLT stubs followed) is dropped when a later word does call that
/// function: it is a leftover of a call that returned. Stale words that cannot be proved so
/// (indirect calls) remain: callers label such stacks "scanned". Returns the frame count.
int lt_scan_stack(uintptr_t sp, uintptr_t top, uintptr_t pc, const uintptr_t *ranges, int range_count,
                  uintptr_t *out, int max);

/// The highest address of the calling thread's stack (0 when unknown).
uintptr_t lt_current_stack_top(void);

/// One loaded ELF image, from dl_iterate_phdr.
typedef struct {
    /// The load bias: a frame's offset in the image is its address minus this.
    uintptr_t load_base;
    /// The executable PT_LOAD segment's virtual address (relative to load_base) and size.
    uintptr_t text_start;
    uintptr_t text_size;
    /// The NT_GNU_BUILD_ID note's bytes (length 0 when the image has none).
    uint8_t build_id[32];
    uint32_t build_id_length;
    /// The file path; the main executable's comes from /proc/self/exe.
    char path[1024];
} lt_image;

/// Fills `out` with up to `max` loaded images that have an executable segment; returns how many
/// there are in all (which may exceed `max`).
int lt_images_snapshot(lt_image *out, int max);

#endif
