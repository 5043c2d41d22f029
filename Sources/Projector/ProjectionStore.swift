import Crypto
import EventLog
import EventModel
import Glibc
import LMDB

/// The projection in its own LMDB environment beside the log's: every entity of `ProjectionState`,
/// the insert-only sets, the findings, and the watermark that says which prefix of the log it is.
/// It can be thrown away (delete the directory, or a format change) and rebuilt from the log.
///
/// - one database per `ProjectionTable`: key (the id, hashed past 400 bytes) → id ‖ entity
/// - `sets`: set tag (1) ‖ key length (2) ‖ key ‖ member → key ‖ member (keys hashed past 200 bytes)
/// - `trail`: the access trail (`AccessTrail`), seq (8, big-endian) → the event's compact fold form;
///   a subject's entries are found through the log's subject index (`EventLog.subjectSeqs`)
/// - `trailTimes`, `lateTrail`: where the trail's time runs ahead and which events came late
///   (`AccessTrail.Times`), so an answer as of a time knows up to where intervals are exact
/// - `intervals`: when each access fact held (`AccessIntervals`)
/// - `findings`: seq (8, big-endian) ‖ kind code (1) ‖ ordinal (2) → the finding as canonical JSON
/// - `meta`: `format` (with the policy), `watermark` = seq (8) ‖ the log's chain hash at that seq,
///   `bootstrapped`, `trailTime` (the latest time on the trail so far)
///
/// A batch of the fold is one write transaction: entities, set members, findings and watermark
/// commit together or not at all, so a kill at any moment leaves a projection of some prefix. An
/// entity the fold took away (a day of stale-access watches that came due) is deleted in it.
final class ProjectionStore: @unchecked Sendable {
    /// Bump when the stored form or the rules change: the projection is then rebuilt.
    static let format: [UInt8] = Array("projection-8".utf8)

    struct Watermark: Equatable, Sendable {
        var seq: UInt64
        /// The log's chain hash after `seq` (empty for seq 0).
        var hash: [UInt8]
    }

    /// What a stored projection says about itself.
    struct Header: Sendable {
        var watermark: Watermark
        var bootstrapped: Bool
        /// The policy the projection was folded under.
        var policy: Policy
        /// The latest `time` of an event on the access trail so far.
        var trailTime: Instant?
    }

    /// What one batch of the fold adds besides the entities it changed.
    struct BatchOutput {
        var findings: [Finding] = []
        var trail: [(seq: UInt64, value: [UInt8])] = []
        var times = AccessTrail.Times()
        var intervals: [AccessIntervals.Moment] = []
    }

    /// The policy as the format records it.
    static func tag(_ policy: Policy) -> [UInt8] { Array(policy.tag.utf8) }

    let environment: Environment
    /// The log the projection folds: where a subject's events on the trail are found.
    let log: EventLog
    let tables: [ProjectionTable: Database]
    let sets: Database
    let trail: Database
    let trailTimes: Database
    let lateTrail: Database
    let intervals: Database
    let findings: Database
    let meta: Database

    /// A commit that syncs syncs its pages but not the meta page: a system crash may undo the last
    /// batch, whose watermark then names an earlier seq of the same log, and the follower folds from
    /// there again. Commits that skip their sync (`BatchWrites.syncs`, the default while events come)
    /// leave a marker: after a system crash it is another boot's, and the projection is rebuilt (`remove`).
    init(path: String, readOnly: Bool, log: EventLog) throws {
        self.log = log
        environment = try Environment(
            .init(path: path, mapSize: 4 << 30, maxReaders: 256, maxDatabases: 16, readOnly: readOnly, lastCommitMayBeUndone: true))
        let others = ["sets", "trail", "trailTimes", "lateTrail", "intervals", "findings", "meta"]
        let names = ProjectionTable.allCases.map(\.rawValue) + others
        let databases = try environment.openDatabases(names.map { ($0, []) })
        var tables: [ProjectionTable: Database] = [:]
        for (i, table) in ProjectionTable.allCases.enumerated() { tables[table] = databases[i] }
        self.tables = tables
        let other = Array(databases.suffix(others.count))
        (sets, trail, trailTimes, lateTrail, intervals, findings, meta) = (other[0], other[1], other[2], other[3], other[4], other[5], other[6])
    }

