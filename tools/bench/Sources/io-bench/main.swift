// io-bench: LoopRuntime's streams, thread pool and queue against Python's asyncio and uvloop, in
// one invocation (the workloads of tools/peers/io_workloads.py, defined the same way).
//
//   swift run -c release --package-path tools/bench io-bench [--quick] [--no-python] [--json]
//   io-bench --only queue|queue-traced    one workload alone (for perf and callgrind)
//
// Figures: TCP echo round trips/s over 127.0.0.1 with 1 and 100 connections (64-byte messages,
// tracing off and on), runInExecutor round trips/s (16 tasks), LoopQueue put/get pairs/s
// (bounded at 100). Each figure is the median of several runs (Python: separate processes),
// with min and max; every ratio compares figures of this invocation. uvloop comes from
// tools/peers/setup.sh's venv; without it, the uvloop column is empty.
import Foundation
import LoopRuntime
import BenchSupport

let report = BenchReport(name: "io-bench", usage: """
    usage: swift run -c release --package-path tools/bench io-bench [--quick] [--no-python] [--json]

    LoopRuntime's TCP echo (1 and 100 connections), runInExecutor and LoopQueue, untraced and
    traced, against Python's asyncio and uvloop (tools/peers/io_workloads.py) in one invocation.
      --quick      smaller workloads and 3 runs per figure instead of 5
      --no-python  skip the asyncio and uvloop peers
      --only W     run one workload once and print its figure (for perf and callgrind):
                   queue, queue-traced
    """)
let quick = report.flag("--quick")
let withPython = !report.flag("--no-python")
let runs = quick ? 3 : 5
let echoRoundTrips = quick ? 5_000 : 20_000
let executorRoundTrips = quick ? 5_000 : 20_000
let queueItems = quick ? 50_000 : 200_000
let scratch = NSTemporaryDirectory() + "looptrace-io-bench-\(getpid())"
try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: scratch) }

nonisolated(unsafe) var traceCount = 0  // main thread only
func destination(_ traced: Bool) -> EventLoop.TraceDestination {
    guard traced else { return .off }
    traceCount += 1
    return .file("\(scratch)/run\(traceCount).trace")
}

/// `connections` clients to an echo server in the same loop, `roundTrips` in total.
func echo(connections: Int, roundTrips: Int, traced: Bool) throws -> Double {
    try EventLoop.run(trace: destination(traced)) { () async throws -> Double in
        let loop = EventLoop.current!
        let server = try loop.startServer(host: "127.0.0.1", port: 0) { reader, writer in
            while true {
                let chunk = try await reader.read()
                if chunk.isEmpty { return }
                try writer.write(chunk)
                try await writer.drain()
            }
        }
        let message = [UInt8](repeating: 0x61, count: 63) + [0x0A]
        let perClient = roundTrips / connections
        var streams: [(LoopStreamReader, LoopStreamWriter)] = []
        for _ in 0..<connections { streams.append(try await loop.openConnection(host: "127.0.0.1", port: server.port)) }
        let t0 = loop.time()
        let clients = streams.map { reader, writer in
            loop.createTask {
                for _ in 0..<perClient {
                    try writer.write(message)
                    _ = try await reader.readExactly(message.count)
                }
                writer.close()
            }
        }
        _ = try await loop.gather(clients)
        let seconds = Double(loop.time() - t0) / 1e9
        server.close()
        try await server.waitClosed()
        return Double(perClient * connections) / seconds
    }
}

func executorRoundTrips(traced: Bool) throws -> Double {
    try EventLoop.run(trace: destination(traced)) { () async throws -> Double in
        let loop = EventLoop.current!
        let perTask = executorRoundTrips / 16
        _ = try await loop.runInExecutor { 1 }  // start the pool before the clock
        let t0 = loop.time()
        let tasks = (0..<16).map { _ in
            loop.createTask { for _ in 0..<perTask { _ = try await loop.runInExecutor { 1 } } }
        }
        _ = try await loop.gather(tasks)
        return Double(perTask * 16) / (Double(loop.time() - t0) / 1e9)
    }
}

