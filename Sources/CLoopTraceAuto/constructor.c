#define _GNU_SOURCE
#include "include/CLoopTraceAuto.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

// Defined in Swift (LoopTraceAuto.swift).
extern void looptrace_auto_attach(const char *path);
extern void looptrace_auto_finish_for_signal(int signal);

static int status_fd = -1;

void lt_auto_report(const char *line) {
    if (status_fd < 0) return;
    size_t length = strlen(line);
    while (length > 0) {
        ssize_t n = write(status_fd, line, length);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        line += n;
        length -= (size_t)n;
    }
    (void)write(status_fd, "\n", 1);
    close(status_fd);
    status_fd = -1;
}

// 1 when the main executable imports swift_task_asyncMainDrainQueue (an async main, with the
// Swift runtime linked dynamically); 2 when it defines it and this library's code lives in the
// executable too (the product linked in, runtime linked statically: one runtime, fine); else 0.
static int main_executable_is_async_main(void) {
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size < (off_t)sizeof(Elf64_Ehdr)) {
        close(fd);
        return 0;
    }
    size_t size = (size_t)st.st_size;
    const unsigned char *image = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (image == MAP_FAILED) return 0;
    int result = 0;
    const Elf64_Ehdr *header = (const Elf64_Ehdr *)image;
    if (memcmp(header->e_ident, ELFMAG, SELFMAG) != 0 || header->e_ident[EI_CLASS] != ELFCLASS64
        || header->e_shoff == 0 || header->e_shentsize != sizeof(Elf64_Shdr)
        || header->e_shoff + (size_t)header->e_shnum * sizeof(Elf64_Shdr) > size) {
        munmap((void *)image, size);
        return 0;
    }
    const Elf64_Shdr *sections = (const Elf64_Shdr *)(image + header->e_shoff);
    // This code lives in the executable (the product linked in) when the executable's program
    // headers sit at the start of the object dladdr finds it in.
    Dl_info self;
    uintptr_t program_headers = (uintptr_t)getauxval(AT_PHDR);
    int code_in_executable = dladdr((void *)&main_executable_is_async_main, &self) != 0
        && program_headers - (uintptr_t)self.dli_fbase < 4096;
    for (int i = 0; i < header->e_shnum && result == 0; i++) {
        const Elf64_Shdr *symbols = &sections[i];
        if (symbols->sh_type != SHT_DYNSYM && symbols->sh_type != SHT_SYMTAB) continue;
        if (symbols->sh_link >= header->e_shnum || symbols->sh_entsize != sizeof(Elf64_Sym)) continue;
        const Elf64_Shdr *strings = &sections[symbols->sh_link];
        if (symbols->sh_offset + symbols->sh_size > size || strings->sh_offset + strings->sh_size > size) continue;
        size_t count = symbols->sh_size / sizeof(Elf64_Sym);
        const Elf64_Sym *table = (const Elf64_Sym *)(image + symbols->sh_offset);
        const char *names = (const char *)(image + strings->sh_offset);
        for (size_t k = 0; k < count; k++) {
            if (table[k].st_name >= strings->sh_size) continue;
            if (strcmp(names + table[k].st_name, "swift_task_asyncMainDrainQueue") != 0) continue;
            if (table[k].st_shndx == SHN_UNDEF) {
                if (symbols->sh_type == SHT_DYNSYM) result = 1;
            } else if (code_in_executable) {
                result = 2;
            }
            break;
        }
    }
    munmap((void *)image, size);
    return result;
}

__attribute__((constructor)) static void looptrace_auto_constructor(void) {
    // The handshake: without LOOPTRACE the library does nothing at all.
    const char *path = getenv("LOOPTRACE");
    if (path == NULL || path[0] == 0) return;
    const char *fd_text = getenv("LOOPTRACE_AUTO_STATUS_FD");
    if (fd_text != NULL) {
        char *end = NULL;
        long fd = strtol(fd_text, &end, 10);
        if (end != fd_text && *end == 0 && fd >= 0 && fd < 65536 && fcntl((int)fd, F_GETFD) >= 0) status_fd = (int)fd;
        unsetenv("LOOPTRACE_AUTO_STATUS_FD");
    }
    if (main_executable_is_async_main() == 0) {
        lt_auto_report("not-attached sync-main: the program's main is not async (it never runs an executor's run loop)");
        return;
    }
    looptrace_auto_attach(path);
}

// MARK: Signals

static int relay_pipe[2] = {-1, -1};
static volatile sig_atomic_t signal_pending = 0;

static void relay_handler(int signal) {
    if (signal_pending) {
        lt_auto_reraise(signal);
        return;
    }
    signal_pending = signal;
    unsigned char byte = (unsigned char)signal;
    int saved = errno;
    (void)write(relay_pipe[1], &byte, 1);
    errno = saved;
}

static void *relay_thread(void *unused) {
    (void)unused;
    unsigned char byte;
    for (;;) {
        ssize_t n = read(relay_pipe[0], &byte, 1);
        if (n == 1) break;
        if (n < 0 && errno == EINTR) continue;
        return NULL;
    }
    looptrace_auto_finish_for_signal(byte);
    struct timespec two_seconds = {2, 0};
    while (nanosleep(&two_seconds, &two_seconds) != 0 && errno == EINTR) {}
    lt_auto_reraise(byte);
    return NULL;
}

void lt_auto_install_signal_relay(void) {
    if (pipe2(relay_pipe, O_CLOEXEC) != 0) return;
    // The relay thread must not take the signals itself: block them while it is created.
    sigset_t block, saved;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, &saved);
    pthread_t thread;
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
    int created = pthread_create(&thread, &attributes, relay_thread, NULL);
    pthread_attr_destroy(&attributes);
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    if (created != 0) return;
    int signals[] = {SIGINT, SIGTERM};
    for (int i = 0; i < 2; i++) {
        struct sigaction current;
        if (sigaction(signals[i], NULL, &current) != 0 || current.sa_handler != SIG_DFL) continue;
        struct sigaction action;
        memset(&action, 0, sizeof action);
        action.sa_handler = relay_handler;
        sigemptyset(&action.sa_mask);
        action.sa_flags = SA_RESTART;
        sigaction(signals[i], &action, NULL);
    }
}

void lt_auto_reraise(int signal) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = SIG_DFL;
    sigaction(signal, &action, NULL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, signal);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    kill(getpid(), signal);
}
