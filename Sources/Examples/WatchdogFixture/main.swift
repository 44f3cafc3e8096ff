import Glibc
import LoopRuntime

// A traced program whose one step blocks in the way its first argument names, for the
// watchdog's tests: usleep | cpu | mutex | pipe | short | deadlock. Prints how long the blocking
// call took. Run it with LOOPTRACE=FILE.

/// What the helper thread of the mutex, pipe and deadlock modes works with.
final class Helper: @unchecked Sendable {
    let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    var pipeFDs: [Int32] = [-1, -1]
    /// How long the helper holds the mutex or waits before writing; nil = forever.
    var millis: UInt32?
    var writesPipe = false
    /// Set by the helper once it holds the mutex (read by the starter after a spin).
    let ready = UnsafeMutablePointer<Int32>.allocate(capacity: 1)

    init() {
        pthread_mutex_init(mutex, nil)
        _ = pipe(&pipeFDs)
        ready.initialize(to: 0)
    }

    /// Starts the helper thread and waits until it holds the mutex (or is about to write).
    func start(millis: UInt32?, writesPipe: Bool) {
        self.millis = millis
        self.writesPipe = writesPipe
        var thread = pthread_t()
        pthread_create(&thread, nil, { raw in
            let helper = Unmanaged<Helper>.fromOpaque(raw!).takeUnretainedValue()
            if !helper.writesPipe { pthread_mutex_lock(helper.mutex) }
            __atomic_ready(helper.ready)
            guard let millis = helper.millis else {
                while true { pause() }
            }
            usleep(millis * 1000)
            if helper.writesPipe {
                var byte: UInt8 = 1
                _ = write(helper.pipeFDs[1], &byte, 1)
            } else {
                pthread_mutex_unlock(helper.mutex)
            }
            return nil
        }, Unmanaged.passRetained(self).toOpaque())
        while ready.pointee == 0 { usleep(100) }
    }
}

@inline(never) func __atomic_ready(_ p: UnsafeMutablePointer<Int32>) { p.pointee = 1 }

let mode = CommandLine.arguments.dropFirst().first ?? "usleep"
let helper = Helper()

try EventLoop.run { [helper] in
    let loop = EventLoop.current!
    let task = loop.createTask(name: "blocker") { () -> Double in
        try await loop.sleep(for: .milliseconds(5))
        var start = timespec()
        clock_gettime(CLOCK_MONOTONIC, &start)
        switch mode {
        case "usleep": sleepInUsleep(300_000)
        case "short": sleepInUsleep(5_000)
        case "cpu": _ = spinOnCPU(300_000_000)
        case "mutex":
            helper.start(millis: 300, writesPipe: false)
            waitForMutex(helper.mutex)
        case "pipe":
            helper.start(millis: 300, writesPipe: true)
            _ = readEmptyPipe(helper.pipeFDs[0])
        case "deadlock":
            helper.start(millis: nil, writesPipe: false)
            waitForMutex(helper.mutex)
        default:
            print("unknown mode \(mode)")
        }
        var end = timespec()
        clock_gettime(CLOCK_MONOTONIC, &end)
        try await loop.sleep(for: .milliseconds(5))
        return Double(end.tv_sec - start.tv_sec) * 1e3 + Double(end.tv_nsec - start.tv_nsec) / 1e6
    }
    let millis = try await task.value()
    print("blocked \(Int(millis)) ms")
}
