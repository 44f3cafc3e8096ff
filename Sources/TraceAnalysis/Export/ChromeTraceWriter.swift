import TraceFormat

/// Renders the export as Chrome Trace Event JSON, object form, streamed: `X` slices, `s`/`f`
/// flows, `C` counters, `i` markers and `M` metadata, following the notes on what
/// ui.perfetto.dev and chrome://tracing accept (integer ns as µs with three decimals from the
/// trace start, integer pids and tids, `cat` on every flow, no trailing comma).
///
/// Bytes go straight into an ``ExportBuffer`` the writer owns, flushed to its ``ExportOutput``
/// between events: no intermediate strings.
struct ChromeTraceWriter: ExportSink {
    let output: ExportOutput
    var buffer = ExportBuffer()
    /// `"pid":N,` pre-rendered.
    var pidField: [UInt8] = []
    var pid: Int64 = 0
    var first = true

    static let outcomeNames: [StaticString] = ["suspended", "yielded", "completed", "failed", "cancelled"]
    static let callbackKindNames: [StaticString] = ["soon", "later", "at", "threadsafe"]

    init(output: ExportOutput) {
        self.output = output
    }

    /// Starts an event: the separator, then room for its fixed part.
    @inline(__always)
    mutating func open() {
        if buffer.isFull { output.write(&buffer) }
        if first {
            first = false
            buffer.byte(UInt8(ascii: "\n"))
        } else {
            buffer.literal(",\n")
        }
    }

    mutating func process(pid: Int64, name: String, strings: inout ExportStrings) {
        self.pid = pid
        pidField = Array("\"pid\":\(pid),".utf8)
        buffer.literal("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[")
        let n = strings.intern(name)
        open()
        buffer.literal("{\"ph\":\"M\",\"name\":\"process_name\",")
        buffer.bytes(pidField)
        buffer.literal("\"args\":{\"name\":")
        strings.appendQuoted(n, to: &buffer)
        buffer.literal("}}")
        open()
        buffer.literal("{\"ph\":\"M\",\"name\":\"process_sort_index\",")
        buffer.bytes(pidField)
        buffer.literal("\"args\":{\"sort_index\":0}}")
    }

    mutating func thread(tid: Int64, name: String, sortIndex: Int, strings: inout ExportStrings) {
        let n = strings.intern(name)
        open()
        buffer.literal("{\"ph\":\"M\",\"name\":\"thread_name\",")
        buffer.bytes(pidField)
        buffer.literal("\"tid\":")
        buffer.int(tid)
        buffer.literal(",\"args\":{\"name\":")
        strings.appendQuoted(n, to: &buffer)
        buffer.literal("}}")
        open()
        buffer.literal("{\"ph\":\"M\",\"name\":\"thread_sort_index\",")
        buffer.bytes(pidField)
        buffer.literal("\"tid\":")
        buffer.int(tid)
        buffer.literal(",\"args\":{\"sort_index\":")
        buffer.int(Int64(sortIndex))
        buffer.literal("}}")
    }

    /// `"pid":P,"tid":T,"ts":…` for an event on a thread.
    @inline(__always)
    mutating func place(tid: Int64, ts: Int64) {
        pidField.withUnsafeBufferPointer { buffer.bytes($0) }
        buffer.literal("\"tid\":")
        buffer.int(tid)
        buffer.literal(",\"ts\":")
        buffer.micros(ts)
    }

