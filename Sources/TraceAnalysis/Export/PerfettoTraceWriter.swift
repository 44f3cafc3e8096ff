import TraceFormat

/// Renders the export as Perfetto protobuf TrackEvent (`.pftrace`), hand-encoded: a stream of
/// `Trace.packet` records (field 1). Field numbers are those of Perfetto's protos;
/// `tools/export-check/perfetto_subset.proto` lists the subset used, for `protoc --decode`.
///
/// Small by construction (issue 13: ≤ 30 bytes per trace event), with what Perfetto's own SDK
/// does:
/// - **One packet sequence per track** that has slices or counters (each loop thread, each task
///   lane, each counter). Its first packet clears the sequence's incremental state and sets its
///   `trace_packet_defaults`: the track (so no event names its track) and a sequence-scoped
///   clock (id 64) that a `clock_snapshot` declares incremental, so each packet's timestamp is
///   the delta from the previous one on its sequence. A packet that would go back in time (a
///   counter moved by another loop thread) carries an absolute timestamp on the trace clock
///   (`timestamp_clock_id` 6, BOOTTIME) instead, which leaves the incremental clock alone.
/// - **Interning per sequence:** event names, categories, debug annotation names and string
///   values are sent once per sequence in the packet that first uses them (one `interned_data`
///   per packet) and referred to by iid.
/// - **Minimal lengths:** one length byte per message unless it is 128 bytes or more.
/// Descriptors, markers, marks and stall samples go on sequence 1 with absolute timestamps.
///
/// TrackEvent has no complete-slice type, so every slice is a begin and an end, written when
/// the slice closes: the parent's begin, its nested user spans in nesting order, its end. Wake
/// flows ride on the slices: flow ids on the waker's slice, terminating flow ids on the woken
/// step (the varint forms, fields 36 and 42). A step slice is named after its task (interned); its index is its `step` arg.
struct PerfettoTraceWriter: ExportSink {
    let output: ExportOutput
    var buffer = ExportBuffer()
    var pid: Int64 = 0
    var outcomeNames: [Int32] = []
    var kindNames: [Int32] = []
    var ioNames: [Int32] = []
    var nestStack: [Int64] = []

    /// A packet sequence with its own incremental clock and default track.
    struct Sequence {
        var id: UInt64
        var track: UInt64
        /// The incremental clock's value: the last timestamp written as a delta.
        var last: Int64 = 0
    }

    var sequences: [Sequence] = []
    var sequenceOfTrack = IDTable(capacity: 64)
    var lastTrack: (track: UInt64, sequence: Int32) = (0, -1)
    /// What each sequence has interned: `sequence << 32 | kind << 28 | index` (see ``Interned``).
    var interned = IDTable(capacity: 4096)
    /// Where the current packet's `interned_data` began (−1: none yet).
    var internedAt = -1

    static let headerSequence: UInt64 = 1
    static let processTrack: UInt64 = 1
    static let readyQueueTrack: UInt64 = 2
    static let loopLagTrack: UInt64 = 3
    /// The sequence-scoped incremental clock and the trace clock it is declared against.
    static let incrementalClock: UInt64 = 64
    static let traceClock: UInt64 = 6
    enum Category: UInt64, CaseIterable { case step = 1, blocking, callback, user, state, wake }
    static let categoryNames = ["step", "blocking", "callback", "user", "state", "wake"]
    /// Debug annotation names.
    enum Key: UInt64, CaseIterable { case task = 1, step, resume, suspend, outcome, handle, kind, site, value, stack, fd, io, delayed }
    static let keyNames = ["task", "step", "resume", "suspend", "outcome", "handle", "kind", "site", "value", "stack", "fd", "io",
                           "delayed"]
    /// The interned kinds, as `InternedData` field numbers.
    enum Interned: UInt64 { case category = 1, name = 2, key = 3, value = 29 }

    init(output: ExportOutput) {
        self.output = output
    }

