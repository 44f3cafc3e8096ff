// Task cancellation with cleanup: a worker is cancelled mid-sleep, catches the
// CancellationError, cleans up (which itself awaits), and re-throws; main sees it cancelled.
//
//   LOOPTRACE=cancellation.trace swift run cancellation
import LoopRuntime

try EventLoop.run {
    let loop = EventLoop.current!
    let worker = loop.createTask(name: "worker") {
        print("worker: started")
        do {
            try await loop.sleep(for: .seconds(10))
            print("worker: finished (unexpected)")
        } catch is CancellationError {
            print("worker: cancelled, cleaning up")
            let cleanup = loop.createTask(name: "cleanup") {
                try await loop.sleep(for: .milliseconds(30))
                print("cleanup: flushed")
            }
            try await loop.shield(cleanup).value()
            print("worker: cleanup done, re-raising")
            throw CancellationError()
        }
    }
    try await loop.sleep(for: .milliseconds(100))
    print("main: cancelling worker")
    worker.cancel()
    do {
        try await worker.value()
    } catch is CancellationError {
        print("main: worker is cancelled = \(worker.isCancelled)")
    }
}
