import EventModel
import LMDB

extension EventLog {
    /// Where a query's candidate seqs come from: the most selective index its filters allow.
    enum Driver {
        case index(IndexKind, [UInt8])
        case typePrefix([UInt8])
        case timeRange(low: [UInt8], high: [UInt8])
        case allRecords
    }

    /// Time ranges with at most this many events are read from the time index and sorted by seq;
    /// wider ones scan the records in seq order, where matches are dense.
    static let timeRangeMaterializeLimit = 50_000

    /// The page of events the query selects (blocking; use `read` from async code).
    public func events(_ query: EventQuery) throws -> EventPage {
        let limit = min(max(query.limit, 1), 10_000)
        var upper: UInt64? = nil  // exclusive, desc only
        var lower = query.afterSeq ?? 0  // exclusive
        if let cursor = query.cursor {
            let last = try PageCursor.decode(cursor, order: query.order)
            if query.order == .asc { lower = max(lower, last) } else { upper = last }
        }
        var driver = Self.driver(for: query)
        // The tail first, then the snapshot: a fold that lands in between only moves events from
        // the tail to LMDB, and the snapshot's watermark covers them (see `TailIndex`).
        var (tailHead, tailSeqs) = tail.withLock { tail -> (UInt64, [UInt64]) in
            switch driver {
            case .index(let kind, let key): (tail.head, tail.seqs(kind, key))
            case .typePrefix(let prefix): (tail.head, tail.seqs(.type, prefix: prefix))
            case .timeRange(let low, let high): (tail.head, tail.seqs(timeFrom: low, through: high))
            case .allRecords: (tail.head, [])
            }
        }
        let reader = store.forms.reader()
        return try store.environment.read { txn in
            let watermark = Store.indexedThrough(try txn.get(store.meta, Store.indexedThroughKey))
            let visible = max(tailHead, watermark)
            tailSeqs = tailSeqs.filter { $0 > watermark }
            var streams: [SeqStream] = []
            switch driver {
            case .index(let kind, let key):
                streams = [.duplicates(store.index(kind), key), .list(tailSeqs)]
            case .typePrefix(let prefix):
                streams = try Self.keys(withPrefix: prefix, in: store.index(.type), txn).map { .duplicates(store.index(.type), $0) }
                streams.append(.list(tailSeqs))
            case .timeRange(let low, let high):
                if let seqs = try Self.seqs(
                    timeFrom: low, through: high, in: store.index(.time), indexedThrough: watermark, txn, limit: Self.timeRangeMaterializeLimit)
                {
                    streams = [.list((seqs + tailSeqs).sorted())]
                } else {
                    driver = .allRecords
                    streams = [.records]
                }
            case .allRecords:
                streams = [.records]
            }
            let needsCheck = Self.needsResidualCheck(query, driver: driver)
            var found: [LoggedEvent] = []
            var bound: UInt64 = query.order == .asc ? lower : (upper ?? (visible == .max ? .max : visible + 1))
            let chunk = needsCheck ? 512 : limit + 1
            rounds: while found.count <= limit {
                var candidates: [UInt64] = []
                var horizon: UInt64?
                for stream in streams {
                    let seqs = try stream.fetch(
                        txn, beyond: bound, order: query.order, count: chunk, indexedThrough: watermark, visible: visible,
                        records: store.records)
                    candidates.append(contentsOf: seqs)
                    if seqs.count == chunk, let last = seqs.last {
                        horizon = query.order == .asc ? min(horizon ?? .max, last) : max(horizon ?? 0, last)
                    }
                }
                if candidates.isEmpty { break }
                candidates.sort(by: query.order == .asc ? (<) : (>))
                for seq in candidates {
                    if let horizon, query.order == .asc ? seq > horizon : seq < horizon { break }
                    if query.order == .desc && seq <= lower { break rounds }
                    guard let value = try txn.get(store.records, bigEndianBytes(seq)) else { continue }
                    // A candidate the residual check turns down is decoded in place, never copied.
                    let match = reader.withCanonical(UnsafeRawBufferPointer(rebasing: value[32...])) { record -> LoggedEvent? in
                        if needsCheck {
                            guard let event = decodeOrReport(seq: seq, record), query.matches(event.envelope) else { return nil }
                        }
                        return LoggedEvent(seq: seq, hash: Array(value.prefix(32)), record: Array(record))
                    }
                    guard let match else { continue }
                    found.append(match)
                    if found.count > limit { break rounds }
                }
                guard let horizon else { break }
                bound = horizon
            }
            var next: String?
            if found.count > limit {
                found.removeLast(found.count - limit)
                next = PageCursor.encode(order: query.order, lastSeq: found[limit - 1].seq)
            }
            return EventPage(events: found, next: next)
        }
    }

