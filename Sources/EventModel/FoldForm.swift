/// What a fold reads of an event (`StoredEvent.decodeForFold`'s value) as a few bytes: the log keeps
/// these beside its records so that a projection rebuilt from the log reads them instead of decoding
/// every record's JSON, which was most of a rebuild's reading (BENCHMARKS.md, issue 10).
///
/// One form: a tag (0 the record did not decode, 1 success, 2 failure, 3 read the record instead: a
/// form past `largestForm`, so that a block of forms stays small), the type (its place in
/// `Catalog.knownTypes` plus one, or 0 and the text), the instant, the actor's id, the subject, the
/// changes (each value tagged: 0 absent, 1 null, 2 false, 3 true, 4 number, 5 string, 6 array,
/// 7 object), and `data`'s fold strings (0 absent, else their count plus one, each as its place in
/// `StoredEvent.foldDataKeys` and its text). Read back, it equals what `decodeForFold` reads from the
/// record (`FoldFormTests`).
public enum FoldForm {
    public struct Malformed: Error, CustomStringConvertible {
        public init() {}
        public var description: String { "a stored fold form is malformed" }
    }

    /// A form longer than this is stored as "read the record" (`inRecordForm`).
    public static let largestForm = 16 * 1024

    /// What a stored form holds.
    public enum Reading: Equatable, Sendable {
        case event(StoredEvent)
        /// The record did not decode when its form was made.
        case undecodable
        /// The event is read from its record (`largestForm`).
        case inRecord
    }

    private static let types = Catalog.knownTypes
    /// Places of the known types and of the fold's `data` keys, matched as words (`SpanNames`), not hashed.
    private static let typePlaces = SpanNames<Int>(types.enumerated().map { ($1, $0) })
    private static let dataKeyPlaces = SpanNames<Int>(StoredEvent.foldDataKeys.enumerated().map { ($1, $0) })

    private static func place(of text: String, among names: SpanNames<Int>) -> Int? {
        var text = text
        return text.withUTF8 { utf8 in utf8.baseAddress.flatMap { names.match($0, utf8.count) } }
    }

    /// The form of an envelope already in fold form (`Envelope.foldForm`, or `decodeForFold`'s).
    public static func write(_ e: Envelope, into w: inout ByteWriter) {
        w.write(e.outcome == .success ? 1 : 2)
        if let place = place(of: e.type, among: typePlaces) {
            w.write(place + 1)
        } else {
            w.write(0)
            w.write(e.type)
        }
        w.write(e.instant)
        w.write(e.actor.id)
        w.write(e.subject.type)
        w.write(e.subject.id)
        w.write(e.changes.count)
        for change in e.changes {
            w.write(change.field)
            write(change.old, into: &w)
            write(change.new, into: &w)
        }
        if let data = e.data {
            w.write(data.count + 1)
            for member in data {
                w.write(place(of: member.key, among: dataKeyPlaces) ?? 0)
                w.write(member.value.stringValue ?? "")
            }
        } else {
            w.write(0)
        }
    }

    /// The form of a record that does not decode: a rebuild leaves it out, as it leaves out the record.
    public static let undecodableForm: [UInt8] = [0]

    /// The form that sends a rebuild to the record.
    public static let inRecordForm: [UInt8] = [3]

    /// The form of an envelope in fold form as bytes of their own, or "read the record" past `largestForm`.
    public static func bytes(of e: Envelope) -> [UInt8] {
        var w = ByteWriter(capacity: 96)
        write(e, into: &w)
        return w.bytes.count > largestForm ? inRecordForm : w.bytes
    }

    /// What a form holds, for the event at `seq`.
    public static func read(_ r: inout ByteReader, seq: UInt64) throws -> Reading {
        var events: [StoredEvent] = []
        switch try read(&r, seq: seq, appendingTo: &events) {
        case .event: return .event(events[0])
        case .undecodable: return .undecodable
        case .inRecord: return .inRecord
        }
    }

