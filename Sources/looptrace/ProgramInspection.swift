import Foundation

/// What `looptrace record` learns about a program from its ELF file before running it: whether
/// the LoopTraceAuto library can attach, and if not, the one-line reason.
struct ProgramInspection {
    /// Why the library cannot attach.
    enum Obstacle: Equatable {
        case notELF
        case notSwift
        case staticSwiftRuntime
        case syncMain
        case setuid
        case otherToolchain(program: String, ours: String)

        /// The reason, as one line.
        var line: String {
            switch self {
            case .notELF: "it is not an ELF executable (a script? record the program it runs)"
            case .notSwift: "it is not a Swift program (it does not link the Swift runtime)"
            case .staticSwiftRuntime:
                "it links the Swift runtime statically (--static-swift-stdlib): link the LoopTraceAuto product into it and run it with LOOPTRACE=FILE instead"
            case .syncMain:
                "its main is synchronous: only an async main runs the executor's run loop that factory mode replaces (LoopRuntime programs record with LOOPTRACE=FILE)"
            case .setuid: "it is setuid or setgid, so the dynamic loader ignores LD_PRELOAD for it"
            case .otherToolchain(let program, let ours):
                "it uses the Swift runtime of another toolchain (\(program); looptrace's is \(ours)): the preloaded library must come from the program's toolchain"
            }
        }
    }

    /// The first obstacle found, or nil when the library can attach.
    let obstacle: Obstacle?

    init(path: String, ourRuntime: String?) {
        obstacle = Self.inspect(path: path, ourRuntime: ourRuntime)
    }

    private static func inspect(path: String, ourRuntime: String?) -> Obstacle? {
        var info = stat()
        if stat(path, &info) == 0, info.st_mode & (S_ISUID | S_ISGID) != 0 { return .setuid }
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped),
              let elf = ELFFile(data) else { return .notELF }
        let needed = elf.neededLibraries
        guard needed.contains(where: { $0.hasPrefix("libswiftCore.so") }) else {
            return elf.hasSymbol(named: "swift_retain") ? .staticSwiftRuntime : .notSwift
        }
        if !elf.importsSymbol(named: "swift_task_asyncMainDrainQueue") { return .syncMain }
        if let ourRuntime, let theirs = elf.resolveLibrary("libswiftCore.so", executablePath: path),
           !sameLibrary(theirs, ourRuntime) {
            return .otherToolchain(program: theirs, ours: ourRuntime)
        }
        return nil
    }

    /// Whether two paths are the same runtime: the same file, or files with the same build id.
    private static func sameLibrary(_ a: String, _ b: String) -> Bool {
        let ra = URL(fileURLWithPath: a).resolvingSymlinksInPath().path
        let rb = URL(fileURLWithPath: b).resolvingSymlinksInPath().path
        if ra == rb { return true }
        guard let da = try? Data(contentsOf: URL(fileURLWithPath: ra), options: .alwaysMapped),
              let db = try? Data(contentsOf: URL(fileURLWithPath: rb), options: .alwaysMapped),
              let ida = ELFFile(da)?.buildID, let idb = ELFFile(db)?.buildID else { return false }
        return ida == idb
    }

    /// The Swift runtime this process (looptrace, built with the same toolchain as the library)
    /// has loaded.
    static func loadedSwiftRuntime() -> String? {
        guard let maps = try? String(contentsOfFile: "/proc/self/maps", encoding: .utf8) else { return nil }
        for line in maps.split(separator: "\n") where line.hasSuffix("/libswiftCore.so") {
            if let slash = line.firstIndex(of: "/") { return String(line[slash...]) }
        }
        return nil
    }
}

/// Just enough of an ELF64 little-endian file: sections, symbols, dynamic entries, build id.
/// Every offset is bounds-checked; a malformed file reads as "no such thing".
struct ELFFile {
    let data: Data

    private struct Section {
        let type: UInt32
        let link: UInt32
        let offset: Int
        let size: Int
        let entrySize: Int
    }

    private let sections: [Section]

    init?(_ data: Data) {
        self.data = data
        guard data.count >= 64, data.prefix(4) == Data([0x7f, 0x45, 0x4c, 0x46]), data[data.startIndex + 4] == 2,
              data[data.startIndex + 5] == 1 else { return nil }
        func u16(_ o: Int) -> Int { Int(data.loadLE(UInt16.self, at: o) ?? 0) }
        guard let shoff = data.loadLE(UInt64.self, at: 0x28), shoff < UInt64(data.count) else { return nil }
        let shentsize = u16(0x3a), shnum = u16(0x3c)
        guard shentsize == 64, Int(shoff) + shnum * 64 <= data.count else { return nil }
        var sections: [Section] = []
        for i in 0..<shnum {
            let base = Int(shoff) + i * 64
            let offset = Int(data.loadLE(UInt64.self, at: base + 0x18) ?? 0)
            let size = Int(data.loadLE(UInt64.self, at: base + 0x20) ?? 0)
            let type = data.loadLE(UInt32.self, at: base + 4) ?? 0
            // SHT_NOBITS occupies no file bytes.
            let fits = type == 8 || (offset >= 0 && size >= 0 && offset <= data.count && size <= data.count - offset)
            sections.append(Section(type: fits ? type : 0, link: data.loadLE(UInt32.self, at: base + 0x28) ?? 0,
                                    offset: offset, size: size,
                                    entrySize: Int(data.loadLE(UInt64.self, at: base + 0x38) ?? 0)))
        }
        self.sections = sections
    }

