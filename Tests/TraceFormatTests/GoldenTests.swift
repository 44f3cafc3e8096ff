import Foundation
import Testing
import TraceFormat
import TraceTestSupport

/// The package root, found from this file's path.
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

@Suite("Golden sample")
struct GoldenTests {
    func dump(_ path: String) throws -> String {
        var out = ""
        try TraceReader(path: path).forEachEvent { e, c in out += TextDump.line(e, in: c) + "\n" }
        return out
    }

    @Test("traces/loop-shaped.trace dumps exactly as traces/loop-shaped.dump")
    func committedSampleMatchesItsDump() throws {
        let expected = try String(contentsOfFile: packageRoot + "/traces/loop-shaped.dump", encoding: .utf8)
        #expect(try dump(packageRoot + "/traces/loop-shaped.trace") == expected)
    }

    @Test("Regenerating the sample gives the same events")
    func regeneratedSampleMatchesItsDump() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("loop-shaped.trace")
        try LoopShapedWorkload.writeGoldenSample(to: path)
        let expected = try String(contentsOfFile: packageRoot + "/traces/loop-shaped.dump", encoding: .utf8)
        #expect(try dump(path) == expected)
    }
}

@Suite("Spec")
struct SpecTests {
    @Test("The DocC file format article shows the spec table exactly as the code defines it")
    func docsMatchSpecTable() throws {
        let doc = try String(contentsOfFile: packageRoot + "/Sources/TraceFormat/TraceFormat.docc/FileFormat.md", encoding: .utf8)
        #expect(doc.contains(TraceSpec.markdownTable()))
    }

    @Test("Wire ids are unique, in ascending order from 1 and fit the reader's argument vector")
    func specTableIsWellFormed() {
        // Not dense: format 1.2 hands each piece of work its own id range (46–49 factory mode).
        let ids = TraceSpec.events.map(\.type.rawValue)
        #expect(ids.first == 1)
        #expect(zip(ids, ids.dropFirst()).allSatisfy { $0 < $1 })
        #expect(TraceSpec.events.allSatisfy { $0.args.count <= TraceSpec.maxArgs })
        #expect(Set(TraceSpec.events.map(\.name)).count == TraceSpec.events.count)
    }
}