func queuePairs(traced: Bool) throws -> Double {
    try EventLoop.run(trace: destination(traced)) { () async throws -> Double in
        let loop = EventLoop.current!
        let queue = LoopQueue<Int>(maxSize: 100)
        let t0 = loop.time()
        let producer = loop.createTask { for i in 0..<queueItems { try await queue.put(i) } }
        let consumer = loop.createTask { for _ in 0..<queueItems { _ = try await queue.get() } }
        _ = try await loop.gather([producer, consumer])
        return Double(queueItems) / (Double(loop.time() - t0) / 1e9)
    }
}

func measure(_ body: () throws -> Double) rethrows -> Summary { try BenchSupport.measure(runs: runs, body) }

// `--only W`: one workload alone, for profilers.
if let only = report.value("--only") {
    switch only {
    case "queue": print("queue", try queuePairs(traced: false))
    case "queue-traced": print("queue-traced", try queuePairs(traced: true))
    default:
        FileHandle.standardError.write(Data("io-bench: unknown workload \(only) (queue, queue-traced)\n".utf8))
        exit(64)
    }
    exit(0)
}

// MARK: Python peers

let python = withPython ? PeerPython.find() : nil

func peer(_ loop: String, _ arguments: String) -> Summary? {
    python?.measure("io_workloads.py", loop: loop, arguments, runs: runs)
}

// MARK: Report

report.printHeader()
print("\(runs) runs per figure; median [min – max]; per second")
if withPython, python?.hasUvloop != true { print("(no uvloop: run tools/peers/setup.sh for the uvloop column)") }
print("")

func row(_ cells: [String]) { print(tableRow(cells, widths: [28, 30, 30, 30, 30])) }

func ratio(_ a: Summary?, _ b: Summary?) -> String {
    guard let a, let b, b.median > 0 else { return "—" }
    return times(a.median / b.median)
}

row(["workload", "LoopRuntime, off", "LoopRuntime, traced", "asyncio", "uvloop"])
var lines: [(String, Summary, Summary, Summary?, Summary?)] = []
for (name, connections) in [("TCP echo, 1 conn, rt/s", 1), ("TCP echo, 100 conns, rt/s", 100)] {
    let off = try measure { try echo(connections: connections, roundTrips: echoRoundTrips, traced: false) }
    let on = try measure { try echo(connections: connections, roundTrips: echoRoundTrips, traced: true) }
    let sizes = "--workload echo --connections \(connections) --round-trips \(echoRoundTrips)"
    lines.append((name, off, on, peer("asyncio", sizes), peer("uvloop", sizes)))
}
do {
    let off = try measure { try executorRoundTrips(traced: false) }
    let on = try measure { try executorRoundTrips(traced: true) }
    let sizes = "--workload executor --round-trips \(executorRoundTrips)"
    lines.append(("runInExecutor, rt/s", off, on, peer("asyncio", sizes), peer("uvloop", sizes)))
}
do {
    let off = try measure { try queuePairs(traced: false) }
    let on = try measure { try queuePairs(traced: true) }
    let sizes = "--workload queue --items \(queueItems)"
    lines.append(("Queue put/get, pairs/s", off, on, peer("asyncio", sizes), peer("uvloop", sizes)))
}
for (name, off, on, asyncio, uvloop) in lines {
    row([name, off.description, on.description, asyncio?.description ?? "—", uvloop?.description ?? "—"])
    report.record("\(name), tracing off", unit: "per s", off)
    report.record("\(name), traced", unit: "per s", on)
    if let asyncio { report.record("\(name), asyncio", unit: "per s", asyncio) }
    if let uvloop { report.record("\(name), uvloop", unit: "per s", uvloop) }
    report.record("\(name), traced ÷ tracing off", unit: "ratio", .ratio(on, off))
    if let uvloop { report.record("\(name), tracing off ÷ uvloop", unit: "ratio", .ratio(off, uvloop)) }
}
print("\nratios (medians): off ÷ uvloop, off ÷ asyncio, traced ÷ off")
for (name, off, on, asyncio, uvloop) in lines {
    row([name, ratio(off, uvloop), ratio(off, asyncio), ratio(on, off)])
}
report.finish()