    mutating func slice(_ slice: ExportSlice, nested: ArraySlice<ExportNested>, flowsOut: ArraySlice<UInt64>,
                        delayed: ArraySlice<UInt64>, strings: inout ExportStrings) {
        open()
        buffer.literal("{\"ph\":\"X\",")
        place(tid: slice.tid, ts: slice.begin)
        buffer.literal(",\"dur\":")
        buffer.micros(slice.duration)
        // Args say only what the name and the track do not: a step's index is in its name, a
        // callback's site too; empty sites and the usual outcome ("suspended") are left out,
        // and the resume site is only on blocking steps (see `ExportTimeline.step`).
        switch slice.kind {
        case .step:
            buffer.literal(slice.blocking ? ",\"cat\":\"step,blocking\",\"name\":\"" : ",\"cat\":\"step\",\"name\":\"")
            strings.escaped[Int(slice.taskName)].withUnsafeBufferPointer { name in
                buffer.ensure(name.count + 64)
                buffer.bytes(name)
            }
            buffer.literal(" step #")
            buffer.int(Int64(slice.stepIndex))
            buffer.literal("\",\"args\":{\"task\":")
            buffer.uint(slice.task)
            if slice.resumeSite != 0 {
                buffer.literal(",\"resume\":")
                strings.appendQuoted(slice.resumeSite, to: &buffer)
            }
            if slice.site != 0 {
                buffer.literal(",\"suspend\":")
                strings.appendQuoted(slice.site, to: &buffer)
            }
            if slice.outcome != .suspended {
                buffer.literal(",\"outcome\":\"")
                buffer.literal(Self.outcomeNames[Int(slice.outcome.rawValue)])
                buffer.byte(UInt8(ascii: "\""))
            }
            blockingArgs(slice, delayed: delayed, strings: strings)
            buffer.literal("}}")
        case .callback:
            buffer.literal(slice.blocking ? ",\"cat\":\"callback,blocking\",\"name\":" : ",\"cat\":\"callback\",\"name\":")
            strings.appendQuoted(slice.name, to: &buffer)
            buffer.literal(",\"args\":{\"handle\":")
            buffer.uint(slice.handle)
            if let kind = slice.callbackKind {
                buffer.literal(",\"kind\":\"")
                buffer.literal(Self.callbackKindNames[Int(kind.rawValue)])
                buffer.byte(UInt8(ascii: "\""))
            }
            ioArgs(slice)
            blockingArgs(slice, delayed: delayed, strings: strings)
            buffer.literal("}}")
        case .span:
            buffer.literal(",\"cat\":\"user\",\"name\":")
            strings.appendQuoted(slice.name, to: &buffer)
            buffer.byte(UInt8(ascii: "}"))
        case .state:
            buffer.literal(",\"cat\":\"state\",\"name\":")
            strings.appendQuoted(slice.name, to: &buffer)
            buffer.literal(",\"args\":{\"task\":")
            buffer.uint(slice.task)
            ioArgs(slice)
            buffer.literal("}}")
        }
        for span in nested {
            open()
            buffer.literal("{\"ph\":\"X\",")
            place(tid: slice.tid, ts: span.begin)
            buffer.literal(",\"dur\":")
            buffer.micros(span.end - span.begin)
            buffer.literal(",\"cat\":\"user\",\"name\":")
            strings.appendQuoted(span.name, to: &buffer)
            buffer.byte(UInt8(ascii: "}"))
        }
        if slice.flowIn != 0 {
            // Both ends together, once the woken step is known to exist: no dangling starts.
            open()
            buffer.literal("{\"ph\":\"s\",\"cat\":\"wake\",\"name\":\"wakeup\",\"id\":")
            buffer.uint(slice.flowIn)
            buffer.byte(UInt8(ascii: ","))
            place(tid: slice.flowInTid, ts: slice.flowInTime)
            buffer.byte(UInt8(ascii: "}"))
            open()
            buffer.literal("{\"ph\":\"f\",\"bp\":\"e\",\"cat\":\"wake\",\"name\":\"wakeup\",\"id\":")
            buffer.uint(slice.flowIn)
            buffer.byte(UInt8(ascii: ","))
            place(tid: slice.tid, ts: slice.begin)
            buffer.byte(UInt8(ascii: "}"))
        }
    }