    /// What a form holds, without the event: `Kind.event` appended it to `events`.
    public enum Kind: Sendable { case event, undecodable, inRecord }

    /// The same, the event made where the caller keeps it: a rebuild reads a million forms, and a
    /// `Reading` moved out of its enum was copied and released, every string and array of the event.
    public static func read(_ r: inout ByteReader, seq: UInt64, appendingTo events: inout [StoredEvent]) throws -> Kind {
        let tag = try r.byte()
        switch tag {
        case 0: return .undecodable
        case 3: return .inRecord
        case 1, 2: break
        default: throw Malformed()
        }
        let place = try r.int()
        let type: String
        if place == 0 {
            type = try r.string()
        } else {
            guard place <= types.count else { throw Malformed() }
            type = types[place - 1]
        }
        let instant = try r.instant()
        let actor = try r.string()
        let subject = Envelope.Subject(type: try r.string(), id: try r.string())
        let changeCount = try r.int()
        var changes: [Envelope.Change] = []
        changes.reserveCapacity(min(changeCount, 64))
        for _ in 0..<changeCount {
            let field = try r.string()
            let old = try value(&r, depth: 0)
            changes.append(Envelope.Change(field: field, old: old, new: try value(&r, depth: 0)))
        }
        var data: [JSONMember]?
        let dataCount = try r.int()
        if dataCount > 0 {
            var members: [JSONMember] = []
            members.reserveCapacity(min(dataCount - 1, StoredEvent.foldDataKeys.count))
            for _ in 0..<(dataCount - 1) {
                let key = try r.int()
                guard key < StoredEvent.foldDataKeys.count else { throw Malformed() }
                members.append(JSONMember(StoredEvent.foldDataKeys[key], .string(try r.string())))
            }
            data = members
        }
        let envelope = Envelope(
            folding: type, instant: instant, actor: actor, subject: subject, changes: changes, data: data,
            outcome: tag == 1 ? .success : .failure)
        events.append(StoredEvent(seq: seq, recordedAt: "", envelope: envelope))
        return .event
    }

    private static func write(_ value: JSONValue?, into w: inout ByteWriter) {
        switch value {
        case nil: w.write(0)
        case .null: w.write(1)
        case .bool(let b): w.write(b ? 3 : 2)
        case .number(let text):
            w.write(4)
            w.write(text)
        case .string(let text):
            w.write(5)
            w.write(text)
        case .array(let items):
            w.write(6)
            w.write(items.count)
            for item in items { write(item, into: &w) }
        case .object(let members):
            w.write(7)
            w.write(members.count)
            for member in members {
                w.write(member.key)
                write(member.value, into: &w)
            }
        }
    }

    /// A tagged value; nesting is bounded as records' is, so a damaged form cannot exhaust the stack.
    private static func value(_ r: inout ByteReader, depth: Int) throws -> JSONValue? {
        guard depth <= JSONParser.defaultMaxDepth else { throw Malformed() }
        switch try r.byte() {
        case 0: return nil
        case 1: return .null
        case 2: return .bool(false)
        case 3: return .bool(true)
        case 4: return .number(try r.string())
        case 5: return .string(try r.string())
        case 6:
            let count = try r.int()
            var items: [JSONValue] = []
            items.reserveCapacity(min(count, 64))
            for _ in 0..<count {
                guard let item = try value(&r, depth: depth + 1) else { throw Malformed() }
                items.append(item)
            }
            return .array(items)
        case 7:
            let count = try r.int()
            var members: [JSONMember] = []
            members.reserveCapacity(min(count, 64))
            for _ in 0..<count {
                let key = try r.string()
                guard let member = try value(&r, depth: depth + 1) else { throw Malformed() }
                members.append(JSONMember(key, member))
            }
            return .object(members)
        default: throw Malformed()
        }
    }
}
