import EventModel

/// The tables of entities a projection holds, one LMDB database each when stored.
public enum ProjectionTable: String, CaseIterable, Sendable {
    case users, roles, orders, requests, vocabulary, approvals
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
    /// A load that failed (storage error, malformed entry): the fold that saw it must not be kept.
    func noteFailure(_ error: any Error)
}

/// A table of entities by id. Alone it holds everything in memory; over a source it holds only the
/// entities changed since the last flush and reads the others from the source (caching them).
public struct EntityTable<Value: StoredEntity>: Sendable, Equatable {
    public let table: ProjectionTable
    /// In memory alone: every entity. Over a source: those changed since the last flush.
    public private(set) var entries: [String: Value] = [:]
    private var cache: EntityCache<Value>?

    init(_ table: ProjectionTable) { self.table = table }

    mutating func attach(_ source: (any ProjectionSource)?) {
        entries = [:]
        cache = source.map { EntityCache(table: table, source: $0) }
    }

    public subscript(key: String) -> Value? {
        get { entries[key] ?? cache?.value(key) }
        _modify {
            if entries[key] == nil, let stored = cache?.value(key) { entries[key] = stored }
            yield &entries[key]
        }
    }

    public subscript(key: String, default make: @autoclosure () -> Value) -> Value {
        get { self[key] ?? make() }
        _modify {
            if entries[key] == nil { entries[key] = cache?.value(key) ?? make() }
            yield &entries[key]!
        }
    }

    /// Every entity, stored ones overlaid with those in memory.
    public var all: [String: Value] {
        guard let cache else { return entries }
        var out = cache.all()
        out.merge(entries) { _, new in new }
        return out
    }

    /// After the changed entities were written: the source now holds them.
    mutating func flushed() {
        entries = [:]
        cache?.forget()
    }

    /// Compares what is in memory: meant for states folded in memory alone.
    public static func == (a: Self, b: Self) -> Bool { a.entries == b.entries }
}

/// The entities a table read from its source during one fold, decoded once.
final class EntityCache<Value: StoredEntity>: @unchecked Sendable {
    let table: ProjectionTable
    let source: any ProjectionSource
    private var values: [String: Value?] = [:]

    init(table: ProjectionTable, source: any ProjectionSource) {
        self.table = table
        self.source = source
    }

    func value(_ key: String) -> Value? {
        if let known = values[key] { return known }
        let value = source.load(table, key).flatMap(decode)
        values[key] = value
        return value
    }

    func all() -> [String: Value] {
        var out: [String: Value] = [:]
        for (key, bytes) in source.scan(table) { if let value = decode(bytes) { out[key] = value } }
        return out
    }

    func forget() { values = [:] }

    private func decode(_ bytes: [UInt8]) -> Value? {
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

/// An insert-only set per key (who was ever concerned). Alone it holds every member; over a
/// source it holds the members added since the last flush and reads the others from the source.
public struct SetTable: Sendable, Equatable {
    public let set: ProjectionSet
    public private(set) var added: [String: Set<String>] = [:]
    private var source: (any ProjectionSource)?

    init(_ set: ProjectionSet) { self.set = set }

    mutating func attach(_ source: (any ProjectionSource)?) {
        added = [:]
        self.source = source
    }

    public subscript(key: String) -> Set<String> {
        var out = added[key] ?? []
        if let source { out.formUnion(source.members(set, key)) }
        return out
    }

    mutating func insert(_ member: String, into key: String) {
        added[key, default: []].insert(member)
    }

    /// Every key with its members.
    public var all: [String: Set<String>] {
        var out = added
        if let source { for (key, member) in source.scan(set) { out[key, default: []].insert(member) } }
        return out
    }

    mutating func flushed() { added = [:] }

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