    /// `,"fd":5,"io":"read"` for an I/O wait or callback.
    @inline(__always)
    mutating func ioArgs(_ slice: ExportSlice) {
        guard slice.fd >= 0 else { return }
        buffer.literal(",\"fd\":")
        buffer.int(Int64(slice.fd))
        if let text = ExportSlice.ioText(slice.ioEvents) {
            buffer.literal(",\"io\":\"")
            buffer.literal(text)
            buffer.byte(UInt8(ascii: "\""))
        }
    }

    /// `,"stack":…,"blocking":true,"delayed":[…]` for a blocking slice.
    @inline(__always)
    mutating func blockingArgs(_ slice: ExportSlice, delayed: ArraySlice<UInt64>, strings: ExportStrings) {
        if slice.stack >= 0 {
            buffer.literal(",\"stack\":")
            strings.appendQuoted(slice.stack, to: &buffer)
        }
        guard slice.blocking else { return }
        buffer.literal(",\"blocking\":true,\"delayed\":[")
        for (i, task) in delayed.enumerated() {
            buffer.ensure(24)
            if i > 0 { buffer.byte(UInt8(ascii: ",")) }
            buffer.uint(task)
        }
        buffer.byte(UInt8(ascii: "]"))
    }

    mutating func marker(name: String, at time: Int64, strings: inout ExportStrings) {
        open()
        buffer.literal("{\"ph\":\"i\",\"s\":\"p\",\"cat\":\"blocking\",")
        pidField.withUnsafeBufferPointer { buffer.bytes($0) }
        buffer.literal("\"ts\":")
        buffer.micros(time)
        buffer.literal(",\"name\":")
        buffer.bytes([34] + ExportStrings.escape(name) + [34])
        buffer.byte(UInt8(ascii: "}"))
    }

    mutating func mark(tid: Int64, name: Int32, at time: Int64, value: Int64, strings: inout ExportStrings) {
        open()
        buffer.literal("{\"ph\":\"i\",\"s\":\"t\",\"cat\":\"user\",")
        place(tid: tid, ts: time)
        buffer.literal(",\"name\":")
        strings.appendQuoted(name, to: &buffer)
        buffer.literal(",\"args\":{\"value\":")
        buffer.int(value)
        buffer.literal("}}")
    }

    mutating func readyQueue(depth: Int, at time: Int64) {
        open()
        buffer.literal("{\"ph\":\"C\",\"name\":\"ready_queue\",")
        pidField.withUnsafeBufferPointer { buffer.bytes($0) }
        buffer.literal("\"ts\":")
        buffer.micros(time)
        buffer.literal(",\"args\":{\"depth\":")
        buffer.int(Int64(depth))
        buffer.literal("}}")
    }

    mutating func loopLag(nanos: Int64, at time: Int64) {
        open()
        buffer.literal("{\"ph\":\"C\",\"name\":\"loop_lag_ms\",")
        pidField.withUnsafeBufferPointer { buffer.bytes($0) }
        buffer.literal("\"ts\":")
        buffer.micros(time)
        buffer.literal(",\"args\":{\"lag\":")
        // ms with six decimals: ns exactly.
        buffer.micros(nanos / 1000)
        buffer.count -= 4
        let frac = nanos % 1_000_000
        buffer.byte(UInt8(ascii: "."))
        var div: Int64 = 100_000
        while div > 0 {
            buffer.byte(UInt8(truncatingIfNeeded: (frac / div) % 10) &+ 48)
            div /= 10
        }
        buffer.literal("}}")
    }

    mutating func finish(metadata: [(String, String)]) {
        buffer.ensure(64)
        buffer.literal("\n],\n\"metadata\":{")
        for (i, (key, value)) in metadata.enumerated() {
            if i > 0 { buffer.byte(UInt8(ascii: ",")) }
            buffer.bytes([34] + ExportStrings.escape(key) + [34, 58, 34] + ExportStrings.escape(value) + [34])
        }
        buffer.literal("}}\n")
        output.write(&buffer)
        buffer.deallocate()
    }
}
