import TraceFormat

/// Renders the export as Perfetto protobuf TrackEvent (`.pftrace`), hand-encoded: a stream of
/// `Trace.packet` records (field 1), each a `TracePacket` on one trusted sequence with interned
/// event names and categories. Field numbers are those of Perfetto's protos (see the notes);
/// `tools/export-check/perfetto_subset.proto` lists the subset used, for `protoc --decode`.
///
/// TrackEvent has no complete-slice type, so every slice is a begin and an end, written when
/// the slice closes: the parent's begin, its nested user spans in nesting order, its end. Wake
/// flows ride on the slices: `flow_ids` on the waker's slice, `terminating_flow_ids` on the
/// woken step. trace_processor sorts by timestamp (stably), so slices written at their close
/// still come out nested.
struct PerfettoTraceWriter: ExportSink {
    let output: ExportOutput
    var buffer = ExportBuffer()
    var pid: Int64 = 0
    /// What is interned on the sequence, by ``ExportStrings`` index: bit 0 as an event name,
    /// bit 1 as a debug annotation value.
    var interned: [UInt8] = []
    var outcomeNames: [Int32] = []
    var kindNames: [Int32] = []
    var nestStack: [Int64] = []

    static let sequence: UInt64 = 1
    static let processTrack: UInt64 = 1
    static let readyQueueTrack: UInt64 = 2
    static let loopLagTrack: UInt64 = 3
    enum Category: UInt64 { case step = 1, blocking, callback, user, state, wake }
    static let categoryNames = ["step", "blocking", "callback", "user", "state", "wake"]

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

    /// Opens a `TracePacket` (Trace field 1) with its timestamp and sequence; returns the
    /// length's position for ``endMessage(_:)``.
    @inline(__always)
    mutating func beginPacket(time: Int64?, flags: UInt64 = 2) -> Int {
        if buffer.isFull { output.write(&buffer) }
        tag(1, 2)
        let at = buffer.beginLength()
        if let time { uintField(8, UInt64(max(0, time))) }
        uintField(10, Self.sequence)
        uintField(13, flags)
        return at
    }

    @inline(__always)
    mutating func beginMessage(_ field: UInt64) -> Int {
        tag(field, 2)
        return buffer.beginLength()
    }

    @inline(__always)
    mutating func endMessage(_ at: Int) { buffer.endLength(at) }

    /// Debug annotation names, interned once in the first packet.
    enum Key: UInt64, CaseIterable { case task = 1, step, resume, suspend, outcome, handle, kind, site, value, stack }
    static let keyNames = ["task", "step", "resume", "suspend", "outcome", "handle", "kind", "site", "value", "stack"]

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

    /// The packet's one `interned_data` (a second one would replace the first in protozero's
    /// decoder), opened by the first entry the packet needs.
    var internedAt = -1

    mutating func internEntry(field: UInt64, _ index: Int32, _ strings: ExportStrings) {
        if internedAt < 0 { internedAt = beginMessage(12) }
        let entry = beginMessage(field)
        uintField(1, UInt64(index) + 1)
        stringField(2, index, strings)
        endMessage(entry)
    }

    /// Interns `index` as an event name in this packet if the sequence has not seen it yet.
    mutating func internName(_ index: Int32, _ strings: ExportStrings) {
        let i = Int(index)
        if i >= interned.count { interned.append(contentsOf: repeatElement(0, count: i + 1 - interned.count)) }
        guard interned[i] & 1 == 0 else { return }
        interned[i] |= 1
        internEntry(field: 2, index, strings)
    }

    /// Interns `index` as a debug annotation string value.
    mutating func internValue(_ index: Int32, _ strings: ExportStrings) {
        let i = Int(index)
        if i >= interned.count { interned.append(contentsOf: repeatElement(0, count: i + 1 - interned.count)) }
        guard interned[i] & 2 == 0 else { return }
        interned[i] |= 2
        internEntry(field: 29, index, strings)
    }

    mutating func endInterned() {
        if internedAt >= 0 { endMessage(internedAt) }
        internedAt = -1
    }

    // MARK: - Tracks

