import EventModel
import LMDB

/// Findings as they are found, in their own LMDB environment beside the log's: the projection
/// can be thrown away (delete the directory, or a format change) and rebuilt from the log.
///
/// - `findings`: seq (8, big-endian) ‖ kind code (1) → the finding as canonical JSON
/// - `meta`: `format`, and `storedThrough` = every finding of an event ≤ it is stored
final class FindingStore: @unchecked Sendable {
    /// Bump when the stored shape of a finding or the rules change: the store is then rebuilt.
    static let format: [UInt8] = Array("findings-1".utf8)
    static let storedThroughKey: [UInt8] = Array("storedThrough".utf8)
    static let formatKey: [UInt8] = Array("format".utf8)

    let environment: Environment
    let findings: Database
    let meta: Database

    init(path: String, readOnly: Bool) throws {
        environment = try Environment(.init(path: path, mapSize: 4 << 30, maxReaders: 256, maxDatabases: 4, readOnly: readOnly))
        let databases = try environment.openDatabases([("findings", []), ("meta", [])])
        findings = databases[0]
        meta = databases[1]
    }

    /// Through which seq findings are stored; a store of another format is emptied first.
    func prepare(policyTag: [UInt8]) throws -> UInt64 {
        let wanted = Self.format + [0] + policyTag
        return try environment.write { txn in
            if let format = try txn.get(meta, Self.formatKey), Array(format) == wanted,
                let through = try txn.get(meta, Self.storedThroughKey)
            {
                return readBigEndianUInt64(through)
            }
            try txn.clear(findings)
            try txn.put(meta, key: Self.formatKey, value: wanted)
            try txn.put(meta, key: Self.storedThroughKey, value: bigEndianBytes(0))
            return 0
        }
    }

    func storedThrough() throws -> UInt64 {
        try environment.read { txn in try txn.get(meta, Self.storedThroughKey).map(readBigEndianUInt64) ?? 0 }
    }

    func append(_ new: [Finding], through seq: UInt64) throws {
        try environment.write { txn in
            for finding in new {
                try txn.put(findings, key: Self.key(finding.seq, finding.kind), value: CanonicalJSON.encode(finding.json))
            }
            try txn.put(meta, key: Self.storedThroughKey, value: bigEndianBytes(seq))
        }
    }

    static func key(_ seq: UInt64, _ kind: Finding.Kind) -> [UInt8] { bigEndianBytes(seq) + [kind.code] }
}

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

    init?(json: JSONValue) {
        guard let kind = json["kind"]?.stringValue.flatMap(Kind.init(rawValue:)),
            case .number(let seqText)? = json["seq"], let seq = UInt64(seqText),
            let time = json["time"]?.stringValue.flatMap(Instant.init(rfc3339:)),
            let actor = json["actor"]?.stringValue,
            let subjectType = json["subject"]?["type"]?.stringValue, let subjectId = json["subject"]?["id"]?.stringValue,
            let message = json["message"]?.stringValue, case .array(let evidence)? = json["evidence"]
        else { return nil }
        self.init(
            kind: kind, seq: seq, time: time, actor: actor, subject: .init(type: subjectType, id: subjectId), message: message,
            evidence: evidence.compactMap { if case .number(let n) = $0 { UInt64(n) } else { nil } })
    }
}

extension Instant {
    /// RFC 3339 in UTC with as many fraction digits as it needs (none, 3, 6 or 9).
    public var utcText: String {
        if nanoseconds == 0 { return rfc3339(fractionDigits: 0) }
        if nanoseconds % 1_000_000 == 0 { return rfc3339(fractionDigits: 3) }
        if nanoseconds % 1_000 == 0 { return rfc3339(fractionDigits: 6) }
        return rfc3339(fractionDigits: 9)
    }
}