    /// Deletes a stored projection that may be torn, before it is opened: its files go, the
    /// directory stays (the marker of unsynced commits last, so a crash part-way deletes again).
    static func remove(path: String) throws {
        for file in ["data.mdb", "lock.mdb", Environment.unsyncedMarkerName] {
            let name = path + "/" + file
            guard unlink(name) == 0 || errno == ENOENT else { throw LMDBError(code: errno, operation: "unlink \(name)") }
        }
    }

    /// Every database but the entity tables.
    private var others: [Database] { [sets, trail, trailTimes, lateTrail, intervals, findings, meta] }

    // MARK: - Header

    private static let formatKey = Array("format".utf8)
    private static let watermarkKey = Array("watermark".utf8)
    private static let bootstrappedKey = Array("bootstrapped".utf8)
    private static let trailTimeKey = Array("trailTime".utf8)

    /// The header, if the stored projection is of this format and policy (any policy for nil);
    /// else nil: rebuild it.
    func header(_ txn: borrowing ReadTransaction, policy wanted: Policy?) throws -> Header? {
        guard let format = try txn.get(meta, Self.formatKey).map(Array.init),
            format.starts(with: Self.format + [0]),
            let policy = Policy(tag: String(decoding: format.dropFirst(Self.format.count + 1), as: UTF8.self)),
            wanted.map({ $0 == policy }) ?? true,
            let mark = try txn.get(meta, Self.watermarkKey), mark.count >= 8
        else { return nil }
        let flag = try txn.get(meta, Self.bootstrappedKey)
        let trailTime = try txn.get(meta, Self.trailTimeKey).flatMap { AccessTrail.Times.instant(fromKey: $0) }
        return Header(
            watermark: Watermark(seq: readBigEndianUInt64(UnsafeRawBufferPointer(rebasing: mark[0..<8])), hash: Array(mark[8...])),
            bootstrapped: flag.map { $0.first == 1 } ?? false, policy: policy, trailTime: trailTime)
    }

    /// Whether anything was ever stored here (a format is written first).
    func isNew() throws -> Bool {
        try environment.read { txn in try txn.get(meta, Self.formatKey) == nil }
    }

    /// Empties every table and starts a projection of nothing, of this format and policy.
    func reset(policy: Policy) throws {
        try environment.write { txn in
            for database in Array(tables.values) + others { try txn.clear(database) }
            try txn.put(meta, key: Self.formatKey, value: Self.format + [0] + Self.tag(policy))
            try txn.put(meta, key: Self.watermarkKey, value: bigEndianBytes(0))
        }
    }

    // MARK: - Writing a batch

    /// One batch's writes, made from the state on the fold's thread and written on the store's
    /// writer thread (`BatchWriter`), so the fold of the next batch need not wait for LMDB.
    struct BatchWrites: Sendable {
        var puts: [(Database, [UInt8], [UInt8])]
        /// The batch's events on the access trail, in seq order, all past what the store holds.
        var trail: [(seq: UInt64, value: [UInt8])]
        /// The changed entities, the sets' new members and the findings as values: the writer
        /// encodes them (`TableChanges`). On the fold's thread, which a rebuild waits on, encoding
        /// them was a ninth of its time (BENCHMARKS.md).
        var changes: [any TableChanges]
        var intervals: [AccessIntervals.Moment]
        /// Durable once written, with every batch before it. False (unless the projection is set to
        /// sync every batch): the commit skips its sync until a batch that syncs, or the sync when
        /// the ledger is quiet (`Environment.skipSyncs`).
        var syncs: Bool
    }