    static func threadTrack(_ tid: Int64) -> UInt64 { 0x10_0000_0000 &+ UInt64(bitPattern: tid) }

    // MARK: - Encoding helpers

    @inline(__always)
    mutating func tag(_ field: UInt64, _ wire: UInt64) { buffer.varint(field << 3 | wire) }

    @inline(__always)
    mutating func uintField(_ field: UInt64, _ value: UInt64) {
        tag(field, 0)
        buffer.varint(value)
    }

    mutating func stringField(_ field: UInt64, _ text: String) {
        var text = text
        text.withUTF8 { bytes in
            buffer.ensure(bytes.count + 16)
            tag(field, 2)
            buffer.varint(UInt64(bytes.count))
            buffer.bytes(bytes)
        }
    }

    @inline(__always)
    mutating func stringField(_ field: UInt64, _ index: Int32, _ strings: ExportStrings) {
        tag(field, 2)
        strings.appendUTF8(index, to: &buffer)
    }

    @inline(__always)
    mutating func beginMessage(_ field: UInt64) -> Int {
        tag(field, 2)
        return buffer.beginLength()
    }

    @inline(__always)
    mutating func endMessage(_ at: Int) { buffer.endLength(at) }

    /// Opens a packet on sequence 1 (descriptors, markers): an absolute timestamp, if any.
    mutating func beginHeaderPacket(time: Int64?) -> Int {
        if buffer.isFull { output.write(&buffer) }
        let p = beginMessage(1)
        if let time { uintField(8, UInt64(max(0, time))) }
        uintField(10, Self.headerSequence)
        return p
    }

    /// The sequence of `track`, started (its first packet written) on first use.
    @inline(__always)
    mutating func sequence(of track: UInt64) -> Int32 {
        if lastTrack.sequence >= 0 && lastTrack.track == track { return lastTrack.sequence }
        let s: Int32
        if let known = sequenceOfTrack.find(track) {
            s = known
        } else {
            s = startSequence(track)
        }
        lastTrack = (track, s)
        return s
    }

    /// Writes a new sequence's first packet: incremental state cleared, its defaults (the
    /// track, the incremental clock) and the clock snapshot that declares that clock.
    mutating func startSequence(_ track: UInt64) -> Int32 {
        let s = Int32(sequences.count)
        let id = Self.headerSequence + 1 + UInt64(s)
        sequences.append(Sequence(id: id, track: track))
        sequenceOfTrack.insert(track, s)
        if buffer.isFull { output.write(&buffer) }
        let p = beginMessage(1)
        uintField(10, id)
        uintField(13, 1)
        let defaults = beginMessage(59)
        uintField(58, Self.incrementalClock)
        let eventDefaults = beginMessage(11)
        uintField(11, track)
        endMessage(eventDefaults)
        endMessage(defaults)
        let snapshot = beginMessage(6)
        let trace = beginMessage(1)
        uintField(1, Self.traceClock)
        uintField(2, 0)
        endMessage(trace)
        let incremental = beginMessage(1)
        uintField(1, Self.incrementalClock)
        uintField(2, 0)
        uintField(3, 1)
        endMessage(incremental)
        endMessage(snapshot)
        endMessage(p)
        return s
    }

    /// Opens an event packet on sequence `s` at `time`: a delta on the sequence's incremental
    /// clock, or an absolute time on the trace clock when `time` is before the clock's value.
    @inline(__always)
    mutating func beginPacket(_ s: Int32, time: Int64) -> Int {
        if buffer.isFull { output.write(&buffer) }
        let p = beginMessage(1)
        let seq = sequences.withUnsafeMutableBufferPointer { $0.baseAddress! + Int(s) }
        uintField(10, seq.pointee.id)
        let t = max(0, time)
        if t >= seq.pointee.last {
            uintField(8, UInt64(t - seq.pointee.last))
            seq.pointee.last = t
        } else {
            uintField(8, UInt64(t))
            uintField(58, Self.traceClock)
        }
        return p
    }

