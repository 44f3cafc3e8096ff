@_spi(ExperimentalCustomExecutors) import _Concurrency
import CLoopTraceShims
import Glibc
import TraceFormat

/// Factory mode: the loop as the executor of a whole, unmodified program.
///
/// ``installAsProcessExecutors(trace:)`` makes one loop on the main thread both `MainActor`'s
/// executor and Swift's default executor (the `ExecutorFactory` SPI of Swift 6.3). Every
/// `Task {}`, `Task.detached`, `async let`, task-group child, default-actor call and MainActor hop
/// then runs as a step on that loop, and every `Task.sleep` waits in its timer heap; the async
/// main's drain (`MainExecutor.run()`) runs the loop. `DispatchQueue.main` blocks run as loop
/// callbacks. The `LoopTraceAuto` library calls this from a load-time constructor.
extension EventLoop {
    /// Why factory mode cannot be installed in this process, or nil when it can.
    public static var factoryModeUnavailableReason: String? {
        if !RuntimeInternals.layoutIsKnown {
            return "the Swift runtime's task layout version is \(RuntimeInternals.layoutVersion), LoopRuntime knows \(RuntimeInternals.knownLayoutVersion)"
        }
        if UInt32(bitPattern: getpid()) != lt_thread_id() { return "factory mode must be installed on the main thread" }
        if ProcessLoop.shared != nil { return "factory mode is installed already" }
        return nil
    }

    /// The loop installed by ``installAsProcessExecutors(trace:)``, if any.
    public static var processLoop: EventLoop? { ProcessLoop.shared?.loop }

    /// Makes a new loop the main and default executor of this process.
    ///
    /// Call it on the main thread before any task exists (a load-time constructor: the runtime
    /// keeps the first executors it is asked for). The program's async main then runs the loop
    /// when its first step suspends. `swift_task_enqueueGlobal_hook` is pre-installed as a
    /// pass-through, so that a later takeover of the global executor (SwiftNIO's) is refused and
    /// jobs keep reaching the loop; the trace says so (`executorFactory`).
    /// - Parameter trace: where to record.
    /// - Returns: the loop; it is never closed (the process ends in it), see
    ///   ``finishProcessTrace()``.
    /// - Throws: ``LoopError/invalidState(_:)`` with ``factoryModeUnavailableReason``, or the
    ///   loop's setup errors.
    @discardableResult
    public static func installAsProcessExecutors(trace: TraceDestination = .environment) throws -> EventLoop {
        if let reason = factoryModeUnavailableReason { throw LoopError.invalidState(reason) }
        let loop = try EventLoop(trace: trace)
        let hook = RuntimeInternals.preinstallGlobalHook()
        let process = ProcessLoop(loop: loop, globalHook: hook)
        ProcessLoop.shared = process
        factoryMainExecutor = process.mainFace.asUnownedSerialExecutor()
        if let fd = RuntimeInternals.dispatchMainQueueDescriptor() {
            // One callback per wakeup of libdispatch's main queue: it runs every block queued.
            try loop.addReader(fd, file: "DispatchQueue.main", line: 0, function: "") {
                _ = lt_eventfd_drain(fd)
                RuntimeInternals.drainDispatchMainQueue()
            }
        }
        loop.state.pointee.tracer?.executorFactory(globalHook: hook.rawValue)
        RuntimeInternals.createExecutors(LoopExecutorFactory.self)
        return loop
    }

    /// Ends the trace of the process loop as the process ends: closes the open step (as completed:
    /// the process ends in it) or callback, records the loop's stop and closes the recorder.
    ///
    /// Loop thread only (an `atexit` handler of a program whose `exit` runs inside a step); from
    /// any other thread it does nothing, since the loop thread may still be recording: the trace
    /// then keeps what was flushed before. Idempotent.
    public func finishProcessTrace() {
        guard isOnLoopThread else { return }
        let st = state
        if let tracer = st.pointee.tracer {
            if st.pointee.runningTask != 0 {
                tracer.stepEnd(.completed, site: nil)
            } else if st.pointee.wakerKind == .callback, st.pointee.wakerID != 0 {
                tracer.callbackEnd(handle: st.pointee.wakerID)
            }
            if st.pointee.lifecycle == .running { tracer.loopStop(loop: id) }
            tracer.flush()
        }
        st.pointee.tracer = nil
        // The process ends: the shared recorder closes now rather than in its atexit handler.
        _ = recorder?.close()
    }

