// trace-gen: writes the sample traces in traces/ and large generated traces for benchmarks.
//
//   swift run -c release --package-path tools/bench trace-gen samples traces/
//   swift run -c release --package-path tools/bench trace-gen loop-shaped big.trace 100000000
import Foundation
import TraceFormat
import TraceTestSupport

func usage() -> Never {
    FileHandle.standardError.write(Data("""
        usage: trace-gen samples DIR               write DIR/loop-shaped.trace and its .dump
               trace-gen loop-shaped FILE EVENTS   write EVENTS loop-shaped events (synthetic clock)
               trace-gen spec-table                print the event table for the DocC spec

        """.utf8))
    exit(64)
}

let args = CommandLine.arguments.dropFirst()
guard let command = args.first else { usage() }
switch command {
case "samples":
    guard args.count == 2 else { usage() }
    let dir = args[args.startIndex + 1]
    let trace = dir + "/loop-shaped.trace"
    try LoopShapedWorkload.writeGoldenSample(to: trace)
    var dump = ""
    try TraceReader(path: trace).forEachEvent { e, c in dump += TextDump.line(e, in: c) + "\n" }
    try dump.write(toFile: dir + "/loop-shaped.dump", atomically: true, encoding: .utf8)
    print("wrote \(trace) and \(dir)/loop-shaped.dump")
case "spec-table":
    print(TraceSpec.markdownTable(), terminator: "")
case "loop-shaped":
    guard args.count == 3, let events = Int(args[args.startIndex + 2]) else { usage() }
    let path = args[args.startIndex + 1]
    let stats = try LoopShapedWorkload.writeTrace(to: path, events: events)
    print("wrote \(path): \(stats.events) events, \(stats.fileBytes) bytes, \(stats.droppedEvents) dropped")
default:
    usage()
}