    /// What `state` changed since its last hand-off, what the batch added and the watermark, as the
    /// writes of one transaction; then `state` hands them off (`ProjectionState.handedOff`): it keeps
    /// what the fold may read again until a snapshot of the store holds them.
    func batchWrites(_ state: inout ProjectionState, _ output: BatchOutput, watermark: Watermark, syncs: Bool) -> BatchWrites {
        struct Changes: ProjectionTableVisitor {
            let store: ProjectionStore
            var changes: [any TableChanges] = []
            mutating func visit<Value>(_ table: WritableKeyPath<ProjectionState, EntityTable<Value>>, of state: inout ProjectionState) {
                let entities = state[keyPath: table]
                var changed = EntityChanges<Value>(database: store.tables[entities.table]!)
                entities.forEachEntry { id, entity in changed.entities.append((id, entity)) }
                if !changed.entities.isEmpty { changes.append(changed) }
            }
            mutating func visit(_ set: WritableKeyPath<ProjectionState, SetTable>, of state: inout ProjectionState) {
                let table = state[keyPath: set]
                if !table.added.isEmpty { changes.append(SetChanges(database: store.sets, set: table.set, added: table.added)) }
            }
        }
        var changes = Changes(store: self)
        state.visitTables(&changes)
        if !output.findings.isEmpty { changes.changes.append(FindingChanges(database: findings, findings: output.findings)) }
        var writes: [(Database, [UInt8], [UInt8])] = []
        writes.reserveCapacity(output.times.raised.count + output.times.late.count + 3)
        for key in output.times.raised { writes.append((trailTimes, key, [])) }
        for (key, value) in output.times.late { writes.append((lateTrail, key, value)) }
        if let latest = output.times.latest { writes.append((meta, Self.trailTimeKey, AccessTrail.Times.key(latest, seq: 0))) }
        writes.append((meta, Self.watermarkKey, bigEndianBytes(watermark.seq) + watermark.hash))
        writes.append((meta, Self.bootstrappedKey, [state.bootstrapped ? 1 : 0]))
        state.handedOff()
        return BatchWrites(puts: writes, trail: output.trail, changes: changes.changes, intervals: output.intervals, syncs: syncs)
    }

    /// Writes one batch in one transaction: all of it, watermark included, or nothing. A batch that
    /// does not sync starts (or goes on with) commits that skip their sync; one that syncs makes
    /// them all durable.
    func write(_ batch: BatchWrites) throws {
        if !batch.syncs { try environment.skipSyncs() }
        var encoded = EncodedWrites()
        try environment.write { txn in
            // A table at a time, encoded and ordered as it is written: a batch encoded whole beforehand
            // held 3–4 MiB more at a 1M rebuild's peak, where the memory budget binds (BENCHMARKS.md).
            // What is written depends on the batch alone: run again after the map grew, the closure
            // writes the same bytes.
            for changes in batch.changes {
                encoded.removeAll()
                changes.encode(into: &encoded)
                try encoded.write(txn, into: changes.database)
            }
            for (database, key, value) in batch.puts { try txn.put(database, key: key, value: value) }
            // Keyed by seq, every entry past the stored ones: appended, on the last pages alone. Keyed by
            // subject, each batch rewrote most of the trail's pages (BENCHMARKS.md).
            for (seq, value) in batch.trail { try txn.put(trail, key: bigEndianBytes(seq), value: value, flags: .append) }
            try AccessIntervals.write(batch.intervals, into: intervals, txn)
        }
        if batch.syncs { try environment.resumeSyncs() }
    }

    // MARK: - Keys

    /// seq (8) ‖ kind code (1) ‖ ordinal (2, big-endian).
    static func findingKey(_ position: Finding.Position) -> [UInt8] {
        bigEndianBytes(position.seq) + [position.code, UInt8(position.ordinal >> 8), UInt8(position.ordinal & 0xFF)]
    }

    static func entityKey(_ id: String) -> [UInt8] {
        var w = ByteWriter(capacity: id.utf8.count)
        appendEntityKey(id, to: &w)
        return w.bytes
    }

    static func appendEntityKey(_ id: String, to w: inout ByteWriter) { appendComponent(id, limit: 400, to: &w) }

    static func setKey(_ set: ProjectionSet, _ key: String) -> [UInt8] {
        var w = ByteWriter(capacity: 3 + key.utf8.count)
        appendSetKey(set, key, to: &w)
        return w.bytes
    }

    static func appendSetKey(_ set: ProjectionSet, _ key: String, to w: inout ByteWriter) {
        appendTagged(set.rawValue, key, limit: 200, to: &w)
    }

    /// `tag (1) ‖ length (2, big-endian) ‖ component`: the first part of a key, whose entries are then
    /// one range (a set's key, the access trail's subject, an interval's group).
    static func appendTagged(_ tag: UInt8, _ text: String, limit: Int, to w: inout ByteWriter) {
        w.append(byte: tag)
        let lengthAt = w.count
        w.append(byte: 0)
        w.append(byte: 0)
        appendComponent(text, limit: limit, to: &w)
        let length = w.count - lengthAt - 2
        w.set(UInt8(length >> 8), at: lengthAt)
        w.set(UInt8(length & 0xFF), at: lengthAt + 1)
    }

