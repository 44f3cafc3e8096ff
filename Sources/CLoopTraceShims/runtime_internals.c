#define _GNU_SOURCE
#include "include/RuntimeInternalsShims.h"
#include "include/LoopRuntimeShims.h"

#include <dlfcn.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

// void (*)(Job *) with the Swift calling convention: the runtime's own implementation.
typedef LT_SWIFTCC void (*lt_enqueue_global_original)(void *job);
// The hook's type in the runtime: `void (*)(Job *, original)`, Swift calling convention.
typedef LT_SWIFTCC void (*lt_enqueue_global_hook)(void *job, lt_enqueue_global_original original);

static LT_SWIFTCC void lt_enqueue_global_passthrough(void *job, lt_enqueue_global_original original) {
    original(job);
}

static _Atomic(lt_enqueue_global_hook) *lt_enqueue_global_hook_slot(void) {
    return (_Atomic(lt_enqueue_global_hook) *)dlsym(RTLD_DEFAULT, "swift_task_enqueueGlobal_hook");
}

int lt_preinstall_enqueue_global_hook(void) {
    _Atomic(lt_enqueue_global_hook) *slot = lt_enqueue_global_hook_slot();
    if (slot == NULL) return LT_GLOBAL_HOOK_UNAVAILABLE;
    lt_enqueue_global_hook expected = NULL;
    if (atomic_compare_exchange_strong(slot, &expected, lt_enqueue_global_passthrough)) {
        return LT_GLOBAL_HOOK_PREINSTALLED;
    }
    return expected == lt_enqueue_global_passthrough ? LT_GLOBAL_HOOK_PREINSTALLED : LT_GLOBAL_HOOK_FOREIGN;
}

int lt_enqueue_global_hook_is_ours(void) {
    _Atomic(lt_enqueue_global_hook) *slot = lt_enqueue_global_hook_slot();
    return slot != NULL && atomic_load(slot) == lt_enqueue_global_passthrough;
}

int lt_dispatch_main_queue_handle(void) {
    int (*handle)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "_dispatch_get_main_queue_handle_4CF");
    return handle ? handle() : -1;
}

void lt_dispatch_main_queue_drain(void) {
    static void (*drain)(void *) = NULL;
    if (drain == NULL) drain = (void (*)(void *))dlsym(RTLD_DEFAULT, "_dispatch_main_queue_callback_4CF");
    if (drain) drain(NULL);
}

long lt_symbol_name(const void *address, char *out, long capacity) {
    Dl_info info;
    // Only a symbol that starts exactly there: dladdr names the nearest exported symbol before
    // an address, which for a local function (a closure) is some other function.
    if (capacity <= 0 || dladdr(address, &info) == 0 || info.dli_sname == NULL || info.dli_saddr != address) return 0;
    static char *(*demangle)(const char *, size_t, char *, size_t *, uint32_t) = NULL;
    if (demangle == NULL) {
        demangle = (char *(*)(const char *, size_t, char *, size_t *, uint32_t))dlsym(RTLD_DEFAULT, "swift_demangle");
    }
    char *demangled = demangle ? demangle(info.dli_sname, strlen(info.dli_sname), NULL, NULL, 0) : NULL;
    const char *name = demangled ? demangled : info.dli_sname;
    long length = (long)strlen(name);
    if (length >= capacity) length = capacity - 1;
    memcpy(out, name, (size_t)length);
    out[length] = 0;
    free(demangled);
    return length;
}
