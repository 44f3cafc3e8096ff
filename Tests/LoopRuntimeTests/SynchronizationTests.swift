import Foundation
import Testing
import TraceFormat
@testable import LoopRuntime

/// A value shared by a test's tasks (all on the loop thread).
final class Box<Value>: @unchecked Sendable {
    var value: Value
    init(_ value: Value) { self.value = value }
}

/// Runs `main` on a fresh untraced loop.
func onLoop(_ main: sending @escaping () async throws -> Void) throws {
    try EventLoop.run(trace: .off, main)
}

/// `asyncio.sleep(0)`: lets every task made ready so far take a step.
func yieldOnce(_ count: Int = 1) async throws {
    for _ in 0..<count { try await EventLoop.current!.sleep(for: .zero) }
}

/// Waits (at most 5 s, so that a lost wakeup fails the test rather than hanging it) for `task`
/// to finish and returns whether it ended by cancellation.
func endsCancelled<Value>(_ task: LoopFuture<Value>) async -> Bool {
    _ = try? await EventLoop.current!.wait([task], timeout: .seconds(5))
    #expect(task.isDone, "still waiting after 5 s")
    return task.isCancelled
}

/// The task's result, waited for at most 5 s (``LoopError/timedOut`` after that).
@discardableResult
func finished<Value>(_ task: LoopTask<Value>) async throws -> Value {
    try await EventLoop.current!.waitFor(task, timeout: .seconds(5))
}

// The cases follow CPython's Lib/test/test_asyncio/test_locks.py, scenario by scenario.

@Suite("LoopLock (asyncio.Lock)")
struct LoopLockTests {
    @Test func waitersAcquireInTheOrderTheyArrived() throws {
        try onLoop {
            let loop = EventLoop.current!
            let lock = LoopLock()
            let result = Box<[Int]>([])
            try await lock.acquire()
            let tasks = (1...2).map { i in loop.createTask { try await lock.acquire(); result.value.append(i) } }
            try await yieldOnce()
            #expect(result.value == [])
            try lock.release()
            try await yieldOnce()
            #expect(result.value == [1])
            try await yieldOnce()
            #expect(result.value == [1])
            let t3 = loop.createTask { try await lock.acquire(); result.value.append(3) }
            try lock.release()
            try await yieldOnce()
            #expect(result.value == [1, 2])
            try lock.release()
            try await yieldOnce()
            #expect(result.value == [1, 2, 3])
            #expect((tasks + [t3]).allSatisfy { $0.isDone })
            #expect(lock.isLocked)
        }
    }

    @Test func aFreeLockIsNotTakenPastTasksAlreadyWaiting() throws {
        try onLoop {
            let loop = EventLoop.current!
            let lock = LoopLock()
            let order = Box<[String]>([])
            try await lock.acquire()
            let waiter = loop.createTask { try await lock.acquire(); order.value.append("waiter"); try lock.release() }
            try await yieldOnce()
            try lock.release()
            // The lock is free, but the woken waiter has not run yet: a newcomer queues behind it.
            #expect(!lock.isLocked)
            try await lock.acquire()
            order.value.append("main")
            try lock.release()
            try await finished(waiter)
            #expect(order.value == ["waiter", "main"])
        }
    }

    @Test func aCancelledWaiterLeavesTheQueue() throws {
        try onLoop {
            let loop = EventLoop.current!
            let lock = LoopLock()
            try await lock.acquire()
            let task = loop.createTask { try await lock.acquire() }
            loop.callSoon { task.cancel() }
            #expect(await endsCancelled(task))
            #expect(lock.testsOnly_waiterCount == 0)
            #expect(lock.isLocked)
        }
    }

