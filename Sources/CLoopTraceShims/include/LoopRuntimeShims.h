// Linux event-loop syscalls and the Swift runtime entry points LoopRuntime needs. Thin
// wrappers only: epoll_event is a packed struct that Swift imports awkwardly, epoll_pwait2 has no
// glibc wrapper on older systems, and the runtime entry points must be declared with the Swift
// calling convention.
#ifndef LOOPRUNTIME_SHIMS_H
#define LOOPRUNTIME_SHIMS_H

#include <stdint.h>

#if __has_attribute(swiftcall)
#define LT_SWIFTCC __attribute__((swiftcall))
#else
#define LT_SWIFTCC
#endif

/// The Swift runtime's sequential id of the task behind a job; 0 for jobs that are not tasks.
/// Exported by libswift_Concurrency; declared here because `@_silgen_name` on reserved names warns.
LT_SWIFTCC uint64_t swift_task_getJobTaskId(void *job);

/// The runtime's `JobFlags` of a task's job (kind, priority, and task flags such as
/// `Task_IsChildTask`, bit 24). Exported by libswift_Concurrency, Swift calling convention.
LT_SWIFTCC uint32_t swift_task_getJobFlags(void *job);

/// Binds a task-local value in the current task, as `TaskLocal.withValue` does before running its
/// operation (the stdlib declares it the same way): `key` is the `TaskLocal` object, `value`
/// points to a value of type `valueType`, taken (+1). Each push is undone by a pop on the same
/// task, in reverse order.
LT_SWIFTCC void swift_task_localValuePush(const void *key, void *value, const void *valueType);
LT_SWIFTCC void swift_task_localValuePop(void);
/// The storage of the innermost binding of task-local `key` in the current task (or the
/// thread's fallback storage), NULL when unbound: what `TaskLocal.get()` reads before copying
/// the value out through its type's metadata.
LT_SWIFTCC void *swift_task_localValueGet(const void *key);

/// The layout version of the runtime's private task structures; 1 means a task's 32-bit status
/// flags sit at byte 96 with IsComplete = 0x2000 (read by the loop, when tracing, to tell a
/// completed child task's last step from a suspension).
extern const unsigned _swift_concurrency_debug_internal_layout_version;

/// Asks the CPU to start loading the cache lines at `p` and the next two (a task's header and
/// scheduling fields): the loop does so for the next ready task while it runs the current one.
static inline void lt_prefetch_task(const void *p) {
    __builtin_prefetch(p);
    __builtin_prefetch((const char *)p + 64);
    __builtin_prefetch((const char *)p + 128);
}

/// One ready descriptor as returned by lt_epoll_wait: the registration's 64-bit data and events.
typedef struct {
    uint64_t data;
    uint32_t events;
} lt_ready_event;

int lt_epoll_create(void);
/// op: EPOLL_CTL_ADD/MOD/DEL. Returns 0 or -errno.
int lt_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data);
/// Waits at most `timeout_ns` (-1 = forever, 0 = poll) with nanosecond precision: epoll_pwait2
/// where the kernel has it, otherwise epoll_wait with the timeout rounded *up* to whole
/// milliseconds (never early). Returns the ready count or -errno.
int lt_epoll_wait(int epfd, lt_ready_event *out, int capacity, int64_t timeout_ns);
/// 1 when lt_epoll_wait uses epoll_pwait2 (nanosecond timeouts).
int lt_epoll_has_pwait2(void);

/// epoll constants, which Swift's Glibc module does not export.
enum {
    LT_EPOLLIN = 0x001,
    LT_EPOLLOUT = 0x004,
    LT_EPOLLERR = 0x008,
    LT_EPOLLHUP = 0x010,
    LT_EPOLL_CTL_ADD = 1,
    LT_EPOLL_CTL_DEL = 2,
    LT_EPOLL_CTL_MOD = 3,
};

/// Sets the calling thread's timer slack (the kernel's allowance for waking late from timed
/// waits, 50 µs by default) and returns the previous value, or -errno.
long lt_set_timer_slack(unsigned long nanos);

/// A nonblocking, close-on-exec eventfd; returns the fd or -errno.
int lt_eventfd_create(void);
/// Adds 1 to the eventfd counter. Returns 0 or -errno (EAGAIN means it is already signalled).
int lt_eventfd_signal(int fd);
/// Resets the eventfd counter. Returns 0 or -errno.
int lt_eventfd_drain(int fd);

#endif
