import Foundation
import TraceFormat

/// Turns (image, offset) frames into function names and file:line, offline, with the toolchain's
/// `llvm-symbolizer` and `swift-demangle`.
///
/// - Batched: one `llvm-symbolizer --obj=PATH` process per image for all of its offsets, and
///   `swift-demangle` once for all the names, so a report costs a handful of processes however
///   many frames it shows.
/// - Honest: before trusting an image it compares the build-id in the file at the recorded path
///   with the one in the trace. A rebuilt binary gives "stale image", a deleted one "image
///   missing", never wrong names.
/// - Cached per (build-id, offset) for the life of the symbolizer.
/// - Release builds: function names come from the symbol table; file:line only where the
///   binary has debug info.
///
/// The tools are looked up as `LOOPTRACE_SYMBOLIZER` and `LOOPTRACE_DEMANGLER` if set, else
/// beside the `swift` found on `PATH` (the toolchain's, which knows Swift's DWARF best), else on
/// `PATH`.
public final class Symbolizer {
    /// A symbolized frame. Inlined calls expand to several, innermost first.
    public struct Symbol: Sendable, Equatable, Codable {
        /// The demangled function name, or `image+0xoffset` when unknown.
        public var function: String
        /// The source file's path, when the debug info tells.
        public var file: String?
        public var line: Int?
        /// The image's path.
        public var image: String
        /// The offset looked up.
        public var offset: UInt64
        /// Why the name may be missing: "stale image", "image missing", "no symbolizer".
        public var note: String?
        /// The mangled (linkage) name, for classifying the frame.
        public var linkageName: String?
    }

    /// What was wrong with an image, if anything.
    public enum ImageStatus: Equatable, Sendable {
        case ok
        case missing
        case stale
        case unknownImage
    }

    let symbolizerPath: String?
    let demanglerPath: String?
    private var cache: [String: [UInt64: [Symbol]]] = [:]
    private var statuses: [String: ImageStatus] = [:]
    private var demangled: [String: String] = [:]