    static func driver(for q: EventQuery) -> Driver {
        if let type = q.subjectType, let id = q.subjectId {
            if let field = q.field {
                return .index(.field, IndexKeys.field(subjectType: type, subjectId: id, field: field))
            }
            return .index(.subject, IndexKeys.subject(type: type, id: id))
        }
        if let actor = q.actor { return .index(.actor, IndexKeys.actor(actor)) }
        if let prefix = q.typePrefix { return .typePrefix(Array(prefix.utf8)) }
        if let type = q.type { return .index(.type, IndexKeys.type(type)) }
        if q.since != nil || q.until != nil {
            let low = (q.since ?? Instant(seconds: .min / 2)).sortableBytes
            let high = (q.until ?? Instant(seconds: .max / 2)).sortableBytes
            return .timeRange(low: low, high: high)
        }
        return .allRecords
    }

    /// Whether candidates from the driver must be decoded and checked against the filters.
    static func needsResidualCheck(_ q: EventQuery, driver: Driver) -> Bool {
        var extra = q.since != nil || q.until != nil
        switch driver {
        case .index(.field, let key), .index(.subject, let key):
            extra = extra || q.actor != nil || q.type != nil || key.first == 0xFF
            if case .index(.subject, _) = driver { extra = extra || q.field != nil }
        case .index(.actor, let key):
            extra = extra || q.subjectType != nil || q.subjectId != nil || q.type != nil || q.field != nil || key.first == 0xFF
        case .index, .typePrefix:
            extra = extra || q.subjectType != nil || q.subjectId != nil || q.field != nil || q.actor != nil
        case .timeRange:
            extra = q.subjectType != nil || q.subjectId != nil || q.field != nil
        case .allRecords:
            extra = extra || q.subjectType != nil || q.subjectId != nil || q.field != nil
        }
        return extra
    }

    /// The seqs of one subject's events in `(after, through]`, ascending: from the subject index up to
    /// its watermark, and from the tail past it. For what is kept beside the log by seq alone and found
    /// for a subject through here (the projection's access trail). Blocking.
    public func subjectSeqs(_ subject: Envelope.Subject, after: UInt64, through: UInt64) throws -> [UInt64] {
        guard after < through else { return [] }
        let key = IndexKeys.subject(type: subject.type, id: subject.id)
        // The tail first, then the snapshot, as `events` reads them.
        let tailSeqs = tail.withLock { $0.seqs(.subject, key) }
        return try store.environment.read { txn in
            let watermark = Store.indexedThrough(try txn.get(store.meta, Store.indexedThroughKey))
            var seqs = try SeqStream.duplicates(store.index(.subject), key).fetch(
                txn, beyond: after, order: .asc, count: .max, indexedThrough: min(watermark, through), visible: through,
                records: store.records)
            seqs += tailSeqs.filter { $0 > max(after, watermark) && $0 <= through }
            return seqs
        }
    }

    static func keys(withPrefix prefix: [UInt8], in database: Database, _ txn: borrowing ReadTransaction) throws -> [[UInt8]] {
        try txn.withCursor(database) { cursor in
            var keys: [[UInt8]] = []
            var entry = try cursor.get(.keyRange, key: prefix)
            while let (key, _) = entry, key.starts(with: prefix) {
                keys.append(Array(key))
                entry = try cursor.get(.nextKey)
            }
            return keys
        }
    }

    /// The seqs filed under times in `low ... high`, up to the watermark (a fold under way writes
    /// entries past it, which the tail still gives), or nil when there are more than `limit`.
    static func seqs(
        timeFrom low: [UInt8], through high: [UInt8], in database: Database, indexedThrough: UInt64, _ txn: borrowing ReadTransaction,
        limit: Int
    ) throws -> [UInt64]? {
        try txn.withCursor(database) { cursor in
            var seqs: [UInt64] = []
            var entry = try cursor.get(.keyRange, key: low)
            while let (key, value) = entry, !high.lexicographicallyPrecedes(key) {
                let seq = readBigEndianUInt64(value)
                if seq <= indexedThrough { seqs.append(seq) }
                if seqs.count > limit { return nil }
                entry = try cursor.get(.next)
            }
            return seqs
        }
    }
}

/// One ordered source of seqs for a query.
enum SeqStream {
    /// The seqs of one key in a duplicate-sorted index, up to the watermark.
    case duplicates(Database, [UInt8])
    /// Sorted seqs held in memory (the tail's, or a materialized time range).
    case list([UInt64])
    /// Every record, up to what this read may see.
    case records

