// pipeline: producer → bounded queue → workers → results, with a blocking stage on threads.
//
// A producer puts 200 jobs on a `LoopQueue` of at most 8 elements: when the workers fall
// behind, `put` waits (backpressure), which the trace shows as the producer suspended at
// `Queue.put`. Three workers take jobs, hash each on the loop's thread pool (`runInExecutor`:
// the blocking part leaves the loop, and the worker's wakeup names the executor job), and pass
// the result through a second queue to a collector. `join` waits until every job is marked done.
//
//   LOOPTRACE=pipeline.trace swift run -c release pipeline
//   looptrace tasks pipeline.trace
import Glibc
import LoopRuntime

/// A deliberately slow, blocking hash (the work that belongs off the loop).
func slowHash(_ value: Int) -> UInt64 {
    var x = UInt64(truncatingIfNeeded: value) &+ 0x9E37_79B9_7F4A_7C15
    for _ in 0..<200_000 { x = (x ^ (x >> 31)) &* 0xBF58_476D_1CE4_E5B9 }
    return x
}

do {
    let (count, checksum) = try EventLoop.run { () async throws -> (Int, UInt64) in
        let loop = EventLoop.current!
        let jobs = LoopQueue<Int>(maxSize: 8)
        let results = LoopQueue<UInt64>()
        let producer = loop.createTask(name: "producer") {
            for job in 0..<200 { try await jobs.put(job) }
        }
        let workers = (0..<3).map { w in
            loop.createTask(name: "worker\(w)") {
                while true {
                    let job = try await jobs.get()
                    let hash = try await loop.runInExecutor { slowHash(job) }
                    try await results.put(hash)
                    try jobs.taskDone()
                }
            }
        }
        let collector = loop.createTask(name: "collector") { () async throws -> (Int, UInt64) in
            var count = 0, sum: UInt64 = 0
            while count < 200 {
                sum &+= try await results.get()
                count += 1
            }
            return (count, sum)
        }
        try await producer.value
        try await jobs.join()
        for worker in workers { worker.cancel() }
        for worker in workers { await worker.waitDone() }
        return try await collector.value
    }
    let expected = (0..<200).reduce(UInt64(0)) { $0 &+ slowHash($1) }
    print("pipeline: \(count) jobs through a queue of 8, 3 workers; checksum \(checksum == expected ? "ok" : "WRONG")")
    if checksum != expected { exit(1) }
} catch {
    var line = "pipeline: \(error)\n"
    line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    exit(1)
}
