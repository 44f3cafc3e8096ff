// slow-service: a small simulated service that gives trace analysis something real to find.
//
// - a `ticker` timer callback every 10 ms (callLater), measuring its own lateness;
// - `accept` hands out 40 requests; each request fans out to 3 backend calls (child tasks that
//   sleep 2–8 ms) and gathers them;
// - request 17 does a deliberately blocking step: 150 ms of CPU work inside the task, at
//   `blockingStep` below, so every other task and timer waits behind it;
// - a `metrics` task wakes every 25 ms.
//
//   LOOPTRACE=slow.trace swift run -c release slow-service
//   looptrace info slow.trace
import Glibc
import LoopRuntime

/// Spins the CPU for `milliseconds`: the blocking step analysis should point at.
func blockingStep(milliseconds: Int) -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    let end = Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec) + Int64(milliseconds) * 1_000_000
    var x: UInt64 = 0x9E37_79B9_7F4A_7C15
    while true {
        for _ in 0..<10_000 { x = x &* 6364136223846793005 &+ 1442695040888963407 }
        clock_gettime(CLOCK_MONOTONIC, &ts)
        if Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec) >= end { return x }
    }
}

func backend(_ request: Int, _ shard: Int, on loop: EventLoop) async throws -> Int {
    try await loop.sleep(for: .milliseconds(2 + (request * 7 + shard * 3) % 7))
    return request * 10 + shard
}

func handle(_ request: Int, on loop: EventLoop) async throws -> Int {
    let calls = (0..<3).map { shard in
        loop.createTask(name: "req\(request).backend\(shard)") { try await backend(request, shard, on: loop) }
    }
    let results = try await loop.gather(calls)
    if request == 17 {
        let x = blockingStep(milliseconds: 150)  // the slow step: blocks the whole loop
        if x == 0 { print("unreachable") }
    }
    return results.reduce(0, +)
}

let served = try EventLoop.run { () async throws -> Int in
    let loop = EventLoop.current!
    var worstTickLatenessNanos: Int64 = 0
    var ticks = 0
    var ticking = true
    func tick(due: Int64) {
        worstTickLatenessNanos = max(worstTickLatenessNanos, loop.time() - due)
        ticks += 1
        guard ticking else { return }
        let next = due + 10_000_000
        loop.callAt(next) { tick(due: next) }
    }
    let first = loop.time() + 10_000_000
    loop.callAt(first) { tick(due: first) }

    let metrics = loop.createTask(name: "metrics") {
        while true {
            try await loop.sleep(for: .milliseconds(25))
        }
    }

    var requests: [LoopTask<Int>] = []
    for request in 0..<40 {
        requests.append(loop.createTask(name: "request\(request)") { try await handle(request, on: loop) })
        try await loop.sleep(for: .milliseconds(5))
    }
    let results = try await loop.gather(requests)
    ticking = false
    metrics.cancel()
    print("served \(results.count) requests; \(ticks) ticks, worst tick lateness \(worstTickLatenessNanos / 1_000_000) ms")
    return results.count
}
if served != 40 { exit(1) }