    @Test func aWaiterCancelledWhileTheHolderReleasesDoesNotBlockTheNext() throws {
        // test_cancel_race: B cancelled and A releasing at once must not leave C waiting forever.
        try onLoop {
            let loop = EventLoop.current!
            let lock = LoopLock()
            func lockIt(_ blocker: LoopFuture<Void>?) -> LoopTask<Void> {
                loop.createTask {
                    try await lock.acquire()
                    defer { try? lock.release() }
                    if let blocker { try await blocker.value() }
                }
            }
            let fa = loop.createFuture(of: Void.self)
            let ta = lockIt(fa)
            try await yieldOnce()
            #expect(lock.isLocked)
            let tb = lockIt(nil)
            try await yieldOnce()
            #expect(lock.testsOnly_waiterCount == 1)
            let tc = lockIt(nil)
            try await yieldOnce()
            #expect(lock.testsOnly_waiterCount == 2)
            try fa.setResult(())
            tb.cancel()
            try await yieldOnce()
            #expect(!lock.isLocked)
            #expect(ta.isDone)
            #expect(tb.isCancelled)
            try await finished(tc)
            #expect(!lock.isLocked)
        }
    }

    @Test func cancellingOneWaiterAndReleasingLetsExactlyOneTaskIn() throws {
        // test_cancel_release_race (bpo-32734): two tasks took the lock at once.
        try onLoop {
            let loop = EventLoop.current!
            let lock = LoopLock()
            let lockCount = Box(0), callCount = Box(0)
            func lockIt() -> LoopTask<Void> {
                loop.createTask {
                    callCount.value += 1
                    try await lock.acquire()
                    lockCount.value += 1
                }
            }
            try await lock.acquire()
            let t1 = lockIt(), t2 = lockIt(), t3 = lockIt()
            try await yieldOnce()
            loop.callSoon {
                t1.cancel()
                try lock.release()
            }
            #expect(await endsCancelled(t1))
            try await yieldOnce()
            #expect(lockCount.value == 1)
            #expect(callCount.value == 3)
            #expect(t2.isDone && !t2.isCancelled)
            t3.cancel()
            #expect(await endsCancelled(t3))
        }
    }

    @Test func aWaiterCancelledBeforeTheReleaseWakesTheNextOne() throws {
        // test_finished_waiter_cancelled: the second waiter was never woken.
        try onLoop {
            let loop = EventLoop.current!
            let lock = LoopLock()
            try await lock.acquire()
            let tb = loop.createTask { try await lock.acquire() }
            try await yieldOnce()
            #expect(lock.testsOnly_waiterCount == 1)
            let tc = loop.createTask { try await lock.acquire() }
            tb.cancel()
            try lock.release()
            try await yieldOnce()
            #expect(lock.isLocked)
            try await yieldOnce()
            #expect(tc.isDone && !tc.isCancelled)
            #expect(tb.isCancelled)
        }
    }

    @Test func aWaiterCancelledAfterItWasWokenPassesTheLockOn() throws {
        // The wakeup reached B, then B was cancelled before it ran: C must get the lock.
        try onLoop {
            let loop = EventLoop.current!
            let lock = LoopLock()
            try await lock.acquire()
            let tb = loop.createTask { try await lock.acquire() }
            let tc = loop.createTask { try await lock.acquire() }
            try await yieldOnce()
            try lock.release()
            tb.cancel()
            #expect(await endsCancelled(tb))
            try await finished(tc)
            #expect(lock.isLocked)
            #expect(lock.testsOnly_waiterCount == 0)
        }
    }

    @Test func aTaskCancelledBeforeItWaitsNeverQueues() throws {
        try onLoop {
            let loop = EventLoop.current!
            let lock = LoopLock()
            try await lock.acquire()
            let started = LoopEvent()
            let task = loop.createTask {
                started.set()
                try? await loop.sleep(for: .seconds(10))  // the cancellation ends this sleep
                try await lock.acquire()                 // and this acquire was never cancelled
            }
            try await started.wait()
            task.cancel()
            try await yieldOnce()
            #expect(lock.testsOnly_waiterCount == 1)
            try lock.release()
            try await finished(task)
            #expect(lock.isLocked)
        }
    }

    @Test func releasingAnUnlockedLockThrows() throws {
        try onLoop {
            let lock = LoopLock()
            #expect(throws: LoopError.self) { try lock.release() }
            try await lock.acquire()
            try lock.release()
            #expect(!lock.isLocked)
            #expect(throws: LoopError.self) { try lock.release() }
        }
    }

    @Test func withLockReleasesWhenTheBodyThrows() throws {
        try onLoop {
            let lock = LoopLock()
            await #expect(throws: Boom.self) {
                try await lock.withLock { #expect(lock.isLocked); throw Boom() }
            }
            #expect(!lock.isLocked)
            let value = try await lock.withLock { 7 }
            #expect(value == 7)
        }
    }
}

