#if canImport(Glibc)
import Glibc
#endif

/// Reading a stored record for a fold: every byte is checked as `JSONParser` checks it, so a record
/// decodes here exactly when `StoredEvent.decode` accepts it (one rule for an undecodable record),
/// but only what a fold reads becomes values — type, time, actor id, subject, outcome, the changes
/// and a few `data` strings. Building a tree of every member is what makes a full decode slow, and
/// a projection rebuild decodes every record of the ledger.
extension StoredEvent {
    /// The `data` members a fold reads, through `Envelope.dataString`.
    public static let foldDataKeys = ["decision", "justification", "level", "module", "permission", "reason", "role", "scope", "user"]

    /// The record's seq, and an envelope holding only what a fold reads (`Envelope(folding:)`):
    /// no `members`, attributes, id, reason or source. `recordedAt` is left empty.
    public static func decodeForFold(_ record: [UInt8]) throws -> StoredEvent {
        var decoder = FoldDecoder()
        return try decoder.decode(record)
    }

    /// `decodeForFold` for many records in a row: its buffers are made once, not once a record.
    public struct FoldDecoder {
        private var reader = FoldReader()

        public init() {}

        public mutating func decode(_ record: UnsafeRawBufferPointer) throws(DecodingError) -> StoredEvent {
            do {
                return try reader.read(record)
            } catch let error as JSONParser.Error {
                throw DecodingError(description: "record is not JSON: \(error)")
            } catch let error as DecodingError {
                throw error
            } catch {
                throw DecodingError(description: "\(error)")
            }
        }

        public mutating func decode(_ record: [UInt8]) throws -> StoredEvent {
            try record.withUnsafeBytes { raw in try decode(raw) }
        }
    }
}

extension Envelope {
    /// The envelope `decodeForFold` reads back from this event's record, made from the event as
    /// appended instead: the projection's follower folds the writer's events in this form rather than
    /// reading their records back and decoding them. Equal to the decoded form (`FoldDecodingTests`,
    /// `FoldFormTests`): the same few `data` strings in key order (keys compared as bytes, as the
    /// decoder matches them), and objects inside the changes in key order, as records hold them.
    public var foldForm: Envelope {
        let data = data.map { members in
            members.filter { member in
                member.value.stringValue != nil && StoredEvent.foldDataKeys.contains { utf8Equal($0, member.key) }
            }.sorted { utf8Compare($0.key, $1.key) < 0 }
        }
        let changes = changes.contains(where: { $0.old?.holdsObject == true || $0.new?.holdsObject == true })
            ? changes.map { Envelope.Change(field: $0.field, old: $0.old?.inKeyOrder, new: $0.new?.inKeyOrder) } : changes
        return Envelope(folding: type, instant: instant, actor: actor.id, subject: subject, changes: changes, data: data, outcome: outcome)
    }
}

extension JSONValue {
    fileprivate var holdsObject: Bool {
        switch self {
        case .object: true
        case .array(let elements): elements.contains { $0.holdsObject }
        default: false
        }
    }

    /// The value with every object's members in key order, as its canonical bytes list them.
    fileprivate var inKeyOrder: JSONValue {
        switch self {
        case .object(let members):
            .object(CanonicalJSON.keyOrder(members).map { JSONMember(members[$0].key, members[$0].value.inKeyOrder) })
        case .array(let elements): .array(elements.map(\.inKeyOrder))
        default: self
        }
    }
}

/// The members of a record, by name; `other` is validated and passed over.
private enum RecordKey {
    case seq, recordedAt, id, type, time, actor, subject, changes, data, outcome, other

    static let names = SpanNames<RecordKey>([
        ("seq", .seq), ("recordedAt", .recordedAt), ("id", .id), ("type", .type), ("time", .time), ("actor", .actor),
        ("subject", .subject), ("changes", .changes), ("data", .data), ("outcome", .outcome),
    ])
}

