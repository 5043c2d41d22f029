import Crypto
import EventModel

/// The secondary indexes, derived from the records. Each maps a key to the sorted seqs of
/// the events that carry it (duplicate-sorted LMDB databases of 8-byte big-endian seqs).
public enum IndexKind: Int, CaseIterable, Sendable {
    /// (subject.type, subject.id)
    case subject
    /// actor.id
    case actor
    /// type, raw, so `user.*` is a prefix scan
    case type
    /// (subject.type, subject.id, changes[].field): a field's history
    case field
    /// `time` as 12 sortable bytes
    case time

    public var databaseName: String {
        switch self {
        case .subject: "idx.subject"
        case .actor: "idx.actor"
        case .type: "idx.type"
        case .field: "idx.field"
        case .time: "idx.time"
        }
    }
}

/// How index and id keys are spelled. Parts are length-prefixed, so no input can make two
/// different tuples collide; a key longer than LMDB's 511-byte limit (possible with
/// 128 four-byte characters) is replaced by 0xFF and its SHA-256, a byte no UTF-8 key starts with
/// and no length prefix (≤ 0x02) has.
public enum IndexKeys {
    static let maxKeyBytes = 511

    public static func subject(type: String, id: String) -> [UInt8] { composite([type, id]) }
    public static func actor(_ id: String) -> [UInt8] { composite([id]) }
    /// Types are ASCII of at most 64 bytes: stored as they are.
    public static func type(_ type: String) -> [UInt8] { Array(type.utf8) }
    public static func field(subjectType: String, subjectId: String, field: String) -> [UInt8] {
        composite([subjectType, subjectId, field])
    }
    public static func time(_ instant: Instant) -> [UInt8] { instant.sortableBytes }

    /// The event-id table's key: the id's bytes, or its hash when too long for LMDB.
    public static func eventId(_ id: String) -> [UInt8] {
        let bytes = Array(id.utf8)
        return bytes.count <= 500 ? bytes : hashed(bytes)
    }

    static func composite(_ parts: [String]) -> [UInt8] {
        var out: [UInt8] = []
        for part in parts {
            let count = part.utf8.count
            out.append(UInt8(truncatingIfNeeded: count >> 8))
            out.append(UInt8(truncatingIfNeeded: count))
            out.append(contentsOf: part.utf8)
        }
        return out.count <= maxKeyBytes ? out : hashed(out)
    }

    static func hashed(_ bytes: [UInt8]) -> [UInt8] { [0xFF] + Array(SHA256.hash(data: bytes)) }

    /// Every (index, key) an event is filed under; a field changed twice in one event counts once.
    public static func entries(for e: Envelope) -> [(IndexKind, [UInt8])] {
        var out: [(IndexKind, [UInt8])] = [
            (.subject, subject(type: e.subject.type, id: e.subject.id)),
            (.actor, actor(e.actor.id)),
            (.type, type(e.type)),
            (.time, time(e.instant)),
        ]
        for name in distinctFields(e.changes) {
            out.append((.field, field(subjectType: e.subject.type, subjectId: e.subject.id, field: name)))
        }
        return out
    }

    /// The changed fields, each once, in order: a scan for the few changes an event usually has,
    /// hashing past 16, so an event with thousands of changes costs thousands of look-ups, not their square.
    static func distinctFields(_ changes: [Envelope.Change]) -> [String] {
        if changes.count <= 16 {
            var seen: [String] = []
            for change in changes where !seen.contains(where: { utf8Equal($0, change.field) }) { seen.append(change.field) }
            return seen
        }
        var seen = Set<[UInt8]>()
        return changes.map(\.field).filter { seen.insert(Array($0.utf8)).inserted }
    }
}