@Suite("LoopEvent (asyncio.Event)")
struct LoopEventTests {
    @Test func setWakesEveryWaiter() throws {
        try onLoop {
            let loop = EventLoop.current!
            let event = LoopEvent()
            let result = Box<[Int]>([])
            let tasks = (1...3).map { i in loop.createTask { try await event.wait(); result.value.append(i) } }
            try await yieldOnce()
            #expect(result.value == [])
            event.set()
            try await yieldOnce()
            #expect(result.value == [1, 2, 3])
            #expect(tasks.allSatisfy { $0.isDone })
        }
    }

    @Test func waitOnASetEventReturnsAtOnce() throws {
        try onLoop {
            let event = LoopEvent()
            event.set()
            try await event.wait()
            #expect(event.isSet)
            event.clear()
            #expect(!event.isSet)
        }
    }

    @Test func clearingAfterSetStillWakesTheWaiters() throws {
        // test_clear_with_waiters: set() then clear() before the waiter ran.
        try onLoop {
            let loop = EventLoop.current!
            let event = LoopEvent()
            let result = Box<[Int]>([])
            let task = loop.createTask { try await event.wait(); result.value.append(1) }
            try await yieldOnce()
            event.set()
            event.clear()
            #expect(!event.isSet)
            event.set()
            event.set()
            try await yieldOnce()
            #expect(result.value == [1])
            #expect(task.isDone)
        }
    }

    @Test func aCancelledWaitThrows() throws {
        try onLoop {
            let loop = EventLoop.current!
            let event = LoopEvent()
            let task = loop.createTask { try await event.wait() }
            loop.callSoon { task.cancel() }
            #expect(await endsCancelled(task))
            event.set()
        }
    }
}

@Suite("LoopCondition (asyncio.Condition)")
struct LoopConditionTests {
    @Test func notifyWakesWaitersOneByOneAndNotifyAllTheRest() throws {
        try onLoop {
            let loop = EventLoop.current!
            let condition = LoopCondition()
            let result = Box<[Int]>([])
            let tasks = (1...3).map { i in
                loop.createTask {
                    try await condition.withLock {
                        try await condition.wait()
                        result.value.append(i)
                    }
                }
            }
            try await yieldOnce()
            #expect(result.value == [])
            #expect(!condition.isLocked)
            try await condition.acquire()
            try condition.notify()
            try condition.release()
            try await yieldOnce()
            #expect(result.value == [1])
            try await condition.acquire()
            try condition.notify(1)
            try condition.notify(2048)
            try condition.release()
            try await yieldOnce(2)
            #expect(result.value == [1, 2, 3])
            #expect(tasks.allSatisfy { $0.isDone })

            let more = (4...5).map { i in
                loop.createTask { try await condition.withLock { try await condition.wait(); result.value.append(i) } }
            }
            try await yieldOnce()
            try await condition.withLock { try condition.notifyAll() }
            try await yieldOnce(2)
            #expect(result.value == [1, 2, 3, 4, 5])
            #expect(more.allSatisfy { $0.isDone })
        }
    }

    @Test func waitForChecksThePredicateAfterEveryWakeup() throws {
        try onLoop {
            let loop = EventLoop.current!
            let condition = LoopCondition()
            let presult = Box(false)
            let calls = Box(0)
            let result = Box<[Int]>([])
            let task = loop.createTask {
                try await condition.withLock {
                    try await condition.wait {
                        calls.value += 1
                        return presult.value
                    }
                    result.value.append(1)
                }
            }
            try await yieldOnce()
            #expect(calls.value == 1)
            try await condition.withLock { try condition.notify() }
            try await yieldOnce()
            #expect(result.value == [])
            #expect(calls.value == 2)
            presult.value = true
            try await condition.withLock { try condition.notify() }
            try await yieldOnce()
            #expect(result.value == [1])
            #expect(calls.value == 3)
            #expect(task.isDone)
        }
    }

