// trace-probe: a traced program for the recorder's end-to-end tests (looptraceTests). It runs
// workloads of known shape on LoopRuntime, with tracing from `LOOPTRACE`, and prints what the
// tests check against the trace.
//
//   trace-probe steps TASKS YIELDS          one loop: TASKS tasks of YIELDS sleep(0)s each
//   trace-probe two-loops TASKS YIELDS      the same on two loops at once, one per thread
//   trace-probe sequential TASKS YIELDS     the same in two EventLoop.run calls in a row
//   trace-probe flood MILLISECONDS          as many events as it can for that long
//
// Worker tasks are named `L<run>-w<i>`, where <run> numbers the loops. Each mode prints
// `stats events=… dropped=… bytes=… error=…` (the recorder's statistics after the last loop
// closed) and `pid <pid>`.
import Foundation
import LoopRuntime
import TraceFormat

/// Runs one loop with `tasks` workers, each yielding `yields` times, and returns its statistics.
func runWorkers(run: Int, tasks: Int, yields: Int) throws -> String {
    let loop = try EventLoop()
    defer { loop.close() }
    let main = loop.createTask(name: "L\(run)-main") {
        var workers: [LoopTask<Int>] = []
        for i in 0..<tasks {
            workers.append(loop.createTask(name: "L\(run)-w\(i)") {
                for _ in 0..<yields { try await loop.sleep(for: .zero) }
                return i
            })
        }
        var sum = 0
        for worker in workers { sum += try await worker.value() }
        return sum
    }
    _ = try loop.runUntilComplete(main)
    loop.close()
    return describe(loop.traceStatistics)
}

func describe(_ statistics: TraceRecorder.Statistics?) -> String {
    guard let s = statistics else { return "stats untraced" }
    return "stats events=\(s.events) dropped=\(s.droppedEvents) bytes=\(s.fileBytes) error=\(s.lastError ?? "none")"
}

/// Emits as fast as it can for `milliseconds`: callbacks that schedule callbacks, and tasks
/// that yield.
func flood(milliseconds: Int) throws -> String {
    let loop = try EventLoop()
    defer { loop.close() }
    let end = loop.time() + Int64(milliseconds) * 1_000_000
    let main = loop.createTask(name: "flood") {
        var workers: [LoopTask<Void>] = []
        for i in 0..<8 {
            workers.append(loop.createTask(name: "spinner-\(i)") {
                while loop.time() < end { try await loop.sleep(for: .zero) }
            })
        }
        for worker in workers { try await worker.value() }
    }
    try loop.runUntilComplete(main)
    loop.close()
    return describe(loop.traceStatistics)
}

let arguments = CommandLine.arguments.dropFirst().map { $0 }
let mode = arguments.first ?? ""
let numbers = arguments.dropFirst().compactMap { Int($0) }
print("pid \(getpid())")
switch (mode, numbers.count) {
case ("steps", 2):
    print(try runWorkers(run: 1, tasks: numbers[0], yields: numbers[1]))
case ("sequential", 2):
    print(try runWorkers(run: 1, tasks: numbers[0], yields: numbers[1]))
    print(try runWorkers(run: 2, tasks: numbers[0], yields: numbers[1]))
case ("two-loops", 2):
    // Both loops start together, so that their streams interleave in the file.
    final class Box: @unchecked Sendable { var result = "" }
    let boxes = [Box(), Box()]
    let start = DispatchSemaphore(value: 0)
    let done = DispatchGroup()
    for run in 1...2 {
        let box = boxes[run - 1]
        let tasks = numbers[0], yields = numbers[1]
        done.enter()
        Thread.detachNewThread {
            start.wait()
            box.result = (try? runWorkers(run: run, tasks: tasks, yields: yields)) ?? "failed"
            done.leave()
        }
    }
    start.signal()
    start.signal()
    done.wait()
    for box in boxes { print(box.result) }
case ("flood", 1):
    print(try flood(milliseconds: numbers[0]))
default:
    var line = "usage: trace-probe steps|two-loops|sequential TASKS YIELDS | flood MILLISECONDS\n"
    line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    exit(64)
}
