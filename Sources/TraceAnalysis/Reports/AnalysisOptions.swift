/// What an analysis pass looks at and how much it keeps.
public struct AnalysisOptions: Sendable {
    /// Steps and callbacks at least this long are blocking findings (ns). Default 100 ms, as
    /// asyncio's `slow_callback_duration`.
    public var blockingThreshold: Int64 = 100_000_000
    /// Only this time range counts (ns since the trace start): `--since` / `--until`.
    public var since: Int64?
    public var until: Int64?
    /// `--task NAME|ID`: restricts the task-level figures.
    public var taskFilter: TaskFilter?
    /// The width of the utilization / lag windows (ns). Default 100 ms.
    public var windowNanos: Int64 = 100_000_000
    /// How many longest steps and callbacks to keep.
    public var topSteps: Int = 10
    /// How many blocking findings to keep in full (the count and groups are always complete).
    public var maxFindings: Int = 1_000
    /// How many task rows to keep; further tasks count but get no row.
    public var maxTaskRows: Int = 10_000
    /// How many lints to keep in full (the counts are always complete).
    public var maxLints: Int = 1_000
    /// The spin lint needs at least this many wakeups.
    public var spinMinWakeups: Int = 100
    /// The growing-queue lint needs the queue's depth to have risen by at least this many
    /// elements.
    public var queueGrowthMinItems: Int = 100
    /// Timer lateness is broken down for at most this many arming sites.
    public var maxTimerSites: Int = 256
    /// Decoding threads.
    public var threads: Int = 0
    /// The most state the model keeps (tests lower them).
    public var limits = ModelLimits()

    public init() {}

    /// The analysed window as a range.
    public var window: Range<Int64> { (since ?? .min)..<(until ?? .max) }
}