    /// The UTF-8 bytes, or past `limit` 0xFF ‖ their SHA-256 (0xFF never occurs in UTF-8), so that
    /// every key stays under LMDB's 511 bytes.
    static func component(_ text: String, limit: Int) -> [UInt8] {
        var w = ByteWriter(capacity: min(text.utf8.count, limit + 1))
        appendComponent(text, limit: limit, to: &w)
        return w.bytes
    }

    static func appendComponent(_ text: String, limit: Int, to w: inout ByteWriter) {
        if text.utf8.count <= limit {
            w.appendUTF8(text)
        } else {
            w.append([0xFF] + Array(SHA256.hash(data: Array(text.utf8))))
        }
    }
}

/// A stored projection read through one snapshot: the source a state folds over, or a query reads.
final class StoreSnapshot: ProjectionSource, @unchecked Sendable {
    let store: ProjectionStore
    let snapshot: Snapshot
    /// The first load that failed; the fold that saw it throws it instead of flushing.
    private(set) var failure: (any Error)?

    init(_ store: ProjectionStore) throws {
        self.store = store
        snapshot = try store.environment.snapshot()
    }

    func close() { snapshot.close() }

    func header(policy: Policy?) throws -> ProjectionStore.Header? {
        try snapshot.read { try store.header($0, policy: policy) }
    }

    /// Stored findings from `key` on, in seq order, until `take` returns false.
    func findings(from key: [UInt8], _ take: (Finding) -> Bool) throws {
        try snapshot.read { txn in
            try txn.withCursor(store.findings) { cursor in
                var entry = try cursor.get(.keyRange, key: key)
                while let (_, value) = entry {
                    // Findings are written by this program; one that does not parse is storage damage.
                    guard let finding = (try? JSONParser.parse(value)).flatMap(Finding.init(json:)) else {
                        throw ByteReader.Malformed()
                    }
                    if !take(finding) { return }
                    entry = try cursor.get(.next)
                }
            }
        }
    }

    /// How many stored findings there are of each kind code, from the keys alone.
    func findingCodeCounts(into counts: inout [Int]) throws {
        try snapshot.read { txn in
            try txn.withCursor(store.findings) { cursor in
                var entry = try cursor.get(.first)
                while let (key, _) = entry {
                    if key.count > 8, Int(key[8]) < counts.count { counts[Int(key[8])] += 1 }
                    entry = try cursor.get(.next)
                }
            }
        }
    }

    func noteFailure(_ error: any Error) {
        if failure == nil { failure = error }
    }

    func load(_ table: ProjectionTable, _ key: String) -> [UInt8]? {
        attempt {
            try snapshot.read { txn in
                try txn.get(store.tables[table]!, ProjectionStore.entityKey(key)).map { value in
                    var reader = ByteReader(value)
                    _ = try reader.string()
                    return reader.rest()
                }
            }
        } ?? nil
    }

    func scan(_ table: ProjectionTable) -> [(key: String, value: [UInt8])] {
        attempt {
            try snapshot.read { txn in
                try txn.withCursor(store.tables[table]!) { cursor in
                    var out: [(key: String, value: [UInt8])] = []
                    var entry = try cursor.get(.first)
                    while let (_, value) = entry {
                        var reader = ByteReader(value)
                        out.append((try reader.string(), reader.rest()))
                        entry = try cursor.get(.next)
                    }
                    return out
                }
            }
        } ?? []
    }

    func members(_ set: ProjectionSet, _ key: String) -> [String] {
        scanSet(prefix: ProjectionStore.setKey(set, key)).map(\.member)
    }

    func scan(_ set: ProjectionSet) -> [(key: String, member: String)] {
        scanSet(prefix: [set.rawValue])
    }

    func firstMember(_ set: ProjectionSet, _ key: String, where accept: (String) -> Bool) -> String? {
        var found: String?
        scanSet(prefix: ProjectionStore.setKey(set, key)) { _, member in
            if accept(member) { found = member }
            return found == nil
        }
        return found
    }

    private func scanSet(prefix: [UInt8]) -> [(key: String, member: String)] {
        var out: [(key: String, member: String)] = []
        scanSet(prefix: prefix) { key, member in
            out.append((key, member))
            return true
        }
        return out
    }

