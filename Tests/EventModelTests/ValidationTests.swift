import Testing

@testable import EventModel

/// A valid event to start from; each case changes one thing.
let validEvent = #"""
{"id":"evt-1","type":"sales_order.updated","time":"2026-03-13T07:45:01.123Z",
 "actor":{"id":"u-1001","name":"王芳","ip":"10.1.2.3","via":"web","onBehalfOf":"u-2002"},
 "subject":{"type":"sales_order","id":"SO-2026-000123"},
 "changes":[{"field":"amount","old":1000,"new":1200}],"data":{},"outcome":"success",
 "reason":"CR-42 customer renegotiated","requestId":"req-88","source":"crm-prod"}
"""#

func event(_ json: String) throws -> PreparedEvent {
    let (events, _) = try EventBody.parse(Array(json.utf8))
    return events[0]
}

/// The envelope with `key` set to the JSON text `value` (nil removes it).
func modified(_ key: String, _ value: String?, in base: String = validEvent) -> String {
    var object = try! JSONParser.parse(Array(base.utf8)).objectMembers!
    object.removeAll { $0.key == key }
    if let value { object.append(JSONMember(key, try! JSONParser.parse(Array(value.utf8)))) }
    return String(decoding: CanonicalJSON.encode(.object(object)), as: UTF8.self)
}

func validationError(_ json: String) -> ValidationError? {
    do {
        _ = try EventBody.parse(Array(json.utf8))
        return nil
    } catch {
        return error as? ValidationError
    }
}

@Suite struct ValidationTests {
    @Test func acceptsTheSpecExample() throws {
        let e = try event(validEvent)
        #expect(e.envelope.id == "evt-1")
        #expect(e.envelope.actor.id == "u-1001")
        #expect(e.envelope.subject == .init(type: "sales_order", id: "SO-2026-000123"))
        #expect(e.envelope.changes.first?.new == .number("1200"))
    }

    static let brokenRules: [(String, String?, ValidationError.Code, String)] = [
        // field, JSON value (nil: absent), expected code, expected field
        ("id", #""""#, ValidationError.Code.invalidField, "id"),
        ("id", "\"" + String(repeating: "x", count: 129) + "\"", .invalidField, "id"),
        ("id", #""a\u0001b""#, .invalidField, "id"),
        ("id", "7", .invalidField, "id"),
        ("type", nil, .missingField, "type"),
        ("type", #""Sales.updated""#, .invalidField, "type"),
        ("type", #""sales""#, .invalidField, "type"),
        ("type", #""sales..x""#, .invalidField, "type"),
        ("type", #""sales.x-y""#, .invalidField, "type"),
        ("type", "\"a." + String(repeating: "b", count: 63) + "\"", .invalidField, "type"),
        ("time", nil, .missingField, "time"),
        ("time", #""2026-03-13T07:45:01""#, .invalidField, "time"),
        ("time", "1773387901", .invalidField, "time"),
        ("actor", nil, .missingField, "actor"),
        ("actor", #""u-1""#, .invalidField, "actor"),
        ("actor", #"{"name":"x"}"#, .missingField, "actor.id"),
        ("actor", #"{"id":""}"#, .invalidField, "actor.id"),
        ("actor", #"{"id":"u","ip":5}"#, .invalidField, "actor.ip"),
        ("subject", nil, .missingField, "subject"),
        ("subject", #"{"type":"sales_order"}"#, .missingField, "subject.id"),
        ("subject", #"{"id":"x"}"#, .missingField, "subject.type"),
        ("subject", "{\"type\":\"" + String(repeating: "t", count: 65) + "\",\"id\":\"x\"}", .invalidField, "subject.type"),
        ("subject", #"{"type":"sales_order","id":"x","extra":1}"#, .unknownField, "subject.extra"),
        ("changes", #"{"field":"a"}"#, .invalidField, "changes"),
        ("changes", #"[{"old":1}]"#, .missingField, "changes[0].field"),
        ("changes", #"[{"field":"a"},{"field":""}]"#, .invalidField, "changes[1].field"),
        ("changes", #"[{"field":"a","neu":1}]"#, .unknownField, "changes[0].neu"),
        ("data", "[]", .invalidField, "data"),
        ("outcome", #""ok""#, .invalidField, "outcome"),
        ("reason", "\"" + String(repeating: "r", count: 1025) + "\"", .invalidField, "reason"),
        ("requestId", "null", .invalidField, "requestId"),
        ("source", "[]", .invalidField, "source"),
        ("colour", #""red""#, .unknownField, "colour"),
        ("seq", "5", .unknownField, "seq"),
    ]

    @Test(arguments: brokenRules)
    func refusesEachBrokenRule(key: String, value: String?, code: ValidationError.Code, field: String) {
        let error = validationError(modified(key, value))
        #expect(error?.code == code, "\(key)=\(value ?? "absent"): \(String(describing: error))")
        #expect(error?.field == field, "\(key)=\(value ?? "absent"): \(String(describing: error))")
    }

    @Test func optionalFieldsMayBeAbsentAndDefaultsAreFilledIn() throws {
        var json = validEvent
        for key in ["id", "changes", "data", "outcome", "reason", "requestId", "source"] { json = modified(key, nil, in: json) }
        let e = try event(json)
        #expect(e.envelope.outcome == .success)
        #expect(e.envelope.id.count == 36)
        let canonical = String(decoding: e.body, as: UTF8.self)
        #expect(canonical.contains(#""outcome":"success""#))
        #expect(canonical.contains(#""id":"\#(e.envelope.id)""#))
    }

    @Test func theSameEventGivesTheSameBytesWhateverItsSpelling() throws {
        let spaced = try event(validEvent)
        let reordered = try event(
            #"{"source":"crm-prod","requestId":"req-88","reason":"CR-42 customer renegotiated","outcome":"success","data":{},"changes":[{"new":1200,"old":1000,"field":"amount"}],"subject":{"id":"SO-2026-000123","type":"sales_order"},"actor":{"onBehalfOf":"u-2002","via":"web","ip":"10.1.2.3","name":"\u738b\u82b3","id":"u-1001"},"time":"2026-03-13T07:45:01.123Z","type":"sales_order.updated","id":"evt-1"}"#
        )
        #expect(spaced.body == reordered.body)
        let expected = #"{"actor":{"id":"u-1001","ip":"10.1.2.3","name":"王芳","onBehalfOf":"u-2002","via":"web"},"changes":[{"field":"amount","new":1200,"old":1000}],"data":{},"id":"evt-1","outcome":"success","reason":"CR-42 customer renegotiated","requestId":"req-88","source":"crm-prod","subject":{"id":"SO-2026-000123","type":"sales_order"},"time":"2026-03-13T07:45:01.123Z","type":"sales_order.updated"}"#
        #expect(String(decoding: spaced.body, as: UTF8.self) == expected)
    }

    @Test func aBatchNamesTheIndexOfTheBadEvent() {
        let bad = modified("actor", nil)
        let error = validationError("[\(validEvent),\(validEvent),\(bad)]")
        #expect(error?.index == 2)
        #expect(error?.field == "actor")
    }

    @Test func bodyLevelErrors() {
        #expect(validationError("[]")?.code == .emptyBatch)
        #expect(validationError("{")?.code == .invalidJSON)
        #expect(validationError("[1]")?.code == .invalidField)
        #expect(validationError("[1]")?.index == 0)
        let huge = modified("data", "{\"blob\":\"" + String(repeating: "x", count: 70_000) + "\"}")
        #expect(validationError(huge)?.code == .eventTooLarge)
        let body = [UInt8](repeating: 0x20, count: EventBody.maxBodyBytes + 1)
        #expect((try? EventBody.parse(body)) == nil)
        #expect(validationError(String(repeating: " ", count: EventBody.maxBodyBytes + 1))?.code == .bodyTooLarge)
    }

    @Test func storedRecordsDecodeBack() throws {
        let e = try event(validEvent)
        let record = CanonicalRecord.make(seq: 42, recordedAt: "2026-03-13T07:45:02.000001Z", body: e.body)
        #expect(String(decoding: record, as: UTF8.self).hasPrefix(#"{"seq":42,"recordedAt":"2026-03-13T07:45:02.000001Z","actor":"#))
        let stored = try StoredEvent.decode(record)
        #expect(stored.seq == 42)
        #expect(stored.envelope.id == e.envelope.id)
        #expect(stored.envelope.changes == e.envelope.changes)
    }
}

