import TraceFormat

/// One thread-pool job: `executorSubmit` on the submitting loop's stream, `executorBegin` and
/// `executorEnd` on the worker's.
public struct ExecutorJobRecord: Sendable, Equatable {
    /// The job id (unique in the process).
    public var job: UInt64
    /// Where it was submitted (`File.swift:40:runInExecutor`; 0 when the submit was not seen).
    public var site: SiteID
    /// When it was submitted (nil when the submit was not seen: lost, or in a damaged chunk).
    public var submittedAt: Int64?
    /// When a worker started it, and finished it.
    public var begin: Int64
    public var end: Int64
    /// The worker's stream.
    public var workerStream: UInt32
    /// Executor queue delay: `begin − submittedAt`, the time it waited for a free worker.
    public var queueDelay: Int64? { submittedAt.map { begin - $0 } }
    /// How long it ran on the worker.
    public var duration: Int64 { end - begin }
}

extension TraceModel {
    /// A job seen in part. Streams are read chunk by chunk, so a worker's `executorBegin` and
    /// `executorEnd` may come before the loop's `executorSubmit`: a job is reported once all
    /// three are in (or at the trace end, without its submit).
    struct PendingJob {
        var site: SiteID = 0
        var submittedAt: Int64?
        var begin: Int64?
        var end: Int64?
        var workerStream: UInt32 = 0
    }

    // MARK: - Thread-pool jobs

    func executorSubmit<O: TraceObserver>(_ e: TraceEvent, _ chunk: DecodedChunk, _ observer: inout O) {
        let submit = e.executorSubmit
        let site = st.pointee.sites.intern(stream: e.stream, stringID: submit.site, chunk: chunk)
        guard st.pointee.jobs[submit.job] != nil || admitRecord() else { return }
        var job = st.pointee.jobs[submit.job] ?? PendingJob()
        job.site = site
        job.submittedAt = e.timestamp
        settle(submit.job, job, &observer)
    }

    func executorBegin(_ e: TraceEvent) {
        let id = e.executorBegin.job
        guard st.pointee.jobs[id] != nil || admitRecord() else { return }
        var job = st.pointee.jobs[id] ?? PendingJob()
        job.begin = e.timestamp
        job.workerStream = e.stream
        st.pointee.jobs[id] = job
    }

    func executorEnd<O: TraceObserver>(_ e: TraceEvent, _ observer: inout O) {
        let id = e.executorEnd.job
        guard var job = st.pointee.jobs[id], job.begin != nil else {
            st.pointee.anomalies += 1
            return
        }
        job.end = e.timestamp
        settle(id, job, &observer)
    }

    /// Reports `job` if it is complete, else keeps it.
    func settle<O: TraceObserver>(_ id: UInt64, _ job: PendingJob, _ observer: inout O) {
        guard job.submittedAt != nil, let begin = job.begin, let end = job.end else {
            st.pointee.jobs[id] = job
            return
        }
        st.pointee.jobs[id] = nil
        st.pointee.liveBytes -= Self.recordCost
        observer.executorJob(ExecutorJobRecord(job: id, site: job.site, submittedAt: job.submittedAt, begin: begin, end: end,
                                               workerStream: job.workerStream), model: self)
    }

    /// At the trace end: reports the jobs that ran but whose submit was not seen, and returns how
    /// many were submitted and never finished (withdrawn by a cancellation, or still queued or
    /// running).
    func finishJobs<O: TraceObserver>(_ observer: inout O) -> Int {
        var unfinished = 0
        for (id, job) in st.pointee.jobs.sorted(by: { $0.key < $1.key }) {
            if let begin = job.begin, let end = job.end {
                observer.executorJob(ExecutorJobRecord(job: id, site: job.site, submittedAt: nil, begin: begin, end: end,
                                                       workerStream: job.workerStream), model: self)
            } else if job.submittedAt != nil {
                unfinished += 1
            }
        }
        st.pointee.jobs = [:]
        return unfinished
    }
}
