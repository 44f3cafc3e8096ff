import TraceFormat

/// A task's longest single wait: where it suspended, why, and what ended the wait.
public struct TaskWait: Sendable, Equatable {
    /// Where it suspended (0 when unknown).
    public var site: SiteID = 0
    public var reason: SuspendReason = .other
    /// When it suspended.
    public var begin: Int64 = 0
    /// How long it waited, inside the analysed window.
    public var nanos: Int64 = 0
    /// What woke it (nil: still suspended at the trace end, or no wakeup was seen).
    public var wakerKind: WakerKind?
    /// The waker's id: a task id, callback or timer handle, descriptor, thread or job id.
    public var wakerID: UInt64 = 0
}

extension TraceModel {
    typealias LongestWait = TaskWait

    static let unclassified: UInt8 = 0xFF
    static let noOperation: UInt8 = 0xFE

    /// What the wait at `site` that `waker` ended was for: the operation the site names, else
    /// the waker's kind. A wait still open at the trace end with a timer of the task pending is
    /// a sleep.
    @inline(__always)
    func suspendReason(site: SiteID, waker: WakerKind?, pendingTimer: Bool) -> SuspendReason {
        let i = Int(site)
        var code = i < st.pointee.siteReasons.count ? st.pointee.siteReasons[i] : Self.unclassified
        if code == Self.unclassified { code = classifySite(site) }
        if code != Self.noOperation, let reason = SuspendReason(rawValue: code) { return reason }
        if waker == nil && pendingTimer { return .sleep }
        return SuspendReason.byWaker(waker)
    }

    /// Classifies a site's operation once and caches it.
    func classifySite(_ site: SiteID) -> UInt8 {
        let i = Int(site)
        if i >= st.pointee.siteReasons.count {
            st.pointee.siteReasons.append(contentsOf: repeatElement(Self.unclassified, count: i + 1 - st.pointee.siteReasons.count))
        }
        let code = SuspendReason.operation(ofSite: st.pointee.sites[site])?.reason.rawValue ?? Self.noOperation
        st.pointee.siteReasons[i] = code
        return code
    }

    /// Closes a suspended task's wait at `end`: its time counts toward its suspended total, split
    /// by reason, and may be its longest wait.
    @inline(__always)
    func endWait(_ task: UnsafeMutablePointer<LiveTask>, at end: Int64, waker: WakerKind?, wakerID: UInt64) {
        let nanos = overlap(task.pointee.since, end)
        task.pointee.suspended &+= nanos
        let reason = suspendReason(site: task.pointee.site, waker: waker, pendingTimer: task.pointee.pendingTimers > 0)
        switch reason {
        case .io: task.pointee.suspendedBy.0 &+= nanos
        case .lockOrQueue: task.pointee.suspendedBy.1 &+= nanos
        case .sleep: task.pointee.suspendedBy.2 &+= nanos
        case .executor: task.pointee.suspendedBy.3 &+= nanos
        case .otherTask: task.pointee.suspendedBy.4 &+= nanos
        case .other: task.pointee.suspendedBy.5 &+= nanos
        }
        if nanos > task.pointee.longestWait.nanos {
            task.pointee.longestWait = TaskWait(site: task.pointee.site, reason: reason, begin: task.pointee.since,
                                                nanos: nanos, wakerKind: waker, wakerID: wakerID)
        }
    }
}
