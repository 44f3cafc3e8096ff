// The Swift runtime and libdispatch entry points that factory mode (LoopRuntime's
// `EventLoop.installAsProcessExecutors`) reaches through `dlsym`, so that LoopRuntime still loads
// where they are missing. Thin wrappers only; why each one is needed is written in
// Sources/LoopRuntime/RuntimeInternals.swift, the one place that uses them.
#ifndef LOOPRUNTIME_RUNTIME_INTERNALS_SHIMS_H
#define LOOPRUNTIME_RUNTIME_INTERNALS_SHIMS_H

#include <stdint.h>

/// What lt_preinstall_enqueue_global_hook found.
enum {
    /// The pass-through hook is now installed: a later compare-and-exchange (NIO's takeover)
    /// fails and global jobs keep reaching the loop.
    LT_GLOBAL_HOOK_PREINSTALLED = 0,
    /// Another hook was installed before ours: global jobs go wherever it sends them.
    LT_GLOBAL_HOOK_FOREIGN = 1,
    /// The runtime has no `swift_task_enqueueGlobal_hook`.
    LT_GLOBAL_HOOK_UNAVAILABLE = 2,
};

/// Installs a `swift_task_enqueueGlobal_hook` that calls the runtime's own implementation
/// (which hands the job to the factory's default executor), by compare-and-exchange from null.
int lt_preinstall_enqueue_global_hook(void);

/// Whether `swift_task_enqueueGlobal_hook` is still the pass-through hook.
int lt_enqueue_global_hook_is_ours(void);

/// libdispatch's main-queue eventfd (`_dispatch_get_main_queue_handle_4CF`), or -1 when the
/// function is missing.
int lt_dispatch_main_queue_handle(void);

/// Runs the blocks queued on `DispatchQueue.main` (`_dispatch_main_queue_callback_4CF(NULL)`,
/// as Foundation's RunLoop does). Main thread only.
void lt_dispatch_main_queue_drain(void);

/// The demangled name of the function containing `address`, copied into `out` (NUL-terminated),
/// using the dynamic symbol table (`dladdr`) and `swift_demangle`. Returns the length, or 0 when
/// no symbol covers the address.
long lt_symbol_name(const void *address, char *out, long capacity);

#endif
