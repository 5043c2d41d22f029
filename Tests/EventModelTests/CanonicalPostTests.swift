import Testing

@testable import EventModel

/// A posted event that is canonical already keeps its bytes, with the members the server adds put
/// in key order: the body is the one `CanonicalJSON` writes from the members, whatever the input's shape.
@Suite struct CanonicalPostTests {
    /// The body as written from the validated members, the way every event was before the shortcut.
    static func written(_ event: PreparedEvent) -> [UInt8] {
        CanonicalJSON.encode(.object(event.envelope.members))
    }

    static func isCanonical(_ text: String) throws -> [Bool] {
        try Array(text.utf8).withUnsafeBytes { try JSONParser.parseBody($0) }.elements.map(\.isCanonical)
    }

    /// The spec's example in canonical form, without some of its members.
    static func canonical(without removed: Set<String> = []) -> String {
        var members = try! JSONParser.parse(Array(validEvent.utf8)).objectMembers!
        members.removeAll { removed.contains($0.key) }
        return String(decoding: CanonicalJSON.encode(.object(members)), as: UTF8.self)
    }

    @Test func aCanonicalPostKeepsItsBytesAndGainsWhatTheServerAdds() throws {
        for removed: Set<String> in [[], ["outcome"], ["id"], ["id", "outcome"], ["actor", "changes", "data"], ["type", "time"]] {
            let text = Self.canonical(without: removed)
            #expect(try Self.isCanonical(text) == [true])
            for body in [text, "[\(text)]", "[\(text),\(text.replacing("evt-1", with: "evt-2"))]", "  \(text)\n"] {
                guard let events = try? EventBody.parse(Array(body.utf8)).events else {
                    #expect(removed.contains("type") || removed.contains("actor"), "refused: \(body)")
                    continue
                }
                for event in events {
                    #expect(event.body == Self.written(event), "\(removed): \(String(decoding: event.body, as: UTF8.self))")
                }
                if removed.isEmpty { #expect(events[0].body == Array(text.utf8)) }
                if removed == ["outcome"] {
                    #expect(String(decoding: events[0].body, as: UTF8.self).contains(#""id":"evt-1","outcome":"success","reason":"#))
                }
            }
        }
    }

    @Test func aPostThatIsNotCanonicalIsWrittenAfresh() throws {
        let text = Self.canonical(without: ["outcome"])
        let shapes = [
            text.replacing(#""type":"#, with: #" "type" : "#),  // whitespace
            text.replacing(#""王芳""#, with: #""\u738b\u82b3""#),  // an escape canonical form does not use
            text.replacing("CR-42", with: #"CR\/42"#),
            text.replacing(#""data":{}"#, with: #""data":{"z":1,"a":{"y":[true,null],"b":"\""}}"#)
                .replacing("sales_order.updated", with: "crm.note_added"),  // unsorted inside (a type whose data is free)
            "{" + #""type":"sales_order.updated","# + text.dropFirst().replacing(#","type":"sales_order.updated""#, with: ""),  // unsorted at the top
        ]
        for shape in shapes {
            #expect(try Self.isCanonical(shape) == [false], "\(shape)")
            let event = try event(shape)
            #expect(event.body == Self.written(event), "\(shape)")
        }
        // A batch of both kinds: each element is judged on its own.
        let batch = "[\(shapes[0]),\(text)]"
        #expect(try Self.isCanonical(batch) == [false, true])
        for event in try EventBody.parse(Array(batch.utf8)).events { #expect(event.body == Self.written(event)) }
    }

    /// Random events, canonical or not, nested data, keys that need escaping, generated ids.
    @Test func randomPostsGiveTheWrittenBody() throws {
        var random = SystemRandomNumberGenerator()
        let texts = ["a", "销售", "😀", "x y", "tab\there", "quote\"d", "back\\slash", "", "1200.50"]
        func value(_ depth: Int) -> JSONValue {
            switch Int.random(in: 0..<(depth > 2 ? 4 : 6), using: &random) {
            case 0: .string(texts.randomElement(using: &random)!)
            case 1: .number(["0", "-1.5e3", "1200.50", "42"].randomElement(using: &random)!)
            case 2: .bool(Bool.random(using: &random))
            case 3: .null
            case 4: .array((0..<Int.random(in: 0...3, using: &random)).map { _ in value(depth + 1) })
            default: object(depth + 1)
            }
        }
        func object(_ depth: Int) -> JSONValue {
            var keys = Set<String>()
            for _ in 0..<Int.random(in: 0...4, using: &random) { keys.insert(texts.randomElement(using: &random)! + "k") }
            return .object(keys.shuffled(using: &random).map { JSONMember($0, value(depth)) })
        }
        for round in 0..<400 {
            var members = try JSONParser.parse(Array(validEvent.utf8)).objectMembers!
            members.removeAll { $0.key == "data" || ($0.key == "id" && round % 3 == 0) || ($0.key == "outcome" && round % 2 == 0) }
            members.append(JSONMember("data", object(1)))
            members = members.map { $0.key == "type" ? JSONMember("type", .string("crm.note_added")) : $0 }  // free data
            if round % 4 == 0 { members.shuffle(using: &random) }
            let canonical = CanonicalJSON.encode(.object(members))
            for body in [canonical, Array("[".utf8) + canonical + Array("]".utf8)] {
                let event = try EventBody.parse(body).events[0]
                #expect(event.body == Self.written(event), "\(String(decoding: body, as: UTF8.self))")
            }
            let asGiven = Array("{".utf8) + members.enumerated().flatMap { i, member in
                (i > 0 ? Array(",".utf8) : []) + CanonicalJSON.encode(.string(member.key)) + Array(":".utf8) + CanonicalJSON.encode(member.value)
            } + Array("}".utf8)
            let event = try EventBody.parse(asGiven).events[0]
            #expect(event.body == Self.written(event), "\(String(decoding: asGiven, as: UTF8.self))")
        }
    }
}