    @Test func waitingOrNotifyingWithoutTheLockThrows() throws {
        try onLoop {
            let condition = LoopCondition()
            await #expect(throws: LoopError.self) { try await condition.wait() }
            await #expect(throws: LoopError.self) { try await condition.wait { false } }
            #expect(throws: LoopError.self) { try condition.notify() }
            #expect(throws: LoopError.self) { try condition.notifyAll() }
        }
    }

    @Test func aCancelledWaitHoldsTheLockAgainWhenItThrows() throws {
        try onLoop {
            let loop = EventLoop.current!
            let condition = LoopCondition()
            let heldWhenCancelled = Box(false)
            let task = loop.createTask {
                try await condition.acquire()
                do {
                    try await condition.wait()
                } catch is CancellationError {
                    heldWhenCancelled.value = condition.isLocked
                    try condition.release()
                    throw CancellationError()
                }
            }
            try await yieldOnce()
            // Someone else holds the lock when the waiter is cancelled: it must wait for it.
            try await condition.acquire()
            task.cancel()
            try await yieldOnce(2)
            #expect(!task.isDone)
            try condition.release()
            #expect(await endsCancelled(task))
            #expect(heldWhenCancelled.value)
            #expect(!condition.isLocked)
        }
    }

    @Test func aCancellationWhileReacquiringIsRaisedOnceWithTheLockHeld() throws {
        // test_cancelled_error_re_aquire.
        try onLoop {
            let loop = EventLoop.current!
            let condition = LoopCondition()
            let wake = Box(false)
            let heldWhenCancelled = Box(false)
            let task = loop.createTask {
                try await condition.withLock {
                    do {
                        try await condition.wait { wake.value }
                    } catch is CancellationError {
                        heldWhenCancelled.value = condition.isLocked
                        throw CancellationError()
                    }
                }
            }
            try await yieldOnce()
            try await condition.acquire()
            wake.value = true
            try condition.notify()
            try await yieldOnce()
            // The task now waits to take the lock back: cancel it there.
            task.cancel()
            try condition.release()
            #expect(await endsCancelled(task))
            #expect(heldWhenCancelled.value)
            #expect(!condition.isLocked)
        }
    }

    @Test func aCancelledTaskGroupChildTakesTheLockBackWithoutSpinning() throws {
        // A structured child's cancellation is sticky: re-acquiring with a cancellable acquire
        // threw at once, forever, and the loop hung while another task held the lock.
        try onLoop {
            let loop = EventLoop.current!
            let condition = LoopCondition()
            let outcome = loop.createTask { () async -> String in
                await withTaskGroup(of: String.self) { group in
                    group.addTask {
                        do {
                            try await condition.acquire()
                            try await condition.wait()
                            return "notified"
                        } catch {
                            let held = condition.isLocked
                            try? condition.release()
                            return "\(type(of: error)), lock held: \(held)"
                        }
                    }
                    try? await loop.sleep(for: .milliseconds(2))
                    try? await condition.acquire()
                    group.cancelAll()
                    try? await loop.sleep(for: .milliseconds(2))
                    try? condition.release()
                    return await group.next() ?? "none"
                }
            }
            let result = try await finished(outcome)
            #expect(result == "CancellationError, lock held: true")
        }
    }

    @Test func aWaiterCancelledAsItIsNotifiedPassesTheNotificationOn() throws {
        // test_cancelled_wakeup: a notify that raced with a cancel() was lost.
        try onLoop {
            let loop = EventLoop.current!
            let condition = LoopCondition()
            let state = Box(0)
            let consumers = (0..<2).map { _ in
                loop.createTask {
                    try await condition.withLock {
                        while true {
                            try await condition.wait { state.value != 0 }
                            if state.value < 0 { return }
                            state.value -= 1
                        }
                    }
                }
            }
            try await yieldOnce()
            try await condition.withLock {
                state.value += 1
                try condition.notify(1)
                consumers[0].cancel()
            }
            try await loop.sleep(for: .milliseconds(10))
            #expect(state.value == 0)
            try await condition.withLock {
                state.value = -1
                try condition.notifyAll()
            }
            try await finished(consumers[1])
            #expect(await endsCancelled(consumers[0]))
        }
    }
}