fileprivate struct FoldReader {
    /// Known event types as immortal literals: a fold then copies no type string.
    static let knownTypes = SpanNames<String>(Catalog.knownTypes.map { ($0, $0) })
    static let dataKeys = SpanNames<Int>(StoredEvent.foldDataKeys.enumerated().map { ($1, $0) })

    /// Keys of the objects being read, for the duplicate check; one buffer reused for every object
    /// of the record, made once with room for a record's keys at every depth.
    var keys: [JSONParser.StringSpan] = []

    init() { keys.reserveCapacity(32) }

    mutating func read(_ record: UnsafeRawBufferPointer) throws -> StoredEvent {
        var p = JSONParser(record, maxDepth: JSONParser.defaultMaxDepth)
        var seq: UInt64?
        var hasRecordedAt = false, hasId = false
        var type: String?, instant: Instant?, hasTime = false
        var actor: String?, subject: Envelope.Subject?
        var changes: [Envelope.Change] = []
        var data: [JSONMember]?
        var outcome = Envelope.Outcome.success
        p.skipWhitespace()
        guard p.peek() == UInt8(ascii: "{") else {
            try p.skipValue(depth: 0, keys: &keys)
            try p.expectEnd()
            throw StoredEvent.DecodingError(description: "record is not an object")
        }
        try p.forEachMember(depth: 1, leadingKeys: 2, keys: &keys) { (p, key, keys) throws(JSONParser.Error) in
            switch p.name(of: key, among: RecordKey.names) ?? .other {
            case .seq:
                if p.peek() == UInt8(ascii: "-") || p.peek().map({ $0 >= 0x30 && $0 <= 0x39 }) == true {
                    let start = p.position
                    try p.skipNumber()
                    seq = UInt64(p.text(start..<p.position))
                } else {
                    try p.skipValue(depth: 1, keys: &keys)
                }
            case .recordedAt: hasRecordedAt = try p.skipStringMember(keys: &keys)
            case .id: hasId = try p.skipStringMember(keys: &keys)
            case .type:
                if let span = try p.stringSpan(keys: &keys) { type = p.interned(span, among: Self.knownTypes) }
            case .time:
                if let span = try p.stringSpan(keys: &keys) {
                    hasTime = true
                    instant = span.escaped ? Instant(rfc3339: p.string(span)) : Instant(rfc3339: p.raw(span.range))
                }
            case .actor:
                actor = nil
                guard p.peek() == UInt8(ascii: "{") else { return try p.skipValue(depth: 1, keys: &keys) }
                try p.forEachMember(depth: 2, keys: &keys) { (p, key, keys) throws(JSONParser.Error) in
                    if p.keyEquals(key, "id") {
                        actor = try p.stringSpan(keys: &keys).map { p.string($0) }
                    } else {
                        try p.skipValue(depth: 2, keys: &keys)
                    }
                }
            case .subject:
                guard p.peek() == UInt8(ascii: "{") else { return try p.skipValue(depth: 1, keys: &keys) }
                var subjectType: String?, subjectId: String?
                try p.forEachMember(depth: 2, keys: &keys) { (p, key, keys) throws(JSONParser.Error) in
                    if p.keyEquals(key, "type") {
                        subjectType = try p.stringSpan(keys: &keys).map { p.string($0) }
                    } else if p.keyEquals(key, "id") {
                        subjectId = try p.stringSpan(keys: &keys).map { p.string($0) }
                    } else {
                        try p.skipValue(depth: 2, keys: &keys)
                    }
                }
                if let subjectType, let subjectId { subject = Envelope.Subject(type: subjectType, id: subjectId) }
            case .changes:
                changes = []
                guard p.peek() == UInt8(ascii: "[") else { return try p.skipValue(depth: 1, keys: &keys) }
                changes.reserveCapacity(4)
                try p.forEachElement(depth: 2) { (p) throws(JSONParser.Error) in
                    guard p.peek() == UInt8(ascii: "{") else { return try p.skipValue(depth: 2, keys: &keys) }
                    var field: String?, old: JSONValue?, new: JSONValue?
                    try p.forEachMember(depth: 3, keys: &keys) { (p, key, keys) throws(JSONParser.Error) in
                        if p.keyEquals(key, "field") {
                            field = try p.stringSpan(keys: &keys).map { p.string($0) }
                        } else if p.keyEquals(key, "old") {
                            old = try p.parseValue(depth: 3)
                        } else if p.keyEquals(key, "new") {
                            new = try p.parseValue(depth: 3)
                        } else {
                            try p.skipValue(depth: 3, keys: &keys)
                        }
                    }
                    if let field { changes.append(Envelope.Change(field: field, old: old, new: new)) }
                }
            case .data:
                data = nil
                guard p.peek() == UInt8(ascii: "{") else { return try p.skipValue(depth: 1, keys: &keys) }
                var members: [JSONMember] = []
                try p.forEachMember(depth: 2, keys: &keys) { (p, key, keys) throws(JSONParser.Error) in
                    if p.peek() == UInt8(ascii: "\""), let wanted = p.name(of: key, among: Self.dataKeys) {
                        let value = try p.parseString()
                        members.append(JSONMember(StoredEvent.foldDataKeys[wanted], .string(value)))
                    } else {
                        try p.skipValue(depth: 2, keys: &keys)
                    }
                }
                data = members
            case .outcome:
                if let span = try p.stringSpan(keys: &keys) {
                    outcome = p.keyEquals(span, "failure") ? .failure : .success
                } else {
                    outcome = .success
                }
            case .other:
                try p.skipValue(depth: 1, keys: &keys)
            }
        }
        try p.expectEnd()
        guard let seq, hasRecordedAt, hasId, let type, hasTime, let instant, let actor, let subject else {
            throw StoredEvent.DecodingError(description: "record lacks seq, recordedAt, id, type, time, actor.id or subject")
        }
        let envelope = Envelope(folding: type, instant: instant, actor: actor, subject: subject, changes: changes, data: data, outcome: outcome)
        return StoredEvent(seq: seq, recordedAt: "", envelope: envelope)
    }
}