    // MARK: - Interning

    /// Whether `index` of `kind` still needs interning on sequence `s` (and marks it interned).
    @inline(__always)
    mutating func needs(_ kind: Interned, _ index: UInt64, on s: Int32) -> Bool {
        let key = UInt64(UInt32(bitPattern: s)) << 32 | kind.rawValue << 26 | index
        if interned.find(key) != nil { return false }
        interned.insert(key, 0)
        return true
    }

    /// One entry of the packet's `interned_data` (opened by the first entry it needs).
    mutating func internEntry(_ kind: Interned, iid: UInt64, _ write: (inout PerfettoTraceWriter) -> Void) {
        if internedAt < 0 { internedAt = beginMessage(12) }
        let entry = beginMessage(kind.rawValue)
        uintField(1, iid)
        write(&self)
        endMessage(entry)
    }

    /// Interns an event name or annotation string value (an ``ExportStrings`` index) on `s`.
    @inline(__always)
    mutating func intern(_ kind: Interned, _ index: Int32, on s: Int32, _ strings: ExportStrings) {
        guard needs(kind, UInt64(index), on: s) else { return }
        internEntry(kind, iid: UInt64(index) + 1) { $0.stringField(2, index, strings) }
    }

    @inline(__always)
    mutating func intern(_ category: Category, on s: Int32) {
        guard needs(.category, category.rawValue, on: s) else { return }
        internEntry(.category, iid: category.rawValue) { $0.stringField(2, Self.categoryNames[Int(category.rawValue) - 1]) }
    }

    @inline(__always)
    mutating func intern(_ key: Key, on s: Int32) {
        guard needs(.key, key.rawValue, on: s) else { return }
        internEntry(.key, iid: key.rawValue) { $0.stringField(2, Self.keyNames[Int(key.rawValue) - 1]) }
    }

    mutating func endInterned() {
        if internedAt >= 0 { endMessage(internedAt) }
        internedAt = -1
    }

    // MARK: - Annotations

    mutating func annotation(_ key: Key, uint value: UInt64) {
        let at = beginMessage(4)
        uintField(1, key.rawValue)
        uintField(3, value)
        endMessage(at)
    }

    /// A string annotation whose value is interned (sites repeat on every step).
    mutating func annotation(_ key: Key, string index: Int32) {
        let at = beginMessage(4)
        uintField(1, key.rawValue)
        uintField(17, UInt64(index) + 1)
        endMessage(at)
    }

    // MARK: - Tracks

    mutating func process(pid: Int64, name: String, strings: inout ExportStrings) {
        self.pid = pid
        outcomeNames = StepOutcome.allCases.map { strings.intern($0.description) }
        kindNames = CallbackKind.allCases.map { strings.intern($0.description) }
        ioNames = [1, 4, 5].map { strings.intern(ExportSlice.ioText($0).map { "\($0)" } ?? "") }
        let p = beginHeaderPacket(time: nil)
        uintField(13, 1)
        let track = beginMessage(60)
        uintField(1, Self.processTrack)
        let process = beginMessage(3)
        uintField(1, UInt64(pid))
        stringField(6, name)
        endMessage(process)
        endMessage(track)
        endMessage(p)
        for (uuid, counter) in [(Self.readyQueueTrack, "ready_queue"), (Self.loopLagTrack, "loop_lag_ms")] {
            let p = beginHeaderPacket(time: nil)
            let track = beginMessage(60)
            uintField(1, uuid)
            stringField(2, counter)
            uintField(5, Self.processTrack)
            let c = beginMessage(8)
            endMessage(c)
            endMessage(track)
            endMessage(p)
        }
    }

    mutating func thread(tid: Int64, name: String, sortIndex: Int, strings: inout ExportStrings) {
        let p = beginHeaderPacket(time: nil)
        let track = beginMessage(60)
        uintField(1, Self.threadTrack(tid))
        let thread = beginMessage(4)
        uintField(1, UInt64(pid))
        uintField(2, UInt64(bitPattern: tid))
        stringField(5, name)
        endMessage(thread)
        endMessage(track)
        endMessage(p)
    }