@Suite("LoopSemaphore and LoopBoundedSemaphore (asyncio.Semaphore, BoundedSemaphore)")
struct LoopSemaphoreTests {
    @Test func unitsAreHandedOutInArrivalOrder() throws {
        try onLoop {
            let loop = EventLoop.current!
            let semaphore = LoopSemaphore(value: 3)
            let result = Box<[Int]>([])
            #expect(semaphore.value == 3)
            try await semaphore.acquire()
            try await semaphore.acquire()
            #expect(!semaphore.isLocked)
            let tasks = (1...4).map { i in loop.createTask { try await semaphore.acquire(); result.value.append(i) } }
            try await yieldOnce()
            #expect(result.value == [1])
            #expect(semaphore.isLocked)
            semaphore.release()
            semaphore.release()
            try await yieldOnce()
            #expect(result.value == [1, 2, 3])
            semaphore.release()
            try await yieldOnce()
            #expect(result.value == [1, 2, 3, 4])
            #expect(tasks.allSatisfy { $0.isDone })
            #expect(semaphore.value == 0)
        }
    }

    @Test func tasksTakeTurnsInFIFOOrder() throws {
        // test_acquire_fifo_order.
        try onLoop {
            let loop = EventLoop.current!
            let semaphore = LoopSemaphore(value: 1)
            let result = Box<[String]>([])
            let tasks = ["c1", "c2", "c3"].map { tag in
                loop.createTask {
                    for round in 1...2 {
                        try await semaphore.acquire()
                        result.value.append("\(tag)_\(round)")
                        try await loop.sleep(for: .milliseconds(2))
                        semaphore.release()
                    }
                }
            }
            _ = try await loop.waitFor(timeout: .seconds(10)) { try await loop.gather(tasks) }
            #expect(result.value == ["c1_1", "c2_1", "c3_1", "c1_2", "c2_2", "c3_2"])
        }
    }

    @Test func aReleaseAndReacquireQueuesBehindTheWaiters() throws {
        // test_acquire_fifo_order_2.
        try onLoop {
            let loop = EventLoop.current!
            let semaphore = LoopSemaphore(value: 1)
            let result = Box<[Int]>([])
            let t1 = loop.createTask { try await semaphore.acquire(); result.value.append(1) }
            let t2 = loop.createTask {
                try await semaphore.acquire()
                result.value.append(2)
                semaphore.release()
                try await semaphore.acquire()
                result.value.append(4)
            }
            let t3 = loop.createTask { try await semaphore.acquire(); result.value.append(3) }
            try await yieldOnce()
            semaphore.release()
            semaphore.release()
            _ = try await loop.waitFor(timeout: .seconds(5)) { try await loop.gather([t1, t2, t3]) }
            #expect(result.value == [1, 2, 3, 4])
        }
    }

    @Test func waitersCancelledBeforeTheReleaseTakeNoUnit() throws {
        // test_acquire_cancel_before_awoken.
        try onLoop {
            let loop = EventLoop.current!
            let semaphore = LoopSemaphore(value: 0)
            let tasks = (0..<4).map { _ in loop.createTask { try await semaphore.acquire() } }
            try await yieldOnce()
            tasks[0].cancel()
            tasks[1].cancel()
            semaphore.release()
            try await yieldOnce(2)
            #expect(tasks[2].isDone && !tasks[2].isCancelled)
            #expect(!tasks[3].isDone)
            #expect(tasks[0].isCancelled && tasks[1].isCancelled)
            tasks[3].cancel()
            #expect(await endsCancelled(tasks[3]))
            #expect(semaphore.value == 0)
        }
    }

    @Test func aWaiterCancelledWhenTheUnitIsReleasedDoesNotHang() throws {
        // test_acquire_hang.
        try onLoop {
            let loop = EventLoop.current!
            let semaphore = LoopSemaphore(value: 0)
            let t1 = loop.createTask { try await semaphore.acquire() }
            let t2 = loop.createTask { try await semaphore.acquire() }
            try await yieldOnce()
            t1.cancel()
            semaphore.release()
            try await yieldOnce(2)
            #expect(semaphore.isLocked)
            #expect(t2.isDone && !t2.isCancelled)
        }
    }

