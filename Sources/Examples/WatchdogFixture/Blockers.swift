import Glibc

// The calls each fixture step blocks in. `@inline(never)` keeps every one a frame of its own, so
// that the tests can ask for it by name; the lines of the blocking calls are what the report
// should point at (the tests read them from this file).

/// Sleeps in `usleep`.
@inline(never) func sleepInUsleep(_ micros: UInt32) {
    usleep(micros)
    blackHole(micros)
}

/// Burns CPU for `nanos` without a syscall (the clock is the vDSO's).
@inline(never) func spinOnCPU(_ nanos: UInt64) -> UInt64 {
    var start = timespec()
    clock_gettime(CLOCK_MONOTONIC, &start)
    var x: UInt64 = 0x9E37_79B9_7F4A_7C15
    while true {
        for _ in 0..<10_000 { x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407 }
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let elapsed = Int64(now.tv_sec - start.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec - start.tv_nsec)
        if elapsed >= Int64(nanos) { break }
    }
    return x
}

/// Waits for a mutex another thread holds.
@inline(never) func waitForMutex(_ mutex: UnsafeMutablePointer<pthread_mutex_t>) {
    pthread_mutex_lock(mutex)
    pthread_mutex_unlock(mutex)
    blackHole(0)
}

/// Reads from a pipe nobody has written to yet.
@inline(never) func readEmptyPipe(_ fd: Int32) -> Int {
    var byte: UInt8 = 0
    let n = read(fd, &byte, 1)
    blackHole(UInt32(byte))
    return n
}

@inline(never) func blackHole(_ value: UInt32) {
    if value == 0xDEAD_BEEF { print("") }
}
