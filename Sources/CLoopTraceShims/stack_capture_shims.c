#define _GNU_SOURCE
#include "StackCaptureShims.h"

#include <elf.h>
#include <errno.h>
#include <execinfo.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

// MARK: - Signal capture

// One request at a time (the lock): the watchdog arms `target`, signals, and waits on `done`.
// The handler writes `frames`/`count`/`pc` and posts `done` only when it runs on the armed
// target, so a stray signal (from kill(1), say) is ignored.
static struct {
    _Atomic int signo;
    _Atomic int32_t target;   // 0 = not armed
    void *frames[LT_MAX_FRAMES + 8];
    int count;
    uintptr_t pc;
    sem_t done;
} capture;
static pthread_mutex_t capture_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t capture_once = PTHREAD_ONCE_INIT;

static void capture_handler(int sig, siginfo_t *info, void *context) {
    (void)sig;
    (void)info;
    int saved = errno;
    int32_t target = atomic_load(&capture.target);
    if (target != 0 && (int32_t)syscall(SYS_gettid) == target) {
        ucontext_t *uc = context;
#if defined(__x86_64__)
        capture.pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
        capture.pc = (uintptr_t)uc->uc_mcontext.pc;
#else
        capture.pc = 0;
#endif
        // libgcc's unwinder, through the signal frame; lock-free here (it finds FDEs with
        // _dl_find_object), and warmed up at install.
        capture.count = backtrace(capture.frames, LT_MAX_FRAMES + 8);
        atomic_store(&capture.target, 0);
        sem_post(&capture.done);
    }
    errno = saved;
}

static void capture_setup(void) {
    sem_init(&capture.done, 0, 0);
    for (int k = 4; SIGRTMIN + k <= SIGRTMAX; k++) {
        int signo = SIGRTMIN + k;
        struct sigaction old;
        if (sigaction(signo, NULL, &old) != 0) continue;
        if (!(old.sa_flags & SA_SIGINFO) && old.sa_handler != SIG_DFL) continue;
        if ((old.sa_flags & SA_SIGINFO) && old.sa_sigaction != NULL) continue;
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = capture_handler;
        sa.sa_flags = SA_SIGINFO | SA_RESTART;
        sigemptyset(&sa.sa_mask);
        if (sigaction(signo, &sa, NULL) == 0) {
            atomic_store(&capture.signo, signo);
            return;
        }
    }
    atomic_store(&capture.signo, -1);
}

int lt_capture_install(void) {
    pthread_once(&capture_once, capture_setup);
    return atomic_load(&capture.signo);
}

void lt_capture_warm_up(void) {
    void *warm[4];
    (void)backtrace(warm, 4);  // dlopens libgcc now, not in the handler
}

void lt_capture_unblock(void) {
    int signo = atomic_load(&capture.signo);
    if (signo <= 0) return;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, signo);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

static void deadline_after(struct timespec *ts, int64_t ns) {
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ns / 1000000000;
    ts->tv_nsec += ns % 1000000000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec += 1;
        ts->tv_nsec -= 1000000000;
    }
}

static int wait_done(int64_t timeout_ns) {
    struct timespec deadline;
    deadline_after(&deadline, timeout_ns);
    while (sem_timedwait(&capture.done, &deadline) != 0) {
        if (errno != EINTR) return -1;
    }
    return 0;
}

int lt_capture_signal(int32_t tid, uintptr_t *out, int max, int64_t timeout_ns) {
    int signo = atomic_load(&capture.signo);
    if (signo <= 0 || tid <= 0) return -1;
    pthread_mutex_lock(&capture_lock);
    // A handler that ran after its request timed out has posted since: drop that post. (One
    // still running on the target cannot overlap a new request's handler: the signal is
    // blocked while its handler runs.)
    while (sem_trywait(&capture.done) == 0) {}
    capture.count = 0;
    atomic_store(&capture.target, tid);
    if (syscall(SYS_tgkill, getpid(), tid, signo) != 0) {
        atomic_store(&capture.target, 0);
        pthread_mutex_unlock(&capture_lock);
        return -1;
    }
    if (wait_done(timeout_ns) != 0) {
        atomic_store(&capture.target, 0);
        pthread_mutex_unlock(&capture_lock);
        return -2;
    }
    // Drop the handler's frames and the signal trampoline: keep the interrupted PC onwards.
    int first = -1;
    for (int i = 0; i < capture.count; i++) {
        if ((uintptr_t)capture.frames[i] == capture.pc) {
            first = i;
            break;
        }
    }
    if (first < 0) first = capture.count > 2 ? 2 : capture.count;
    int n = 0;
    for (int i = first; i < capture.count && n < max; i++) out[n++] = (uintptr_t)capture.frames[i];
    pthread_mutex_unlock(&capture_lock);
    return n;
}

// MARK: - Blocked in a syscall: /proc and a stack scan

