import Foundation
import Testing
@testable import TraceAnalysis
import TraceFormat
import TraceTestSupport

/// A synthetic trace for the export tests: every event at the ns given, one stream.
final class ExportTestTrace {
    let scratch = TemporaryDirectory(prefix: "export-tests")
    var directory: String { scratch.path }
    let path: String
    let recorder: TraceRecorder
    let stream: TraceStream

    init() throws {
        path = scratch.file("synthetic.trace")
        recorder = try TraceRecorder(.init(path: path, bufferBytes: 16 << 10, programName: "export-tests", arguments: [],
                                           syntheticClock: true))
        stream = recorder.makeStream()
    }

    /// Runs `body` with the stream's clock at `nanos`.
    func at(_ nanos: UInt64, _ body: (TraceStream) -> Void) {
        stream.setSyntheticTime(nanos: nanos)
        body(stream)
    }

    func close() { _ = recorder.close() }

    func file(_ name: String) -> String { directory + "/" + name }

    /// Exports the trace and returns the summary.
    func export(_ format: ExportOptions.Format = .chrome, to name: String = "out.json",
                _ configure: (inout ExportOptions) -> Void = { _ in }) throws -> ExportSummary {
        var options = ExportOptions()
        options.format = format
        options.threads = 1
        configure(&options)
        return try TraceExporter.export(reader: TraceReader(path: path, options: .init(threads: 1)), to: file(name),
                                        options: options)
    }
}

/// A Chrome-trace JSON export, parsed and checked the way tools/export-check/check_chrome.py
/// checks it: the Swift half of the checker, for tests.
struct ChromeExportCheck {
    struct Slice {
        var tid: Int
        var begin: Int64
        var end: Int64
        var cat: String
        var name: String
        var args: [String: Any]
    }

    var events: [[String: Any]] = []
    var slices: [Slice] = []
    var flowStarts: [Int: (tid: Int, ns: Int64)] = [:]
    var flowEnds: [Int: (tid: Int, ns: Int64)] = [:]
    var problems: [String] = []
    var raw = ""

    /// ns from a µs value written as text with three decimals.
    static func nanos(_ text: Substring) -> Int64? {
        let parts = text.split(separator: ".")
        guard parts.count == 2, parts[1].count == 3, let whole = Int64(parts[0]), let frac = Int64(parts[1]) else { return nil }
        return whole * 1000 + frac
    }

    init(path: String) throws {
        raw = try String(contentsOfFile: path, encoding: .utf8)
        let object = try JSONSerialization.jsonObject(with: Data(raw.utf8))
        guard let doc = object as? [String: Any], let list = doc["traceEvents"] as? [[String: Any]] else {
            problems.append("not the object form")
            return
        }
        events = list
        // ts and dur exactly, from the text (JSONSerialization turns them into doubles).
        let pattern = try NSRegularExpression(pattern: #""(ts|dur)":(-?[0-9]+(\.[0-9]+)?)"#)
        var exact: [[Int64]] = []
        for line in raw.split(separator: "\n") where line.hasPrefix("{\"ph\"") {
            let s = String(line)
            var values: [Int64] = []
            for m in pattern.matches(in: s, range: NSRange(s.startIndex..., in: s)) {
                let text = s[Range(m.range(at: 2), in: s)!]
                if let n = Self.nanos(text) { values.append(n) } else { problems.append("\(text) is not µs with 3 decimals") }
            }
            exact.append(values)
        }
        guard exact.count == list.count else {
            problems.append("one event per line expected")
            return
        }
        for (i, e) in list.enumerated() {
            let ph = e["ph"] as? String ?? ""
            let tid = e["tid"] as? Int ?? -1
            switch ph {
            case "X":
                guard exact[i].count == 2 else { problems.append("X without ts and dur"); continue }
                slices.append(Slice(tid: tid, begin: exact[i][0], end: exact[i][0] + exact[i][1], cat: e["cat"] as? String ?? "",
                                    name: e["name"] as? String ?? "", args: e["args"] as? [String: Any] ?? [:]))
            case "s", "f":
                let id = e["id"] as? Int ?? -1
                if e["cat"] == nil { problems.append("flow \(id) without cat") }
                if ph == "s" {
                    if flowStarts[id] != nil { problems.append("flow id \(id) reused") }
                    flowStarts[id] = (tid, exact[i][0])
                } else {
                    if flowEnds[id] != nil { problems.append("flow id \(id) reused") }
                    if e["bp"] as? String != "e" { problems.append("flow end \(id) without bp:e") }
                    flowEnds[id] = (tid, exact[i][0])
                }
            case "C", "i", "M":
                break
            default:
                problems.append("event type \(ph)")
            }
        }
        checkNesting()
        checkFlows()
        checkStates()
    }

    mutating func checkNesting() {
        for (tid, list) in Dictionary(grouping: slices, by: \.tid) {
            var stack: [Slice] = []
            for s in list.sorted(by: { $0.begin != $1.begin ? $0.begin < $1.begin : $0.end > $1.end }) {
                while let top = stack.last, top.end <= s.begin { stack.removeLast() }
                if let top = stack.last, s.end > top.end {
                    problems.append("tid \(tid): \(s.name) [\(s.begin), \(s.end)) overlaps \(top.name) [\(top.begin), \(top.end))")
                }
                stack.append(s)
            }
        }
    }

    func enclosing(tid: Int, at ns: Int64) -> Slice? {
        slices.first { $0.tid == tid && $0.begin <= ns && ns < $0.end }
    }

    mutating func checkFlows() {
        for (id, end) in flowEnds {
            if enclosing(tid: end.tid, at: end.ns) == nil { problems.append("flow \(id) ends outside any slice") }
            if flowStarts[id] == nil { problems.append("flow \(id) has no start") }
        }
        for (id, start) in flowStarts {
            if enclosing(tid: start.tid, at: start.ns) == nil { problems.append("flow \(id) starts outside any slice") }
            if flowEnds[id] == nil { problems.append("flow \(id) has no end") }
        }
    }

    mutating func checkStates() {
        let states = slices.filter { $0.cat == "state" }
        for (task, list) in Dictionary(grouping: states, by: { $0.args["task"] as? Int ?? -1 }) {
            let sorted = list.sorted { $0.begin < $1.begin }
            for (a, b) in zip(sorted, sorted.dropFirst()) where a.end != b.begin {
                problems.append("task \(task): \(a.name) ends at \(a.end), \(b.name) begins at \(b.begin)")
            }
        }
    }

    var steps: [Slice] { slices.filter { $0.cat.hasPrefix("step") } }
    var flows: Int { flowEnds.keys.filter { flowStarts[$0] != nil }.count }
}

/// Counts in a Perfetto protobuf export, from a minimal wire decoder (a third, independent
/// reading besides protoc's in tools/export-check).
struct PerfettoExportCount {
    var sliceBegins = 0
    var sliceEnds = 0
    var flowStarts = Set<UInt64>()
    var flowEnds = Set<UInt64>()
    var packets = 0
    /// Debug annotations by name (resolved through each sequence's interned names).
    var annotations: [String: Int] = [:]