    /// The set entries under `prefix` in key order, until `body` returns false.
    private func scanSet(prefix: [UInt8], _ body: (String, String) -> Bool) {
        _ = attempt {
            try snapshot.read { txn in
                try txn.withCursor(store.sets) { cursor in
                    var entry = try cursor.get(.keyRange, key: prefix)
                    while let (key, value) = entry, key.starts(with: prefix) {
                        var reader = ByteReader(value)
                        if !body(try reader.string(), try reader.string()) { return }
                        entry = try cursor.get(.next)
                    }
                }
            }
        }
    }

    private func attempt<R>(_ body: () throws -> R) -> R? {
        do {
            return try body()
        } catch {
            noteFailure(error)
            return nil
        }
    }

    /// Stored entities of a table in key order after `after`, until `take` returns false. Keys are the
    /// ids' bytes (hashed past 400 bytes, so such ids come last, in no useful order).
    func entities<Value: StoredEntity>(_ type: Value.Type, _ table: ProjectionTable, after: String?, _ take: (String, Value) -> Bool) throws {
        try snapshot.read { txn in
            try txn.withCursor(store.tables[table]!) { cursor in
                var entry = try after.map { try cursor.get(.keyRange, key: ProjectionStore.entityKey($0) + [0]) } ?? (try cursor.get(.first))
                while let (_, value) = entry {
                    var reader = ByteReader(value)
                    let id = try reader.string()
                    if !take(id, try Value(from: &reader)) { return }
                    entry = try cursor.get(.next)
                }
            }
        }
    }

    /// The seqs and types of a subject's stored trail through seq `through` that `includes` lets in.
    func trailTypes(_ subject: Envelope.Subject, through: UInt64, includes: (UInt64, Instant) -> Bool) throws -> [(seq: UInt64, type: String)] {
        var out: [(seq: UInt64, type: String)] = []
        try walkTrail(subject, after: 0, through: through) { seq, value in
            let header = try AccessTrail.header(value)
            if includes(seq, header.time) { out.append((seq, header.type)) }
        }
        return out
    }

    /// A subject's stored trail entries in `(after, through]` that `includes` lets in.
    func trailEntries(_ subject: Envelope.Subject, after: UInt64, through: UInt64, includes: (UInt64, Instant) -> Bool) throws -> [TrailEntry] {
        var out: [TrailEntry] = []
        try walkTrail(subject, after: after, through: through) { seq, value in
            let entry = try AccessTrail.entry(seq: seq, value)
            if includes(seq, entry.time) { out.append(entry) }
        }
        return out
    }

    /// A subject's stored trail through seq `through`, the events `includes` lets in, oldest first.
    func trail(_ subject: Envelope.Subject, after: UInt64 = 0, through: UInt64, includes: (UInt64, Instant) -> Bool) throws -> [StoredEvent] {
        var out: [StoredEvent] = []
        try walkTrail(subject, after: after, through: through) { seq, value in
            let event = try AccessTrail.event(subject, seq: seq, value)
            if includes(seq, event.envelope.instant) { out.append(event) }
        }
        return out
    }

    /// Each stored trail entry of a subject in `(after, through]`, in seq order.
    private func walkTrail(
        _ subject: Envelope.Subject, after: UInt64, through: UInt64, _ body: (UInt64, UnsafeRawBufferPointer) throws -> Void
    ) throws {
        guard AccessTrail.isOnTrail(subject) else { return }
        // The subject's events from the log; those the trail holds are its entries (a failed event,
        // or one past what this snapshot folded, is not there).
        let seqs = try store.log.subjectSeqs(subject, after: after, through: through)
        guard !seqs.isEmpty else { return }
        try snapshot.read { txn in
            try txn.withCursor(store.trail) { cursor in
                for seq in seqs {
                    if let (_, value) = try cursor.get(.key, key: bigEndianBytes(seq)) { try body(seq, value) }
                }
            }
        }
    }

    /// Every stored entity and set member, in memory: for checking a stored projection against a fold.
    func loadAll(appliedThrough: UInt64, bootstrapped: Bool) throws -> ProjectionState {
        struct Load: ProjectionTableVisitor {
            let snapshot: StoreSnapshot
            func visit<Value>(_ table: WritableKeyPath<ProjectionState, EntityTable<Value>>, of state: inout ProjectionState) {
                let cache = EntityCache<Value>(table: state[keyPath: table].table, source: snapshot)
                for (id, value) in cache.all() { state[keyPath: table][id] = value }
            }
            func visit(_ set: WritableKeyPath<ProjectionState, SetTable>, of state: inout ProjectionState) {
                for (key, member) in snapshot.scan(state[keyPath: set].set) { state[keyPath: set].insert(member, into: key) }
            }
        }
        var state = ProjectionState()
        state.appliedThrough = appliedThrough
        state.bootstrapped = bootstrapped
        var load = Load(snapshot: self)
        state.visitTables(&load)
        if let failure { throw failure }
        return state
    }
}