int lt_thread_syscall(int32_t tid, int64_t *nr, uintptr_t *sp, uintptr_t *pc) {
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    char buf[256];
    ssize_t n;
    do { n = read(fd, buf, sizeof buf - 1); } while (n < 0 && errno == EINTR);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = 0;
    if (strncmp(buf, "running", 7) == 0) return 0;
    // "NR a1 a2 a3 a4 a5 a6 SP PC", or "-1 SP PC" when blocked outside a syscall.
    char *p = buf;
    long long number = strtoll(p, &p, 10);
    unsigned long long words[8];
    int count = 0;
    while (count < 8) {
        char *q;
        unsigned long long v = strtoull(p, &q, 16);
        if (q == p) break;
        words[count++] = v;
        p = q;
    }
    if (count < 2) return -1;
    *nr = number;
    *sp = (uintptr_t)words[count - 2];
    *pc = (uintptr_t)words[count - 1];
    return number < 0 ? 2 : 1;
}

static int in_ranges(uintptr_t a, const uintptr_t *ranges, int count, uintptr_t *start) {
    int lo = 0, hi = count - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (a < ranges[2 * mid]) {
            hi = mid - 1;
        } else if (a >= ranges[2 * mid + 1]) {
            lo = mid + 1;
        } else {
            if (start) *start = ranges[2 * mid];
            return 1;
        }
    }
    return 0;
}

// The length of an `ff /2` (call r/m64) instruction from its ModRM and SIB bytes.
static int call_rm_length(const uint8_t *modrm) {
    int mod = modrm[0] >> 6, rm = modrm[0] & 7;
    switch (mod) {
    case 3: return 2;
    case 0:
        if (rm == 4) return (modrm[1] & 7) == 5 ? 7 : 3;
        return rm == 5 ? 6 : 2;
    case 1: return rm == 4 ? 4 : 3;
    default: return rm == 4 ? 7 : 6;
    }
}

// The target of a direct `e8 rel32` call returning to `w`, through a PLT stub when it is one
// (`[endbr64] [bnd] jmp *GOT(%rip)`: the GOT slot holds the real target); 0 when `w` does not
// follow a direct call or the target is not executable.
static uintptr_t direct_call_target(uintptr_t w, uintptr_t start, const uintptr_t *ranges, int count) {
    if (w - start < 5 || *(const uint8_t *)(w - 5) != 0xE8) return 0;
    int32_t rel;
    memcpy(&rel, (const void *)(w - 4), 4);
    uintptr_t target = w + (intptr_t)rel;
    uintptr_t target_start;
    if (!in_ranges(target, ranges, count, &target_start)) return 0;
    const uint8_t *b = (const uint8_t *)target;
    uintptr_t end = target_start;
    for (int i = 0; i < count; i++) if (ranges[2 * i] == target_start) end = ranges[2 * i + 1];
    if ((uintptr_t)b + 11 > end) return target;
    if (b[0] == 0xF3 && b[1] == 0x0F && b[2] == 0x1E && b[3] == 0xFA) b += 4;
    if (b[0] == 0xF2) b += 1;
    if (b[0] == 0xFF && b[1] == 0x25) {
        int32_t disp;
        memcpy(&disp, b + 2, 4);
        uintptr_t slot = (uintptr_t)(b + 6) + (intptr_t)disp;
        struct dl_find_object object;
        if (_dl_find_object((void *)target, &object) == 0 && slot >= (uintptr_t)object.dlfo_map_start
            && slot + 8 <= (uintptr_t)object.dlfo_map_end) {
            uintptr_t resolved;
            memcpy(&resolved, (const void *)slot, 8);
            return resolved;
        }
    }
    return target;
}

