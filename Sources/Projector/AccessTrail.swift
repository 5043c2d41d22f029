import EventModel
import LMDB

/// Every event that can change what a user or a role may do, in a compact fold form stored beside
/// the projection: type, actor, time, the few `data` members the fold reads, and a change of the
/// user's department (which scopes and `stale_access` read). As-of questions
/// about access ("who held P then", "what could U do then") replay candidates from it, through the
/// same fold, without reading and decoding their JSON records — several times faster.
///
/// Keyed by seq (8, big-endian) alone, so that each batch appends its entries on the last pages: keyed
/// subject ‖ seq, every batch of a rebuild rewrote most of the trail's pages. A subject's entries are
/// found through the log's subject index (`EventLog.subjectSeqs`): its events that the trail holds.
enum AccessTrail {
    /// The types on the trail; a type's index is its stored code (append only).
    static let types: [String] = [
        "user.created", "user.updated", "user.disabled", "user.enabled", "user.offboarded", "user.role_assigned",
        "user.role_revoked", "user.permission_granted", "user.permission_revoked", "user.admin_granted", "user.admin_revoked",
        "access_review.completed", "role.created", "role.updated", "role.deleted", "role.permission_granted",
        "role.permission_revoked",
    ]
    /// The `data` members the fold of those types reads.
    static let dataKeys = ["role", "permission", "scope", "level", "module", "decision"]
    private static let codes: [String: Int] = Dictionary(uniqueKeysWithValues: types.enumerated().map { ($1, $0) })

    /// Users and roles only: the fold of access knows no other subject.
    static func isOnTrail(_ subject: Envelope.Subject) -> Bool { subject.type == "user" || subject.type == "role" }

    /// The stored entry of an event (stored under its seq), if it is on the trail. A failed event
    /// changed nothing: not on it.
    static func entry(_ event: StoredEvent) -> [UInt8]? {
        let e = event.envelope
        // The subject first: most events are on sales orders, told apart without hashing their type.
        guard e.outcome == .success, isOnTrail(e.subject), let code = codes[e.type] else { return nil }
        var w = ByteWriter(capacity: 64)
        w.write(code)
        w.write(e.actor.id)
        w.write(e.instant)
        for key in dataKeys { w.write(e.dataString(key)) }
        // The department as the last change of it left it: 0 untouched, 1 a string, 2 anything else.
        if let change = e.changes.last(where: { $0.field == "department" }) {
            if let department = change.new?.stringValue {
                w.write(UInt64(1))
                w.write(department)
            } else {
                w.write(UInt64(2))
            }
        } else {
            w.write(UInt64(0))
        }
        return w.bytes
    }

    /// An entry's event type, who made it and when: the first members of the compact form.
    static func header(_ value: UnsafeRawBufferPointer) throws -> (type: String, actor: String, time: Instant) {
        var r = ByteReader(value)
        let code = try r.int()
        guard code < types.count else { throw ByteReader.Malformed() }
        return (types[code], try r.string(), try r.instant())
    }

    /// An entry as its compact form holds it, without building the event.
    static func entry(seq: UInt64, _ value: UnsafeRawBufferPointer) throws -> TrailEntry {
        var r = ByteReader(value)
        return try readEntry(seq: seq, &r)
    }

    private static func readEntry(seq: UInt64, _ r: inout ByteReader) throws -> TrailEntry {
        let code = try r.int()
        guard code < types.count else { throw ByteReader.Malformed() }
        let actor = try r.string()
        let instant = try r.instant()
        let data = try dataKeys.map { _ in try r.optionalString() }
        return TrailEntry(seq: seq, type: types[code], actor: actor, time: instant, data: data)
    }