    // MARK: - Events

    /// The `io` annotation's interned value for epoll events (−1: none).
    func ioName(_ events: UInt32) -> Int32 {
        switch events & 5 {
        case 1: ioNames[0]
        case 4: ioNames[1]
        case 5: ioNames[2]
        default: -1
        }
    }

    mutating func slice(_ slice: ExportSlice, nested: ArraySlice<ExportNested>, flowsOut: ArraySlice<UInt64>,
                        delayed: ArraySlice<UInt64>, strings: inout ExportStrings) {
        let track = Self.threadTrack(slice.tid)
        let s = sequence(of: track)
        let p = beginPacket(s, time: slice.begin)
        let io = slice.fd >= 0 ? ioName(slice.ioEvents) : -1
        switch slice.kind {
        case .step:
            intern(Category.step, on: s)
            if slice.blocking { intern(.blocking, on: s) }
            intern(.name, slice.taskName, on: s, strings)
            intern(.task, on: s)
            intern(Key.step, on: s)
            if slice.outcome != .suspended {
                intern(.outcome, on: s)
                intern(.value, outcomeNames[Int(slice.outcome.rawValue)], on: s, strings)
            }
            if slice.resumeSite != 0 {
                intern(.resume, on: s)
                intern(.value, slice.resumeSite, on: s, strings)
            }
            if slice.site != 0 {
                intern(.suspend, on: s)
                intern(.value, slice.site, on: s, strings)
            }
        case .callback:
            intern(.callback, on: s)
            if slice.blocking { intern(.blocking, on: s) }
            intern(.name, slice.name, on: s, strings)
            intern(.handle, on: s)
            if let kind = slice.callbackKind {
                intern(.kind, on: s)
                intern(.value, kindNames[Int(kind.rawValue)], on: s, strings)
            }
        case .span:
            intern(.user, on: s)
            intern(.name, slice.name, on: s, strings)
        case .state:
            intern(.state, on: s)
            intern(.name, slice.name, on: s, strings)
            if slice.firstOfTask { intern(.task, on: s) }
        }
        if slice.fd >= 0 {
            intern(.fd, on: s)
            if io >= 0 {
                intern(.io, on: s)
                intern(.value, io, on: s, strings)
            }
        }
        if slice.stack >= 0 {
            intern(.stack, on: s)
            intern(.value, slice.stack, on: s, strings)
        }
        if slice.blocking { intern(.delayed, on: s) }
        endInterned()
        let event = beginMessage(11)
        uintField(9, 1)
        switch slice.kind {
        case .step:
            uintField(3, Category.step.rawValue)
            if slice.blocking { uintField(3, Category.blocking.rawValue) }
            uintField(10, UInt64(slice.taskName) + 1)
            annotation(.task, uint: slice.task)
            annotation(.step, uint: UInt64(slice.stepIndex))
            if slice.resumeSite != 0 { annotation(.resume, string: slice.resumeSite) }
            if slice.site != 0 { annotation(.suspend, string: slice.site) }
            if slice.outcome != .suspended { annotation(.outcome, string: outcomeNames[Int(slice.outcome.rawValue)]) }
        case .callback:
            uintField(3, Category.callback.rawValue)
            if slice.blocking { uintField(3, Category.blocking.rawValue) }
            uintField(10, UInt64(slice.name) + 1)
            annotation(.handle, uint: slice.handle)
            if let kind = slice.callbackKind { annotation(.kind, string: kindNames[Int(kind.rawValue)]) }
        case .span:
            uintField(3, Category.user.rawValue)
            uintField(10, UInt64(slice.name) + 1)
        case .state:
            uintField(3, Category.state.rawValue)
            uintField(10, UInt64(slice.name) + 1)
            // The lane's task, where it changes: the slices after it on the lane are its own.
            if slice.firstOfTask { annotation(.task, uint: slice.task) }
        }
        if slice.fd >= 0 {
            annotation(.fd, uint: UInt64(slice.fd))
            if io >= 0 { annotation(.io, string: io) }
        }
        if slice.stack >= 0 { annotation(.stack, string: slice.stack) }
        if slice.blocking {
            let a = beginMessage(4)
            uintField(1, Key.delayed.rawValue)
            stringField(6, delayed.map(String.init).joined(separator: " "))
            endMessage(a)
        }
        // Varints (`flow_ids_old`, `terminating_flow_ids_old`): 5 bytes for a flow id below 2^21
        // against 10 as `fixed64` (fields 47, 48). Deprecated in the proto, not in the reader:
        // trace_processor takes either form (`MaybeParseTrackEventFlows`).
        for id in flowsOut { uintField(36, id) }
        if slice.flowIn != 0 { uintField(42, slice.flowIn) }
        endMessage(event)
        endMessage(p)
        // Nested spans in nesting order: an end before any begin at or after it.
        nestStack.removeAll(keepingCapacity: true)
        for span in nested {
            while let top = nestStack.last, top <= span.begin {
                end(s, at: top)
                nestStack.removeLast()
            }
            let p = beginPacket(s, time: span.begin)
            intern(.user, on: s)
            intern(.name, span.name, on: s, strings)
            endInterned()
            let event = beginMessage(11)
            uintField(9, 1)
            uintField(3, Category.user.rawValue)
            uintField(10, UInt64(span.name) + 1)
            endMessage(event)
            endMessage(p)
            nestStack.append(span.end)
        }
        while let top = nestStack.popLast() { end(s, at: top) }
        end(s, at: slice.end)
    }

