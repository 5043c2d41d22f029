import Testing

@testable import EventModel

@Suite struct JSONParserTests {
    func parse(_ text: String) throws -> JSONValue { try JSONParser.parse(Array(text.utf8)) }

    func parseError(_ bytes: [UInt8]) -> String? {
        do {
            _ = try JSONParser.parse(bytes)
            return nil
        } catch {
            return (error as? JSONParser.Error)?.message
        }
    }

    @Test func parsesEveryKindOfValue() throws {
        let value = try parse(#" {"a": [1, -2.5e+3, true, false, null, "x\n\u00e9\ud83d\ude00"], "b": {}} "#)
        #expect(value["a"] == .array([.number("1"), .number("-2.5e+3"), .bool(true), .bool(false), .null, .string("x\né😀")]))
        #expect(value["b"] == .object([]))
    }

    @Test func keepsNumbersExactly() throws {
        #expect(try parse("1200.50") == .number("1200.50"))
        #expect(try parse("123456789012345678901234567890") == .number("123456789012345678901234567890"))
    }

    @Test(arguments: [
        (#"{"a":1,"a":2}"#, "duplicate key"),
        (#"[1,]"#, "unexpected character"),
        (#"{"a":1,}"#, "expected a string key"),
        ("01", "leading zero"),
        ("1.", "expected digits after decimal point"),
        ("-", "invalid number"),
        (#""\ud800""#, "lone surrogate"),
        (#""\udc00x""#, "lone surrogate"),
        (#""\x""#, "invalid escape"),
        ("\"a\tb\"", "unescaped control character"),
        (#"{"a" 1}"#, "expected ':'"),
        ("[1] 2", "unexpected data after"),
        ("tru", "invalid literal"),
        ("\"abc", "unterminated string"),
        ("", "unexpected end of input"),
    ])
    func refusesMalformedInput(text: String, expected: String) {
        let message = parseError(Array(text.utf8))
        #expect(message?.contains(expected) == true, "\(text) → \(message ?? "accepted")")
    }

    @Test func refusesInvalidUTF8() {
        #expect(parseError([0x22, 0xC3, 0x28, 0x22])?.contains("invalid UTF-8") == true)
        #expect(parseError([0x22, 0xFF, 0x22])?.contains("invalid UTF-8") == true)
        // An escape in the same string takes the slow path; still checked.
        #expect(parseError([0x22, 0x5C, 0x6E, 0xED, 0xA0, 0x80, 0x22])?.contains("invalid UTF-8") == true)
    }

    @Test func refusesDeepNestingWithoutExhaustingTheStack() {
        let deep = [UInt8](repeating: UInt8(ascii: "["), count: 100_000) + [UInt8](repeating: UInt8(ascii: "]"), count: 100_000)
        #expect(parseError(deep)?.contains("nesting deeper than 64") == true)
        let ok = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        #expect(parseError(Array(ok.utf8)) == nil)
    }

    @Test func duplicateKeysAreComparedAsBytes() throws {
        // "é" precomposed and decomposed are different keys to JSON, equal to Swift's ==.
        let value = try parse("{\"\u{e9}\":1,\"e\u{301}\":2}")
        #expect(value.objectMembers?.count == 2)
    }

    @Test func bodySpansCoverEachElement() throws {
        let text = #"[ {"a":1} , {"b":[2]} ]"#
        let (elements, isArray) = try Array(text.utf8).withUnsafeBytes { try JSONParser.parseBody($0) }
        #expect(isArray)
        #expect(elements.map { String(decoding: Array(text.utf8)[$0.range], as: UTF8.self) } == [#"{"a":1}"#, #"{"b":[2]}"#])
    }
}

/// Input that would hold a core: parsing is linear in the keys, and an event too large for the ledger
/// is refused once the parser passes the limit, before the rest of the body is read into a tree.
@Suite struct HostileSizeTests {
    static func object(keys: Int, duplicateLast: Bool = false) -> [UInt8] {
        var text = "{"
        for i in 0..<keys { text += (i > 0 ? "," : "") + "\"k\(i)\":1" }
        if duplicateLast { text += ",\"k0\":2" }
        return Array((text + "}").utf8)
    }

    @Test func duplicatesAmongManyKeysAreFoundByHashing() throws {
        // 200k keys: a scan of every earlier key per key would be 2·10^10 comparisons.
        let clock = ContinuousClock()
        var value: JSONValue?
        let elapsed = try clock.measure { value = try JSONParser.parse(Self.object(keys: 200_000)) }
        #expect(value?.objectMembers?.count == 200_000)
        #expect(elapsed < .seconds(20), "\(elapsed)")
        #expect(throws: JSONParser.Error.self) { try JSONParser.parse(Self.object(keys: 50_000, duplicateLast: true)) }
        // Keys equal only by Unicode equivalence are different JSON keys, past the hashing threshold too.
        let nfc = "\u{e9}", nfd = "e\u{301}"
        var text = "{\"\(nfc)\":1"
        for i in 0..<40 { text += ",\"x\(i)\":1" }
        text += ",\"\(nfd)\":2}"
        #expect(try JSONParser.parse(Array(text.utf8)).objectMembers?.count == 42)
    }

    @Test func aMillionKeyEventIsRefusedAsTooLargeWithoutParsingItAll() throws {
        let huge = Array(#"{"id":"x","type":"a.b","time":"2026-03-01T09:00:00Z","actor":{"id":"u"},"subject":{"type":"t","id":"i"},"data":"#.utf8)
            + Self.object(keys: 1_000_000) + Array("}".utf8)
        #expect(huge.count > 10_000_000)
        let clock = ContinuousClock()
        for body in [huge, Array("[{\"x\":1},".utf8) + huge + Array("]".utf8)] {
            var refusal: ValidationError?
            let elapsed = clock.measure {
                do { _ = try EventBody.parse(body) } catch let error as ValidationError { refusal = error } catch {}
            }
            #expect(refusal?.code == .eventTooLarge)
            #expect(elapsed < .seconds(1), "\(elapsed)")
            if body.first == UInt8(ascii: "[") { #expect(refusal?.index == 1) } else { #expect(refusal?.index == nil) }
        }
    }
}

@Suite struct CanonicalJSONTests {
    @Test func sortsKeysByBytesAndDropsWhitespace() throws {
        let value = try JSONParser.parse(Array(#"{ "b": 1, "a": {"z": [1, 2], "é": "x", "Z": null} }"#.utf8))
        #expect(String(decoding: CanonicalJSON.encode(value), as: UTF8.self) == #"{"a":{"Z":null,"z":[1,2],"é":"x"},"b":1}"#)
    }

    @Test func escapesOnlyWhatMustBeEscaped() {
        let s = "q\"b\\s/\u{1}\u{8}\t\n\r\u{c}\u{7f}中"
        #expect(String(decoding: CanonicalJSON.encode(.string(s)), as: UTF8.self) == "\"q\\\"b\\\\s/\\u0001\\b\\t\\n\\r\\f\u{7f}中\"")
    }

    @Test func sameInputSameBytes() throws {
        let a = try JSONParser.parse(Array(#"{"x":"\u4e2d","n":1.50,"arr":[{"k":1,"j":2}]}"#.utf8))
        let b = try JSONParser.parse(Array(#"{"arr":[{"j":2,"k":1}],"n":1.50,"x":"中"}"#.utf8))
        #expect(CanonicalJSON.encode(a) == CanonicalJSON.encode(b))
        #expect(String(decoding: CanonicalJSON.encode(a), as: UTF8.self) == #"{"arr":[{"j":2,"k":1}],"n":1.50,"x":"中"}"#)
    }

    @Test(arguments: [0, 7, 10, 99, 1_000_000, 1 << 53, UInt64.max - 1, UInt64.max] as [UInt64])
    func writesIntegersAsTheirDecimalDigits(value: UInt64) {
        var out = Array("x".utf8)
        CanonicalJSON.writeInteger(value, into: &out)
        #expect(String(decoding: out, as: UTF8.self) == "x" + String(value))
    }

    @Test func roundTripsThroughTheParser() throws {
        let text = #"{"a":[true,false,null,-0.5e10,"\"\\\n"],"b":{"c":{}}}"#
        let value = try JSONParser.parse(Array(text.utf8))
        #expect(try JSONParser.parse(CanonicalJSON.encode(value)) == value)
        #expect(String(decoding: CanonicalJSON.encode(value), as: UTF8.self) == text)
    }
}