// MARK: - Validating without building

extension JSONParser {
    /// A string being read (a key or a value): where its text is, and whether it has escapes (then
    /// it is read decoded, and keys are compared decoded, as `parseObject` compares them).
    struct StringSpan {
        var range: Range<Int>
        var escaped: Bool
    }

    func raw(_ range: Range<Int>) -> UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: bytes[range]) }

    func text(_ range: Range<Int>) -> String { String(decoding: raw(range), as: UTF8.self) }

    /// The string a span holds (already validated).
    func string(_ span: StringSpan) -> String {
        guard span.escaped else { return text(span.range) }
        var sub = JSONParser(bytes, maxDepth: maxDepth)
        sub.position = span.range.lowerBound - 1
        return (try? sub.parseString()) ?? ""
    }

    /// The decoded bytes of a span, for comparing keys that have escapes.
    func decodedBytes(_ span: StringSpan) -> [UInt8] {
        span.escaped ? Array(string(span).utf8) : Array(raw(span.range))
    }

    func keyEquals(_ span: StringSpan, _ name: StaticString) -> Bool {
        let expected = UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
        if span.escaped { return decodedBytes(span).elementsEqual(expected) }
        return span.range.count == expected.count && Self.byteOrder(bytes.baseAddress! + span.range.lowerBound, expected.baseAddress!, expected.count) == 0
    }

    /// The order of `count` bytes at `a` and at `b` (negative, 0, positive), compared here rather
    /// than by a call to `memcmp`: the keys and names a record is read by are a few bytes long, and
    /// the calls were 15% of decoding one (BENCHMARKS.md).
    @inline(__always)
    static func byteOrder(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ count: Int) -> Int {
        var i = 0
        while i + 8 <= count {
            let x = a.loadUnaligned(fromByteOffset: i, as: UInt64.self), y = b.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            if x != y { return x.bigEndian < y.bigEndian ? -1 : 1 }
            i += 8
        }
        while i < count {
            let x = a.load(fromByteOffset: i, as: UInt8.self), y = b.load(fromByteOffset: i, as: UInt8.self)
            if x != y { return Int(x) - Int(y) }
            i += 1
        }
        return 0
    }

    func name<Tag>(of span: StringSpan, among names: SpanNames<Tag>) -> Tag? {
        if span.escaped { return decodedBytes(span).withUnsafeBytes { names.match($0.baseAddress!, $0.count) } }
        return names.match(bytes.baseAddress! + span.range.lowerBound, span.range.count)
    }

    /// The literal for a known string, or a new string.
    func interned(_ span: StringSpan, among known: SpanNames<String>) -> String {
        if !span.escaped, let hit = known.match(bytes.baseAddress! + span.range.lowerBound, span.range.count) { return hit }
        return string(span)
    }

    /// At a value: a string's span, or nil after validating a value of another kind.
    mutating func stringSpan(keys: inout [StringSpan]) throws(Error) -> StringSpan? {
        guard peek() == UInt8(ascii: "\"") else {
            try skipValue(depth: 1, keys: &keys)
            return nil
        }
        return try skipString()
    }

    /// At a value: whether it is a string, after validating it.
    mutating func skipStringMember(keys: inout [StringSpan]) throws(Error) -> Bool {
        try stringSpan(keys: &keys) != nil
    }

    /// Validates a string as `parseString` does and returns where its text is.
    mutating func skipString() throws(Error) -> StringSpan {
        let quote = position
        let start = position + 1
        let n = bytes.count
        var i = start
        var high: UInt8 = 0
        // The common case, scanned without optionals: no escape before the closing quote. Eight bytes
        // at a time while none of them is a quote, a backslash or a control character.
        var highBits: UInt64 = 0
        while i + 8 <= n {
            let word = bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            if Self.holdsStringStop(word) { break }
            highBits |= word
            i += 8
        }
        if highBits & 0x8080_8080_8080_8080 != 0 { high = 0x80 }
        while i < n {
            let c = bytes[i]
            if c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") || c < 0x20 { break }
            high |= c
            i += 1
        }
        if i < n, bytes[i] == UInt8(ascii: "\"") {
            position = i + 1
            if high >= 0x80 && !isValidUTF8(raw(start..<i)) { throw Error(message: "invalid UTF-8 in string", offset: start) }
            return StringSpan(range: start..<i, escaped: false)
        }
        if i < n, bytes[i] < 0x20 {
            position = i
            throw error("unescaped control character \(describe(bytes[i])) in string")
        }
        guard i < n else { throw Error(message: "unterminated string", offset: quote) }
        // Escapes: rare in records; the building parser checks them, then the span is read decoded.
        position = quote
        _ = try parseString()
        return StringSpan(range: start..<(position - 1), escaped: true)
    }

    /// Whether any of a word's eight bytes ends a plain run of string: `"`, `\\` or below 0x20. The lowest
    /// flag of each test marks a byte that passes it (higher ones may be borrows), so a word flagged
    /// by none holds none of them, and one flagged is scanned again a byte at a time.
    @inline(__always)
    static func holdsStringStop(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        func zeroByte(_ x: UInt64) -> UInt64 { (x &- ones) & ~x & highs }
        let below0x20 = (word &- ones &* 0x20) & ~word & highs
        return (zeroByte(word ^ (ones &* 0x22)) | zeroByte(word ^ (ones &* 0x5C)) | below0x20) != 0
    }

    /// Validates a value as `parseValue` does, building nothing.
    mutating func skipValue(depth: Int, keys: inout [StringSpan]) throws(Error) {
        guard let c = peek() else { throw error("unexpected end of input") }
        switch c {
        case UInt8(ascii: "{"):
            try forEachMember(depth: depth + 1, keys: &keys) { (p, _, keys) throws(Error) in try p.skipValue(depth: depth + 1, keys: &keys) }
        case UInt8(ascii: "["):
            try forEachElement(depth: depth + 1) { (p) throws(Error) in try p.skipValue(depth: depth + 1, keys: &keys) }
        case UInt8(ascii: "\""): _ = try skipString()
        case UInt8(ascii: "t"): try expectLiteral("true")
        case UInt8(ascii: "f"): try expectLiteral("false")
        case UInt8(ascii: "n"): try expectLiteral("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try skipNumber()
        default: throw error("unexpected character \(describe(c))")
        }
    }

    /// At `{`: checks the object's grammar and its keys (strings, no duplicates), handing each value
    /// to `body`, which must read or skip it. `depth` is the object's own depth.
    ///
    /// A canonical record's keys come plain and ascending after its first two (`seq`, `recordedAt`:
    /// `CanonicalRecord`), and a key above the one before cannot repeat an earlier one: while they
    /// do, only the one before is kept, besides the `leadingKeys` first ones, which each later key is
    /// compared with. The first key that breaks the order gathers the object's earlier keys into
    /// `keys` (`gatherKeys`), and the check goes on against all of them, as `parseObject` checks.
    /// (Every record broke the order at its second key before, and keeping and scanning every key
    /// was a seventh of decoding one.)
    mutating func forEachMember(
        depth: Int, leadingKeys: Int = 0, keys: inout [StringSpan],
        _ body: (inout JSONParser, StringSpan, inout [StringSpan]) throws(Error) -> Void
    ) throws(Error) {
        guard depth <= maxDepth else { throw error("nesting deeper than \(maxDepth) levels") }
        let objectStart = position
        position += 1
        skipWhitespace()
        if peek() == UInt8(ascii: "}") {
            position += 1
            return
        }
        let base = keys.count
        defer { while keys.count > base { keys.removeLast() } }
        var seen: Set<[UInt8]>?
        var previous: StringSpan?
        var listed = false
        while true {
            skipWhitespace()
            guard peek() == UInt8(ascii: "\"") else { throw error("expected a string key in object") }
            let keyOffset = position
            let key = try skipString()
            if !listed {
                // While listing only the leading keys: a plain key that repeats none of them, and
                // past them one above the key before.
                let leading = keys.count - base < leadingKeys
                if !key.escaped, leading || previous.map({ compare($0.range, key.range) < 0 }) ?? true,
                    !keys[base...].contains(where: { $0.range.count == key.range.count && compare($0.range, key.range) == 0 })
                {
                    if leading { keys.append(key) } else { previous = key }
                } else {
                    listed = true
                    keys.removeSubrange(base...)
                    gatherKeys(of: objectStart, before: keyOffset, into: &keys)
                }
            }
            if listed {
                if isDuplicate(key, among: keys, from: base, seen: &seen) {
                    throw Error(message: "duplicate key \"\(string(key).prefix(64))\" in object", offset: keyOffset)
                }
                keys.append(key)
            }
            skipWhitespace()
            guard next() == UInt8(ascii: ":") else { throw error("expected ':' after object key", back: 1) }
            skipWhitespace()
            try body(&self, key, &keys)
            skipWhitespace()
            guard let c = next() else { throw error("unterminated object") }
            if c == UInt8(ascii: "}") { return }
            guard c == UInt8(ascii: ",") else { throw error("expected ',' or '}' in object", back: 1) }
        }
    }

    /// The keys of the object at `objectStart` that come before `end`, read again: they were all
    /// checked on the first reading, so this one only finds where they are.
    private func gatherKeys(of objectStart: Int, before end: Int, into keys: inout [StringSpan]) {
        var reader = self
        reader.position = objectStart + 1
        var nested: [StringSpan] = []
        while reader.position < end {
            reader.skipWhitespace()
            guard reader.peek() == UInt8(ascii: "\""), let key = try? reader.skipString() else { return }
            keys.append(key)
            reader.skipWhitespace()
            reader.position += 1  // ':'
            reader.skipWhitespace()
            guard (try? reader.skipValue(depth: 0, keys: &nested)) != nil else { return }
            reader.skipWhitespace()
            reader.position += 1  // ','
        }
    }

    /// At `[`: checks the array's grammar, handing each element to `body`, which must read or skip it.
    mutating func forEachElement(depth: Int, _ body: (inout JSONParser) throws(Error) -> Void) throws(Error) {
        guard depth <= maxDepth else { throw error("nesting deeper than \(maxDepth) levels") }
        position += 1
        skipWhitespace()
        if peek() == UInt8(ascii: "]") {
            position += 1
            return
        }
        while true {
            skipWhitespace()
            try body(&self)
            skipWhitespace()
            guard let c = next() else { throw error("unterminated array") }
            if c == UInt8(ascii: "]") { return }
            guard c == UInt8(ascii: ",") else { throw error("expected ',' or ']' in array", back: 1) }
        }
    }

    /// Keys compare decoded, as `parseObject` compares them: by scanning up to its limit, then by
    /// hashing.
    private func isDuplicate(_ key: StringSpan, among keys: [StringSpan], from base: Int, seen: inout Set<[UInt8]>?) -> Bool {
        let earlier = keys[base...]
        if earlier.count < Self.linearKeyScanLimit {
            for other in earlier {
                if !key.escaped && !other.escaped {
                    if compare(other.range, key.range) == 0 { return true }
                } else if decodedBytes(other) == decodedBytes(key) {
                    return true
                }
            }
            return false
        }
        if seen == nil { seen = Set(earlier.map { decodedBytes($0) }) }
        return !seen!.insert(decodedBytes(key)).inserted
    }

    /// Byte order of two spans of the input (bytes, then length).
    func compare(_ a: Range<Int>, _ b: Range<Int>) -> Int {
        let order = Self.byteOrder(bytes.baseAddress! + a.lowerBound, bytes.baseAddress! + b.lowerBound, min(a.count, b.count))
        return order != 0 ? order : a.count - b.count
    }
}