    /// `stop()` from any thread.
    func stopFromAnyThread() {
        if isOnLoopThread {
            stop()
        } else {
            _ = callSoonThreadsafe { [unowned self] in self.stop() }
        }
    }

    /// One iteration outside `runForever`, for `MainExecutor.runUntil`.
    func runOnceAsProcessLoop() throws {
        try beginRunning("MainExecutor.runUntil")
        defer { endRunning() }
        runOnce()
    }

    /// The async main task ran its first step before the loop (synchronously, in the program's
    /// entry point), so the loop may never see it new (when it made tasks of higher ids first):
    /// record it when the loop starts unless it was seen already. Its id is 1: the runtime
    /// numbers tasks from 1 and main is the first.
    func recordMainTask() {
        guard let process = ProcessLoop.shared, !process.mainTaskRecorded else { return }
        process.mainTaskRecorded = true
        guard let tracer = state.pointee.tracer else { return }
        tracer.taskCreate(task: 1, parent: 0, name: "main", site: nil)
        // The runtime reads its outcome (the exit status, an error); nothing awaits it.
        tracer.taskObserved(task: 1, how: .result)
        state.pointee.taskNames[1] = "main"
        state.pointee.highestTaskID = max(state.pointee.highestTaskID, 1)
    }

    /// A job that reached one of the factory faces. Any thread.
    func enqueueFactoryJob(_ job: UnownedJob, kind: UInt8, route: JobRoute) {
        switch kind {
        case RuntimeInternals.JobKind.task:
            enqueue(job, route: route, isTask: true)
        case RuntimeInternals.JobKind.nullaryContinuation:
            // A `Task.yield`: the loop's own path for it (run right after the step).
            enqueue(job, route: route, isTask: false)
        default:
            enqueue(job, route: .runtimeJob, isTask: false)
        }
    }

    /// A runtime job (a default-actor drain) made ready on the loop thread. It is recorded as a
    /// step of the task that scheduled it (the task hopping onto the actor), or, when no task
    /// was running, as a callback: never as a step of no task.
    func enqueueRuntimeJob(_ job: UnownedJob) {
        let st = state
        let pointer = unsafeBitCast(job, to: UnsafeMutableRawPointer.self)
        guard let tracer = st.pointee.tracer, let process = ProcessLoop.shared else {
            st.pointee.ready.append(.job(job, .runtimeJob, task: 0))
            return
        }
        let kind = RuntimeInternals.jobKind(of: pointer)
        let record: RuntimeJobRecord
        let task = st.pointee.runningTask
        if task != 0, let running = st.pointee.runningJob {
            // The running step belongs to a task, or to a runtime job run for one.
            let object = process.runtimeJobs[running]?.taskObject ?? process.runningRuntimeJobTask
                ?? Unmanaged<AnyObject>.fromOpaque(running)
            record = RuntimeJobRecord(kind: kind, task: task, taskObject: object.retain(), handle: 0)
            if process.runningRuntimeJobTask == nil { st.pointee.runningTaskRequeued = true }
            tracer.wakeup(task: task, waker: .task, wakerID: task)
        } else {
            let handle = st.pointee.makeHandleID()
            record = RuntimeJobRecord(kind: kind, task: 0, taskObject: nil, handle: handle)
            tracer.callbackScheduled(handle: handle, kind: st.pointee.wakerKind == .thread ? .threadsafe : .soon,
                                     dueInNanos: 0, site: runtimeJobSite)
        }
        process.runtimeJobs[pointer] = record
        st.pointee.ready.append(.job(job, .runtimeJob, task: record.task))
    }

