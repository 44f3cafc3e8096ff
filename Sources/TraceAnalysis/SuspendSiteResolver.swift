import TraceFormat

/// Names the suspend sites and task entry points of unmodified code: the `suspendStack` and
/// `taskEntry` records of factory mode, whose stacks hold resume addresses rather than source
/// sites.
///
/// The model asks for each chunk's new suspend-chain stacks at once (``resolve(_:table:)``), so
/// a trace costs one symbolizer batch per chunk that brings new ones, and only images of the
/// program's own code are symbolized (frames in libc or the Swift runtime are skipped unless a
/// stack has nothing else). A site reads `function File.swift:LINE`: the innermost frame of the
/// program's own code, which is where the task awaits.
public final class SuspendSiteResolver {
    let symbolizer: Symbolizer
    /// Site texts and entry-point names by stack.
    private var sites: [StackTable.StackKey: String] = [:]
    private var functions: [StackTable.StackKey: String] = [:]

    /// - Parameter symbolizer: the symbolizer to use (its tools are found as documented there).
    public init(symbolizer: Symbolizer = Symbolizer()) {
        self.symbolizer = symbolizer
    }

    /// The site text of a resolved stack.
    public func site(_ key: StackTable.StackKey) -> String? { sites[key] }

    /// The function a resolved one-frame stack (a task's entry point) names, cleaned up as a task
    /// name; nil when it could not be named.
    public func entryName(_ key: StackTable.StackKey) -> String? { functions[key] }

    /// Whether `key` was resolved already.
    public func knows(_ key: StackTable.StackKey) -> Bool { sites[key] != nil }

    /// Symbolizes the stacks in one batch and keeps their texts.
    public func resolve(_ keys: [StackTable.StackKey], table: StackTable) {
        let wanted = keys.filter { sites[$0] == nil }
        guard !wanted.isEmpty else { return }
        let stacks = wanted.map { table.stacks[$0] ?? StackTable.Stack(kind: .suspendChain, frames: []) }
        // Only the program's own images: the runtime's frames would cost a symbolizer process
        // each and are never the site.
        let own = stacks.map { stack in
            StackTable.Stack(kind: stack.kind, frames: stack.frames.filter { !Self.isSystemImage(table.images[$0.image]) })
        }
        let symbolized = symbolizer.symbolize(own, images: table.images)
        for (i, key) in wanted.enumerated() {
            let frames = symbolized[i].map(StallAnalysis.frameInfo)
            if let user = frames.first(where: \.user) {
                var frame = user
                frame.function = Self.cleanFunction(frame.function)
                sites[key] = frame.text
                // A thunk (an `async let`'s, `Task.detached`'s) calls a closure the stack does
                // not hold: it names no task.
                let thunk = frame.function.contains("thunk for ") || frame.function.contains("thunk helper")
                functions[key] = frame.note == nil && !thunk ? frame.function : nil
            } else {
                sites[key] = Self.fallback(stacks[i], table: table)
            }
        }
    }

    /// A stack with no frame of the program's own code that could be named: its innermost frame
    /// as `image+0xOFFSET`.
    static func fallback(_ stack: StackTable.Stack, table: StackTable) -> String {
        guard let frame = stack.frames.first else { return "(no frames)" }
        let image = table.images[frame.image].map { Symbolizer.basename($0.path) } ?? "?"
        return "\(image)+0x\(String(frame.offset, radix: 16))"
    }

    static func isSystemImage(_ image: StackTable.Image?) -> Bool {
        guard let image else { return false }
        let base = Symbolizer.basename(image.path)
        return StallAnalysis.systemImagePrefixes.contains { base.hasPrefix($0) }
    }

    /// A resume partial function's name as the function the program wrote: "(1) await resume
    /// partial function for closure #1 in f()" → "closure #1 in f()", with the closure's
    /// signature dropped.
    static func cleanFunction(_ symbol: String) -> String {
        var name = Substring(symbol)
        while let paren = name.first, paren == "(", let close = name.firstIndex(of: ")"),
              name[name.index(after: close)...].hasPrefix(" ") {
            let rest = name[name.index(after: close)...].dropFirst()
            guard rest.hasPrefix("await resume partial function for ") || rest.hasPrefix("suspend resume partial function for ") else { break }
            name = rest
        }
        for prefix in ["await resume partial function for ", "suspend resume partial function for ", "partial apply for ",
                       "implicit closure #1 in ", "async function pointer to ", "reabstraction thunk helper from "]
        where name.hasPrefix(prefix) {
            name = name.dropFirst(prefix.count)
        }
        // "closure #1 @Sendable () async -> () in Module.main()" → "closure #1 in Module.main()"
        if let signature = name.firstRange(of: " @Sendable (") ?? name.firstRange(of: " () async") ?? name.firstRange(of: " (") ,
           name[..<signature.lowerBound].hasPrefix("closure #"),
           let inRange = name[signature.upperBound...].firstRange(of: " in ") {
            name.removeSubrange(signature.lowerBound..<inRange.lowerBound)
        }
        return String(name.prefix(200))
    }
}
