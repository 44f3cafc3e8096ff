import CLoopTraceShims
import DequeModule
import Glibc
import HeapModule
import TraceFormat

extension EventLoop {
    /// One iteration: poll, collect due timers, run what was ready when the iteration began.
    func runOnce() {
        let st = state
        // Drop cancelled timers at the head so they do not shorten the poll timeout.
        while let head = st.pointee.timers.min, case .callback(let h) = head.payload, h.cancelled {
            _ = st.pointee.timers.popMin()
            h.onHeap = false
            st.pointee.cancelledTimers -= 1
        }
        var timeout: Int64
        if !st.pointee.ready.isEmpty || st.pointee.stopRequested {
            timeout = 0
        } else if let head = st.pointee.timers.min {
            timeout = max(0, head.deadline &- time())
        } else {
            timeout = -1
        }
        // An idle loop still hands its partial buffer to the writer on time. (A busy one needs
        // no help: each emit checks the stream's flush deadline.)
        if timeout != 0, let tracer = st.pointee.tracer {
            let untilFlush = tracer.nanosUntilFlush
            if untilFlush <= 0 {
                tracer.flush()
            } else if timeout < 0 || untilFlush < timeout {
                timeout = untilFlush
            }
        }
        // A zero-timeout poll is a syscall per iteration for nothing when no descriptor is
        // registered: the inbox has its own flag. Skipping it is what lets a busy loop of task
        // steps run at memory speed.
        //
        // A busy loop (ready work: a zero-timeout poll) with descriptors polls every other
        // iteration only: the iteration after a poll runs what that poll's callbacks made ready
        // (a task woken by readiness reads the data just reported) without asking the kernel
        // again. I/O arriving meanwhile is seen one iteration later, as tokio's event interval
        // allows; a request/response round trip saves a syscall per side.
        if timeout != 0 || (!ioRegistrations.isEmpty && (!st.pointee.polledLastIteration || st.pointee.stopRequested)) {
            poll(timeoutNanos: timeout)
            st.pointee.polledLastIteration = true
        } else {
            st.pointee.polledLastIteration = false
            if inbox.hasItems { drainInbox() }
        }
        // (Checked here: a call per iteration for an empty heap is ~20 instructions per step of
        // a ping-pong.)
        if !st.pointee.timers.isEmpty { fireDueTimers() }
        runReady()
    }

    /// Waits for I/O, the inbox or the timeout, and queues what became ready.
    func poll(timeoutNanos: Int64) {
        let st = state
        st.pointee.polls &+= 1
        st.pointee.chainedTick = 0
        st.pointee.tracer?.pollBegin(timeoutNanos: timeoutNanos)
        var n = lt_epoll_wait(epollFD, readyEvents, Int32(Self.readyEventCapacity), timeoutNanos)
        if n < 0 {
            precondition(n == -EINTR, "\(SyscallError(errno: -n, call: "epoll_pwait2"))")
            n = 0
        }
        st.pointee.tracer?.pollEnd(readyCount: Int(n))
        var sawInbox = false
        for i in 0..<Int(n) {
            let event = readyEvents[i]
            if event.data == Self.inboxToken {
                sawInbox = true
            } else {
                ioReady(fd: Int32(truncatingIfNeeded: event.data), events: event.events)
            }
        }
        // The inbox has a flag of its own, so also drain it when a busy poll did not see the
        // eventfd yet: appends between the eventfd read and the drain keep their signal.
        if sawInbox || inbox.hasItems {
            _ = lt_eventfd_drain(inbox.eventFD)
            drainInbox()
        }
    }

    /// Moves work handed over by other threads to the ready queue.
    func drainInbox() {
        let st = state
        st.pointee.chainedTick = 0
        inbox.drain(into: &inboxBuffer)
        for item in inboxBuffer {
            switch item {
            case .callback(let handle, let sentNanos):
                if let tracer = st.pointee.tracer {
                    // Due since the other thread sent it: its queue delay counts from there.
                    let due = sentNanos == 0 ? 0 : min(0, sentNanos &- time())
                    tracer.callbackScheduled(handle: handle.id, kind: .threadsafe, dueInNanos: due, site: handle.site)
                }
                st.pointee.ready.append(.callback(handle))
            case .job(let job, let route, let isTask, let thread, let sentNanos):
                st.pointee.wakerKind = .thread
                st.pointee.wakerID = UInt64(thread)
                enqueueOnLoopThread(job, route: route, isTask: isTask, sentNanos: sentNanos)
            case .timer(let job, let deadline):
                scheduleJobOnLoopThread(job, deadline: deadline, kind: .later)
            }
        }
        inboxBuffer.removeAll(keepingCapacity: true)
        st.pointee.wakerKind = .callback
        st.pointee.wakerID = 0
    }