// The start of the function containing `pc`, from its object's .eh_frame_hdr search table
// (sorted initial locations, DW_EH_PE_datarel|sdata4); 0 when unknown.
static uintptr_t function_start(uintptr_t pc) {
    struct dl_find_object object;
    if (_dl_find_object((void *)pc, &object) != 0 || object.dlfo_eh_frame == NULL) return 0;
    const uint8_t *hdr = object.dlfo_eh_frame;
    if (hdr[0] != 1 || hdr[3] != 0x3B) return 0;
    int ptr_size = (hdr[1] & 0x0F) == 0x03 || (hdr[1] & 0x0F) == 0x0B ? 4 : ((hdr[1] & 0x0F) == 0x04 || (hdr[1] & 0x0F) == 0x0C ? 8 : 0);
    if (ptr_size == 0 || ((hdr[2] & 0x0F) != 0x03 && (hdr[2] & 0x0F) != 0x0B)) return 0;
    uint32_t n;
    memcpy(&n, hdr + 4 + ptr_size, 4);
    const uint8_t *table = hdr + 8 + ptr_size;
    int64_t lo = 0, hi = (int64_t)n - 1, found = -1;
    while (lo <= hi) {
        int64_t mid = (lo + hi) / 2;
        int32_t loc;
        memcpy(&loc, table + mid * 8, 4);
        if ((uintptr_t)hdr + (intptr_t)loc <= pc) {
            found = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    if (found < 0) return 0;
    int32_t loc;
    memcpy(&loc, table + found * 8, 4);
    return (uintptr_t)hdr + (intptr_t)loc;
}

static int follows_call(uintptr_t w, uintptr_t start, const uintptr_t *ranges, int count) {
#if defined(__x86_64__)
    if (direct_call_target(w, start, ranges, count) != 0) return 1;
    static const int lengths[] = {2, 3, 4, 6, 7};
    for (int i = 0; i < 5; i++) {
        int len = lengths[i];
        if (w - start < (uintptr_t)len) break;
        const uint8_t *b = (const uint8_t *)(w - len);
        if (b[0] == 0xFF && ((b[1] >> 3) & 7) == 2 && call_rm_length(b + 1) == len) return 1;
    }
    return 0;
#else
    (void)w; (void)start; (void)ranges; (void)count;
    return 1;
#endif
}

int lt_scan_stack(uintptr_t sp, uintptr_t top, uintptr_t pc, const uintptr_t *ranges, int range_count,
                  uintptr_t *out, int max) {
    int n = 0;
    if (max <= 0) return 0;
    out[n++] = pc;
    if (sp == 0 || top <= sp) return n;
    uintptr_t end = top;
    if (end - sp > (512u << 10)) end = sp + (512u << 10);
    // Every word that looks like a return address, with its direct call's target (0: indirect).
    enum { CAP = LT_MAX_FRAMES * 4 };
    uintptr_t found[CAP], targets[CAP];
    int m = 0;
    for (uintptr_t p = (sp + 7) & ~(uintptr_t)7; p + 8 <= end && m < CAP; p += 8) {
        uintptr_t w = *(const volatile uintptr_t *)p;
        uintptr_t start;
        if (in_ranges(w, ranges, range_count, &start) && follows_call(w, start, ranges, range_count)) {
            found[m] = w;
            targets[m] = direct_call_target(w, start, ranges, range_count);
            m++;
        }
    }
    // Drop provably stale words: a direct call whose target is not the function the previous
    // frame is in, when a later word does call that function (then that one is the real
    // caller, and this one a leftover of a call that returned). A mismatch with no such later
    // word is kept: the previous function may have been reached by a tail call.
    uintptr_t inner = pc;
    for (int i = 0; i < m && n < max; i++) {
        uintptr_t callee = function_start(inner);
        if (targets[i] != 0 && callee != 0 && targets[i] != callee) {
            int stale = 0;
            for (int j = i + 1; j < m && j < i + 24; j++) {
                if (targets[j] == callee) {
                    stale = 1;
                    break;
                }
            }
            if (stale) continue;
        }
        out[n++] = found[i];
        inner = found[i] - 1;
    }
    return n;
}

uintptr_t lt_current_stack_top(void) {
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) != 0) return 0;
    void *addr = NULL;
    size_t size = 0;
    int rc = pthread_attr_getstack(&attr, &addr, &size);
    pthread_attr_destroy(&attr);
    return rc == 0 ? (uintptr_t)addr + size : 0;
}

// MARK: - Images

struct image_walk {
    lt_image *out;
    int max;
    int count;
};

static void read_build_id(struct dl_phdr_info *info, const ElfW(Phdr) *note, lt_image *image) {
    const uint8_t *p = (const uint8_t *)(info->dlpi_addr + note->p_vaddr);
    const uint8_t *end = p + note->p_memsz;
    while (p + sizeof(ElfW(Nhdr)) <= end) {
        const ElfW(Nhdr) *h = (const ElfW(Nhdr) *)p;
        const uint8_t *name = p + sizeof(ElfW(Nhdr));
        const uint8_t *desc = name + ((h->n_namesz + 3) & ~3u);
        const uint8_t *next = desc + ((h->n_descsz + 3) & ~3u);
        if (next > end || next <= p) return;
        if (h->n_type == NT_GNU_BUILD_ID && h->n_namesz == 4 && memcmp(name, "GNU", 4) == 0) {
            uint32_t length = h->n_descsz > sizeof image->build_id ? sizeof image->build_id : h->n_descsz;
            memcpy(image->build_id, desc, length);
            image->build_id_length = length;
            return;
        }
        p = next;
    }
}

static int image_callback(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    struct image_walk *walk = data;
    const ElfW(Phdr) *text = NULL;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
            text = ph;
            break;
        }
    }
    if (text == NULL) return 0;
    int index = walk->count++;
    if (index >= walk->max) return 0;
    lt_image *image = &walk->out[index];
    memset(image, 0, sizeof *image);
    image->load_base = info->dlpi_addr;
    image->text_start = text->p_vaddr;
    image->text_size = text->p_memsz;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        if (info->dlpi_phdr[i].p_type == PT_NOTE && image->build_id_length == 0) read_build_id(info, &info->dlpi_phdr[i], image);
    }
    const char *name = info->dlpi_name;
    if (name == NULL || name[0] == 0) {
        if (index == 0) {
            ssize_t n = readlink("/proc/self/exe", image->path, sizeof image->path - 1);
            image->path[n > 0 ? n : 0] = 0;
        }
    } else {
        strncpy(image->path, name, sizeof image->path - 1);
    }
    return 0;
}

int lt_images_snapshot(lt_image *out, int max) {
    struct image_walk walk = {out, max, 0};
    dl_iterate_phdr(image_callback, &walk);
    return walk.count;
}
