import EventModel
import Synchronization

/// The tables of entities a projection holds, one LMDB database each when stored.
public enum ProjectionTable: String, CaseIterable, Sendable {
    case users, roles, orders, requests, vocabulary, approvals, watches, watchDays
}

/// The insert-only sets a projection keeps: who could ever be concerned by a permission or role.
public enum ProjectionSet: UInt8, CaseIterable, Sendable {
    /// role → users ever assigned it
    case roleMembers = 1
    /// permission → roles ever granted it
    case permissionRoles = 2
    /// permission → users ever granted it directly
    case permissionUsers = 3
    /// user → admin levels ever granted (`AdminLevel.storedName`)
    case adminLevels = 4
    /// "" → users ever granted super_admin
    case superAdmins = 5
    /// "" → roles ever deleted
    case deletedRoles = 6
    /// user → access requests made for them
    case requestsByUser = 7
    /// admin level (`AdminLevel.storedName`) → users ever granted it
    case levelHolders = 8
    /// department → users ever in it
    case departmentMembers = 9
}

/// Something done to every table and set of a projection alike (attach, flush, overlay, load).
/// The list of them is written once, in `ProjectionState.visitTables`.
protocol ProjectionTableVisitor {
    mutating func visit<Value: StoredEntity>(_ table: WritableKeyPath<ProjectionState, EntityTable<Value>>, of state: inout ProjectionState)
    mutating func visit(_ set: WritableKeyPath<ProjectionState, SetTable>, of state: inout ProjectionState)
}

/// Where a stored projection's entities come from when they are not in memory: one consistent
/// snapshot of the projection's environment. Used by one thread at a time (the state's owner).
public protocol ProjectionSource: AnyObject, Sendable {
    /// The stored value of `key` (the entity's bytes), or nil.
    func load(_ table: ProjectionTable, _ key: String) -> [UInt8]?
    /// Every stored (key, value) of a table.
    func scan(_ table: ProjectionTable) -> [(key: String, value: [UInt8])]
    /// The members stored under `key`.
    func members(_ set: ProjectionSet, _ key: String) -> [String]
    /// Every stored (key, member) of a set.
    func scan(_ set: ProjectionSet) -> [(key: String, member: String)]
    /// The first stored member under `key` that `accept` takes, stopping there.
    func firstMember(_ set: ProjectionSet, _ key: String, where accept: (String) -> Bool) -> String?
    /// A load that failed (storage error, malformed entry): the fold that saw it must not be kept.
    func noteFailure(_ error: any Error)
}

/// A table of entities by id. Alone it holds everything in memory; over a source it reads what it
/// needs from the source and keeps it, with what changed since the last flush, in an `EntityCache`.
public struct EntityTable<Value: StoredEntity>: Sendable, Equatable {
    public let table: ProjectionTable
    /// Alone: every entity.
    private var memory: [TableKey: Value] = [:]
    private var cache: EntityCache<Value>?

    init(_ table: ProjectionTable) { self.table = table }

    /// In memory alone: every entity. Over a source: those changed since the last flush, nil for
    /// one taken away.
    public var entries: [String: Value?] { cache?.changed ?? memory.byId.mapValues { $0 } }

    /// The same, one by one, without gathering them into a dictionary first (a flush writes or
    /// deletes each).
    func forEachEntry(_ body: (String, Value?) throws -> Void) rethrows {
        if let cache { try cache.forEachChanged(body) } else { for (key, value) in memory { try body(key.id, value) } }
    }

    mutating func attach(_ source: (any ProjectionSource)?) {
        memory = [:]
        cache = source.map { EntityCache(table: table, source: $0) }
    }

    /// Reads on from a newer snapshot of the same store, keeping what was read or flushed before:
    /// the store still holds exactly that, and a long fold touches the same entities batch after batch.
    mutating func rebind(_ source: any ProjectionSource) {
        if let cache { cache.rebind(source) } else { attach(source) }
    }

    public subscript(key: String) -> Value? {
        get { cache.map { $0.value(key) } ?? memory[TableKey(key)] }
        _modify {
            if let cache {
                let at = cache.markChanged(key)
                yield &cache.slots[at].value
            } else {
                yield &memory[TableKey(key)]
            }
        }
    }

    public subscript(key: String, default make: @autoclosure () -> Value) -> Value {
        get { self[key] ?? make() }
        _modify {
            if let cache {
                let at = cache.markChanged(key, default: make)
                yield &cache.slots[at].value!
            } else {
                yield &memory[TableKey(key), default: make()]
            }
        }
    }

