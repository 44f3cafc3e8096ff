import CLoopTraceShims
import TraceFormat

/// What every loop task offers regardless of its result type (``EventLoop/allTasks``,
/// ``LoopTask/current``).
public protocol AnyLoopTask: AnyLoopFuture {
    /// The task's name: given to `createTask(name:)`, or `Task-N`.
    var name: String { get }
    /// The Swift runtime's task id (the id in traces); 0 until the loop has seen the task.
    var taskID: UInt64 { get }
    /// Where the task was created.
    var site: SourceSite { get }
}

/// A Swift async function running as a task on an ``EventLoop``, and a future of its result, as
/// asyncio's `Task`.
///
/// Created by ``EventLoop/createTask(name:file:line:function:_:)``. The body starts on a later
/// iteration, never inline. Every await in it returns to the loop. ``cancel()`` requests
/// cancellation: the body sees `CancellationError` at its next await on a loop primitive (and
/// `Task.isCancelled` is true); it may catch it, clean up and rethrow. A task cancelled before
/// its first step never runs its body.
///
/// As in asyncio, each `cancel()` is delivered once: after catching the `CancellationError`, the
/// body's cleanup can await loop primitives again. `Task.isCancelled` stays true (Swift
/// cancellation cannot be undone), so Swift's own cancellable awaits (`Task.sleep`) and the
/// task's `async let` and task-group children stay cancelled.
public final class LoopTask<Value>: LoopFuture<Value>, AnyLoopTask, @unchecked Sendable {
    /// The task's name: given to `createTask(name:)`, or `Task-N`.
    public let name: String
    /// Where the task was created.
    public let site: SourceSite
    /// The Swift runtime's task id (the id in traces); 0 until the loop has seen the task.
    public var taskID: UInt64 { context.taskID }
    // set once, right after creation; loop thread only
    var swiftTask: Task<Void, Never>?
    /// Whether `cancel()` was called (asyncio's `cancelling()`).
    public private(set) var cancelRequested = false
    /// The body's task-local context; set once at creation.
    var context: LoopTaskContext!

    init(loop: EventLoop, name: String, site: SourceSite) {
        self.name = name
        self.site = site
        super.init(loop: loop)
    }

    override func noteObserved(_ how: TaskObservation) {
        guard let context, !context.observed else { return }
        context.observed = true
        guard let tracer = loop.state.pointee.tracer else { return }
        if context.taskID != 0 {
            tracer.taskObserved(task: context.taskID, how: how)
        } else {
            context.pendingObservation = how
        }
    }

    /// Requests cancellation: the body gets `CancellationError` at its next await on a loop
    /// primitive, and the future it awaits is cancelled.
    /// - Returns: false if the task is already done.
    @discardableResult
    public override func cancel() -> Bool {
        loop.preconditionOnLoopThread("LoopTask.cancel()")
        guard state == .pending else { return false }
        cancelRequested = true
        swiftTask?.cancel()
        // What the body awaits (asyncio's `_fut_waiter`): cancelling it wakes the body, which
        // then sees CancellationError. Otherwise the next loop await delivers it.
        let wait = context.waitingOn
        context.waitingOn = nil
        if wait?.cancelWait() != true { context.cancelPending = true }
        return true
    }

    /// The body's wrapper: its last step marks the task's outcome for the trace. Inlined into the
    /// task's closure: one async frame less in every loop task's allocator.
    @inline(__always)
    func run(_ body: () async throws -> Value) async {
        if Task.isCancelled {
            finish(.cancelled)
            return
        }
        // Binds `currentLoopTaskContext` as `TaskLocal.withValue` does, with the runtime calls
        // it makes, but without its two async frames (~300 bytes): a suspended task keeps its
        // frames in its own allocator, and a loop task whose frames outgrow the allocator's first
        // slab costs a second one (~1 KB per idle task).
        var binding: Unmanaged<LoopTaskContext>? = .passUnretained(context)
        withUnsafeMutablePointer(to: &binding) {
            swift_task_localValuePush(taskContextKey, $0, taskContextMetadata)
        }
        defer { swift_task_localValuePop() }
        do {
            let value = try await body()
            storeValue(value)
            finish(.succeeded)
        } catch is CancellationError {
            finish(.cancelled)
        } catch {
            error_ = error
            finish(.failed)
        }
    }

    private func finish(_ outcome: State) {
        let st = loop.state
        switch outcome {
        case .succeeded: st.pointee.runningStepOutcome = .completed
        case .failed: st.pointee.runningStepOutcome = .failed
        default: st.pointee.runningStepOutcome = .cancelled
        }
        st.pointee.tasks[taskID] = nil
        st.pointee.loopTaskIDs.remove(taskID)
        swiftTask = nil
        context.waitingOn = nil
        complete(outcome)
    }
}

