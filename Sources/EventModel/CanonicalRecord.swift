/// The stored form of an event (spec 3.2): `{"seq":N,"recordedAt":"…",` followed by the members
/// of the canonical envelope sorted by key. The ledger puts `seq` and `recordedAt` first so the
/// record is the canonical envelope with its place in the ledger spliced in, without re-encoding.
/// These bytes are what is hashed, stored and exported.
public enum CanonicalRecord {
    /// The record for `body` (a canonical envelope) at `seq`.
    public static func make(seq: UInt64, recordedAt: String, body: [UInt8]) -> [UInt8] {
        var record = prefix(seq: seq, recordedAt: recordedAt)
        record.append(contentsOf: body.dropFirst())
        return record
    }

    /// `{"seq":N,"recordedAt":"…",`
    public static func prefix(seq: UInt64, recordedAt: String) -> [UInt8] {
        var out: [UInt8] = Array(#"{"seq":"#.utf8)
        out.append(contentsOf: String(seq).utf8)
        out.append(contentsOf: #","recordedAt":"#.utf8)
        CanonicalJSON.writeString(recordedAt, into: &out)
        out.append(UInt8(ascii: ","))
        return out
    }
}

/// A record read back from the ledger.
public struct StoredEvent: Sendable, Equatable {
    public var seq: UInt64
    public var recordedAt: String
    public var envelope: Envelope

    public init(seq: UInt64, recordedAt: String, envelope: Envelope) {
        self.seq = seq
        self.recordedAt = recordedAt
        self.envelope = envelope
    }

    public struct DecodingError: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// Decodes a canonical record. Records were validated when appended, so this only picks the
    /// fields out (a third of the cost of validating again); it refuses what is not a record at all.
    public static func decode(_ record: UnsafeRawBufferPointer) throws(DecodingError) -> StoredEvent {
        let value: JSONValue
        do {
            value = try JSONParser.parse(record)
        } catch {
            throw DecodingError(description: "record is not JSON: \(error)")
        }
        guard case .object(let members) = value else { throw DecodingError(description: "record is not an object") }
        var seq: UInt64?
        var recordedAt: String?
        var id: String?, type: String?, time: String?, actorId: String?, subject: Envelope.Subject?
        var attributes: [JSONMember] = []
        var changes: [Envelope.Change] = []
        var data: [JSONMember]?
        var outcome = Envelope.Outcome.success
        var reason: String?, requestId: String?, source: String?
        var envelopeMembers: [JSONMember] = []
        envelopeMembers.reserveCapacity(members.count)
        for member in members {
            switch member.key {
            case "seq":
                if case .number(let text) = member.value { seq = UInt64(text) }
                continue
            case "recordedAt": recordedAt = member.value.stringValue; continue
            case "id": id = member.value.stringValue
            case "type": type = member.value.stringValue
            case "time": time = member.value.stringValue
            case "actor":
                for a in member.value.objectMembers ?? [] {
                    if a.key == "id" { actorId = a.value.stringValue } else { attributes.append(a) }
                }
            case "subject":
                if let t = member.value["type"]?.stringValue, let i = member.value["id"]?.stringValue { subject = .init(type: t, id: i) }
            case "changes":
                if case .array(let list) = member.value {
                    changes = list.compactMap { c in
                        c["field"]?.stringValue.map { Envelope.Change(field: $0, old: c["old"], new: c["new"]) }
                    }
                }
            case "data": data = member.value.objectMembers
            case "outcome": outcome = member.value.stringValue.flatMap(Envelope.Outcome.init(rawValue:)) ?? .success
            case "reason": reason = member.value.stringValue
            case "requestId": requestId = member.value.stringValue
            case "source": source = member.value.stringValue
            default: break
            }
            envelopeMembers.append(member)
        }
        guard let seq, let recordedAt, let id, let type, let time, let instant = Instant(rfc3339: time), let actorId, let subject else {
            throw DecodingError(description: "record lacks seq, recordedAt, id, type, time, actor.id or subject")
        }
        let envelope = Envelope(
            id: id, type: type, time: time, instant: instant, actor: .init(id: actorId, attributes: attributes), subject: subject,
            changes: changes, data: data, outcome: outcome, reason: reason, requestId: requestId, source: source,
            members: envelopeMembers)
        return StoredEvent(seq: seq, recordedAt: recordedAt, envelope: envelope)
    }

    public static func decode(_ record: [UInt8]) throws -> StoredEvent {
        try record.withUnsafeBytes { raw in try decode(raw) }
    }
}