    init(path: String) throws {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        var i = 0
        func varint(_ b: [UInt8], _ i: inout Int) -> UInt64 {
            var v: UInt64 = 0, shift: UInt64 = 0
            while true {
                let x = b[i]; i += 1
                v |= UInt64(x & 0x7F) << shift
                if x < 0x80 { return v }
                shift += 7
            }
        }
        func fields(_ b: ArraySlice<UInt8>, _ body: (UInt64, UInt64, ArraySlice<UInt8>) -> Void) {
            let a = Array(b)
            var i = 0
            while i < a.count {
                let key = varint(a, &i)
                let field = key >> 3
                switch key & 7 {
                case 0: body(field, varint(a, &i), [])
                case 1:
                    var v: UInt64 = 0
                    for k in 0..<8 { v |= UInt64(a[i + k]) << (8 * UInt64(k)) }
                    i += 8
                    body(field, v, [])
                case 2:
                    let n = Int(varint(a, &i))
                    body(field, 0, a[i..<(i + n)])
                    i += n
                default: return
                }
            }
        }
        var begins = 0, ends = 0, packets = 0
        var starts = Set<UInt64>(), terminations = Set<UInt64>()
        // Debug annotation names interned per sequence: (sequence, iid) → name.
        var keyNames: [[UInt64]: String] = [:]
        var keys: [String: Int] = [:]
        while i < bytes.count {
            let key = varint(bytes, &i)
            let n = Int(varint(bytes, &i))
            precondition(key == 0x0A)
            packets += 1
            var sequence: UInt64 = 0
            fields(bytes[i..<(i + n)]) { field, v, _ in if field == 10 { sequence = v } }
            fields(bytes[i..<(i + n)]) { field, _, payload in
                if field == 12 {
                    fields(payload) { f, _, entry in
                        guard f == 3 else { return }
                        var iid: UInt64 = 0, name = ""
                        fields(entry) { g, v, text in
                            if g == 1 { iid = v }
                            if g == 2 { name = String(decoding: text, as: UTF8.self) }
                        }
                        keyNames[[sequence, iid]] = name
                    }
                }
                guard field == 11 else { return }
                fields(payload) { f, v, annotation in
                    if f == 9 && v == 1 { begins += 1 }
                    if f == 9 && v == 2 { ends += 1 }
                    if f == 36 || f == 47 { starts.insert(v) }
                    if f == 42 || f == 48 { terminations.insert(v) }
                    if f == 4 {
                        fields(annotation) { g, iid, _ in
                            if g == 1 { keys[keyNames[[sequence, iid]] ?? "?", default: 0] += 1 }
                        }
                    }
                }
            }
            i += n
        }
        annotations = keys
        sliceBegins = begins
        sliceEnds = ends
        flowStarts = starts
        flowEnds = terminations
        self.packets = packets
    }

    var flows: Int { flowEnds.intersection(flowStarts).count }
}

let exportSiteA = SourceSite(file: "App/Handler.swift", line: 42, function: "handle()")
let exportSiteB = SourceSite(file: "App/Handler.swift", line: 57, function: "handle()")
let exportSiteTimer = SourceSite(file: "App/Timer.swift", line: 9, function: "tick()")
