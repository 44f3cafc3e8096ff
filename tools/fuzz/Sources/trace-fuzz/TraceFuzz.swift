import TraceAnalysis
import TraceFormat
#if canImport(Glibc)
import Glibc
#endif

/// The fuzz input goes through a file, as the reader only reads files: one per process, on
/// tmpfs, rewritten for every input.
nonisolated(unsafe) private var inputPath: String = {
    let dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp"
    return "\(dir)/looptrace-fuzz-\(getpid()).trace"
}()

private func writeInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Bool {
    let fd = open(inputPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var done = 0
    while done < size {
        let n = write(fd, data + done, size - done)
        if n <= 0 { return false }
        done += n
    }
    return true
}

/// Whether to run the light pass only (`TRACE_FUZZ_LIGHT=1`, see run.sh's `--light`): the strict
/// read and a one-thread lenient read into the model, about 20 times the executions per second of
/// the full pass, for volume on small inputs.
private let lightOnly = getenv("TRACE_FUZZ_LIGHT").map { String(cString: $0) == "1" } ?? false

/// One input:
/// - a strict read on one thread (stops at the first damage);
/// - a lenient read on two threads whose chunks feed the text dump, the analysis model and the
///   exporter's timeline-free pass (`worstBlocking` reads again on one thread);
/// - for one input in 64 (chosen by the input's size, so a crash replays), the whole
///   analysis with its analyzer and rendered reports, which cost about ten times the rest
///   (histograms).
/// Errors are fine; crashes, hangs and memory beyond libFuzzer's limits are findings.
func traceFuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard writeInput(data, size) else { return 0 }
    defer { unlink(inputPath) }
    if let reader = try? TraceReader(path: inputPath, options: .init(strict: true, threads: 1)) {
        try? reader.forEachChunk { _ in }
    }
    guard let reader = try? TraceReader(path: inputPath, options: .init(threads: lightOnly ? 1 : 2)) else { return 0 }
    var bytes = 0
    let model = TraceModel(blockingThreshold: 1_000)
    var observer = NoObserver()
    try? reader.forEachChunk { chunk in
        for e in chunk.events { bytes &+= TextDump.line(e, in: chunk).utf8.count }
        model.consume(chunk, into: &observer)
    }
    model.finish(into: &observer)
    _ = reader.recording
    if lightOnly { return bytes == -1 ? 1 : 0 }
    if let reader = try? TraceReader(path: inputPath, options: .init(threads: 1)) {
        _ = try? TraceExporter.worstBlocking(reader: reader, count: 3, threshold: 1_000)
    }
    if size % 64 == 0 {
        var options = AnalysisOptions()
        options.threads = 1
        if let result = try? TraceAnalysis.analyze(path: inputPath, options: options) {
            let renderer = ReportRenderer(result, file: "fuzz")
            bytes &+= renderer.report().utf8.count &+ renderer.latency().utf8.count &+ renderer.blocking().utf8.count
        }
    }
    return bytes == -1 ? 1 : 0
}
