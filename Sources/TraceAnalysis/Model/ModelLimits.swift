/// The most state the analysis keeps, whatever the input: memory follows the live population of
/// a real program, but a crafted file can declare millions of tasks that never finish, callbacks
/// that never run, streams, sites and stacks. Past a limit the model skips what does not fit,
/// counts it per kind in ``ModelLimits/Overflow``, and the report says so: nothing is dropped
/// silently.
///
/// The defaults keep every command under 256 MiB together with the reader's in-flight window
/// (``TraceFormat/TraceReader/maxInFlightBytes``, 128 MiB) and are far above what real traces
/// need (the largest sample has a few thousand live tasks).
public struct ModelLimits: Sendable, Equatable {
    /// Live tasks (with their names) and pending callbacks together, in bytes of model records.
    /// 48 MiB holds about 110,000 live tasks, or 400,000 pending callbacks.
    public var liveStateBytes = 48 << 20
    /// Distinct streams (threads) the model follows.
    public var streams = 1024
    /// Distinct source sites, and the bytes of their texts.
    public var sites = 1 << 18
    public var siteTextBytes = 16 << 20
    /// Stacks, stall samples, stall ends and images kept for the stall report.
    public var stackRecords = 1 << 16
    /// Finished tasks nobody has awaited yet that the never-awaited lint holds for a later
    /// `taskObserved`; past it, the oldest batch is decided at once.
    public var lintCandidates = 1 << 16
    /// Blocking groups (resume site → suspend site) before the rest go into one "(other sites)".
    public var blockingGroups = 4096

    /// The defaults.
    public init() {}

    /// What did not fit, per limit.
    public struct Overflow: Sendable, Equatable {
        /// Events about tasks that did not fit the live-state budget, skipped.
        public var taskEvents: UInt64 = 0
        /// Callbacks scheduled past the live-state budget, not followed.
        public var callbacks: UInt64 = 0
        /// Thread-pool jobs and lock acquisitions past the live-state budget, not followed.
        public var jobsAndLocks: UInt64 = 0
        /// Events of streams past the stream limit, skipped.
        public var streamEvents: UInt64 = 0
        /// Site references past the site limit, shown as "(other site)".
        public var sites: UInt64 = 0
        /// Stack, stall and image records past their limit, skipped.
        public var stackRecords: UInt64 = 0
        /// Never-awaited candidates decided before the trace ended, at the candidate limit.
        public var lintCandidates: UInt64 = 0
        /// Blocking findings counted in the "(other sites)" group.
        public var blockingGroups: UInt64 = 0

        public init() {}

        /// Whether every limit held.
        public var isEmpty: Bool { self == Overflow() }

        /// One sentence per limit that was reached.
        public func messages(_ limits: ModelLimits) -> [String] {
            var out: [String] = []
            func add(_ n: UInt64, _ text: String) { if n > 0 { out.append("\(n) \(text)") } }
            add(taskEvents, "events about tasks past the model's live-state limit (\(Self.size(limits.liveStateBytes))) skipped")
            add(callbacks, "callbacks scheduled past the model's live-state limit (\(Self.size(limits.liveStateBytes))) not followed")
            add(jobsAndLocks, "thread-pool jobs or lock acquisitions past the model's live-state limit (\(Self.size(limits.liveStateBytes))) not followed")
            add(streamEvents, "events of streams past the limit of \(limits.streams) streams skipped")
            add(sites, "site references past the limit of \(limits.sites) sites or \(Self.size(limits.siteTextBytes)) shown as \"\(SiteTable.otherSite)\"")
            add(stackRecords, "stack, stall or image records past the limit of \(limits.stackRecords) skipped")
            add(lintCandidates, "never-awaited candidates decided early at the limit of \(limits.lintCandidates) (a later await does not clear them)")
            add(blockingGroups, "blocking findings past the limit of \(limits.blockingGroups) groups grouped as \"\(SiteTable.otherSite)\"")
            return out
        }

        static func size(_ bytes: Int) -> String { bytes >= 1 << 20 ? "\(bytes >> 20) MiB" : "\(bytes >> 10) KiB" }
    }
}
