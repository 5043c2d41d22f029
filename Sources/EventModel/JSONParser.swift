/// A strict RFC 8259 parser for untrusted bodies: valid UTF-8 only, no lone surrogates,
/// no duplicate keys, no trailing commas or leading zeros, and a nesting limit, so that a
/// 100k-deep body is refused after `maxDepth` levels instead of exhausting the stack.
public struct JSONParser {
    public struct Error: Swift.Error, Equatable, CustomStringConvertible, Sendable {
        public var message: String
        /// Byte offset in the input where the problem was found.
        public var offset: Int
        /// The element of a top-level array it was found in (`parseBody` only).
        public var element: Int? = nil
        /// The element (or the one value) passed `parseBody`'s `maxElementBytes`: not malformed, too large.
        public var tooLarge = false
        public var description: String { "\(message) at byte \(offset)" }
    }

    /// A top-level value with the byte range it occupies in the input.
    public struct Spanned: Sendable {
        public var value: JSONValue
        public var range: Range<Int>
        /// The bytes of `range` are already the value's canonical JSON: no whitespace, no escape, every
        /// object's keys in ascending byte order. Clients that send canonical events spare the server
        /// writing them again (a quarter of a parse).
        public var isCanonical = false
        /// When canonical and an object: where each of its members starts (its key's opening quote),
        /// relative to `range`, so that members can be put between them without scanning again.
        public var memberStarts: [Int] = []
    }

    public static let defaultMaxDepth = 64

    let bytes: UnsafeRawBufferPointer
    var position = 0
    let maxDepth: Int
    /// While parsing an element of a top-level array: where it started and how long it may be, so a
    /// huge element is refused as soon as it passes the limit, not after it is all a tree.
    private var elementStart = 0
    private var elementIndex: Int?
    private var maxElementBytes = Int.max
    /// Cleared on the first byte that canonical JSON would write otherwise (see `Spanned.isCanonical`).
    private var canonicalSoFar = true
    /// The depth an element's own object is parsed at (`parseBody` only), and where its members start
    /// (from `elementStart`) while it is canonical.
    private var elementObjectDepth = -1
    private var memberStarts: [Int] = []