    /// Takes due timers off the heap: callbacks go to the ready queue, `Task.sleep` wake jobs
    /// run at once (they only make their sleeper ready).
    func fireDueTimers() {
        let st = state
        guard let first = st.pointee.timers.min else { return }
        var now = time()
        guard first.deadline <= now else { return }
        st.pointee.chainedTick = 0
        while let head = st.pointee.timers.min, head.deadline <= now {
            _ = st.pointee.timers.popMin()
            switch head.payload {
            case .callback(let handle):
                handle.onHeap = false
                if handle.cancelled {
                    st.pointee.cancelledTimers -= 1
                    continue
                }
                // The deadline as armed, against a fresh clock: `now` was read when the burst
                // began, and firing thousands of timers takes milliseconds.
                st.pointee.tracer?.timerFired(handle: handle.id, dueInNanos: head.deadline &- time())
                if handle.runsWhenDue {
                    handle.ran = true
                    st.pointee.wakerKind = .timer
                    st.pointee.wakerID = handle.id
                    try? handle.callback()
                    st.pointee.wakerKind = .callback
                    st.pointee.wakerID = 0
                } else {
                    st.pointee.ready.append(.callback(handle))
                }
            case .job(let job, let handleID):
                st.pointee.tracer?.timerFired(handle: handleID, dueInNanos: head.deadline &- time())
                st.pointee.wakerKind = .timer
                st.pointee.wakerID = handleID
                // The one-step wake task of a `Task.sleep`: it has no executor preference, and
                // run anywhere but on the generic executor it would make its sleeper hop there.
                job.runSynchronously(on: genericExecutor)
                st.pointee.wakerKind = .callback
                st.pointee.wakerID = 0
                now = time()
            }
        }
    }

    /// Runs exactly the items that are ready now; items they make ready wait for the next
    /// iteration.
    func runReady() {
        let st = state
        var todo = st.pointee.ready.count
        while todo > 0, let item = st.pointee.ready.popFirst() {
            todo -= 1
            // With thousands of ready tasks, each step touches a task whose memory has left the
            // cache since its last step: start loading the next one now. (sleep(0) fan-out over
            // 10 k tasks: median of 15 runs 2.2 M steps/s, against 1.9 M without.)
            if todo > 0, let next = st.pointee.ready.first {
                switch next {
                case .job(let job, _, _): lt_prefetch_task(unsafeBitCast(job, to: UnsafeRawPointer.self))
                // (A continuation is its task.)
                case .yield(let continuation, _): lt_prefetch_task(unsafeBitCast(continuation, to: UnsafeRawPointer.self))
                case .callback: break
                }
            }
            switch item {
            case .job(let job, let route, let task):
                runStep(job, route: route, task: task)
            case .callback(let handle):
                runCallback(handle)
            case .yield(let continuation, let task):
                // The resume runs the runtime's enqueue before the step: not just dispatch.
                st.pointee.chainedTick = 0
                runYield(continuation, task: task)
            }
        }
    }

    /// Resumes a task that yielded with `sleep(.zero)` and runs its next step now.
    func runYield(_ continuation: UnsafeContinuation<Void, Never>, task: UInt64) {
        let st = state
        st.pointee.resumingYield = true
        continuation.resume()  // enqueues the task synchronously: see enqueueOnLoopThread
        st.pointee.resumingYield = false
        if let (job, route) = st.pointee.yieldedJob {
            st.pointee.yieldedJob = nil
            runStep(job, route: route, task: task)
        }
    }