    /// Up to `count` seqs strictly beyond `bound` (above it ascending, below it descending).
    func fetch(
        _ txn: borrowing ReadTransaction, beyond bound: UInt64, order: EventQuery.Order, count: Int,
        indexedThrough: UInt64, visible: UInt64, records: Database
    ) throws -> [UInt64] {
        switch self {
        case .list(let seqs):
            if order == .asc {
                let start = seqs.partitioningIndex { $0 > bound }
                return Array(seqs[start..<min(start + count, seqs.count)])
            }
            let end = seqs.partitioningIndex { $0 >= bound }
            return Array(seqs[max(0, end - count)..<end].reversed())
        case .duplicates(let database, let key):
            return try txn.withCursor(database) { cursor in
                try Self.walk(cursor, key: key, bound: bound, cap: indexedThrough, order: order, count: count)
            }
        case .records:
            return try txn.withCursor(records) { cursor in
                var out: [UInt64] = []
                if order == .asc {
                    guard bound < visible else { return out }
                    var entry = try cursor.get(.keyRange, key: bigEndianBytes(bound + 1))
                    while let (key, _) = entry, out.count < count {
                        let seq = readBigEndianUInt64(key)
                        if seq > visible { break }
                        out.append(seq)
                        entry = try cursor.get(.next)
                    }
                } else {
                    guard bound > 1 else { return out }
                    let top = min(bound - 1, visible)
                    var entry = try cursor.get(.keyRange, key: bigEndianBytes(top))
                    if let (key, _) = entry, readBigEndianUInt64(key) > top { entry = try cursor.get(.previous) }
                    if entry == nil { entry = try cursor.get(.last) }
                    while let (key, _) = entry, out.count < count {
                        let seq = readBigEndianUInt64(key)
                        if seq <= top { out.append(seq) }
                        entry = try cursor.get(.previous)
                    }
                }
                return out
            }
        }
    }

    private static func walk(
        _ cursor: borrowing Cursor, key: [UInt8], bound: UInt64, cap: UInt64, order: EventQuery.Order, count: Int
    ) throws -> [UInt64] {
        var out: [UInt64] = []
        guard let first = try cursor.get(.key, key: key) else { return out }
        if order == .asc {
            guard bound < cap else { return out }
            // From the start, the key's first value is where the walk begins: no second seek.
            var entry = bound == 0 ? first : try cursor.get(.valueRange, key: key, value: bigEndianBytes(bound + 1))
            while let (_, value) = entry, out.count < count {
                let seq = readBigEndianUInt64(value)
                if seq > cap { break }
                out.append(seq)
                entry = try cursor.get(.nextDuplicate)
            }
        } else {
            guard bound > 1 else { return out }
            let top = min(bound - 1, cap)
            var entry: Cursor.Entry?
            if top < .max, let above = try cursor.get(.valueRange, key: key, value: bigEndianBytes(top + 1)) {
                _ = above
                entry = try cursor.get(.previousDuplicate)
            } else {
                _ = try cursor.get(.key, key: key)
                entry = try cursor.get(.lastDuplicate)
            }
            while let (_, value) = entry, out.count < count {
                let seq = readBigEndianUInt64(value)
                if seq <= top { out.append(seq) }
                entry = try cursor.get(.previousDuplicate)
            }
        }
        return out
    }
}

extension Array where Element == UInt64 {
    /// The first index whose element satisfies `belongs`, which must be false then true along the array.
    func partitioningIndex(where belongs: (UInt64) -> Bool) -> Int {
        var low = 0
        var high = count
        while low < high {
            let mid = (low + high) / 2
            if belongs(self[mid]) { high = mid } else { low = mid + 1 }
        }
        return low
    }
}

extension EventLog {
    /// The event types and subject types the ledger holds, sorted: for suggesting what a mistyped
    /// filter meant. Read from the indexes one distinct key at a time (a seek past each subject
    /// type skips all its ids) and from the tail.
    public func vocabulary() throws -> (eventTypes: [String], subjectTypes: [String]) {
        var (eventTypes, subjectTypes) = tail.withLock { tail -> (Set<String>, Set<String>) in
            (Set(tail.keys(.type).map { String(decoding: $0, as: UTF8.self) }), Set(tail.keys(.subject).compactMap(Self.firstPart)))
        }
        try store.environment.read { txn in
            try txn.withCursor(store.index(.type)) { cursor in
                var entry = try cursor.get(.first)
                while let (key, _) = entry {
                    eventTypes.insert(String(decoding: key, as: UTF8.self))
                    entry = try cursor.get(.nextKey)
                }
            }
            try txn.withCursor(store.index(.subject)) { cursor in
                var entry = try cursor.get(.first)
                while let (key, _) = entry, let type = Self.firstPart(Array(key)) {
                    subjectTypes.insert(type)
                    // Past every id of this type: its length-prefixed part, then a byte above any id's length prefix.
                    entry = try cursor.get(.keyRange, key: Array(key.prefix(2 + type.utf8.count)) + [0xFF])
                }
            }
        }
        return (eventTypes.sorted(), subjectTypes.sorted())
    }

    /// The first part of a composite index key (`IndexKeys.composite`); nil for a hashed key.
    static func firstPart(_ key: [UInt8]) -> String? {
        guard key.count >= 2, key[0] != 0xFF else { return nil }
        let count = Int(key[0]) << 8 | Int(key[1])
        guard key.count >= 2 + count else { return nil }
        return String(decoding: key[2..<(2 + count)], as: UTF8.self)
    }
}
