/// Names of the Linux x86-64 syscalls a blocked thread is commonly found in (from
/// `arch/x86/entry/syscalls/syscall_64.tbl`); others print as `syscall N`.
enum SyscallNames {
    static let x86_64: [Int64: String] = [
        0: "read", 1: "write", 2: "open", 3: "close", 7: "poll", 17: "pread64", 18: "pwrite64", 19: "readv",
        20: "writev", 23: "select", 24: "sched_yield", 34: "pause", 35: "nanosleep", 42: "connect", 43: "accept",
        44: "sendto", 45: "recvfrom", 46: "sendmsg", 47: "recvmsg", 61: "wait4", 72: "fcntl", 73: "flock",
        74: "fsync", 75: "fdatasync", 128: "rt_sigtimedwait", 130: "rt_sigsuspend", 202: "futex",
        213: "epoll_create", 230: "clock_nanosleep", 232: "epoll_wait", 247: "waitid", 257: "openat",
        270: "pselect6", 271: "ppoll", 281: "epoll_pwait", 288: "accept4", 299: "recvmmsg", 307: "sendmmsg",
        318: "getrandom", 426: "io_uring_enter", 441: "epoll_pwait2", 449: "futex_waitv",
    ]

    /// The syscall's name, or `syscall N`.
    static func name(_ number: Int64) -> String {
        #if arch(x86_64)
        if let name = x86_64[number] { return name }
        #endif
        return "syscall \(number)"
    }
}
