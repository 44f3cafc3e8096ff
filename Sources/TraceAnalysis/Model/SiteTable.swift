import TraceFormat

/// Source sites interned across streams and chunks: `(stream, string id)` → ``SiteID``.
///
/// String ids are stable per stream across chunks, so a site's text is resolved once, the first
/// time its id is met, and equal texts from different streams share one ``SiteID``. Grows with
/// the number of distinct sites in the program, never with the trace's length.
public struct SiteTable: Sendable {
    /// The texts, indexed by ``SiteID``; index 0 is "" (none).
    public private(set) var texts: [String] = [""]
    private var byText: [String: SiteID] = ["": 0]
    private var byKey = IDTable(capacity: 256)
    /// The most sites, and text bytes, kept: a crafted file can reference a million long
    /// strings per stream. Past either, new texts share ``otherSite``.
    var maxSites = Int.max
    var maxTextBytes = Int.max
    private var textBytes = 0
    /// References that found the table full and got ``otherSite``.
    private(set) var overflowed: UInt64 = 0

    /// The text standing for every site past the limit.
    public static let otherSite = "(other site)"

    public init() {}

    /// The text of `id` ("" for 0).
    public subscript(id: SiteID) -> String { texts[Int(id)] }

    /// The site id for string `stringID` of `stream`, resolving it in `chunk` the first time.
    @inline(__always)
    mutating func intern(stream: UInt32, stringID: UInt64, chunk: DecodedChunk) -> SiteID {
        if stringID == 0 { return 0 }
        let key = (UInt64(stream) << 40) ^ stringID
        if let id = byKey.find(key) { return id }
        let before = overflowed
        let id = intern(text: chunk.string(stringID))
        // Past the limit the key is not kept either: it would grow with every id of every stream.
        if overflowed == before { byKey.insert(key, id) }
        return id
    }

    /// The site id of `text`.
    public mutating func intern(text: String) -> SiteID {
        if let id = byText[text] { return id }
        if texts.count >= maxSites || textBytes + text.utf8.count > maxTextBytes {
            overflowed += 1
            if let id = byText[Self.otherSite] { return id }
            return append(Self.otherSite)
        }
        textBytes += text.utf8.count
        return append(text)
    }

    private mutating func append(_ text: String) -> SiteID {
        let id = SiteID(texts.count)
        texts.append(text)
        byText[text] = id
        return id
    }

    /// The id of `text` if it was seen.
    public func lookup(text: String) -> SiteID? { byText[text] }
}
