/// The strings an export refers to by index — task names, sites, state, callback and span
/// names — each kept once with its JSON-escaped bytes, so writers copy bytes instead of escaping
/// per event. Grows with distinct names and sites, never with the trace's length.
public struct ExportStrings {
    /// The texts by index; index 0 is "".
    public private(set) var texts: [String] = [""]
    /// The JSON-escaped UTF-8 of each text, without quotes.
    private(set) var escaped: [[UInt8]] = [[]]
    private var byText: [String: Int32] = ["": 0]

    public init() {}

    /// The index of `text`, adding it the first time.
    public mutating func intern(_ text: String) -> Int32 {
        if let i = byText[text] { return i }
        let i = Int32(texts.count)
        texts.append(text)
        escaped.append(Self.escape(text))
        byText[text] = i
        return i
    }

    public subscript(index: Int32) -> String { texts[Int(index)] }

    /// `text` as the bytes between the quotes of a JSON string.
    static func escape(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        for b in text.utf8 {
            switch b {
            case UInt8(ascii: "\""): out += [92, 34]
            case UInt8(ascii: "\\"): out += [92, 92]
            case 10: out += [92, UInt8(ascii: "n")]
            case 13: out += [92, UInt8(ascii: "r")]
            case 9: out += [92, UInt8(ascii: "t")]
            case 0..<0x20: out += [92, UInt8(ascii: "u"), 48, 48, hex[Int(b >> 4)], hex[Int(b & 15)]]
            default: out.append(b)
            }
        }
        return out
    }

    /// Appends the quoted JSON string of `index` to `buffer` (room is the caller's concern for
    /// short names; long ones grow the buffer).
    @inline(__always)
    func appendQuoted(_ index: Int32, to buffer: inout ExportBuffer) {
        escaped[Int(index)].withUnsafeBufferPointer { bytes in
            buffer.ensure(bytes.count + 2)
            buffer.byte(34)
            buffer.bytes(bytes)
            buffer.byte(34)
        }
    }

    /// The raw UTF-8 of `index`, for protobuf strings.
    @inline(__always)
    func appendUTF8(_ index: Int32, to buffer: inout ExportBuffer) {
        var text = texts[Int(index)]
        text.withUTF8 { bytes in
            buffer.ensure(bytes.count + 10)
            buffer.varint(UInt64(bytes.count))
            buffer.bytes(bytes)
        }
    }
}
