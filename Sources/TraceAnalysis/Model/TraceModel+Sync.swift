import TraceFormat

/// One holding of a `LoopLock`: `lockAcquired` → `lockReleased` (format 1.3).
public struct LockHoldRecord: Sendable, Equatable {
    /// The lock's id (unique in the traced process).
    public var lock: UInt64
    /// The stream (loop) it was taken on.
    public var stream: UInt32
    /// The task that took it (0 when no task step was running).
    public var holder: UInt64
    /// Where it was taken (`File.swift:40:Lock.acquire`).
    public var site: SiteID
    public var acquiredAt: Int64
    /// When it was released; nil when still held at the trace end.
    public var releasedAt: Int64?
    /// How many times the holder suspended (ended a step and was resumed) while holding it: the
    /// awaits the lock was held across. A holder that finished before the release counts one.
    public var awaits: Int
    /// Tasks waiting for the lock when it was released (0 when still held).
    public var waitersAtRelease: Int

    /// How long it was held (to `end` when still held then).
    public func duration(end: Int64) -> Int64 { (releasedAt ?? end) - acquiredAt }
}

/// The depth of a `LoopQueue` after one put or get (`queueDepth`, format 1.3).
public struct QueueDepthRecord: Sendable, Equatable {
    /// The queue's id (unique in the traced process).
    public var queue: UInt64
    public var stream: UInt32
    public var time: Int64
    /// Elements in the queue after the operation.
    public var depth: Int
    /// The operation's site (`File.swift:40:Queue.put`).
    public var site: SiteID
    /// The task whose step did it (0 for a callback).
    public var task: UInt64
}

extension TraceModel {
    /// A lock taken and not yet released.
    struct HeldLock {
        var stream: UInt32
        var holder: UInt64
        var holderSteps: Int
        var site: SiteID
        var acquiredAt: Int64
    }

    // MARK: - Locks and queues

    func lockAcquired(_ e: TraceEvent, _ s: UnsafeMutablePointer<Stream>, _ chunk: DecodedChunk) {
        let acquired = e.lockAcquired
        let site = st.pointee.sites.intern(stream: e.stream, stringID: acquired.site, chunk: chunk)
        // A lock taken again without a release in between: the release was lost.
        if st.pointee.heldLocks[acquired.lock] != nil {
            st.pointee.anomalies += 1
        } else if !admitRecord() {
            return
        }
        let steps = s.pointee.runningSlot >= 0 ? tasks[s.pointee.runningSlot].steps : 0
        st.pointee.heldLocks[acquired.lock] = HeldLock(stream: e.stream, holder: s.pointee.runningTask, holderSteps: steps,
                                                       site: site, acquiredAt: e.timestamp)
    }

    func lockReleased<O: TraceObserver>(_ e: TraceEvent, _ observer: inout O) {
        let released = e.lockReleased
        guard let held = st.pointee.heldLocks.removeValue(forKey: released.lock) else {
            st.pointee.anomalies += 1
            return
        }
        st.pointee.liveBytes -= Self.recordCost
        observer.lockHeld(holdRecord(released.lock, held, releasedAt: e.timestamp, waiters: Int(truncatingIfNeeded: released.waiters)),
                          model: self)
    }

    func holdRecord(_ lock: UInt64, _ held: HeldLock, releasedAt: Int64?, waiters: Int) -> LockHoldRecord {
        var awaits = 1
        if held.holder == 0 {
            awaits = 0
        } else if let slot = st.pointee.taskIndex.find(held.holder) {
            awaits = tasks[slot].steps - held.holderSteps
        }
        return LockHoldRecord(lock: lock, stream: held.stream, holder: held.holder, site: held.site, acquiredAt: held.acquiredAt,
                              releasedAt: releasedAt, awaits: awaits, waitersAtRelease: waiters)
    }

    func queueDepth<O: TraceObserver>(_ e: TraceEvent, _ s: UnsafeMutablePointer<Stream>, _ chunk: DecodedChunk, _ observer: inout O) {
        let depth = e.queueDepth
        let site = st.pointee.sites.intern(stream: e.stream, stringID: depth.site, chunk: chunk)
        observer.queueDepth(QueueDepthRecord(queue: depth.queue, stream: e.stream, time: e.timestamp,
                                             depth: Int(truncatingIfNeeded: depth.depth), site: site, task: s.pointee.runningTask),
                            model: self)
    }

    /// At the trace end: the locks still held, reported with no release.
    func finishLocks<O: TraceObserver>(_ observer: inout O) {
        for (lock, held) in st.pointee.heldLocks.sorted(by: { $0.key < $1.key }) {
            observer.lockHeld(holdRecord(lock, held, releasedAt: nil, waiters: 0), model: self)
        }
        st.pointee.heldLocks = [:]
    }
}
