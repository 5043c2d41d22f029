/// Checks a posted event exactly as spec 3.1 and the catalog of 3.3 say, and normalizes it.
/// Every error names the field (as a dotted path) and, in a batch, the event's index.
public enum EnvelopeValidator {
    /// A whole event, as sent and as stored, is at most 64 KiB.
    public static let maxEventBytes = 64 * 1024
    static let maxTextLength = 1024

    /// Validates one posted event. `generateId` supplies the id when the client sent none.
    public static func validate(
        _ value: JSONValue, index: Int? = nil, generateId: () -> String = EventID.random
    ) throws(ValidationError) -> Envelope {
        var check = Checker(index: index)
        guard case .object(var members) = value else {
            throw check.error(.invalidField, "an event must be a JSON object, not \(value.kindName)")
        }
        // One pass over the members, not a look-up per field (8% of a parse). `==` on these names
        // compares bytes, as keys are compared: none of their letters has another canonical spelling.
        var field = TopLevel()
        for member in members {
            switch member.key {
            case "id": field.id = member.value
            case "type": field.type = member.value
            case "time": field.time = member.value
            case "actor": field.actor = member.value
            case "subject": field.subject = member.value
            case "changes": field.changes = member.value
            case "data": field.data = member.value
            case "outcome": field.outcome = member.value
            case "reason": field.reason = member.value
            case "requestId": field.requestId = member.value
            case "source": field.source = member.value
            default: throw check.error(.unknownField, "unknown field \"\(member.key.prefix(128))\"", field: member.key)
            }
        }

        let id: String
        if let given = field.id {
            id = try check.identifier(given, "id", maxLength: 128)
        } else {
            id = generateId()
            members.append(JSONMember("id", .string(id)))
        }

        let type = try check.requiredString(field.type, "type", maxLength: 64)
        guard Catalog.isType(type) else {
            throw check.error(
                .invalidField, "type must look like object.action: lowercase letters, digits and _ in dot-separated parts",
                field: "type")
        }

        let time = try check.requiredString(field.time, "time", maxLength: 64)
        guard let instant = Instant(rfc3339: time) else {
            throw check.error(.invalidField, "time must be RFC 3339 with an offset, e.g. 2026-03-13T07:45:01.123Z", field: "time")
        }

        let actor = try check.actor(field.actor)
        let subject = try check.subject(field.subject)
        let changes = try check.changes(field.changes)

        var data: [JSONMember]?
        if let given = field.data {
            guard case .object(let dataMembers) = given else {
                throw check.error(.invalidField, "data must be an object, not \(given.kindName)", field: "data")
            }
            data = dataMembers
        }

        var outcome = Envelope.Outcome.success
        if let given = field.outcome {
            let text = try check.requiredString(given, "outcome", maxLength: 16)
            guard let parsed = Envelope.Outcome(rawValue: text) else {
                throw check.error(.invalidField, "outcome must be success or failure", field: "outcome")
            }
            outcome = parsed
        } else {
            members.append(JSONMember("outcome", .string(outcome.rawValue)))
        }

        let reason = try check.optionalText(field.reason, "reason")
        let requestId = try check.optionalText(field.requestId, "requestId")
        let source = try check.optionalText(field.source, "source")

        let envelope = Envelope(
            id: id, type: type, time: time, instant: instant, actor: actor, subject: subject, changes: changes,
            data: data, outcome: outcome, reason: reason, requestId: requestId, source: source, members: members)
        try Catalog.check(envelope, &check)
        return envelope
    }
}

/// The top-level members of a posted event, by name.
private struct TopLevel {
    var id, type, time, actor, subject, changes, data, outcome, reason, requestId, source: JSONValue?
}

/// Field checks that remember which event of a batch they are looking at.
struct Checker {
    let index: Int?

    func error(_ code: ValidationError.Code, _ message: String, field: String? = nil) -> ValidationError {
        ValidationError(code, message, field: field, index: index)
    }

    func requiredString(
        _ value: JSONValue?, _ fieldPath: @autoclosure () -> String, minLength: Int = 1, maxLength: Int
    ) throws(ValidationError) -> String {
        guard let value else {
            let field = fieldPath()
            throw error(.missingField, "\(field) is required", field: field)
        }
        guard case .string(let s) = value else {
            let field = fieldPath()
            throw error(.invalidField, "\(field) must be a string, not \(value.kindName)", field: field)
        }
        // Scalars are 1–4 bytes: the byte count often settles the limits without counting scalars.
        let bytes = s.utf8.count
        if !(bytes <= maxLength && (bytes >= minLength * 4 || (minLength <= 1 && bytes >= minLength))) {
            let length = s.unicodeScalars.count
            guard length >= minLength, length <= maxLength else {
                let field = fieldPath()
                throw error(.invalidField, "\(field) must be \(minLength)–\(maxLength) characters, got \(length)", field: field)
            }
        }
        return s
    }