    init(_ bytes: UnsafeRawBufferPointer, maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    /// Objects up to this size look for a duplicate key by scanning; larger ones hash, so a body of
    /// one object with a million keys costs a million hash look-ups, not 10^12 comparisons.
    static let linearKeyScanLimit = 16

    /// Parses one complete JSON document.
    public static func parse(_ bytes: UnsafeRawBufferPointer, maxDepth: Int = defaultMaxDepth) throws(Error) -> JSONValue {
        var parser = JSONParser(bytes, maxDepth: maxDepth)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        try parser.expectEnd()
        return value
    }

    public static func parse(_ bytes: [UInt8], maxDepth: Int = defaultMaxDepth) throws -> JSONValue {
        try bytes.withUnsafeBytes { raw in try parse(raw, maxDepth: maxDepth) }
    }

    /// Parses a body that is one value or an array of values, keeping each element's byte range
    /// (a batch's per-event size limit applies to what the client sent). `isArray` tells which it was.
    /// An element (or the one value) longer than `maxElementBytes` throws an error with `tooLarge` set
    /// as soon as the parser passes the limit.
    public static func parseBody(
        _ bytes: UnsafeRawBufferPointer, maxDepth: Int = defaultMaxDepth, maxElementBytes: Int = .max
    ) throws(Error) -> (elements: [Spanned], isArray: Bool) {
        var parser = JSONParser(bytes, maxDepth: maxDepth)
        parser.maxElementBytes = maxElementBytes
        parser.skipWhitespace()
        guard parser.peek() == UInt8(ascii: "[") else {
            parser.elementObjectDepth = 1
            let element = try parser.parseElement(depth: 0)
            try parser.expectEnd()
            return ([element], false)
        }
        parser.position += 1
        parser.elementObjectDepth = 2
        var elements: [Spanned] = []
        parser.skipWhitespace()
        if parser.peek() == UInt8(ascii: "]") {
            parser.position += 1
            try parser.expectEnd()
            return ([], true)
        }
        while true {
            parser.skipWhitespace()
            parser.elementIndex = elements.count
            let element = try parser.parseElement(depth: 1)
            try parser.checkElementSize()
            elements.append(element)
            parser.skipWhitespace()
            guard let c = parser.next() else { throw parser.error("unterminated array") }
            if c == UInt8(ascii: "]") { break }
            guard c == UInt8(ascii: ",") else { throw parser.error("expected ',' or ']' in array", back: 1) }
        }
        try parser.expectEnd()
        return (elements, true)
    }

    /// One element of a body (or the body's one value), with its range and whether it is canonical.
    private mutating func parseElement(depth: Int) throws(Error) -> Spanned {
        elementStart = position
        canonicalSoFar = true
        memberStarts.removeAll(keepingCapacity: true)
        let value = try parseValue(depth: depth)
        guard canonicalSoFar else { return Spanned(value: value, range: elementStart..<position) }
        return Spanned(value: value, range: elementStart..<position, isCanonical: true, memberStarts: memberStarts)
    }

    /// Throws, with the element's start offset, once the element passes `maxElementBytes`.
    private func checkElementSize() throws(Error) {
        if position - elementStart > maxElementBytes {
            throw Error(message: "element too large", offset: elementStart, element: elementIndex, tooLarge: true)
        }
    }

    // MARK: - Grammar

    mutating func parseValue(depth: Int) throws(Error) -> JSONValue {
        guard let c = peek() else { throw error("unexpected end of input") }
        switch c {
        case UInt8(ascii: "{"):
            return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["):
            return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""):
            return .string(try parseString())
        case UInt8(ascii: "t"):
            try expectLiteral("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try expectLiteral("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try expectLiteral("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return .number(try parseNumber())
        default:
            throw error("unexpected character \(describe(c))")
        }
    }

    private mutating func parseObject(depth: Int) throws(Error) -> JSONValue {
        guard depth <= maxDepth else { throw error("nesting deeper than \(maxDepth) levels") }
        position += 1
        var members: [JSONMember] = []
        skipWhitespace()
        if peek() == UInt8(ascii: "}") {
            position += 1
            return .object(members)
        }
        // An event's envelope has about ten members: growing from one would copy them four times.
        members.reserveCapacity(8)
        var keys = Set<[UInt8]>()
        while true {
            skipWhitespace()
            try checkElementSize()
            guard peek() == UInt8(ascii: "\"") else { throw error("expected a string key in object") }
            let keyOffset = position
            let key = try parseString()
            let duplicate: Bool
            if members.count < Self.linearKeyScanLimit {
                duplicate = members.contains(where: { utf8Equal($0.key, key) })
            } else {
                if keys.isEmpty { keys = Set(members.map { Array($0.key.utf8) }) }
                duplicate = !keys.insert(Array(key.utf8)).inserted
            }
            if duplicate {
                throw Error(message: "duplicate key \"\(key.prefix(64))\" in object", offset: keyOffset)
            }
            if canonicalSoFar {
                if let previous = members.last, utf8Compare(previous.key, key) > 0 {
                    canonicalSoFar = false
                } else if depth == elementObjectDepth {
                    memberStarts.append(keyOffset - elementStart)
                }
            }
            skipWhitespace()
            guard next() == UInt8(ascii: ":") else { throw error("expected ':' after object key", back: 1) }
            skipWhitespace()
            let value = try parseValue(depth: depth)
            members.append(JSONMember(key, value))
            skipWhitespace()
            guard let c = next() else { throw error("unterminated object") }
            if c == UInt8(ascii: "}") { return .object(members) }
            guard c == UInt8(ascii: ",") else { throw error("expected ',' or '}' in object", back: 1) }
        }
    }

    private mutating func parseArray(depth: Int) throws(Error) -> JSONValue {
        guard depth <= maxDepth else { throw error("nesting deeper than \(maxDepth) levels") }
        position += 1
        var elements: [JSONValue] = []
        skipWhitespace()
        if peek() == UInt8(ascii: "]") {
            position += 1
            return .array(elements)
        }
        while true {
            skipWhitespace()
            try checkElementSize()
            elements.append(try parseValue(depth: depth))
            skipWhitespace()
            guard let c = next() else { throw error("unterminated array") }
            if c == UInt8(ascii: "]") { return .array(elements) }
            guard c == UInt8(ascii: ",") else { throw error("expected ',' or ']' in array", back: 1) }
        }
    }

    private mutating func parseNumber() throws(Error) -> String {
        let start = position
        try skipNumber()
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
    }

    /// Moves past a number, checking its grammar.
    mutating func skipNumber() throws(Error) {
        if peek() == UInt8(ascii: "-") { position += 1 }
        guard let first = peek(), isDigit(first) else { throw error("invalid number") }
        if first == UInt8(ascii: "0") {
            position += 1
            if let c = peek(), isDigit(c) { throw error("leading zero in number") }
        } else {
            while let c = peek(), isDigit(c) { position += 1 }
        }
        if peek() == UInt8(ascii: ".") {
            position += 1
            guard let c = peek(), isDigit(c) else { throw error("expected digits after decimal point") }
            while let c = peek(), isDigit(c) { position += 1 }
        }
        if let c = peek(), c == UInt8(ascii: "e") || c == UInt8(ascii: "E") {
            position += 1
            if let s = peek(), s == UInt8(ascii: "+") || s == UInt8(ascii: "-") { position += 1 }
            guard let d = peek(), isDigit(d) else { throw error("expected digits in exponent") }
            while let d = peek(), isDigit(d) { position += 1 }
        }
    }

    mutating func parseString() throws(Error) -> String {
        let quote = position
        position += 1
        let start = position
        // Fast path: no escapes, so the bytes are the string once they are checked to be UTF-8 (ASCII,
        // seen on the way, needs no check).
        var highBits: UInt8 = 0
        while let c = peek() {
            if c == UInt8(ascii: "\"") {
                let slice = UnsafeRawBufferPointer(rebasing: bytes[start..<position])
                position += 1
                if highBits < 0x80 { return String(decoding: slice, as: UTF8.self) }
                return try validatedUTF8(slice, at: start)
            }
            highBits |= c
            if c == UInt8(ascii: "\\") { break }
            if c < 0x20 { throw error("unescaped control character \(describe(c)) in string") }
            position += 1
        }
        guard peek() != nil else { throw Error(message: "unterminated string", offset: quote) }
        canonicalSoFar = false
        var buffer = [UInt8](UnsafeRawBufferPointer(rebasing: bytes[start..<position]))
        while let c = next() {
            switch c {
            case UInt8(ascii: "\""):
                let decoded = buffer.withUnsafeBytes { raw in decodeUTF8(raw) }
                guard let decoded else { throw Error(message: "invalid UTF-8 in string", offset: start) }
                return decoded
            case UInt8(ascii: "\\"):
                try parseEscape(into: &buffer)
            case 0..<0x20:
                throw error("unescaped control character \(describe(c)) in string", back: 1)
            default:
                buffer.append(c)
            }
        }
        throw Error(message: "unterminated string", offset: quote)
    }

    mutating func parseEscape(into buffer: inout [UInt8]) throws(Error) {
        guard let e = next() else { throw error("unterminated escape") }
        switch e {
        case UInt8(ascii: "\""): buffer.append(0x22)
        case UInt8(ascii: "\\"): buffer.append(0x5C)
        case UInt8(ascii: "/"): buffer.append(0x2F)
        case UInt8(ascii: "b"): buffer.append(0x08)
        case UInt8(ascii: "f"): buffer.append(0x0C)
        case UInt8(ascii: "n"): buffer.append(0x0A)
        case UInt8(ascii: "r"): buffer.append(0x0D)
        case UInt8(ascii: "t"): buffer.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = try parseHex4()
            if (0xD800...0xDBFF).contains(scalar) {
                guard next() == UInt8(ascii: "\\"), next() == UInt8(ascii: "u") else {
                    throw error("lone surrogate \\u\(hex(scalar)) in string")
                }
                let low = try parseHex4()
                guard (0xDC00...0xDFFF).contains(low) else { throw error("lone surrogate \\u\(hex(scalar)) in string") }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00...0xDFFF).contains(scalar) {
                throw error("lone surrogate \\u\(hex(scalar)) in string")
            }
            buffer.append(contentsOf: Array(String(Unicode.Scalar(scalar)!).utf8))
        default:
            throw error("invalid escape \\\(describe(e)) in string", back: 1)
        }
    }

    mutating func parseHex4() throws(Error) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let c = next() else { throw error("unterminated \\u escape") }
            let digit: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = c - UInt8(ascii: "A") + 10
            default: throw error("invalid hex digit in \\u escape", back: 1)
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    private func validatedUTF8(_ raw: UnsafeRawBufferPointer, at offset: Int) throws(Error) -> String {
        guard let s = decodeUTF8(raw) else { throw Error(message: "invalid UTF-8 in string", offset: offset) }
        return s
    }

    func decodeUTF8(_ raw: UnsafeRawBufferPointer) -> String? {
        // ASCII needs no validation.
        if !raw.contains(where: { $0 >= 0x80 }) { return String(decoding: raw, as: UTF8.self) }
        return String(validating: raw, as: UTF8.self)
    }

    // MARK: - Bytes

    @inline(__always) func peek() -> UInt8? { position < bytes.count ? bytes[position] : nil }

    @inline(__always) mutating func next() -> UInt8? {
        guard position < bytes.count else { return nil }
        defer { position += 1 }
        return bytes[position]
    }

    @inline(__always) mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D:
                position += 1
                canonicalSoFar = false
            default: return
            }
        }
    }

    mutating func expectLiteral(_ literal: StaticString) throws(Error) {
        let count = literal.utf8CodeUnitCount
        guard position + count <= bytes.count else { throw error("invalid literal") }
        for i in 0..<count where bytes[position + i] != literal.utf8Start[i] {
            throw error("invalid literal")
        }
        position += count
    }

    mutating func expectEnd() throws(Error) {
        skipWhitespace()
        if position != bytes.count { throw error("unexpected data after the JSON value") }
    }

    func error(_ message: String, back: Int = 0) -> Error {
        Error(message: message, offset: position - back)
    }

    @inline(__always) func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }

    func describe(_ c: UInt8) -> String {
        c >= 0x20 && c < 0x7F ? "'\(Character(Unicode.Scalar(c)))'" : "0x" + hex(UInt32(c), width: 2)
    }

    private func hex(_ v: UInt32, width: Int = 4) -> String {
        let s = String(v, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, width - s.count)) + s
    }
}