    /// Every entity, stored ones overlaid with those changed in memory.
    public var all: [String: Value] {
        guard let cache else { return memory.byId }
        var out = cache.all()
        cache.forEachChanged { key, value in out[key] = value }
        return out
    }

    /// After the changed entities were handed to the store's writer (`EntityCache.handedOff`).
    mutating func handedOff() { cache?.handedOff() }

    /// Compares what is in memory: meant for states folded in memory alone.
    public static func == (a: Self, b: Self) -> Bool { a.memory == b.memory }
}

/// The entities a table read from its source or changed (a nil value: known absent), decoded once
/// and kept across batches. One dictionary gives each key's place in one array of slots, so a read
/// and a change are one look-up each, a change made in place (a dictionary of slots took two for a
/// change: the follower's CPU fell 5–6%, BENCHMARKS.md). Past `limit` entities, a hand-off starts
/// it again with only the entities just handed off. 10,000 (was 50,000, then 20,000): each step
/// held less (23 MiB after a 1M-event load at 20,000; 15 MiB at the peak of a rebuild at 10,000);
/// ingest kept its speed, and single rebuilds ran 5–7% slower, within this machine's noise. Users
/// keep twice as many (`ProjectionCache.limit(for:)`).
final class EntityCache<Value: StoredEntity>: @unchecked Sendable {
    struct Slot {
        var value: Value?
        /// Changed since the last flush: to be written.
        var changed: Bool
    }

    let table: ProjectionTable
    private(set) var source: any ProjectionSource
    /// Where each key's slot is in `slots` and `keys`.
    private var place: [TableKey: Int] = [:]
    private var keys: [String] = []
    var slots: ContiguousArray<Slot> = []
    /// The places of the slots marked changed since the last hand-off, in the order they first changed.
    private var changedPlaces: [Int] = []
    /// How many entities this table keeps (`ProjectionCache.limit(for:)`).
    var limit: Int { ProjectionCache.limit(for: table) }

    init(table: ProjectionTable, source: any ProjectionSource) {
        self.table = table
        self.source = source
    }

    func rebind(_ source: any ProjectionSource) { self.source = source }

    /// The last key asked for and its place: a fold asks for one entity several times an event (an
    /// order for its rules, then for its change; a user for its facts before, its rules, its change,
    /// its facts after). Compared as bytes, as `TableKey` hashes them: `String`'s equality would take
    /// two ids with the same characters in different Unicode forms for one.
    private var lastKey = ""
    private var lastPlace: Int?

    /// The place of `key`'s slot, read from the source if need be.
    private func slot(_ key: String) -> Int {
        if let lastPlace, utf8Equal(key, lastKey) { return lastPlace }
        let tableKey = TableKey(key)
        let at = place[tableKey] ?? append(tableKey, key, Slot(value: load(key), changed: false))
        lastKey = key
        lastPlace = at
        return at
    }

    private func append(_ tableKey: TableKey, _ key: String, _ slot: Slot) -> Int {
        let at = slots.count
        place[tableKey] = at
        keys.append(key)
        slots.append(slot)
        return at
    }

    func value(_ key: String) -> Value? { slots[slot(key)].value }

    /// Before a change: the slot exists (read from the source if need be) and is marked changed.
    /// Returns its place in `slots`.
    func markChanged(_ key: String) -> Int {
        let at = slot(key)
        if !slots[at].changed {
            slots[at].changed = true
            changedPlaces.append(at)
        }
        return at
    }

    /// The same, with a value made when there is none.
    func markChanged(_ key: String, default make: () -> Value) -> Int {
        let at = markChanged(key)
        if slots[at].value == nil { slots[at].value = make() }
        return at
    }

    var changed: [String: Value?] {
        var out: [String: Value?] = [:]
        forEachChanged { key, value in out[key] = .some(value) }
        return out
    }

    /// The entities changed since the last flush, in the order they first changed; nil for one
    /// taken away (or looked for and left absent), which the store deletes.
    func forEachChanged(_ body: (String, Value?) throws -> Void) rethrows {
        for at in changedPlaces { try body(keys[at], slots[at].value) }
    }