    /// Runs one job: a step of a task, or a non-task job (no step events).
    /// - Parameter task: the task's runtime id if known (always when tracing), else 0.
    func runStep(_ job: UnownedJob, route: JobRoute, task: UInt64) {
        let st = state
        // Taken here whatever the job: the work a non-task job does is not the loop's dispatch.
        let chainedTick = st.pointee.chainedTick
        st.pointee.chainedTick = 0
        if route == .runtimeJob { return runRuntimeJob(job) }  // factory mode
        let pointer = unsafeBitCast(job, to: UnsafeMutableRawPointer.self)
        st.pointee.runningJob = pointer
        guard task != 0, let tracer = st.pointee.tracer else {
            // Not traced: nothing to record, and nothing to read after the step.
            run(job, route: route)
            finishStep()
            return
        }
        st.pointee.runningTask = task
        st.pointee.wakerKind = .task
        st.pointee.wakerID = task
        // The tick the step began at, whether or not its record was kept: timing the step from
        // the stream's last kept event once made the watchdog take every step after a dropped
        // record for one endless stall, signalling the loop thread every few ms.
        let began = tracer.stepBegin(task: task, chainedTick: chainedTick)
        st.pointee.beacon?.began(task: task, ticks: began)
        var outcome: StepOutcome?
        if st.pointee.loopTaskIDs.contains(task) {
            // A loop task: its body's wrapper marks the outcome of its last step.
            run(job, route: route)
            outcome = st.pointee.runningStepOutcome
        } else {
            // A child or a task the loop did not create: ask the runtime whether it completed.
            // It may be freed as it completes, so keep it alive across the step (a retain
            // costs more than the table probe above, hence only here).
            let retained = Unmanaged<AnyObject>.fromOpaque(pointer).retain()
            run(job, route: route)
            if RuntimeInternals.taskIsComplete(pointer) {
                outcome = .completed
                // An unstructured task referenced only by our retain: its handle is gone, and
                // with it any way to read its outcome (the never-awaited lint's exact case).
                if task != 1, swift_task_getJobFlags(pointer) & jobFlagIsChildTask == 0,
                   RuntimeInternals.retainCount(of: pointer) <= 1 {
                    tracer.taskHandleDropped(task: task)
                }
            } else if st.pointee.suspendSite == nil {
                // No LoopRuntime call recorded where it waits (unmodified code, an `async let`
                // child): its async frames say. Read now, while it is kept alive.
                let count = RuntimeInternals.resumeChain(of: pointer, into: suspendFrames)
                if count > 0 { tracer.suspendStack(frames: UnsafeBufferPointer(rebasing: suspendFrames[..<count])) }
            }
            retained.release()
        }
        st.pointee.beacon?.ended()
        let final = outcome ?? (st.pointee.runningTaskRequeued ? .yielded : .suspended)
        if final == .yielded && st.pointee.runningTaskYielded {
            // A `sleep(.zero)` made the task ready again, by itself: stepEnd and wakeup in one
            // record.
            st.pointee.chainedTick = tracer.stepYield(site: st.pointee.suspendSite)
        } else if final == .suspended || final == .yielded {
            st.pointee.chainedTick = tracer.stepEnd(final, site: st.pointee.suspendSite)
            if st.pointee.runningTaskYielded {
                tracer.wakeup(task: task, waker: .task, wakerID: task)
                st.pointee.chainedTick = 0
            }
        } else {
            st.pointee.chainedTick = tracer.stepEnd(final, site: nil)
            // Names are kept only to name children, which a finished task has no more of.
            st.pointee.taskNames[task] = nil
            st.pointee.childCounts[task] = nil
        }
        finishStep()
    }

    func finishStep() {
        let st = state
        st.pointee.runningJob = nil
        st.pointee.runningTask = 0
        st.pointee.runningTaskRequeued = false
        st.pointee.runningTaskYielded = false
        st.pointee.runningStepOutcome = nil
        st.pointee.suspendSite = nil
        if !st.pointee.deferredJobs.isEmpty {
            st.pointee.chainedTick = 0
            runDeferredJobs()
        }
        st.pointee.wakerKind = .callback
        st.pointee.wakerID = 0
    }

    /// Runs a job on the executor its route calls for.
    func run(_ job: UnownedJob, route: JobRoute) {
        switch route {
        case .taskExecutor:
            job.runSynchronously(on: UnownedTaskExecutor(ordinary: taskFace))
        case .loopTaskExecutor:
            job.runSynchronously(on: UnownedTaskExecutor(ordinary: self))
        case .serial:
            job.runSynchronously(isolatedTo: asUnownedSerialExecutor(), taskExecutor: UnownedTaskExecutor(ordinary: taskFace))
        case .main:
            job.runSynchronously(on: factoryMainExecutor)
        case .global, .runtimeJob:
            job.runSynchronously(on: genericExecutor)
        }
    }