/// Names a span is matched against (a record's keys, the known event types), each held as four
/// zero-padded words, so matching compares words and touches no array of its own: tables of
/// `[UInt8]` names retained and released each name they were compared with, and that counting was
/// a tenth of decoding a record. A name longer than 32 bytes is a mistake in the table, stopped where
/// the table is made (the first decode, in every test that decodes).
struct SpanNames<Tag>: Sendable where Tag: Sendable {
    private var words: [UInt64] = []
    private var counts: [Int] = []
    private var tags: [Tag] = []

    init(_ names: [(String, Tag)]) {
        for (name, tag) in names {
            var padded = Array(name.utf8)
            precondition(padded.count <= 32, "a name longer than 32 bytes")
            counts.append(padded.count)
            padded += repeatElement(0, count: 32 - padded.count)
            padded.withUnsafeBytes { raw in for w in 0..<4 { words.append(raw.loadUnaligned(fromByteOffset: w * 8, as: UInt64.self)) } }
            tags.append(tag)
        }
    }

    /// The tag of the name that is exactly these `count` bytes, if any.
    func match(_ start: UnsafeRawPointer, _ count: Int) -> Tag? {
        guard count <= 32 else { return nil }
        var span: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        withUnsafeMutableBytes(of: &span) { $0.baseAddress!.copyMemory(from: start, byteCount: count) }
        return words.withUnsafeBufferPointer { words in
            for k in counts.indices where counts[k] == count {
                if words[4 * k] == span.0 && words[4 * k + 1] == span.1 && words[4 * k + 2] == span.2 && words[4 * k + 3] == span.3 {
                    return tags[k]
                }
            }
            return nil
        }
    }
}