    /// An identifier: a required string of printable characters (no control characters).
    func identifier(_ value: JSONValue?, _ fieldPath: @autoclosure () -> String, maxLength: Int) throws(ValidationError) -> String {
        let s = try requiredString(value, fieldPath(), maxLength: maxLength)
        let asciiPrintable = s.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F }
        if !asciiPrintable && s.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            let field = fieldPath()
            throw error(.invalidField, "\(field) must contain printable characters only", field: field)
        }
        return s
    }

    func optionalText(_ value: JSONValue?, _ field: String) throws(ValidationError) -> String? {
        guard let value else { return nil }
        return try requiredString(value, field, minLength: 0, maxLength: EnvelopeValidator.maxTextLength)
    }

    func object(_ value: JSONValue?, _ fieldPath: @autoclosure () -> String) throws(ValidationError) -> JSONValue {
        guard let value else {
            let field = fieldPath()
            throw error(.missingField, "\(field) is required", field: field)
        }
        guard case .object = value else {
            let field = fieldPath()
            throw error(.invalidField, "\(field) must be an object, not \(value.kindName)", field: field)
        }
        return value
    }

    func actor(_ value: JSONValue?) throws(ValidationError) -> Envelope.Actor {
        let object = try object(value, "actor")
        let id = try identifier(object["id"], "actor.id", maxLength: 128)
        var attributes: [JSONMember] = []
        for member in object.objectMembers! where !utf8Equal(member.key, "id") {
            _ = try requiredString(member.value, "actor.\(member.key.prefix(64))", minLength: 0, maxLength: EnvelopeValidator.maxTextLength)
            attributes.append(member)
        }
        return Envelope.Actor(id: id, attributes: attributes)
    }

    func subject(_ value: JSONValue?) throws(ValidationError) -> Envelope.Subject {
        let object = try object(value, "subject")
        var type: JSONValue?, id: JSONValue?
        for member in object.objectMembers! {
            switch member.key {
            case "type": type = member.value
            case "id": id = member.value
            default: throw error(.unknownField, "unknown field \"subject.\(member.key.prefix(64))\"", field: "subject.\(member.key.prefix(64))")
            }
        }
        return Envelope.Subject(type: try identifier(type, "subject.type", maxLength: 64), id: try identifier(id, "subject.id", maxLength: 128))
    }

    func changes(_ value: JSONValue?) throws(ValidationError) -> [Envelope.Change] {
        guard let value else { return [] }
        guard case .array(let elements) = value else {
            throw error(.invalidField, "changes must be an array, not \(value.kindName)", field: "changes")
        }
        var changes: [Envelope.Change] = []
        changes.reserveCapacity(elements.count)
        for (i, element) in elements.enumerated() {
            let object = try object(element, "changes[\(i)]")
            var field: JSONValue?, old: JSONValue?, new: JSONValue?
            for member in object.objectMembers! {
                switch member.key {
                case "field": field = member.value
                case "old": old = member.value
                case "new": new = member.value
                default:
                    let path = "changes[\(i)].\(member.key.prefix(64))"
                    throw error(.unknownField, "unknown field \"\(path)\"", field: path)
                }
            }
            changes.append(Envelope.Change(field: try identifier(field, "changes[\(i)].field", maxLength: 128), old: old, new: new))
        }
        return changes
    }
}

/// `^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$` and its relatives, without a regex engine.
func isDottedName(_ s: String, minSegments: Int, maxSegments: Int = .max) -> Bool {
    var segments = 0
    var atSegmentStart = true
    for byte in s.utf8 {
        if atSegmentStart {
            guard byte >= UInt8(ascii: "a"), byte <= UInt8(ascii: "z") else { return false }
            segments += 1
            atSegmentStart = false
        } else if byte == UInt8(ascii: ".") {
            atSegmentStart = true
        } else {
            let ok = (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "_")
            guard ok else { return false }
        }
    }
    return !atSegmentStart && segments >= minSegments && segments <= maxSegments
}

/// Server-made event ids: random version 4 UUIDs in lowercase.
public enum EventID {
    public static func random() -> String {
        var generator = SystemRandomNumberGenerator()
        var bytes = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
        bytes[6] = bytes[6] & 0x0F | 0x40
        bytes[8] = bytes[8] & 0x3F | 0x80
        return [bytes[0..<4], bytes[4..<6], bytes[6..<8], bytes[8..<10], bytes[10..<16]].map(hexString).joined(separator: "-")
    }
}
