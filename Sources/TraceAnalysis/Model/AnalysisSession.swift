import TraceFormat

/// One analysis pass, chunk by chunk: the model, the ``TraceAnalyzer``, and an `Extra` observer
/// (an exporter, say) fed from the same events.
///
/// Use it when the caller drives the reader (the CLI does, for its error handling); otherwise
/// ``TraceAnalysis/analyze(path:options:progress:)`` does everything.
public final class AnalysisSession<Extra: TraceObserver> {
    public let model: TraceModel
    public private(set) var observers: ObserverPair<TraceAnalyzer, Extra>
    public let options: AnalysisOptions

    public init(options: AnalysisOptions, extra: Extra) {
        self.options = options
        model = TraceModel(blockingThreshold: options.blockingThreshold, window: options.window,
                           taskFilter: options.taskFilter, suspendSiteResolver: SuspendSiteResolver(),
                           limits: options.limits)
        observers = ObserverPair(TraceAnalyzer(options: options), extra)
    }

    /// Feeds one chunk.
    public func consume(_ chunk: DecodedChunk) { model.consume(chunk, into: &observers) }

    /// Ends the pass and returns the figures. `reader` supplies the damage and file details.
    public func finish(reader: TraceReader?) -> AnalysisResult {
        model.finish(into: &observers)
        var result = observers.first.result(model: model, reader: reader)
        StallAnalysis.apply(model: model, to: &result)
        return result
    }

    /// The extra observer as it ended.
    public var extra: Extra { observers.second }
}

extension AnalysisSession where Extra == NoObserver {
    public convenience init(options: AnalysisOptions) { self.init(options: options, extra: NoObserver()) }
}