    /// Runs a runtime job queued by ``enqueueRuntimeJob(_:)``.
    func runRuntimeJob(_ job: UnownedJob) {
        let st = state
        let pointer = unsafeBitCast(job, to: UnsafeMutableRawPointer.self)
        guard let process = ProcessLoop.shared, let record = process.runtimeJobs.removeValue(forKey: pointer),
              let tracer = st.pointee.tracer else {
            st.pointee.runningJob = pointer
            run(job, route: .runtimeJob)
            finishStep()
            return
        }
        st.pointee.runningJob = pointer
        if record.task != 0, let object = record.taskObject {
            let task = record.task
            st.pointee.runningTask = task
            st.pointee.wakerKind = .task
            st.pointee.wakerID = task
            process.runningRuntimeJobTask = object
            let began = tracer.stepBegin(task: task)
            st.pointee.beacon?.began(task: task, ticks: began)
            tracer.runtimeJob(kind: record.kind)
            run(job, route: .runtimeJob)
            st.pointee.beacon?.ended()
            process.runningRuntimeJobTask = nil
            let completed = st.pointee.runningStepOutcome
                ?? (RuntimeInternals.taskIsComplete(UnsafeRawPointer(object.toOpaque())) ? .completed : nil)
            let outcome = completed ?? (st.pointee.runningTaskRequeued ? .yielded : .suspended)
            tracer.stepEnd(outcome, site: nil)
            if completed != nil {
                st.pointee.taskNames[task] = nil
                st.pointee.childCounts[task] = nil
            }
            object.release()
        } else {
            st.pointee.wakerKind = .callback
            st.pointee.wakerID = record.handle
            let began = tracer.callbackBegin(handle: record.handle)
            st.pointee.beacon?.began(task: 0, ticks: began)
            tracer.runtimeJob(kind: record.kind)
            run(job, route: .runtimeJob)
            st.pointee.beacon?.ended()
            tracer.callbackEnd(handle: record.handle)
        }
        finishStep()
    }

    /// Names a task the loop did not create, first seen on the process loop: after the function
    /// its body starts in (where it was created) when the dynamic symbol table names it exactly,
    /// else after its parent; then `offline` is true, and the trace gets where its body starts
    /// (`taskEntry`) for the reader to name it from the full symbol table.
    func unmodifiedTaskName(_ task: UInt64, _ pointer: UnsafeMutableRawPointer, parent: UInt64,
                            process: ProcessLoop) -> (name: String, offline: Bool) {
        let st = state
        if task == 1 {
            // The async main task, enqueued before the loop runs (see recordMainTask).
            process.mainTaskRecorded = true
            return ("main", false)
        }
        let entry = RuntimeInternals.resumeFunction(of: pointer)
        // Looked up once per entry point, found or not: `dladdr` scans symbol tables (46,000
        // instructions a call under callgrind, over half of plain-concurrency's when repeated).
        let known: String?
        if let cached = process.entryNames[entry] {
            known = cached
        } else {
            // A thunk (`Task.detached`'s, a task group's) calls the closure the program wrote,
            // which the task's initial context holds: left to the reader (`taskEntry`).
            known = RuntimeInternals.functionName(at: entry).flatMap { $0.contains("thunk") ? nil : Self.taskName(fromEntrySymbol: $0) }
            process.entryNames[entry] = .some(known)
        }
        if let known { return (known, false) }
        let parentName = st.pointee.taskNames[parent] ?? (parent == 0 ? "task" : "task\(parent)")
        let index = st.pointee.childCounts[parent, default: 0] + 1
        st.pointee.childCounts[parent] = index
        return ("\(parentName).\(index)", entry != 0)
    }

    /// A task name from the demangled symbol of its entry point: the runtime's thunks
    /// ("partial apply for", "(1)" suspend-resume suffixes, "reabstraction thunk helper …") are
    /// dropped so the name reads as the closure or function the program wrote.
    static func taskName(fromEntrySymbol symbol: String) -> String {
        var name = Substring(symbol)
        for prefix in ["partial apply for ", "implicit closure #1 in ", "(1) suspend resume partial function for ",
                       "(1) await resume partial function for ", "async function pointer to "] where name.hasPrefix(prefix) {
            name = name.dropFirst(prefix.count)
        }
        // "closure #1 () async -> () in Module.main()" → "closure #1 in Module.main()"
        if let signature = name.firstRange(of: " @Sendable () async") ?? name.firstRange(of: " () async"),
           let inRange = name[signature.upperBound...].firstRange(of: " in ") {
            name.removeSubrange(signature.lowerBound..<inRange.lowerBound)
        }
        return String(name.prefix(200))
    }
}

/// The main face's executor reference, for running `.main` jobs isolated to it.
nonisolated(unsafe) var factoryMainExecutor = genericExecutor

/// The site runtime jobs are scheduled from when no task scheduled them.
let runtimeJobSite = SourceSite(name: "Swift runtime job")