/// The context of the loop task whose body is running (inherited by `async let` and task-group
/// children). Held unretained: reading a task-local copies its value, and copying a class
/// reference costs a retain and a release on every await. The loop task owns its context and
/// outlives its body and the body's structured children.
@TaskLocal var currentLoopTaskContext: Unmanaged<LoopTaskContext>?

/// The running loop task's context, if its body (or one of its children) is running.
var currentLoopTask: LoopTaskContext? {
    currentLoopTaskContext?.takeUnretainedValue()
}

/// What a loop task's body carries in a task-local: the task, and what it awaits. Loop thread
/// only.
@usableFromInline
final class LoopTaskContext: @unchecked Sendable {
    unowned let task: any AnyLoopTask
    /// The task's runtime id (0 until the loop has seen it).
    @exclusivity(unchecked) var taskID: UInt64 = 0
    /// The task's address (its jobs' address), for telling whether its body is the one running.
    @exclusivity(unchecked) var taskPointer: UnsafeMutableRawPointer?
    /// The loop wait the body is suspended in, if any: ``LoopTask/cancel()`` cancels it.
    @exclusivity(unchecked) var waitingOn: (any LoopWait)?
    /// A `cancel()` not delivered yet: the next loop await throws `CancellationError`.
    @exclusivity(unchecked) var cancelPending = false
    /// Whether something took an interest in the task's outcome (`taskObserved` is recorded once).
    @exclusivity(unchecked) var observed = false
    /// An interest taken before the loop knew the task's id: recorded right after its taskCreate.
    @exclusivity(unchecked) var pendingObservation: TaskObservation?

    init(task: any AnyLoopTask) { self.task = task }
}

/// Something a task can wait for on the loop, which cancellation can end.
@usableFromInline
protocol LoopWait: AnyObject, Sendable {
    /// Ends the wait because the waiting task is cancelled. Loop thread.
    /// - Returns: whether the wait was still going on (and now ends, or, for a task, will end,
    ///   in cancellation).
    @discardableResult
    func cancelWait() -> Bool

    /// Whether there is nothing (left) to wait for. A cancelled task is still pending until it
    /// has handled its cancellation, and is waited for like any other.
    var waitIsOver: Bool { get }
}

extension LoopTask where Value == Never {
    /// The loop task whose body is running on this task, if any; `async let` and task-group
    /// children see their parent's.
    public static var current: (any AnyLoopTask)? { currentLoopTask?.task }
}

extension EventLoop {
    /// Takes the running task's pending cancellation: for a loop task's body, a `cancel()` not
    /// delivered yet (delivered now); for other tasks, `Task.isCancelled`.
    func takeCancellation() -> Bool {
        // A loop task with a pending cancel() is cancelled for Swift too: most awaits stop here.
        guard Task.isCancelled else { return false }
        if let context = currentLoopTask, context.taskPointer == state.pointee.runningJob {
            defer { context.cancelPending = false }
            return context.cancelPending
        }
        return Task.isCancelled
    }

    /// Suspends the running task until `register`'s continuation is resumed; a cancellation of
    /// the task ends the wait through `wait.cancelWait()`.
    ///
    /// The body of a loop task is cancelled only through ``LoopTask/cancel()``, which calls
    /// `cancelWait()` itself (asyncio's `_fut_waiter`), so it waits without a cancellation
    /// handler: each handler adds and removes a status record under the task's status lock.
    /// Other tasks (children, hand-written tasks) can be cancelled by Swift's structured
    /// cancellation and use `withTaskCancellationHandler`; for them cancellation is sticky.
    ///
    /// Inlinable, with everything but the await itself in plain calls (``beginWait(cancelling:site:)``,
    /// ``endWait(_:)``): inlined into the caller's own async function, the wait costs that
    /// function's one hop back to its executor after the await. A `nonisolated(nonsending)`
    /// function of its own hops back to its caller's isolation before returning, and the caller
    /// then hops again: each hop (`swift_task_switch`) looks up the task's executor preference
    /// under its status-record lock (~250 instructions per await; ping-pong: 3,723 → 3,4xx per
    /// step, see the commit).
    @inlinable @inline(__always)
    nonisolated(nonsending) func suspend(cancelling wait: any LoopWait, site: SourceSite?,
                                         _ register: (UnsafeContinuation<Void, Never>) -> Void) async {
        switch beginWait(cancelling: wait, site: site) {
        case .over:
            return
        case .loopTask(let context):
            // The executor-inheriting form: `withUnsafeContinuation(isolation:)` first hops to
            // the caller's isolation, where this task already is, and each hop looks up the
            // task's executor preference under its status-record lock.
            await _unsafeInheritExecutor_withUnsafeContinuation(register)
            endWait(context)
        case .otherTask:
            await suspendWithCancellationHandler(cancelling: wait, site: site, register)
        }
    }