    /// The event back, as much of it as the fold of access reads.
    static func event(_ subject: Envelope.Subject, seq: UInt64, _ value: UnsafeRawBufferPointer) throws -> StoredEvent {
        var r = ByteReader(value)
        let entry = try readEntry(seq: seq, &r)
        var changes: [Envelope.Change] = []
        switch try r.uint64() {
        case 0: break
        case 1: changes.append(Envelope.Change(field: "department", new: .string(try r.string())))
        case 2: changes.append(Envelope.Change(field: "department"))
        default: throw ByteReader.Malformed()
        }
        let data = zip(dataKeys, entry.data).compactMap { key, value in value.map { JSONMember(key, .string($0)) } }
        let envelope = Envelope(folding: entry.type, instant: entry.time, actor: entry.actor, subject: subject, changes: changes, data: data)
        return StoredEvent(seq: seq, recordedAt: "", envelope: envelope)
    }
}

/// An event on the access trail as its compact form holds it: what, who, when, and the `data`
/// members the fold of access reads — for answers that look at thousands (the causes of a change)
/// without building each event.
public struct TrailEntry: Sendable {
    public let seq: UInt64
    public let type: String
    public let actor: String
    public let time: Instant
    /// In `AccessTrail.dataKeys` order.
    let data: [String?]

    /// A `data` member the fold reads (`role`, `permission`, `scope`, `level`, `module`, `decision`).
    public func dataString(_ key: String) -> String? {
        AccessTrail.dataKeys.firstIndex(of: key).flatMap { data[$0] }
    }
}

extension AccessTrail {
    /// An answer as of a time T covers the events with `time` ≤ T. Up to the first event on the
    /// trail with a time past T, that is every event, so the intervals stored for that seq answer
    /// exactly; past it, only late events (stamped before the trail's latest time when they came)
    /// can still be ≤ T, and the users and roles they touch are replayed instead. So the fold keeps:
    ///
    /// - `trailTimes`: one key `time ‖ seq` for every event that raised the trail's latest time;
    ///   the first key past T names the first event past T;
    /// - `lateTrail`: seq → `time ‖ subject kind ‖ subject id` for every other event on the trail.
    struct Times {
        /// The latest time on the trail after the events folded so far.
        var latest: Instant?
        /// Keys for `trailTimes`, and entries for `lateTrail`, from this batch.
        var raised: [[UInt8]] = []
        var late: [(key: [UInt8], value: [UInt8])] = []

        init(latest: Instant? = nil) { self.latest = latest }

        mutating func note(_ event: StoredEvent) {
            let time = event.envelope.instant
            if latest.map({ $0 < time }) ?? true {
                latest = time
                raised.append(Self.key(time, seq: event.seq))
            } else {
                let subject = event.envelope.subject
                var value = ByteWriter(capacity: 13 + subject.id.utf8.count)
                Self.appendTime(time, to: &value)
                value.append(byte: subject.type == "user" ? 1 : 2)
                value.appendUTF8(subject.id)
                late.append((bigEndianBytes(event.seq), value.bytes))
            }
        }

        /// An instant as bytes that sort as it does (seconds offset to unsigned, nanoseconds), then a seq.
        static func key(_ time: Instant, seq: UInt64) -> [UInt8] {
            var key = ByteWriter(capacity: 20)
            appendTime(time, to: &key)
            key.appendBigEndian(seq)
            return key.bytes
        }

        private static func appendTime(_ time: Instant, to writer: inout ByteWriter) {
            writer.appendBigEndian(UInt64(bitPattern: time.seconds) ^ (1 << 63))
            let nanos = UInt32(bitPattern: time.nanoseconds)
            writer.append(byte: UInt8(nanos >> 24))
            writer.append(byte: UInt8(truncatingIfNeeded: nanos >> 16))
            writer.append(byte: UInt8(truncatingIfNeeded: nanos >> 8))
            writer.append(byte: UInt8(truncatingIfNeeded: nanos))
        }

        static func instant(fromKey bytes: UnsafeRawBufferPointer) -> Instant? {
            guard bytes.count >= 12 else { return nil }
            let seconds = Int64(bitPattern: readBigEndianUInt64(UnsafeRawBufferPointer(rebasing: bytes[0..<8])) ^ (1 << 63))
            let nanos = bytes[8..<12].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            return Instant(seconds: seconds, nanoseconds: Int32(bitPattern: nanos))
        }
    }
}