    /// What changed is handed to the store's writer: the next changes are counted from here. The
    /// entities just handed off stay, even past `limit`: the writer may still be writing them, and
    /// the snapshot the fold reads meanwhile does not hold them. Those handed off before are in the
    /// store by now (the follower waits for each write before it hands off the next, and reads a
    /// snapshot taken after it), so they may go.
    func handedOff() {
        let limit = self.limit
        if slots.count > limit {
            let kept = changedPlaces.map { (keys[$0], slots[$0].value) }
            lastPlace = nil
            // Room for as many as a table keeps, so that the next batch's look-ups do not grow them step by step.
            place = Dictionary(minimumCapacity: limit)
            keys = []
            keys.reserveCapacity(limit)
            slots = []
            slots.reserveCapacity(limit)
            for (key, value) in kept { _ = append(TableKey(key), key, Slot(value: value, changed: false)) }
        } else {
            for at in changedPlaces { slots[at].changed = false }
        }
        changedPlaces = []
    }

    func all() -> [String: Value] {
        var out: [String: Value] = [:]
        for (key, bytes) in source.scan(table) { if let value = Self.decode(bytes, source) { out[key] = value } }
        return out
    }

    private func load(_ key: String) -> Value? { Self.decode(source.load(table, key), source) }

    private static func decode(_ bytes: [UInt8]?, _ source: any ProjectionSource) -> Value? {
        guard let bytes else { return nil }
        do {
            return try bytes.withUnsafeBytes { buffer in
                var reader = ByteReader(buffer)
                return try Value(from: &reader)
            }
        } catch {
            source.noteFailure(error)
            return nil
        }
    }
}

/// How many entities a table of a stored projection keeps cached between the batches of a fold
/// (`EntityCache`). Any value gives the same answers; tests lower it so that every hand-off evicts.
public enum ProjectionCache {
    public static let entitiesPerTable = Atomic<Int>(10_000)

    /// Users keep twice as many: the rules look one up at nearly every event (the actor, an order's
    /// owner), and a ledger has far fewer users than orders (19,159 against 132,419 at 1M events).
    /// Kept all (a 1M rebuild's follower 1.75 against 1.88–1.96 CPU-s, BENCHMARKS.md) instead of
    /// read and decoded again after every hand-off.
    static func limit(for table: ProjectionTable) -> Int {
        let limit = entitiesPerTable.load(ordering: .relaxed)
        return table == .users ? 2 * limit : limit
    }
}

/// An insert-only set per key (who was ever concerned). Alone it holds every member; over a
/// source it holds the members added since the last hand-off, and those of the last hand-off
/// (which the store's writer may still be writing), and reads the others from the source.
public struct SetTable: Sendable, Equatable {
    public let set: ProjectionSet
    public private(set) var added: [String: Set<String>] = [:]
    /// The members of the last hand-off: not in the snapshot the fold reads until the next one.
    private var handed: [String: Set<String>] = [:]
    private var source: (any ProjectionSource)?

    init(_ set: ProjectionSet) { self.set = set }

    mutating func attach(_ source: (any ProjectionSource)?) {
        added = [:]
        handed = [:]
        self.source = source
    }

    mutating func rebind(_ source: any ProjectionSource) { self.source = source }

    public subscript(key: String) -> Set<String> {
        var out = added[key] ?? []
        if let members = handed[key] { out.formUnion(members) }
        if let source { out.formUnion(source.members(set, key)) }
        return out
    }

    /// The first member under `key` that `accept` takes, without reading the others.
    func first(_ key: String, where accept: (String) -> Bool) -> String? {
        if let hit = added[key]?.first(where: accept) ?? handed[key]?.first(where: accept) { return hit }
        return source?.firstMember(set, key, where: accept)
    }

    mutating func insert(_ member: String, into key: String) {
        added[key, default: []].insert(member)
    }

    /// Every key with its members.
    public var all: [String: Set<String>] {
        var out = added
        for (key, members) in handed { out[key, default: []].formUnion(members) }
        if let source { for (key, member) in source.scan(set) { out[key, default: []].insert(member) } }
        return out
    }

    /// The members added are handed to the store's writer; those handed off before are in the
    /// store, and in the snapshot the fold reads, by now (see `EntityCache.handedOff`).
    mutating func handedOff() {
        handed = added
        added = [:]
    }

    /// Compares what is in memory: meant for states folded in memory alone.
    public static func == (a: Self, b: Self) -> Bool { a.added == b.added }
}

/// The first event that named a permission, and the earliest time any event named it.
public struct FirstNaming: Sendable, Equatable {
    public var seq: UInt64
    public var time: Instant
}

/// When requests for one (user, role or permission) were approved.
public struct ApprovalTimes: Sendable, Equatable {
    public var times: [Instant] = []
}
