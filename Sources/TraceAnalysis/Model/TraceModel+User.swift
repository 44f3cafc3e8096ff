import TraceFormat

extension TraceModel {
    // MARK: - User spans and marks, I/O interest

    /// The step or callback open on stream `s` now.
    @inline(__always)
    func openSlice(_ s: UnsafeMutablePointer<Stream>) -> SliceIdentity {
        if s.pointee.runningSlot >= 0 { return SliceIdentity(begin: s.pointee.stepBegin, owner: s.pointee.runningTask) }
        if s.pointee.callbackBegin >= 0 { return SliceIdentity(begin: s.pointee.callbackBegin, owner: s.pointee.callbackKey | 1 << 63) }
        return .none
    }

    /// `userMark`, `userSpanBegin` or `userSpanEnd`. A span end closes the innermost open span
    /// of its name; spans opened inside it and still open are reported unclosed. An end with no
    /// open span of its name is ignored.
    func user<O: TraceObserver>(_ e: TraceEvent, _ s: UnsafeMutablePointer<Stream>, _ chunk: DecodedChunk, _ observer: inout O) {
        // userMark, userSpanBegin and userSpanEnd all carry the name first.
        let name = st.pointee.sites.intern(stream: e.stream, stringID: e.userMark.name, chunk: chunk)
        switch e.type {
        case .userMark:
            observer.mark(MarkRecord(stream: e.stream, name: name, at: e.timestamp, value: e.userMark.value), model: self)
        case .userSpanBegin:
            s.pointee.spans.append(OpenSpan(name: name, begin: e.timestamp, slice: openSlice(s)))
        default:
            guard let i = s.pointee.spans.lastIndex(where: { $0.name == name }) else { return }
            let open = s.pointee.spans[i]
            let slice = openSlice(s)
            for unclosed in s.pointee.spans[(i + 1)...] {
                observer.span(SpanRecord(stream: e.stream, name: unclosed.name, begin: unclosed.begin, end: e.timestamp,
                                         placement: .unclosed), model: self)
            }
            s.pointee.spans.removeSubrange(i...)
            let placement: SpanPlacement = open.slice != slice ? .crossed : slice == .none ? .loose : .nested
            observer.span(SpanRecord(stream: e.stream, name: name, begin: open.begin, end: e.timestamp, placement: placement),
                          model: self)
        }
    }

    /// `ioWait`, `ioWaitRemoved` or `ioReady`.
    /// The three carry the same arguments (fd, events), read through `ioWait`'s view.
    func io<O: TraceObserver>(_ e: TraceEvent, _ s: UnsafeMutablePointer<Stream>, _ observer: inout O) {
        let kind: IORecord.Kind
        switch e.type {
        case .ioWait:
            s.pointee.sawIOWait = true
            kind = .wait
        case .ioWaitRemoved: kind = .removed
        default: kind = .ready
        }
        observer.io(IORecord(kind: kind, stream: e.stream, fd: Int32(truncatingIfNeeded: e.ioWait.fd),
                             events: UInt32(truncatingIfNeeded: e.ioWait.events), at: e.timestamp,
                             task: s.pointee.runningSlot >= 0 ? s.pointee.runningTask : 0), model: self)
    }
}
