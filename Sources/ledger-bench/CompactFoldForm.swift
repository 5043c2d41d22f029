import EventModel
import Projector
import Zstd

/// Issue 10's third option for a faster rebuild, measured and not built: a compact binary form of
/// what a fold reads (`StoredEvent.decodeForFold`'s value), which the writer could store beside each
/// record so that a rebuild reads it instead of decoding the record's JSON. `--fold-parts` times
/// making it (the writer's cost), reading it back (the rebuild's), and its size under a dictionary
/// trained on it, as records are compressed (the disk's cost).
enum CompactFoldForm {
    struct Malformed: Error {}

    static func encode(_ event: StoredEvent, types: [String: Int]) -> [UInt8] {
        var w = ByteWriter(capacity: 96)
        let e = event.envelope
        w.write(event.seq)
        if let known = types[e.type] {
            w.write(known + 1)
        } else {
            w.write(0)
            w.write(e.type)
        }
        w.write(e.instant)
        w.write(e.actor.id)
        w.write(e.subject.type)
        w.write(e.subject.id)
        w.write(e.outcome == .success ? 0 : 1)
        w.write(e.changes.count)
        for change in e.changes {
            w.write(change.field)
            write(change.old, &w)
            write(change.new, &w)
        }
        if let data = e.data {
            w.write(data.count + 1)
            for member in data {
                w.write(member.key)
                w.write(member.value.stringValue ?? "")
            }
        } else {
            w.write(0)
        }
        return w.bytes
    }

    static func decode(_ bytes: UnsafeRawBufferPointer, types: [String]) throws -> StoredEvent {
        var r = ByteReader(bytes)
        let seq = try r.uint64()
        let typeIndex = try r.int()
        let type: String
        if typeIndex == 0 {
            type = try r.string()
        } else {
            guard typeIndex <= types.count else { throw Malformed() }
            type = types[typeIndex - 1]
        }
        let instant = try r.instant()
        let actor = try r.string()
        let subject = Envelope.Subject(type: try r.string(), id: try r.string())
        let outcome: Envelope.Outcome = try r.int() == 0 ? .success : .failure
        let changeCount = try r.int()
        var changes: [Envelope.Change] = []
        changes.reserveCapacity(changeCount)
        for _ in 0..<changeCount {
            let field = try r.string()
            let old = try read(&r)
            changes.append(Envelope.Change(field: field, old: old, new: try read(&r)))
        }
        let dataCount = try r.int()
        var data: [JSONMember]?
        if dataCount > 0 {
            var members: [JSONMember] = []
            for _ in 0..<(dataCount - 1) { members.append(JSONMember(try r.string(), .string(try r.string()))) }
            data = members
        }
        let envelope = Envelope(folding: type, instant: instant, actor: actor, subject: subject, changes: changes, data: data, outcome: outcome)
        return StoredEvent(seq: seq, recordedAt: "", envelope: envelope)
    }

    /// A value as a tag and its parts: 0 absent, 1 null, 2 false, 3 true, 4 number, 5 string, 6 array, 7 object.
    private static func write(_ value: JSONValue?, _ w: inout ByteWriter) {
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
            for item in items { write(item, &w) }
        case .object(let members):
            w.write(7)
            w.write(members.count)
            for member in members {
                w.write(member.key)
                write(member.value, &w)
            }
        }
    }

    private static func read(_ r: inout ByteReader) throws -> JSONValue? {
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
            for _ in 0..<count { items.append(try read(&r) ?? .null) }
            return .array(items)
        case 7:
            let count = try r.int()
            var members: [JSONMember] = []
            for _ in 0..<count { members.append(JSONMember(try r.string(), try read(&r) ?? .null)) }
            return .object(members)
        default: throw Malformed()
        }
    }

    /// Times making and reading the compact forms of `events` (fastest of `passes`), checks that
    /// each reads back equal, and measures their size compressed one by one under a dictionary
    /// trained on them, beside the records' own.
    static func measure(_ events: [StoredEvent], records: [[UInt8]], passes: Int) throws -> String {
        let typeList = Catalog.knownTypes
        let types = Dictionary(uniqueKeysWithValues: typeList.enumerated().map { ($1, $0) })
        var forms: [[UInt8]] = []
        var encodeTimes: [Duration] = [], decodeTimes: [Duration] = []
        for _ in 0..<max(1, passes) {
            forms = []
            forms.reserveCapacity(events.count)
            var t = ContinuousClock.now
            for event in events { forms.append(encode(event, types: types)) }
            encodeTimes.append(ContinuousClock.now - t)
            var decoded: [StoredEvent] = []
            decoded.reserveCapacity(forms.count)
            t = ContinuousClock.now
            for form in forms { decoded.append(try form.withUnsafeBytes { try decode($0, types: typeList) }) }
            decodeTimes.append(ContinuousClock.now - t)
            guard decoded == events else { throw Malformed() }
        }
        let formBytes = forms.reduce(0) { $0 + $1.count }
        let compressed = try compressedSize(forms)
        let recordBytes = records.reduce(0) { $0 + $1.count }
        let recordsCompressed = try compressedSize(records)
        func ns(_ times: [Duration]) -> Int { Int((times.min()! / events.count).components.attoseconds / 1_000_000_000) }
        return "compact fold form: made in \(ns(encodeTimes)) ns/event, read back in \(ns(decodeTimes)) ns/event (fastest pass); "
            + "\(formBytes / events.count) B/event, \(compressed / events.count) B compressed one by one under a 64 KiB dictionary trained on them "
            + "(the records: \(recordBytes / events.count) B, \(recordsCompressed / events.count) B compressed so)"
    }

    private static func compressedSize(_ items: [[UInt8]]) throws -> Int {
        let samples = stride(from: 0, to: items.count, by: max(1, items.count / 20_000)).map { items[$0] }
        let dictionary = try ZstdDictionary(bytes: try ZstdDictionary.train(samples: samples, capacity: 64 * 1024))
        let compressor = ZstdCompressor()
        var total = 0
        for item in items { total += try item.withUnsafeBytes { try compressor.compress($0, dictionary: dictionary) { $0.count } } }
        return total
    }
}
