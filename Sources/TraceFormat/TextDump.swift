/// Renders events one per line, deterministically, from the spec table: times in ns from the
/// trace start, strings resolved, enumerations by name.
public enum TextDump {
    /// One event as text: `<ns> s<stream> <name> [task=<running>] <arg>=<value> …`.
    public static func line(_ e: TraceEvent, in chunk: DecodedChunk) -> String {
        var out = "\(e.timestamp) s\(e.stream) \(e.type)"
        guard let spec = e.type.spec else { return out }
        if e.type == .stepEnd { out += " task=\(e.task)" }
        for (i, arg) in spec.args.enumerated() {
            out += " \(arg.name)="
            out += render(e, i, arg, chunk, json: false)
        }
        return out
    }

    /// One event as a JSON object on one line, with keys in spec order.
    public static func json(_ e: TraceEvent, in chunk: DecodedChunk) -> String {
        var out = "{\"t\":\(e.timestamp),\"stream\":\(e.stream),\"type\":\"\(e.type)\""
        if e.type == .stepEnd { out += ",\"task\":\(e.task)" }
        if let spec = e.type.spec {
            for (i, arg) in spec.args.enumerated() {
                out += ",\"\(arg.name)\":" + render(e, i, arg, chunk, json: true)
            }
        }
        return out + "}"
    }

    private static func render(_ e: TraceEvent, _ i: Int, _ arg: ArgSpec, _ chunk: DecodedChunk, json: Bool) -> String {
        let value = e.args[i]
        if !arg.choices.isEmpty {
            let name = value < UInt64(arg.choices.count) ? arg.choices[Int(value)] : "\(value)"
            return json ? "\"\(name)\"" : name
        }
        switch arg.kind {
        case .uvarint, .task, .handle: return "\(value)"
        case .svarint, .time: return "\(Int64(bitPattern: value))"
        case .string: return quote(chunk.string(value))
        case .text: return quote(chunk.text(value))
        }
    }

    /// A JSON string literal (also used for text dumps, so that any name prints on one line).
    public static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