    private func string(in section: Int, at offset: Int) -> String? {
        guard section < sections.count else { return nil }
        let s = sections[section]
        guard offset >= 0, offset < s.size else { return nil }
        let start = data.startIndex + s.offset + offset
        let end = data[start..<(data.startIndex + s.offset + s.size)].firstIndex(of: 0) ?? (data.startIndex + s.offset + s.size)
        return String(decoding: data[start..<end], as: UTF8.self)
    }

    /// (name, defined) for every symbol of the dynamic (and, when `all`, the static) table.
    private func symbols(all: Bool, _ visit: (String, Bool, Bool) -> Bool) {
        for s in sections where (s.type == 11 || (all && s.type == 2)) && s.entrySize == 24 {
            for k in 0..<(s.size / 24) {
                let base = s.offset + k * 24
                let name = Int(data.loadLE(UInt32.self, at: base) ?? 0)
                let shndx = data.loadLE(UInt16.self, at: base + 6) ?? 0
                guard name != 0, let text = string(in: Int(s.link), at: name) else { continue }
                if !visit(text, shndx != 0, s.type == 11) { return }
            }
        }
    }

    /// Whether the dynamic symbol table imports `name` (undefined there).
    func importsSymbol(named name: String) -> Bool {
        var found = false
        symbols(all: false) { text, defined, _ in
            if text == name, !defined { found = true; return false }
            return true
        }
        return found
    }

    /// Whether any symbol table defines `name`.
    func hasSymbol(named name: String) -> Bool {
        var found = false
        symbols(all: true) { text, defined, _ in
            if text == name, defined { found = true; return false }
            return true
        }
        return found
    }

    /// (tag, value) of every dynamic entry, with the string table to read names from.
    private var dynamicEntries: (entries: [(Int64, UInt64)], strings: Int)? {
        guard let index = sections.firstIndex(where: { $0.type == 6 }) else { return nil }
        let s = sections[index]
        var entries: [(Int64, UInt64)] = []
        for k in 0..<(s.size / 16) {
            let tag = data.loadLE(Int64.self, at: s.offset + k * 16) ?? 0
            if tag == 0 { break }
            entries.append((tag, data.loadLE(UInt64.self, at: s.offset + k * 16 + 8) ?? 0))
        }
        return (entries, Int(s.link))
    }

    /// DT_NEEDED names.
    var neededLibraries: [String] {
        guard let (entries, strings) = dynamicEntries else { return [] }
        return entries.filter { $0.0 == 1 }.compactMap { string(in: strings, at: Int($0.1)) }
    }

    /// Where the loader would find `library` for this executable: its RUNPATH (or RPATH) with
    /// $ORIGIN expanded, LD_LIBRARY_PATH, then the usual system directories.
    func resolveLibrary(_ library: String, executablePath: String) -> String? {
        let origin = URL(fileURLWithPath: executablePath).resolvingSymlinksInPath().deletingLastPathComponent().path
        var directories: [String] = []
        if let (entries, strings) = dynamicEntries {
            let runpath = entries.first { $0.0 == 29 } ?? entries.first { $0.0 == 15 }
            if let runpath, let text = string(in: strings, at: Int(runpath.1)) {
                directories += text.split(separator: ":").map {
                    $0.replacingOccurrences(of: "$ORIGIN", with: origin).replacingOccurrences(of: "${ORIGIN}", with: origin)
                }
            }
        }
        if let ld = ProcessInfo.processInfo.environment["LD_LIBRARY_PATH"] {
            directories += ld.split(separator: ":").map(String.init)
        }
        directories += ["/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib", "/usr/lib", "/usr/local/lib"]
        for directory in directories {
            let candidate = directory + "/" + library
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// The GNU build id, as hex.
    var buildID: String? {
        for s in sections where s.type == 7 && s.size >= 16 {
            let nameSize = Int(data.loadLE(UInt32.self, at: s.offset) ?? 0)
            let descSize = Int(data.loadLE(UInt32.self, at: s.offset + 4) ?? 0)
            let type = data.loadLE(UInt32.self, at: s.offset + 8) ?? 0
            guard type == 3, nameSize == 4, 16 + descSize <= s.size else { continue }
            let start = data.startIndex + s.offset + 16
            return data[start..<(start + descSize)].map { String(format: "%02x", $0) }.joined()
        }
        return nil
    }
}

extension Data {
    /// A little-endian integer at `offset` (from the start), or nil past the end.
    func loadLE<T: FixedWidthInteger>(_ type: T.Type, at offset: Int) -> T? {
        guard offset >= 0, offset + MemoryLayout<T>.size <= count else { return nil }
        var value = T.zero
        Swift.withUnsafeMutableBytes(of: &value) { target in
            copyBytes(to: target.bindMemory(to: UInt8.self), from: (startIndex + offset)..<(startIndex + offset + MemoryLayout<T>.size))
        }
        return T(littleEndian: value)
    }
}
