import Testing
@testable import LoopRuntime

// The cases follow CPython's Lib/test/test_asyncio/test_queues.py.

@Suite("LoopQueue (asyncio.Queue, LifoQueue, PriorityQueue)")
struct LoopQueueTests {
    @Test func eachOrderTakesItsElementFirst() throws {
        try onLoop {
            let fifo = LoopQueue<Int>(), lifo = LoopQueue<Int>(order: .lifo), priority = LoopQueue<Int>.priority()
            for queue in [fifo, lifo, priority] { for i in [1, 3, 2] { try queue.putNowait(i) } }
            #expect(try [0, 1, 2].map { _ in try fifo.getNowait() } == [1, 3, 2])
            #expect(try [0, 1, 2].map { _ in try lifo.getNowait() } == [2, 3, 1])
            #expect(try [0, 1, 2].map { _ in try priority.getNowait() } == [1, 2, 3])
        }
    }

    /// The FIFO and LIFO elements live in a ring of raw slots that grows by doubling: their order
    /// survives wrapping around and growing, and every element left in a dropped queue is released.
    @Test func elementsKeepTheirOrderAcrossTheRingWrappingAndGrowing() throws {
        final class Token { let n: Int; let released: ManagedCounter
            init(_ n: Int, _ released: ManagedCounter) { self.n = n; self.released = released }
            deinit { released.add() }
        }
        let released = ManagedCounter(), created = ManagedCounter()
        try onLoop {
            let fifo = LoopQueue<Token>(), lifo = LoopQueue<Token>(order: .lifo)
            var model: [Int] = [], lifoModel: [Int] = [], next = 0
            // Uneven rounds of puts and gets: the head moves round the ring and it grows past 16
            // slots several times, with elements wrapped around its end each time.
            for round in 0..<40 {
                for _ in 0..<(round % 7 + 3) {
                    try fifo.putNowait(Token(next, released)); model.append(next)
                    try lifo.putNowait(Token(next, released)); lifoModel.append(next)
                    next += 1
                    created.add(); created.add()
                }
                for _ in 0..<(round % 5 + 1) where !model.isEmpty {
                    #expect(try fifo.getNowait().n == model.removeFirst())
                    #expect(try lifo.getNowait().n == lifoModel.removeLast())
                }
                #expect(fifo.count == model.count && lifo.count == lifoModel.count)
            }
            #expect(model.count > 64, "the ring grew several times")
        }
        // Both queues are gone with their elements: every token is released exactly once.
        #expect(created.value > 128)
        #expect(released.value == created.value)
    }

    @Test func primitivesCanBeFilledAndSetBeforeTheLoopRuns() throws {
        let queue = LoopQueue<Int>(maxSize: 2)
        try queue.putNowait(1)
        let event = LoopEvent()
        event.set()
        let semaphore = LoopSemaphore(value: 0)
        semaphore.release()
        try onLoop {
            try await event.wait()
            try await semaphore.acquire()
            #expect(try await queue.get() == 1)
        }
    }

    @Test func equalPrioritiesComeOutOldestFirst() throws {
        try onLoop {
            let queue = LoopQueue<(Int, String)>(order: .priority { $0.0 < $1.0 })
            for (p, s) in [(2, "a"), (1, "b"), (2, "c"), (1, "d"), (0, "e"), (2, "f")] { try queue.putNowait((p, s)) }
            var out: [String] = []
            while !queue.isEmpty { out.append(try queue.getNowait().1) }
            #expect(out == ["e", "b", "d", "a", "c", "f"])
        }
    }

    @Test func aFullQueueMakesPutWaitUntilAGetMakesRoom() throws {
        // test_maxsize and test_blocking_put_wait.
        try onLoop {
            let loop = EventLoop.current!
            let queue = LoopQueue<Int>(maxSize: 2)
            let have = Box<[Int]>([])
            let putter = loop.createTask {
                for i in 0..<3 {
                    try await queue.put(i)
                    have.value.append(i)
                }
            }
            try await yieldOnce(2)
            #expect(have.value == [0, 1])
            #expect(queue.isFull)
            #expect(throws: LoopQueueError.full) { try queue.putNowait(9) }
            #expect(try queue.getNowait() == 0)
            try await finished(putter)
            #expect(have.value == [0, 1, 2])
            #expect(queue.count == 2)
        }
    }

    @Test func getWaitsForAPutAndNowaitVariantsRefuse() throws {
        try onLoop {
            let loop = EventLoop.current!
            let queue = LoopQueue<Int>()
            #expect(throws: LoopQueueError.empty) { try queue.getNowait() }
            let getter = loop.createTask { () async throws -> Int in try await queue.get() }
            try await yieldOnce()
            #expect(!getter.isDone)
            try await queue.put(42)
            #expect(try await finished(getter) == 42)
        }
    }

