import EventModel

extension LiveProjector.FindingPage {
    /// The shape of `GET /v1/findings` (spec 5.1).
    public var json: JSONValue {
        .object([JSONMember("findings", .array(findings.map(\.json))), JSONMember("next", next.map { .string($0) } ?? .null)])
    }
}

extension Finding {
    /// One finding as `GET /v1/findings` lists it.
    public var json: JSONValue {
        .object([
            JSONMember("id", .string(id)),
            JSONMember("kind", .string(kind.rawValue)),
            JSONMember("seq", .number(String(seq))),
            JSONMember("time", .string(time.utcText)),
            JSONMember("actor", .string(actor)),
            JSONMember("subject", .object([JSONMember("type", .string(subject.type)), JSONMember("id", .string(subject.id))])),
            JSONMember("message", .string(message)),
            JSONMember("evidence", .array(evidence.map { .number(String($0)) })),
        ])
    }

    /// `CanonicalJSON.encode(json)`, written member by member in key order without the tree: the
    /// stored form of a finding. A fold of a disorderly stream can find one for every other event.
    public var canonicalJSON: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(160 + message.utf8.count)
        func literal(_ text: StaticString) { text.withUTF8Buffer { out.append(contentsOf: $0) } }
        literal(#"{"actor":"#)
        CanonicalJSON.writeString(actor, into: &out)
        literal(#","evidence":["#)
        for (index, seq) in evidence.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            CanonicalJSON.writeInteger(seq, into: &out)
        }
        literal(#"],"id":"#)
        CanonicalJSON.writeString(id, into: &out)
        literal(#","kind":"#)
        CanonicalJSON.writeString(kind.rawValue, into: &out)
        literal(#","message":"#)
        CanonicalJSON.writeString(message, into: &out)
        literal(#","seq":"#)
        CanonicalJSON.writeInteger(seq, into: &out)
        literal(#","subject":{"id":"#)
        CanonicalJSON.writeString(subject.id, into: &out)
        literal(#","type":"#)
        CanonicalJSON.writeString(subject.type, into: &out)
        literal(#"},"time":"#)
        CanonicalJSON.writeString(time.utcText, into: &out)
        literal("}")
        return out
    }

    public init?(json: JSONValue) {
        guard let kind = json["kind"]?.stringValue.flatMap(Kind.init(rawValue:)),
            case .number(let seqText)? = json["seq"], let seq = UInt64(seqText),
            let time = json["time"]?.stringValue.flatMap(Instant.init(rfc3339:)),
            let actor = json["actor"]?.stringValue,
            let subjectType = json["subject"]?["type"]?.stringValue, let subjectId = json["subject"]?["id"]?.stringValue,
            let message = json["message"]?.stringValue, case .array(let evidence)? = json["evidence"]
        else { return nil }
        // A second finding of its kind on the same event carries its place in its id: f-17-kind-2.
        let ordinal = json["id"]?.stringValue.flatMap { id in id.split(separator: "-").count == 4 ? Int(id.split(separator: "-")[3]).map { $0 - 1 } : 0 } ?? 0
        self.init(
            kind: kind, seq: seq, time: time, actor: actor, subject: .init(type: subjectType, id: subjectId), message: message,
            evidence: evidence.compactMap { if case .number(let n) = $0 { UInt64(n) } else { nil } }, ordinal: max(0, ordinal))
    }
}

extension Instant {
    /// RFC 3339 in UTC with as many fraction digits as it needs (none, 3, 6 or 9).
    public var utcText: String { rfc3339(fractionDigits: utcFractionDigits) }

    /// The bytes of `utcText` appended, with no string made.
    public func appendUTCText(to out: inout [UInt8]) { appendRFC3339(fractionDigits: utcFractionDigits, to: &out) }

    private var utcFractionDigits: Int {
        if nanoseconds == 0 { return 0 }
        if nanoseconds % 1_000_000 == 0 { return 3 }
        if nanoseconds % 1_000 == 0 { return 6 }
        return 9
    }
}
