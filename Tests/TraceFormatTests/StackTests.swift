import Glibc
import Testing
import TraceFormat
import TraceTestSupport

@Suite("Stacks and images")
struct StackTests {
    /// Code addresses in libc, and one in no image at all.
    static func frames() -> [UInt] {
        let malloc = UInt(bitPattern: dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc"))
        let free = UInt(bitPattern: dlsym(UnsafeMutableRawPointer(bitPattern: 0), "free"))
        return [malloc + 4, free + 8, 0x10]
    }

    @Test("A stack used in two chunks is defined in both, with its images, under the same id")
    func stackIsDefinedAgainInEveryChunkThatUsesIt() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("stacks.trace")
        let recorder = try TraceRecorder(.init(path: path))
        let stream = recorder.makeStream()
        let frames = Self.frames()
        frames.withUnsafeBufferPointer { buffer in
            stream.stallSample(task: 7, stepStartTicks: stream.ticksNow(), syscall: 230, frames: buffer, kind: .scan)
            stream.flush()
            stream.stallSample(task: 7, stepStartTicks: stream.ticksNow(), syscall: -1, frames: buffer, kind: .scan)
        }
        recorder.close()

        var chunks: [[(TraceEvent, DecodedChunk)]] = []
        try TraceReader(path: path).forEachChunk { chunk in chunks.append(chunk.events.map { ($0, chunk) }) }
        #expect(chunks.count == 2)
        var stackIDs: [UInt64] = []
        for chunk in chunks {
            let types = chunk.map(\.0.type)
            let sample = try #require(chunk.firstIndex { $0.0.type == .stallSample })
            let def = try #require(chunk.firstIndex { $0.0.type == .stackDef })
            #expect(def < sample)
            // Every image the stack uses is defined before the stack.
            let imageDefs = chunk.filter { $0.0.type == .imageDef }
            #expect(types.firstIndex(of: .imageDef)! < def)
            let (stackDef, c) = chunk[def]
            #expect(StackKind(rawValue: UInt8(stackDef.args[1])) == .scan)
            let text = c.text(stackDef.args[2])
            let pairs = text.split(separator: " ").map { $0.split(separator: ":").map { UInt64($0, radix: 16)! } }
            #expect(pairs.count == 3)
            let libc = try #require(imageDefs.first { $0.0.args[0] == pairs[0][0] })
            #expect(libc.1.text(libc.0.args[1]).contains("libc"))
            #expect(libc.1.text(libc.0.args[2]).count == 40, "a 20-byte GNU build-id in hex")
            #expect(pairs[0][1] == UInt64(frames[0]) - libc.0.args[3], "offset = address − load base")
            #expect(pairs[2] == [0, 0x10], "an address in no image keeps its absolute value under image 0")
            let (sampleEvent, _) = chunk[sample]
            #expect(sampleEvent.args[0] == 7)
            #expect(sampleEvent.args[3] == stackDef.args[0])
            stackIDs.append(stackDef.args[0])
        }
        #expect(stackIDs[0] == stackIDs[1])
    }

    @Test("The image table finds the image of a code address and its executable range")
    func imageTableResolvesAddresses() {
        let frames = Self.frames()
        let resolved = frames.withUnsafeBufferPointer { ImageTable.shared.resolve($0) }
        let image = ImageTable.shared.image(resolved[0].image)
        #expect(image?.path.contains("libc") == true)
        if let image {
            #expect(resolved[0].offset >= image.textStart && resolved[0].offset < image.textStart + image.textSize)
        }
        let ranges = ImageTable.shared.executableRanges()
        #expect(ranges.count % 2 == 0 && ranges.count >= 4)
        #expect(zip(ranges, ranges.dropFirst()).allSatisfy { $0 <= $1 }, "sorted, non-overlapping")
    }
}