    /// Runs the non-task jobs a step enqueued (a `Task.yield`'s continuation job): each makes its
    /// task ready, at the back of the ready queue.
    func runDeferredJobs() {
        let st = state
        var jobs: [(UnownedJob, JobRoute)] = []
        swap(&jobs, &st.pointee.deferredJobs)
        for (job, route) in jobs { run(job, route: route) }
        jobs.removeAll(keepingCapacity: true)
        if st.pointee.deferredJobs.isEmpty { swap(&jobs, &st.pointee.deferredJobs) }
    }

    /// Calls one callback, reporting what it throws.
    func runCallback(_ handle: CallbackHandle) {
        if handle.cancelled { return }
        let st = state
        if handle.ioDescriptor >= 0 {
            st.pointee.wakerKind = .io
            st.pointee.wakerID = UInt64(handle.ioDescriptor)
        } else {
            handle.ran = true
            st.pointee.wakerKind = .callback
            st.pointee.wakerID = handle.id
        }
        let began = st.pointee.tracer?.callbackBegin(handle: handle.id, chainedTick: st.pointee.chainedTick) ?? 0
        st.pointee.chainedTick = 0
        if let beacon = st.pointee.beacon { beacon.began(task: 0, ticks: began) }
        do {
            try handle.callback()
        } catch {
            reportError("callback scheduled at \(handle.site) threw", error)
        }
        st.pointee.beacon?.ended()
        st.pointee.chainedTick = st.pointee.tracer?.callbackEnd(handle: handle.id) ?? 0
        st.pointee.wakerKind = .callback
        st.pointee.wakerID = 0
    }

    /// Makes a job ready. Any thread: other threads go through the inbox.
    /// - Parameter isTask: whether the job is a task (not, e.g., a `Task.yield` continuation job).
    func enqueue(_ job: UnownedJob, route: JobRoute, isTask: Bool) {
        if isOnLoopThread {
            enqueueOnLoopThread(job, route: route, isTask: isTask)
        } else {
            inbox.append(.job(job, route, isTask: isTask, thread: tracesForeignThreads ? lt_thread_id() : 0,
                              sentNanos: tracesForeignThreads ? time() : 0))
        }
    }

    /// - Parameter sentNanos: for a job another thread made ready, the loop time it did so (0
    ///   otherwise or untraced).
    func enqueueOnLoopThread(_ job: UnownedJob, route: JobRoute, isTask: Bool, sentNanos: Int64 = 0) {
        if route == .runtimeJob { return enqueueRuntimeJob(job) }  // factory mode
        let st = state
        if st.pointee.resumingYield, isTask {
            // The task of a `.yield` item: it runs at once (its wakeup is recorded already).
            st.pointee.resumingYield = false
            st.pointee.yieldedJob = (job, route)
            return
        }
        let pointer = unsafeBitCast(job, to: UnsafeMutableRawPointer.self)
        if let running = st.pointee.runningJob {
            if !isTask {
                // A yield's continuation job: run it right after the step (see deferredJobs).
                st.pointee.runningTaskRequeued = true
                st.pointee.deferredJobs.append((job, route))
                return
            }
            if pointer == running { st.pointee.runningTaskRequeued = true }
        }
        // The task id costs a runtime call: only tracing and task creation need it.
        var task: UInt64 = 0
        if isTask, st.pointee.tracer != nil || st.pointee.creating != nil {
            task = swift_task_getJobTaskId(pointer)
            if task > st.pointee.highestTaskID {
                st.pointee.highestTaskID = task
                taskFirstSeen(task, pointer: pointer)
            }
            if let tracer = st.pointee.tracer {
                if sentNanos != 0 { tracer.wakeupSent(task: task, sentInNanos: min(0, sentNanos &- time())) }
                tracer.wakeup(task: task, waker: st.pointee.wakerKind, wakerID: st.pointee.wakerID)
            }
        }
        st.pointee.ready.append(.job(job, route, task: task))
    }

