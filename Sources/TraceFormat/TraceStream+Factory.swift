extension TraceStream {
    // MARK: - Factory mode (unmodified programs)

    /// The loop became the program's main and default executor.
    /// - Parameter globalHook: what happened to `swift_task_enqueueGlobal_hook` (an index into
    ///   the event's choices: 0 preinstalled, 1 foreign, 2 unavailable).
    @inlinable public func executorFactory(globalHook: UInt8) {
        let t = now()
        guard begin(t) else { return }
        var p = state.pointee.cursor
        head(&p, .executorFactory, t)
        p.putVarint(UInt64(globalHook))
        commit(p)
    }

    /// The running step or callback is a Swift runtime job of this kind, not a task.
    @inlinable public func runtimeJob(kind: UInt8) {
        let t = now()
        guard begin(t) else { return }
        var p = state.pointee.cursor
        head(&p, .runtimeJob, t)
        p.putVarint(UInt64(kind))
        commit(p)
    }
}
