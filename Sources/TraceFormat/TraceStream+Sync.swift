// Emitters for the synchronization primitives' events (format 1.3, wire ids 50–57). Called on the
// loop thread from `LoopLock` and `LoopQueue`: the same shape as every emit (one clock read, one
// capacity check, raw stores), so a traced acquire or put costs a few ns and no allocation.
extension TraceStream {
    /// The running task takes lock `lock` at `site`.
    @inlinable @inline(__always) public func lockAcquired(lock: UInt64, site: SourceSite) {
        let t = now()
        guard room(t), let siteID = self.site(site, t) else { return }
        var p = state.pointee.cursor
        p.putHead(.lockAcquired, t)
        p.putWord(lock)
        p.putWord(siteID)
        commit(p)
    }

    /// Lock `lock` is released while `waiters` tasks wait for it.
    @inlinable @inline(__always) public func lockReleased(lock: UInt64, waiters: Int) {
        let t = now()
        guard room(t) else { return }
        var p = state.pointee.cursor
        p.putHead(.lockReleased, t)
        p.putWord(lock)
        p.putWord(UInt64(truncatingIfNeeded: waiters))
        commit(p)
    }

    /// A put or get at `site` left `depth` elements in queue `queue`.
    @inlinable @inline(__always) public func queueDepth(queue: UInt64, depth: Int, site: SourceSite) {
        let t = now()
        guard room(t), let siteID = self.site(site, t) else { return }
        var p = state.pointee.cursor
        p.putHead(.queueDepth, t)
        p.putWord(queue)
        p.putWord(UInt64(truncatingIfNeeded: depth))
        p.putWord(siteID)
        commit(p)
    }
}