    /// Schedules a job to run at `deadline` (loop time). Loop thread.
    func scheduleJobOnLoopThread(_ job: UnownedJob, deadline: Int64, kind: CallbackKind) {
        let st = state
        let handleID = st.pointee.makeHandleID()
        st.pointee.timerSequence &+= 1
        st.pointee.timers.insert(TimerEntry(deadline: deadline, sequence: st.pointee.timerSequence,
                                            payload: .job(job, id: handleID)))
        st.pointee.tracer?.callbackScheduled(handle: handleID, kind: kind, dueInNanos: deadline &- time(),
                                             site: st.pointee.suspendSite ?? unknownSite)
    }

    /// A task id higher than any seen: a loop task being created, or a child of the running task.
    func taskFirstSeen(_ task: UInt64, pointer: UnsafeMutableRawPointer) {
        let st = state
        let parent = st.pointee.runningTask
        if let created = st.pointee.creating {
            st.pointee.creating = nil
            created.taskID = task
            created.taskPointer = pointer
            st.pointee.tasks[task] = created.task
            st.pointee.loopTaskIDs.insert(task)
            if let tracer = st.pointee.tracer {
                st.pointee.taskNames[task] = created.task.name
                tracer.taskCreate(task: task, parent: parent, name: created.task.name, site: created.task.site)
                if let how = created.pendingObservation {
                    created.pendingObservation = nil
                    tracer.taskObserved(task: task, how: how)
                }
            }
        } else if let tracer = st.pointee.tracer, let process = ProcessLoop.shared, process.loop === self {
            // Factory mode: a task of the unmodified program.
            let (name, entry) = unmodifiedTaskName(task, pointer, parent: parent, process: process)
            st.pointee.taskNames[task] = name
            tracer.taskCreate(task: task, parent: parent, name: name, site: st.pointee.suspendSite ?? unknownSite)
            if entry {
                let count = RuntimeInternals.entryFrames(of: pointer, into: suspendFrames)
                if count > 0 { tracer.taskEntry(task: task, frames: UnsafeBufferPointer(rebasing: suspendFrames[..<count])) }
            }
            // Awaits of unmodified tasks happen inside the runtime, out of the loop's sight. A
            // structured child is awaited by construction; of an unstructured task the loop
            // knows nothing, and says so (`taskUntracked`) rather than claim an await it did
            // not see.
            if task == 1 {
                // The async main task: the runtime reads its outcome (the exit status, an error).
                tracer.taskObserved(task: task, how: .result)
            } else {
                observeUnmodifiedTask(task, pointer: pointer, tracer: tracer)
            }
        } else if let tracer = st.pointee.tracer {
            // async let / task-group child: named after its parent.
            let parentName = st.pointee.taskNames[parent] ?? (parent == 0 ? "task" : "task\(parent)")
            let index = st.pointee.childCounts[parent, default: 0] + 1
            st.pointee.childCounts[parent] = index
            let name = "\(parentName).\(index)"
            st.pointee.taskNames[task] = name
            tracer.taskCreate(task: task, parent: parent, name: name, site: st.pointee.suspendSite ?? unknownSite)
            // Unstructured ones here: `Task(executorPreference:)`, an actor on the loop.
            observeUnmodifiedTask(task, pointer: pointer, tracer: tracer)
        }
    }

    /// Records what the loop can know of interest in a task it did not create: a structured
    /// child (`async let`, task group) is awaited by its parent's scope by construction, even
    /// when the child finishes before the parent reaches its `await` (which then does not
    /// suspend, so the loop sees no await). Of an unstructured `Task` the loop cannot see who
    /// reads its value: it is marked untracked.
    func observeUnmodifiedTask(_ task: UInt64, pointer: UnsafeMutableRawPointer, tracer: TraceStream) {
        if swift_task_getJobFlags(pointer) & jobFlagIsChildTask != 0 {
            tracer.taskObserved(task: task, how: .structured)
        } else {
            tracer.taskUntracked(task: task)
        }
    }

    func timerCancelled() {
        let st = state
        st.pointee.cancelledTimers += 1
        // Rebuild when cancelled handles dominate, as asyncio does, so a loop that keeps
        // cancelling timeouts does not grow its heap without bound.
        if st.pointee.cancelledTimers > 64, st.pointee.cancelledTimers * 2 > st.pointee.timers.count {
            let live = st.pointee.timers.unordered.filter {
                if case .callback(let h) = $0.payload { return !h.cancelled }
                return true
            }
            st.pointee.timers = Heap(live)
            st.pointee.cancelledTimers = 0
        }
    }
}

/// The site recorded when none is known.
let unknownSite = SourceSite(name: "<unknown>")