    @Test func aCancelledGetterDoesNotSwallowAnElement() throws {
        // test_get_cancelled_race.
        try onLoop {
            let loop = EventLoop.current!
            let queue = LoopQueue<String>()
            let t1 = loop.createTask { () async throws -> String in try await queue.get() }
            let t2 = loop.createTask { () async throws -> String in try await queue.get() }
            try await yieldOnce()
            t1.cancel()
            try await yieldOnce()
            #expect(t1.isCancelled)
            try await queue.put("a")
            try await yieldOnce()
            #expect(try await finished(t2) == "a")
        }
    }

    @Test func aGetterCancelledAfterItWasWokenLeavesTheElementInTheQueue() throws {
        // test_get_cancel_drop_one_pending_reader: if the retry gets 2, 1 was dropped.
        try onLoop {
            let loop = EventLoop.current!
            let queue = LoopQueue<Int>()
            let reader = loop.createTask { () async throws -> Int in try await queue.get() }
            try await yieldOnce()
            try queue.putNowait(1)
            try queue.putNowait(2)
            reader.cancel()
            #expect(await endsCancelled(reader))
            let retry = loop.createTask { () async throws -> Int in try await queue.get() }
            #expect(try await finished(retry) == 1)
        }
    }

    @Test func aGetterCancelledAfterItWasWokenPassesTheWakeupToTheNextGetter() throws {
        // test_get_cancel_drop_many_pending_readers.
        try onLoop {
            let loop = EventLoop.current!
            let queue = LoopQueue<Int>()
            let readers = (0..<3).map { _ in loop.createTask { () async throws -> Int in try await queue.get() } }
            try await yieldOnce()
            try queue.putNowait(1)
            try queue.putNowait(2)
            readers[0].cancel()
            #expect(await endsCancelled(readers[0]))
            let got = Set([try await finished(readers[1]), try await finished(readers[2])])
            #expect(got == [1, 2])
        }
    }

    @Test func aPutterCancelledAfterItWasWokenPutsNothingAndTheRetrySucceeds() throws {
        // test_put_cancel_drop.
        try onLoop {
            let loop = EventLoop.current!
            let queue = LoopQueue<Int>(maxSize: 1)
            try queue.putNowait(1)
            let writer = loop.createTask { try await queue.put(2) }
            try await yieldOnce()
            #expect(try queue.getNowait() == 1)
            writer.cancel()
            if await endsCancelled(writer) {
                try await finished(loop.createTask { try await queue.put(2) })
            }
            #expect(try queue.getNowait() == 2)
            #expect(queue.isEmpty)
        }
    }

    @Test func aCancelledPutterDoesNotHoldUpTheOthers() throws {
        // test_put_cancelled_race.
        try onLoop {
            let loop = EventLoop.current!
            let queue = LoopQueue<String>(maxSize: 1)
            let putA = loop.createTask { try await queue.put("a") }
            let putB = loop.createTask { try await queue.put("b") }
            let putC = loop.createTask { try await queue.put("X") }
            try await yieldOnce()
            #expect(putA.isDone)
            #expect(!putB.isDone)
            putC.cancel()
            try await yieldOnce()
            #expect(putC.isCancelled)
            #expect(try queue.getNowait() == "a")
            try await yieldOnce()
            #expect(try queue.getNowait() == "b")
            try await finished(putB)
        }
    }

    @Test func joinReturnsOnceEveryElementIsMarkedDone() throws {
        // test_task_done: two workers, 100 elements.
        try onLoop {
            let loop = EventLoop.current!
            let queue = LoopQueue<Int>()
            for i in 0..<100 { try queue.putNowait(i) }
            let sum = Box(0)
            let running = Box(true)
            let workers = (0..<2).map { _ in
                loop.createTask {
                    while running.value {
                        sum.value += try await queue.get()
                        try queue.taskDone()
                    }
                }
            }
            try await loop.waitFor(timeout: .seconds(5)) { try await queue.join() }
            #expect(sum.value == (0..<100).reduce(0, +))
            #expect(queue.unfinishedTasks == 0)
            running.value = false
            for _ in workers { try queue.putNowait(0) }
            for worker in workers { try await finished(worker) }
        }
    }

    @Test func joinOnAnEmptyQueueReturnsAtOnceAndTaskDoneCannotUnderflow() throws {
        // test_join_empty_queue and test_task_done_underflow.
        try onLoop {
            let queue = LoopQueue<Int>()
            try await queue.join()
            #expect(throws: LoopQueueError.taskDoneTooManyTimes) { try queue.taskDone() }
            try queue.putNowait(1)
            _ = try queue.getNowait()
            try queue.taskDone()
            try await queue.join()
        }
    }
}