    mutating func process(pid: Int64, name: String, strings: inout ExportStrings) {
        self.pid = pid
        let p = beginPacket(time: nil, flags: 1)
        let data = beginMessage(12)
        for (i, n) in Self.categoryNames.enumerated() {
            let entry = beginMessage(1)
            uintField(1, UInt64(i) + 1)
            stringField(2, n)
            endMessage(entry)
        }
        for (i, n) in Self.keyNames.enumerated() {
            let entry = beginMessage(3)
            uintField(1, UInt64(i) + 1)
            stringField(2, n)
            endMessage(entry)
        }
        endMessage(data)
        outcomeNames = StepOutcome.allCases.map { strings.intern($0.description) }
        kindNames = CallbackKind.allCases.map { strings.intern($0.description) }
        let track = beginMessage(60)
        uintField(1, Self.processTrack)
        let process = beginMessage(3)
        uintField(1, UInt64(pid))
        stringField(6, name)
        endMessage(process)
        endMessage(track)
        endMessage(p)
        for (uuid, counter) in [(Self.readyQueueTrack, "ready_queue"), (Self.loopLagTrack, "loop_lag_ms")] {
            let p = beginPacket(time: nil)
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
        let p = beginPacket(time: nil)
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

    mutating func slice(_ slice: ExportSlice, nested: ArraySlice<ExportNested>, flowsOut: ArraySlice<UInt64>,
                        strings: inout ExportStrings) {
        let track = Self.threadTrack(slice.tid)
        let p = beginPacket(time: slice.begin)
        switch slice.kind {
        case .step:
            internValue(slice.resumeSite, strings)
            internValue(slice.site, strings)
            internValue(outcomeNames[Int(slice.outcome.rawValue)], strings)
            if slice.stack >= 0 { internValue(slice.stack, strings) }
        case .callback:
            internName(slice.name, strings)
            internValue(slice.site, strings)
            if slice.stack >= 0 { internValue(slice.stack, strings) }
            if let kind = slice.callbackKind { internValue(kindNames[Int(kind.rawValue)], strings) }
        case .span, .state:
            internName(slice.name, strings)
        }
        endInterned()
        let event = beginMessage(11)
        uintField(9, 1)
        uintField(11, track)
        switch slice.kind {
        case .step:
            uintField(3, Category.step.rawValue)
            if slice.blocking { uintField(3, Category.blocking.rawValue) }
            var name = strings[slice.taskName]
            name += " step #\(slice.stepIndex)"
            stringField(23, name)
            annotation(.task, uint: slice.task)
            annotation(.step, uint: UInt64(slice.stepIndex))
            annotation(.resume, string: slice.resumeSite)
            annotation(.suspend, string: slice.site)
            annotation(.outcome, string: outcomeNames[Int(slice.outcome.rawValue)])
            if slice.stack >= 0 { annotation(.stack, string: slice.stack) }
        case .callback:
            uintField(3, Category.callback.rawValue)
            if slice.blocking { uintField(3, Category.blocking.rawValue) }
            uintField(10, UInt64(slice.name) + 1)
            annotation(.handle, uint: slice.handle)
            if let kind = slice.callbackKind { annotation(.kind, string: kindNames[Int(kind.rawValue)]) }
            annotation(.site, string: slice.site)
            if slice.stack >= 0 { annotation(.stack, string: slice.stack) }
        case .span:
            uintField(3, Category.user.rawValue)
            uintField(10, UInt64(slice.name) + 1)
        case .state:
            uintField(3, Category.state.rawValue)
            uintField(10, UInt64(slice.name) + 1)
            annotation(.task, uint: slice.task)
        }
        for id in flowsOut {
            tag(47, 1)
            buffer.fixed64(id)
        }
        if slice.flowIn != 0 {
            tag(48, 1)
            buffer.fixed64(slice.flowIn)
        }
        endMessage(event)
        endMessage(p)
        // Nested spans in nesting order: an end before any begin at or after it.
        nestStack.removeAll(keepingCapacity: true)
        for span in nested {
            while let top = nestStack.last, top <= span.begin {
                end(track: track, at: top)
                nestStack.removeLast()
            }
            let p = beginPacket(time: span.begin)
            internName(span.name, strings)
            endInterned()
            let event = beginMessage(11)
            uintField(9, 1)
            uintField(11, track)
            uintField(3, Category.user.rawValue)
            uintField(10, UInt64(span.name) + 1)
            endMessage(event)
            endMessage(p)
            nestStack.append(span.end)
        }
        while let top = nestStack.popLast() { end(track: track, at: top) }
        end(track: track, at: slice.end)
    }

    mutating func end(track: UInt64, at time: Int64) {
        let p = beginPacket(time: time)
        let event = beginMessage(11)
        uintField(9, 2)
        uintField(11, track)
        endMessage(event)
        endMessage(p)
    }

    mutating func marker(name: String, at time: Int64, strings: inout ExportStrings) {
        let p = beginPacket(time: time)
        let event = beginMessage(11)
        uintField(9, 3)
        uintField(11, Self.processTrack)
        uintField(3, Category.blocking.rawValue)
        stringField(23, name)
        endMessage(event)
        endMessage(p)
    }

    mutating func mark(tid: Int64, name: Int32, at time: Int64, value: Int64, strings: inout ExportStrings) {
        let p = beginPacket(time: time)
        internName(name, strings)
        endInterned()
        let event = beginMessage(11)
        uintField(9, 3)
        uintField(11, Self.threadTrack(tid))
        uintField(3, Category.user.rawValue)
        uintField(10, UInt64(name) + 1)
        let a = beginMessage(4)
        uintField(1, Key.value.rawValue)
        uintField(4, UInt64(bitPattern: value))
        endMessage(a)
        endMessage(event)
        endMessage(p)
    }

    mutating func readyQueue(depth: Int, at time: Int64) {
        let p = beginPacket(time: time)
        let event = beginMessage(11)
        uintField(9, 4)
        uintField(11, Self.readyQueueTrack)
        uintField(30, UInt64(depth))
        endMessage(event)
        endMessage(p)
    }

    mutating func loopLag(nanos: Int64, at time: Int64) {
        let p = beginPacket(time: time)
        let event = beginMessage(11)
        uintField(9, 4)
        uintField(11, Self.loopLagTrack)
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
