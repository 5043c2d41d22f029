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

    public struct DecodingError: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// Decodes a canonical record. The catalog is not re-checked: the record was validated when appended.
    public static func decode(_ record: UnsafeRawBufferPointer) throws(DecodingError) -> StoredEvent {
        let value: JSONValue
        do {
            value = try JSONParser.parse(record)
        } catch {
            throw DecodingError(description: "record is not JSON: \(error)")
        }
        guard case .object(let members) = value, case .number(let seqText)? = value["seq"],
            let seq = UInt64(seqText), case .string(let recordedAt)? = value["recordedAt"]
        else { throw DecodingError(description: "record lacks seq or recordedAt") }
        let rest = members.filter { $0.key != "seq" && $0.key != "recordedAt" }
        do {
            let envelope = try EnvelopeValidator.validate(.object(rest), checkCatalog: false) {
                "" // never used: a stored record always has its id
            }
            return StoredEvent(seq: seq, recordedAt: recordedAt, envelope: envelope)
        } catch {
            throw DecodingError(description: "record \(seq) is not a valid envelope: \(error)")
        }
    }

    public static func decode(_ record: [UInt8]) throws -> StoredEvent {
        try record.withUnsafeBytes { raw in try decode(raw) }
    }
}
