// The coroutine countdown: two tasks count down at different paces, each sleeping between
// numbers, and main waits for both.
//
//   LOOPTRACE=countdown.trace swift run countdown
import LoopRuntime

func countdown(_ name: String, from start: Int, every delay: Duration, on loop: EventLoop) async throws {
    for n in stride(from: start, to: 0, by: -1) {
        print("\(name): \(n)")
        try await loop.sleep(for: delay)
    }
    print("\(name): liftoff")
}

try EventLoop.run {
    let loop = EventLoop.current!
    let fast = loop.createTask(name: "fast") { try await countdown("fast", from: 5, every: .milliseconds(50), on: loop) }
    let slow = loop.createTask(name: "slow") { try await countdown("slow", from: 3, every: .milliseconds(120), on: loop) }
    _ = try await loop.gather([fast, slow])
}