    /// How a wait begins (``suspend(cancelling:site:_:)``).
    @usableFromInline
    enum WaitStart {
        /// The wait is over before it began (a pending cancellation ended it).
        case over
        /// The body of a loop task waits, without a cancellation handler.
        case loopTask(Unmanaged<LoopTaskContext>)
        /// Any other task waits, with a cancellation handler.
        case otherTask
    }

    /// The synchronous part of a wait before its await: delivers a pending ``LoopTask/cancel()``
    /// (as asyncio's `_must_cancel`: what the task was about to await is cancelled, and awaited
    /// until that is over) and records the site and what the task waits for.
    @usableFromInline
    func beginWait(cancelling wait: any LoopWait, site: SourceSite?) -> WaitStart {
        let st = state
        // Borrowed, not retained: the loop task owns its context for as long as its body runs.
        guard let unmanaged = currentLoopTaskContextFast(key: st.pointee.taskContextKey) else { return .otherTask }
        return unmanaged._withUnsafeGuaranteedRef { context in
            guard context.taskPointer == st.pointee.runningJob else { return .otherTask }
            if context.cancelPending {
                context.cancelPending = false
                wait.cancelWait()
                if wait.waitIsOver { return .over }
            }
            // Set before `register` runs (nothing else can run in between), so that the closure
            // passed on needs no context of its own: closure contexts of an async function live
            // in its task's allocator, as its frame does.
            st.pointee.suspendSite = site
            context.waitingOn = wait
            return .loopTask(unmanaged)
        }
    }

    /// The synchronous part of a loop task body's wait after its await.
    @usableFromInline
    func endWait(_ context: Unmanaged<LoopTaskContext>) {
        context._withUnsafeGuaranteedRef { $0.waitingOn = nil }
    }

    /// `suspend` for tasks other than a loop task's body. Kept out of `suspend`, which is inlined
    /// into every loop await: an async function's frame holds the locals of all its paths, and
    /// a suspended task keeps its frames in its own allocator, whose first slab (~1 KB) a loop
    /// task would outgrow otherwise (a second slab per idle task).
    @usableFromInline @inline(never)
    nonisolated(nonsending) func suspendWithCancellationHandler(cancelling wait: any LoopWait, site: SourceSite?,
                                                                 _ register: (UnsafeContinuation<Void, Never>) -> Void) async {
        let st = state
        await withTaskCancellationHandler {
            await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
                // Already cancelled: the handler has run and ended the wait (unless it hopped
                // here from another thread and will end it shortly).
                if wait.waitIsOver {
                    continuation.resume()
                    return
                }
                st.pointee.suspendSite = site
                register(continuation)
            }
        } onCancel: {
            self.onLoopThread { wait.cancelWait() }
        }
    }
}

extension EventLoop {
    /// Creates a task that runs `body` on this loop, starting on a later iteration.
    ///
    /// - Parameters:
    ///   - name: the task's name in traces; `Task-N` by default.
    ///   - file: the creation site recorded in the trace (`#fileID` by default).
    ///   - line: its line.
    ///   - function: its function.
    ///   - body: the task's body; every await in it comes back to this loop.
    /// - Returns: the task, a future of the body's result.
    @discardableResult
    public func createTask<Value>(name: String? = nil, file: StaticString = #fileID, line: UInt = #line,
                                  function: StaticString = #function,
                                  _ body: sending @escaping () async throws -> Value) -> LoopTask<Value> {
        preconditionOnLoopThread("EventLoop.createTask")
        let st = state
        precondition(st.pointee.lifecycle != .closed, "EventLoop.createTask on a closed loop")
        st.pointee.unnamedTasks += 1
        let taskName = name ?? "Task-\(st.pointee.unnamedTasks)"
        let task = LoopTask<Value>(loop: self, name: taskName, site: SourceSite(file: file, line: line, function: function))
        task.context = LoopTaskContext(task: task)
        st.pointee.creating = task.context
        // The runtime enqueues the new task on this loop synchronously; the loop learns its id
        // there (taskFirstSeen) and records its creation.
        task.swiftTask = Task(name: taskName, executorPreference: taskFace) { [task] in
            await task.run(body)
        }
        st.pointee.creating = nil
        return task
    }

    /// Every loop task not done yet, oldest first.
    public var allTasks: [any AnyLoopTask] {
        preconditionOnLoopThread("EventLoop.allTasks")
        return state.pointee.tasks.sorted { $0.key < $1.key }.map(\.value)
    }
}
