extension TraceStream {
    // MARK: - Factory mode (unmodified programs)

    /// The loop became the program's main and default executor.
    /// - Parameter globalHook: what happened to `swift_task_enqueueGlobal_hook` (an index into
    ///   the event's choices: 0 preinstalled, 1 foreign, 2 unavailable).
    @inlinable public func executorFactory(globalHook: UInt8) {
        let t = now()
        guard begin(t) else { return }
        var p = state.pointee.cursor
        p.putHead(.executorFactory, t)
        p.putWord(UInt64(globalHook))
        commit(p)
    }

    /// The untracked task just completed with no reference left but the loop's: its `Task`
    /// handle was dropped (`taskHandleDropped`). Before its `stepEnd`.
    @inlinable public func taskHandleDropped(task: UInt64) {
        let t = now()
        guard begin(t) else { return }
        var p = state.pointee.cursor
        p.putHead(.taskHandleDropped, t)
        p.putWord(task)
        commit(p)
    }

    /// The running step or callback is a Swift runtime job of this kind, not a task.
    @inlinable public func runtimeJob(kind: UInt8) {
        let t = now()
        guard begin(t) else { return }
        var p = state.pointee.cursor
        p.putHead(.runtimeJob, t)
        p.putWord(UInt64(kind))
        commit(p)
    }
}
