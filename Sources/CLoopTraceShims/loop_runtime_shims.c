#define _GNU_SOURCE
#include "LoopRuntimeShims.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_epoll_pwait2
#if defined(__x86_64__) || defined(__aarch64__)
#define SYS_epoll_pwait2 441
#endif
#endif

enum { LT_BATCH = 256 };

int lt_epoll_create(void) {
    int fd = epoll_create1(EPOLL_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int lt_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev = {.events = events, .data = {.u64 = data}};
    return epoll_ctl(epfd, op, fd, &ev) < 0 ? -errno : 0;
}

// 1 = epoll_pwait2 works, -1 = it does not (ENOSYS), 0 = not probed yet.
static _Atomic int pwait2_state = 0;

static int copy_out(struct epoll_event *evs, int n, lt_ready_event *out) {
    for (int i = 0; i < n; i++) {
        out[i].data = evs[i].data.u64;
        out[i].events = evs[i].events;
    }
    return n;
}

int lt_epoll_wait(int epfd, lt_ready_event *out, int capacity, int64_t timeout_ns) {
    struct epoll_event evs[LT_BATCH];
    if (capacity > LT_BATCH) capacity = LT_BATCH;
#ifdef SYS_epoll_pwait2
    if (atomic_load_explicit(&pwait2_state, memory_order_relaxed) >= 0) {
        struct timespec ts, *tsp = NULL;
        if (timeout_ns >= 0) {
            ts.tv_sec = timeout_ns / 1000000000;
            ts.tv_nsec = timeout_ns % 1000000000;
            tsp = &ts;
        }
        long n = syscall(SYS_epoll_pwait2, epfd, evs, capacity, tsp, NULL, 0);
        if (n >= 0) {
            atomic_store_explicit(&pwait2_state, 1, memory_order_relaxed);
            return copy_out(evs, (int)n, out);
        }
        if (errno != ENOSYS) return -errno;
        atomic_store_explicit(&pwait2_state, -1, memory_order_relaxed);
    }
#endif
    int ms;
    if (timeout_ns < 0) ms = -1;
    else if (timeout_ns > (int64_t)INT32_MAX * 1000000) ms = INT32_MAX;
    else ms = (int)((timeout_ns + 999999) / 1000000);  // round up: a timer must never fire early
    int n = epoll_wait(epfd, evs, capacity, ms);
    return n < 0 ? -errno : copy_out(evs, n, out);
}

int lt_epoll_has_pwait2(void) {
    return atomic_load_explicit(&pwait2_state, memory_order_relaxed) > 0;
}

int lt_eventfd_create(void) {
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int lt_eventfd_signal(int fd) {
    uint64_t one = 1;
    return write(fd, &one, sizeof one) < 0 ? -errno : 0;
}

int lt_eventfd_drain(int fd) {
    uint64_t value;
    return read(fd, &value, sizeof value) < 0 ? -errno : 0;
}

long lt_set_timer_slack(unsigned long nanos) {
    int previous = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
    if (previous < 0) return -errno;
    if (prctl(PR_SET_TIMERSLACK, nanos, 0, 0, 0) < 0) return -errno;
    return previous;
}