/// What a batch changed in one table or set, or its findings, kept as values until the projection's
/// writer encodes them into the puts and deletes of the batch's transaction.
protocol TableChanges: Sendable {
    /// The database all of them go to.
    var database: Database { get }
    func encode(into writes: inout EncodedWrites)
}

/// The puts and deletes of one table's changes, their keys and values back to back in one buffer:
/// one array, emptied between tables, not two for each write (a rebuild of 1M events writes some
/// 300,000 entities and set members, each key and value an array of its own that was made, retained
/// and released).
struct EncodedWrites {
    private var buffer = ByteWriter(capacity: 1 << 20)
    private var puts: [(key: Range<Int>, value: Range<Int>)] = []
    private var deletes: [Range<Int>] = []

    mutating func put(key: (inout ByteWriter) -> Void, value: (inout ByteWriter) -> Void) {
        let start = buffer.count
        key(&buffer)
        let middle = buffer.count
        value(&buffer)
        puts.append((start..<middle, middle..<buffer.count))
    }

    /// Empty again for another table's writes, its room kept.
    mutating func removeAll() {
        buffer.removeAll()
        puts.removeAll(keepingCapacity: true)
        deletes.removeAll(keepingCapacity: true)
    }

    mutating func delete(key: (inout ByteWriter) -> Void) {
        let start = buffer.count
        key(&buffer)
        deletes.append(start..<buffer.count)
    }

    /// The deletes, then the puts sorted by key and written through one cursor: LMDB looks for a key
    /// first on the page its cursor is on, so puts in order mostly skip the search from the root and
    /// touch each page once in a row (LMDB's part of a 1M rebuild's writer fell by a quarter,
    /// BENCHMARKS.md). A key put twice keeps its order (the later wins).
    mutating func write(_ txn: borrowing WriteTransaction, into database: Database) throws {
        try buffer.bytes.withUnsafeBytes { bytes in
            for key in deletes { _ = try txn.delete(database, key: UnsafeRawBufferPointer(rebasing: bytes[key])) }
            puts.sort { a, b in
                let order = byteCompare(UnsafeRawBufferPointer(rebasing: bytes[a.key]), UnsafeRawBufferPointer(rebasing: bytes[b.key]))
                return order != 0 ? order < 0 : a.key.lowerBound < b.key.lowerBound
            }
            try txn.withCursor(database) { cursor in
                for put in puts {
                    try cursor.put(UnsafeRawBufferPointer(rebasing: bytes[put.key]), UnsafeRawBufferPointer(rebasing: bytes[put.value]))
                }
            }
        }
    }
}

/// The entities of one table changed since the last hand-off; nil for one taken away.
struct EntityChanges<Value: StoredEntity>: TableChanges {
    let database: Database
    var entities: [(id: String, value: Value?)] = []

    func encode(into writes: inout EncodedWrites) {
        for (id, entity) in entities {
            guard let entity else {
                writes.delete { ProjectionStore.appendEntityKey(id, to: &$0) }
                continue
            }
            writes.put(key: { ProjectionStore.appendEntityKey(id, to: &$0) }) { w in
                w.write(id)
                entity.write(to: &w)
            }
        }
    }
}

/// The members one set gained since the last hand-off.
struct SetChanges: TableChanges {
    let database: Database
    let set: ProjectionSet
    let added: [String: Set<String>]

    func encode(into writes: inout EncodedWrites) {
        for (key, members) in added {
            for member in members {
                writes.put { w in
                    ProjectionStore.appendSetKey(set, key, to: &w)
                    ProjectionStore.appendComponent(member, limit: 200, to: &w)
                } value: { w in
                    w.write(key)
                    w.write(member)
                }
            }
        }
    }
}

/// The findings of a batch, each under its position.
struct FindingChanges: TableChanges {
    let database: Database
    let findings: [Finding]

    func encode(into writes: inout EncodedWrites) {
        for finding in findings {
            writes.put(key: { $0.append(ProjectionStore.findingKey(finding.position)) }, value: { $0.append(finding.canonicalJSON) })
        }
    }
}