    /// Finds the tools (see the type's documentation).
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        symbolizerPath = Self.tool("llvm-symbolizer", override: environment["LOOPTRACE_SYMBOLIZER"], environment: environment)
        demanglerPath = Self.tool("swift-demangle", override: environment["LOOPTRACE_DEMANGLER"], environment: environment)
    }

    /// Whether `llvm-symbolizer` was found.
    public var isAvailable: Bool { symbolizerPath != nil }

    static func tool(_ name: String, override: String?, environment: [String: String]) -> String? {
        let fm = FileManager.default
        if let override, !override.isEmpty { return fm.isExecutableFile(atPath: override) ? override : nil }
        let path = (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map(String.init)
        // Beside the toolchain's `swift` first: its LLVM matches the compiler's debug info.
        for dir in path {
            let swift = dir + "/swift"
            guard fm.isExecutableFile(atPath: swift) else { continue }
            let real = (try? fm.destinationOfSymbolicLink(atPath: swift)).map { link in
                link.hasPrefix("/") ? link : dir + "/" + link
            } ?? swift
            let candidate = (real as NSString).deletingLastPathComponent + "/" + name
            if fm.isExecutableFile(atPath: candidate) { return candidate }
            break
        }
        for dir in path where fm.isExecutableFile(atPath: dir + "/" + name) { return dir + "/" + name }
        return nil
    }

    /// The status of an image of the trace: its file exists and has the recorded build-id.
    public func status(of image: StackTable.Image?) -> ImageStatus {
        guard let image, !image.path.isEmpty else { return .unknownImage }
        let key = image.path + "\u{0}" + image.buildID
        if let known = statuses[key] { return known }
        let status: ImageStatus
        if !FileManager.default.fileExists(atPath: image.path) {
            status = .missing
        } else if !image.buildID.isEmpty, let actual = ELFBuildID.read(path: image.path), actual != image.buildID {
            status = .stale
        } else {
            status = .ok
        }
        statuses[key] = status
        return status
    }

    /// Symbolizes stacks: for each stack, its frames expanded (inlined calls included),
    /// innermost first.
    public func symbolize(_ stacks: [StackTable.Stack], images: [UInt32: StackTable.Image]) -> [[Symbol]] {
        // Batch every offset per image, then ask once per image.
        var wanted: [UInt32: Set<UInt64>] = [:]
        for stack in stacks {
            for (i, frame) in stack.frames.enumerated() { wanted[frame.image, default: []].insert(lookupOffset(frame, index: i, stack)) }
        }
        for (imageID, offsets) in wanted {
            guard let image = images[imageID], status(of: image) == .ok, let symbolizerPath else { continue }
            let key = cacheKey(image)
            let missing = offsets.filter { cache[key]?[$0] == nil }.sorted()
            guard !missing.isEmpty else { continue }
            let found = runSymbolizer(symbolizerPath, path: image.path, offsets: missing, imagePath: image.path)
            cache[key, default: [:]].merge(found) { a, _ in a }
        }
        demangle(cache.values.flatMap { $0.values.flatMap { $0.compactMap(\.linkageName) } })
        return stacks.map { stack in
            stack.frames.enumerated().flatMap { i, frame -> [Symbol] in
                let offset = lookupOffset(frame, index: i, stack)
                let image = images[frame.image]
                let path = image?.path ?? "?"
                let fallback = Symbol(function: "\(Self.basename(path))+0x\(String(frame.offset, radix: 16))", file: nil, line: nil,
                                      image: path, offset: frame.offset, note: nil, linkageName: nil)
                var note: String?
                switch status(of: image) {
                case .ok: note = symbolizerPath == nil ? "no symbolizer" : nil
                case .missing: note = "image missing"
                case .stale: note = "stale image"
                case .unknownImage: note = frame.image == 0 ? "no image" : "image not in trace"
                }
                guard note == nil, let image, var symbols = cache[cacheKey(image)]?[offset], !symbols.isEmpty else {
                    var f = fallback
                    f.note = note
                    return [f]
                }
                for j in symbols.indices {
                    symbols[j].offset = frame.offset
                    if let linkage = symbols[j].linkageName { symbols[j].function = demangled[linkage] ?? linkage }
                }
                return symbols
            }
        }
    }

    /// Frame 0 is a PC; the others are return addresses, whose call is the instruction before.
    /// Suspend chains hold resume addresses: entry points of resume partial functions, looked up
    /// as they are (one byte before would name the function laid out before them).
    func lookupOffset(_ frame: StackTable.Frame, index: Int, _ stack: StackTable.Stack) -> UInt64 {
        index == 0 || frame.offset == 0 || stack.kind == .suspendChain ? frame.offset : frame.offset - 1
    }

    func cacheKey(_ image: StackTable.Image) -> String { image.buildID.isEmpty ? "path:" + image.path : image.buildID }

    static func basename(_ path: String) -> String { path.split(separator: "/").last.map(String.init) ?? path }

    /// Runs `llvm-symbolizer --obj=PATH` on `offsets` (passed as arguments, in batches) and
    /// parses its default output: per address, (function, file:line:column) pairs, one per
    /// inlined frame, then an empty line.
    func runSymbolizer(_ tool: String, path: String, offsets: [UInt64], imagePath: String) -> [UInt64: [Symbol]] {
        var out: [UInt64: [Symbol]] = [:]
        for start in stride(from: 0, to: offsets.count, by: 1000) {
            let batch = Array(offsets[start..<min(offsets.count, start + 1000)])
            let args = ["--obj=\(path)", "--functions=linkage", "--inlines"]
                + batch.map { "0x" + String($0, radix: 16) }
            guard let text = Self.run(tool, args) else { continue }
            let blocks = text.components(separatedBy: "\n\n")
            for (i, block) in blocks.enumerated() where i < batch.count {
                let lines = block.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
                var symbols: [Symbol] = []
                var j = 0
                while j + 1 < lines.count {
                    let function = lines[j]
                    let location = lines[j + 1]
                    j += 2
                    var file: String?
                    var line: Int?
                    let parts = location.split(separator: ":", omittingEmptySubsequences: false)
                    if parts.count >= 3, let l = Int(parts[parts.count - 2]), l > 0, parts[0] != "??" {
                        file = parts[0..<(parts.count - 2)].joined(separator: ":")
                        line = l
                    }
                    let known = function != "??"
                    symbols.append(Symbol(function: known ? function : "\(Self.basename(imagePath))+0x\(String(batch[i], radix: 16))",
                                          file: file, line: line, image: imagePath, offset: batch[i], note: nil,
                                          linkageName: known ? function : nil))
                }
                out[batch[i]] = symbols
            }
        }
        return out
    }

    /// Demangles Swift names not demangled yet, with one `swift-demangle` per 500 names.
    func demangle(_ names: [String]) {
        let todo = Array(Set(names.filter { demangled[$0] == nil && ($0.hasPrefix("$s") || $0.hasPrefix("_$s")) })).sorted()
        guard let demanglerPath, !todo.isEmpty else { return }
        for start in stride(from: 0, to: todo.count, by: 500) {
            let batch = Array(todo[start..<min(todo.count, start + 500)])
            guard let text = Self.run(demanglerPath, ["--simplified", "--compact"] + batch) else { continue }
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            for (i, name) in batch.enumerated() where i < lines.count && !lines[i].isEmpty { demangled[name] = lines[i] }
        }
    }

    /// Runs a tool and returns its standard output; nil when it cannot run or fails.
    static func run(_ tool: String, _ arguments: [String]) -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch { return nil }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return nil }
        return String(decoding: data, as: UTF8.self)
    }
}