    @Test func aWaiterCancelledAfterItGotAUnitGivesItBack() throws {
        try onLoop {
            let loop = EventLoop.current!
            let semaphore = LoopSemaphore(value: 0)
            let t1 = loop.createTask { try await semaphore.acquire() }
            let t2 = loop.createTask { try await semaphore.acquire() }
            try await yieldOnce()
            semaphore.release()  // t1 gets the unit ...
            t1.cancel()          // ... and is cancelled before it runs
            #expect(await endsCancelled(t1))
            try await finished(t2)
            #expect(semaphore.value == 0)
        }
    }

    @Test func aBoundedSemaphoreRefusesToBeReleasedAboveItsValue() throws {
        // test_release_not_acquired.
        try onLoop {
            let semaphore = LoopBoundedSemaphore(value: 2)
            #expect(throws: LoopError.self) { try semaphore.release() }
            try await semaphore.acquire()
            try await semaphore.acquire()
            try semaphore.release()
            try semaphore.release()
            #expect(throws: LoopError.self) { try semaphore.release() }
            #expect(semaphore.value == 2)
            let value = try await semaphore.withUnit { semaphore.value }
            #expect(value == 1)
            #expect(semaphore.value == 2)
        }
    }
}

@Suite("Synchronization traces")
struct SynchronizationTraceTests {
    @Test func aLockWaiterIsSuspendedAtTheLockAndWokenByTheTaskThatReleasedIt() throws {
        let path = temporaryTracePath()
        defer { unlink(path) }
        let acquireLine = #line + 9
        try EventLoop.run(trace: .file(path)) {
            let loop = EventLoop.current!
            let lock = LoopLock()
            let holder = loop.createTask(name: "holder") {
                try await lock.withLock { try await loop.sleep(for: .milliseconds(1)) }
            }
            let waiter = loop.createTask(name: "waiter") {
                try await loop.sleep(for: .zero)
                try await lock.acquire()
                try lock.release()
            }
            _ = try await loop.gather([holder, waiter])
        }
        let trace = try RecordedTrace(path: path)
        #expect(trace.story(of: ["waiter"]).contains("wakeup waiter by task holder"), "\(trace.story.joined(separator: "\n"))")
        let site = "LoopRuntimeTests/SynchronizationTests.swift:\(acquireLine):Lock.acquire"
        #expect(trace.lines.contains { $0.contains("stepEnd") && $0.contains(site) }, "\(trace.lines.joined(separator: "\n"))")
    }

    @Test func aTaskWaitingForAnEventSetByACallbackIsWokenByThatCallback() throws {
        let path = temporaryTracePath()
        defer { unlink(path) }
        let waitLine = #line + 5
        try EventLoop.run(trace: .file(path)) {
            let loop = EventLoop.current!
            let event = LoopEvent()
            let waiter = loop.createTask(name: "waiter") {
                try await event.wait()
            }
            loop.callLater(.milliseconds(1)) { event.set() }
            _ = try await waiter.value
        }
        let trace = try RecordedTrace(path: path)
        #expect(trace.story(of: ["waiter"]).contains("wakeup waiter by callback"), "\(trace.story.joined(separator: "\n"))")
        let site = "LoopRuntimeTests/SynchronizationTests.swift:\(waitLine):Event.wait"
        #expect(trace.lines.contains { $0.contains("stepEnd") && $0.contains(site) }, "\(trace.lines.joined(separator: "\n"))")
    }

    @Test func aQueueGetterIsWokenByThePutter() throws {
        let path = temporaryTracePath()
        defer { unlink(path) }
        let getLine = #line + 5
        try EventLoop.run(trace: .file(path)) {
            let loop = EventLoop.current!
            let queue = LoopQueue<Int>()
            let consumer = loop.createTask(name: "consumer") { () async throws -> Int in
                try await queue.get()
            }
            let producer = loop.createTask(name: "producer") { try await queue.put(5) }
            try await finished(producer)
            #expect(try await consumer.value == 5)
        }
        let trace = try RecordedTrace(path: path)
        #expect(trace.story(of: ["consumer"]).contains("wakeup consumer by task producer"), "\(trace.story.joined(separator: "\n"))")
        let site = "LoopRuntimeTests/SynchronizationTests.swift:\(getLine):Queue.get"
        #expect(trace.lines.contains { $0.contains("stepEnd") && $0.contains(site) }, "\(trace.lines.joined(separator: "\n"))")
    }
}
