/// Stacks in the trace: the image table, interned stacks, and the loop watchdog's records.
///
/// A stack is a list of code addresses, innermost first. The stream maps each address to
/// (image, offset) through ``ImageTable/shared``, interns the list per stream, and writes its
/// `stackDef` (preceded by the `imageDef`/`imageText` of each image it uses) in every chunk that
/// refers to it, so that every chunk decodes alone. See the DocC article "FileFormat", section
/// "Stacks", for the bytes.
///
/// Emitters of new records with a stack argument (issue 8's suspend chains, say) live in this
/// module and follow the pattern of ``stallSample(task:stepStartTicks:syscall:frames:kind:)``:
/// read the clock, `begin(t, extra:)`, then ``stack(_:kind:_:extra:)`` with the record's own size
/// as `extra`, then write the record. That order guarantees the definition lands in the same
/// chunk as the record.
extension TraceStream {
    /// The current tick on this stream's clock.
    @inlinable public func ticksNow() -> UInt64 { now() }

    /// Nanoseconds per tick of this stream's clock.
    public var nanosPerTick: Double { state.pointee.nanosPerTick }

    /// The id of stack (kind, frames) for a record written right after this call in the same
    /// chunk, with its definitions written first when the chunk lacks them; nil when the record
    /// must be dropped (memory cap). Call it after `begin(now, extra:)`.
    /// - Parameters:
    ///   - frames: code addresses, innermost first: frame 0 is a PC, the others return addresses.
    ///   - kind: how they were captured.
    ///   - now: the record's tick.
    ///   - extra: the record's bytes beyond ``StreamState/maxFixedEvent``.
    @usableFromInline
    func stack(_ frames: UnsafeBufferPointer<UInt>, kind: StackKind, _ now: UInt64, extra: Int = 0) -> UInt64? {
        state.pointee.defineStack(frames, kind: kind, now: now, need: extra)
    }

    /// Interns a stack and returns its id in this stream, writing its definition (and its
    /// images') into the current chunk when missing; nil when dropped at the memory cap.
    ///
    /// The id is only valid for a record that lands in the same chunk: emit that record at once,
    /// and prefer writing the emitter in this module with ``stack(_:kind:_:extra:)``, which
    /// guarantees it. Not for the hot path of every event: a known stack costs a hash of its
    /// frames and a table probe; a new one resolves its images under a lock.
    /// - Parameters:
    ///   - frames: code addresses, innermost first: frame 0 is a PC, the others return addresses
    ///     (for a suspend chain, resume addresses: all treated as return addresses but frame 0).
    ///   - kind: how they were captured.
    /// - Returns: the stack id (from 1), or nil.
    public func internStack(frames: UnsafeBufferPointer<UInt>, kind: StackKind) -> UInt64? {
        let t = now()
        guard begin(t) else { return nil }
        return stack(frames, kind: kind, t)
    }

    /// The running step is about to end with its task suspended at `frames`, a resume chain
    /// (`suspendStack`; call ``stepEnd(_:site:)`` with no site right after). For tasks whose
    /// awaits the loop cannot see (unmodified code): the chain stands for the step's suspend
    /// site. A chain seen before costs a hash of its frames and a table probe.
    /// - Parameter frames: resume addresses, innermost first.
    public func suspendStack(frames: UnsafeBufferPointer<UInt>) {
        let t = now()
        guard begin(t), let id = stack(frames, kind: .suspendChain, t) else { return }
        var p = state.pointee.cursor
        p.putHead(.suspendStack, t)
        p.putWord(id)
        commit(p)
    }

    /// Where a task's body starts (`taskEntry`): `frames` are the code its first step will run,
    /// innermost first (the runtime's adapter, then the closure it calls), recorded as a
    /// suspend-chain stack so that a reader can name the task after its first frame of the
    /// program's own code.
    public func taskEntry(task: UInt64, frames: UnsafeBufferPointer<UInt>) {
        let t = now()
        guard begin(t), let id = stack(frames, kind: .suspendChain, t) else { return }
        var p = state.pointee.cursor
        p.putHead(.taskEntry, t)
        p.putWord(task)
        p.putWord(id)
        commit(p)
    }

    /// A watchdog starts watching the loop recording on stream `loopStream`.
    public func watchdogStart(loopStream: UInt32, thresholdNanos: UInt64) {
        let t = now()
        guard begin(t) else { return }
        var p = state.pointee.cursor
        p.putHead(.watchdogStart, t)
        p.putWord(UInt64(loopStream))
        p.putWord(thresholdNanos)
        commit(p)
    }

    /// The watchdog sampled a loop thread stuck in one step or callback.
    /// - Parameters:
    ///   - task: the running task, 0 for a callback.
    ///   - stepStartTicks: when the step began, in ticks of the same clock (the loop stream's
    ///     tick ``stepBegin(task:chainedTick:)`` returned).
    ///   - syscall: the Linux syscall number it is blocked in; -1 when running.
    ///   - frames: the stack, innermost first; empty when none was captured.
    ///   - kind: how the stack was captured.
    public func stallSample(task: UInt64, stepStartTicks: UInt64, syscall: Int64, frames: UnsafeBufferPointer<UInt>,
                            kind: StackKind) {
        let t = now()
        guard begin(t) else { return }
        var stackID: UInt64 = 0
        if !frames.isEmpty {
            guard let id = stack(frames, kind: kind, t) else { return }
            stackID = id
        }
        var p = state.pointee.cursor
        p.putHead(.stallSample, t)
        p.putWord(task)
        p.putWord(relativeNanos(stepStartTicks, t))
        p.putWord(syscall)
        p.putWord(stackID)
        commit(p)
    }

    /// The watchdog saw the sampled step that began at `stepStartTicks` end.
    public func stallEnd(stepStartTicks: UInt64) {
        let t = now()
        guard begin(t) else { return }
        var p = state.pointee.cursor
        p.putHead(.stallEnd, t)
        p.putWord(relativeNanos(stepStartTicks, t))
        commit(p)
    }

    /// `ticks − now` in nanoseconds (a `time` argument).
    func relativeNanos(_ ticks: UInt64, _ now: UInt64) -> Int64 {
        let delta = Int64(bitPattern: ticks &- now)
        return Int64((Double(delta) * state.pointee.nanosPerTick).rounded())
    }
}