/// Whether bytes are well-formed UTF-8 as `String(validating:as: UTF8.self)` requires: no overlong
/// forms, no surrogates, nothing past U+10FFFF.
func isValidUTF8(_ bytes: UnsafeRawBufferPointer) -> Bool {
    var i = 0
    let n = bytes.count
    while i < n {
        let b0 = bytes[i]
        if b0 < 0x80 {
            i += 1
            continue
        }
        func continuation(_ k: Int) -> Bool { i + k < n && bytes[i + k] & 0xC0 == 0x80 }
        switch b0 {
        case 0xC2...0xDF:
            guard continuation(1) else { return false }
            i += 2
        case 0xE0...0xEF:
            guard continuation(1), continuation(2) else { return false }
            let b1 = bytes[i + 1]
            if b0 == 0xE0 && b1 < 0xA0 { return false }  // overlong
            if b0 == 0xED && b1 > 0x9F { return false }  // surrogates
            i += 3
        case 0xF0...0xF4:
            guard continuation(1), continuation(2), continuation(3) else { return false }
            let b1 = bytes[i + 1]
            if b0 == 0xF0 && b1 < 0x90 { return false }  // overlong
            if b0 == 0xF4 && b1 > 0x8F { return false }  // past U+10FFFF
            i += 4
        default:
            return false
        }
    }
    return true
}
