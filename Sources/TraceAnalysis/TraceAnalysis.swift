import TraceFormat
#if canImport(Glibc)
import Glibc
#endif

/// Runs the one analysis pass over a trace file.
public enum TraceAnalysis {
    /// Reads `path` once, feeding the model and ``TraceAnalyzer`` (and `extra`, e.g. an
    /// exporter) from the same pass.
    ///
    /// - Parameters:
    ///   - path: the trace file.
    ///   - options: what to analyse.
    ///   - extra: another observer fed from the same pass.
    ///   - progress: called after each chunk with the fraction of the file read (0…1).
    /// - Returns: the figures, and `extra` as it ended.
    /// - Throws: ``TraceFormatError`` when the file cannot be opened or is not a trace.
    public static func analyze<Extra: TraceObserver>(path: String, options: AnalysisOptions, extra: Extra,
                                                     progress: ((Double) -> Void)? = nil) throws -> (AnalysisResult, Extra) {
        let threads = options.threads > 0 ? options.threads : TraceReader.defaultThreads
        let reader = try TraceReader(path: path, options: .init(threads: threads))
        let session = AnalysisSession(options: options, extra: extra)
        try reader.forEachChunk { chunk in
            session.consume(chunk)
            if let progress {
                let read = chunk.offset + Int64(ChunkHeader.size) + Int64(chunk.header.compressedLength)
                progress(reader.fileSize > 0 ? Double(read) / Double(reader.fileSize) : 1)
            }
        }
        return (session.finish(reader: reader), session.extra)
    }

    /// Analyses `path` with no extra observer.
    public static func analyze(path: String, options: AnalysisOptions = AnalysisOptions(),
                               progress: ((Double) -> Void)? = nil) throws -> AnalysisResult {
        try analyze(path: path, options: options, extra: NoObserver(), progress: progress).0
    }
}

/// An observer that ignores everything.
public struct NoObserver: TraceObserver {
    public init() {}
}