    mutating func end(_ s: Int32, at time: Int64) {
        let p = beginPacket(s, time: time)
        let event = beginMessage(11)
        uintField(9, 2)
        endMessage(event)
        endMessage(p)
    }

    mutating func marker(name: String, at time: Int64, strings: inout ExportStrings) {
        let p = beginHeaderPacket(time: time)
        let event = beginMessage(11)
        uintField(9, 3)
        uintField(11, Self.processTrack)
        // Sequence 1 interns nothing: the category goes by name.
        stringField(22, Self.categoryNames[Int(Category.blocking.rawValue) - 1])
        stringField(23, name)
        endMessage(event)
        endMessage(p)
    }

    mutating func mark(tid: Int64, name: Int32, at time: Int64, value: Int64, strings: inout ExportStrings) {
        let p = beginHeaderPacket(time: time)
        let event = beginMessage(11)
        uintField(9, 3)
        uintField(11, Self.threadTrack(tid))
        stringField(22, Self.categoryNames[Int(Category.user.rawValue) - 1])
        stringField(23, name, strings)
        let a = beginMessage(4)
        stringField(10, Self.keyNames[Int(Key.value.rawValue) - 1])
        uintField(4, UInt64(bitPattern: value))
        endMessage(a)
        endMessage(event)
        endMessage(p)
    }

    mutating func readyQueue(depth: Int, at time: Int64) {
        let p = beginPacket(sequence(of: Self.readyQueueTrack), time: time)
        let event = beginMessage(11)
        uintField(9, 4)
        uintField(30, UInt64(depth))
        endMessage(event)
        endMessage(p)
    }

    mutating func loopLag(nanos: Int64, at time: Int64) {
        let p = beginPacket(sequence(of: Self.loopLagTrack), time: time)
        let event = beginMessage(11)
        uintField(9, 4)
        tag(44, 1)
        buffer.fixed64((Double(nanos) / 1e6).bitPattern)
        endMessage(event)
        endMessage(p)
    }

    mutating func finish(metadata: [(String, String)]) {
        output.write(&buffer)
        buffer.deallocate()
    }
}