/// Reads the GNU build-id of an ELF file from its program headers' notes.
enum ELFBuildID {
    /// The build-id in lowercase hex; nil when the file is not a 64-bit little-endian ELF or has
    /// no build-id note.
    static func read(path: String) -> String? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        func bytes(_ offset: UInt64, _ count: Int) -> [UInt8]? {
            guard count >= 0, count <= 1 << 20 else { return nil }
            do {
                try handle.seek(toOffset: offset)
                let data = try handle.read(upToCount: count) ?? Data()
                return data.count == count ? [UInt8](data) : nil
            } catch { return nil }
        }
        func u16(_ b: [UInt8], _ at: Int) -> UInt64 { UInt64(b[at]) | UInt64(b[at + 1]) << 8 }
        func u32(_ b: [UInt8], _ at: Int) -> UInt64 { u16(b, at) | u16(b, at + 2) << 16 }
        func u64(_ b: [UInt8], _ at: Int) -> UInt64 { u32(b, at) | u32(b, at + 4) << 32 }
        guard let header = bytes(0, 64), header[0..<4] == [0x7F, 0x45, 0x4C, 0x46], header[4] == 2, header[5] == 1 else {
            return nil
        }
        let phoff = u64(header, 0x20), phentsize = Int(u16(header, 0x36)), phnum = Int(u16(header, 0x38))
        guard phentsize >= 56, phnum <= 4096, let table = bytes(phoff, phentsize * phnum) else { return nil }
        for i in 0..<phnum {
            let at = i * phentsize
            guard u32(table, at) == 4 else { continue }  // PT_NOTE
            let offset = u64(table, at + 0x08), size = u64(table, at + 0x20)
            guard size <= 1 << 20, let notes = bytes(offset, Int(size)) else { continue }
            var p = 0
            while p + 12 <= notes.count {
                let nameSize = Int(u32(notes, p)), descSize = Int(u32(notes, p + 4)), type = u32(notes, p + 8)
                let name = p + 12, desc = name + ((nameSize + 3) & ~3), next = desc + ((descSize + 3) & ~3)
                guard next <= notes.count, next > p else { break }
                if type == 3, nameSize == 4, notes[name..<(name + 3)] == [0x47, 0x4E, 0x55] {
                    return notes[desc..<(desc + descSize)].map { String(format: "%02x", $0) }.joined()
                }
                p = next
            }
        }
        return nil
    }
}
