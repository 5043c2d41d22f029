import EventModel
import LMDB

/// When each fact that gives access held: a role's membership, a role's grant, a direct grant, an
/// admin level — each as an interval of seqs `[from, to)`, stored so that "who held P at seq S" is
/// a range scan of the facts still open after S, not a replay of thousands of users' trails.
///
/// A user's facts count only while the user is active (disabling closes them, enabling opens them
/// again), so an interval is exactly "this path existed at S" — except `assignment`, which records a
/// role's members whatever their status (a role's answer lists disabled members too). The fold records, for every event
/// on the access trail, the facts of the users and roles it touches before and after, and writes
/// the difference: a fact that ended is closed at the event's seq, a new or changed one opens there.
///
/// Stored in the projection's `intervals` database, keyed
/// `kind (1) ‖ group length (2) ‖ group ‖ to (8, big-endian; open: all ones) ‖ member`, with the
/// value `from (8) ‖ lineage (8) ‖ scope (1) ‖ member (whole)`; group and member are hashed past
/// 200 bytes, as `ProjectionStore.component` does, so keys stay under LMDB's 511.
public enum AccessIntervals {
    public enum Kind: UInt8, Sendable {
        /// group: role, member: user.
        case membership = 1
        /// group: role, member: permission.
        case roleGrant = 2
        /// group: permission, member: user.
        case direct = 3
        /// group: `AdminLevel.storedName`, member: user.
        case admin = 4
        /// group: permission, member: role (the grants of `roleGrant`, found from the permission).
        case grantingRole = 5
        /// group: role, member: user, whatever the user's status.
        case assignment = 6
    }

    struct Key: Hashable {
        var kind: Kind
        var group: String
        var member: String
    }

    /// What a fact is: the event that made it (the lineage a path shows) and its scope.
    public struct Fact: Equatable, Sendable {
        public var lineage: UInt64
        public var scope: Scope
    }

    /// A stored interval read at a point.
    public struct Holding: Sendable {
        public var member: String
        public var fact: Fact
    }

    enum Change {
        case open(Key, Fact, from: UInt64)
        case close(Key, at: UInt64)
    }

    // MARK: - Folding

    /// The users and roles whose facts an event on the access trail may change.
    static func touched(by event: StoredEvent, in state: borrowing ProjectionState) -> (users: [String], roles: [String]) {
        let subject = event.envelope.subject
        switch (EventKind(event.envelope.type), subject.type) {
        // They change a user's or role's fields or last review, never a fact: no facts to compare.
        case (.userUpdated, _), (.roleUpdated, _), (.accessReviewCompleted, _): return ([], [])
        // Deleting a role takes it from its members.
        case (.roleDeleted, _):
            return (state.roleMembersEver[subject.id].filter { state.users[$0]?.roles[subject.id] != nil }.sorted(), [subject.id])
        case (_, "user"): return ([subject.id], [])
        case (_, "role"): return ([], [subject.id])
        default: return ([], [])
        }
    }

    /// The users and roles an event touches, as they stand at one moment: taken before and after the
    /// event by the follower (a copy of each is a reference to its box), their facts compared by the
    /// projection's writer (`Moment`), off the follower, whose CPU bounds a rebuild.
    struct Touched: Sendable {
        var users: [(id: String, state: UserState?)]
        var roles: [(id: String, state: RoleState?)]

        init(users: [String], roles: [String], in state: borrowing ProjectionState) {
            self.users = users.map { ($0, state.users[$0]) }
            self.roles = roles.map { ($0, state.roles[$0]) }
        }
    }

    /// An event on the access trail: what it touched before and after it.
    struct Moment: Sendable {
        var seq: UInt64
        var before: Touched
        var after: Touched

        /// What changed, found part by part: a user's roles, direct grants and levels and a role's
        /// grants are each compared as dictionaries, key by key. Listing and sorting every fact of
        /// both sides, then walking them, was most of the intervals' cost on the projection's writer
        /// (a role's grant made both lists of all its grants).
        var changes: [Change] {
            var diff = Diff(seq: seq)
            for ((id, before), (_, after)) in zip(before.users, after.users) {
                // Assignments count whatever the status; the other facts only while active.
                diff.compare(before?.roles, after?.roles, as: { Key(kind: .assignment, group: $0, member: id) }, fact: { Fact(lineage: $0, scope: .all) })
                let (was, now) = (before.flatMap { $0.status == .active ? $0 : nil }, after.flatMap { $0.status == .active ? $0 : nil })
                diff.compare(was?.roles, now?.roles, as: { Key(kind: .membership, group: $0, member: id) }, fact: { Fact(lineage: $0, scope: .all) })
                diff.compare(was?.direct, now?.direct, as: { Key(kind: .direct, group: $0, member: id) }, fact: { Fact(lineage: $0.seq, scope: $0.scope) })
                diff.compare(was?.admin, now?.admin, as: { Key(kind: .admin, group: $0.storedName, member: id) }, fact: { Fact(lineage: $0, scope: .all) })
            }
            for ((id, before), (_, after)) in zip(before.roles, after.roles) {
                let (was, now) = (before.flatMap { $0.isLive ? $0.grantsByKey : nil }, after.flatMap { $0.isLive ? $0.grantsByKey : nil })
                diff.compare(was, now, as: { Key(kind: .roleGrant, group: id, member: $0.id) }, fact: { Fact(lineage: $0.seq, scope: $0.scope) })
                diff.compare(was, now, as: { Key(kind: .grantingRole, group: $0.id, member: id) }, fact: { Fact(lineage: $0.seq, scope: $0.scope) })
            }
            return diff.closes + diff.opens
        }
    }

    /// The changes of one moment: facts that ended or changed close at `seq`, new or changed ones
    /// open there. Closes come first, so a changed fact is closed before it reopens.
    private struct Diff {
        let seq: UInt64
        var closes: [Change] = []
        var opens: [Change] = []

        /// One part of a user or role, before and after (nil: none). `factKey`: the fact a part's key makes.
        mutating func compare<K: Hashable, V>(
            _ before: [K: V]?, _ after: [K: V]?, as factKey: (K) -> Key, fact: (V) -> Fact
        ) {
            if let before {
                for (k, value) in before {
                    let now = after?[k].map(fact)
                    if now == fact(value) { continue }
                    closes.append(.close(factKey(k), at: seq))
                    if let now { opens.append(.open(factKey(k), now, from: seq)) }
                }
            }
            guard let after else { return }
            for (k, value) in after where before?[k] == nil {
                opens.append(.open(factKey(k), fact(value), from: seq))
            }
        }
    }

    // MARK: - Stored form

    static let open = UInt64.max

    static func prefix(_ kind: Kind, _ group: String) -> [UInt8] {
        var w = ByteWriter(capacity: 3 + group.utf8.count)
        ProjectionStore.appendTagged(kind.rawValue, group, limit: 200, to: &w)
        return w.bytes
    }

    /// Made in one buffer of the right size: joined with `+`, each part was an array of its own, and
    /// the writer makes two keys for every fact that closes.
    static func key(_ key: Key, to: UInt64) -> [UInt8] {
        var w = ByteWriter(capacity: 3 + key.group.utf8.count + 8 + key.member.utf8.count)
        ProjectionStore.appendTagged(key.kind.rawValue, key.group, limit: 200, to: &w)
        w.appendBigEndian(to)
        ProjectionStore.appendComponent(key.member, limit: 200, to: &w)
        return w.bytes
    }

    static func value(_ key: Key, _ fact: Fact, from: UInt64) -> [UInt8] {
        var w = ByteWriter(capacity: 17 + key.member.utf8.count)
        w.appendBigEndian(from)
        w.appendBigEndian(fact.lineage)
        w.append(byte: UInt8(fact.scope.rawValue))
        w.appendUTF8(key.member)
        return w.bytes
    }

    /// Applies changes inside the flush's write transaction, in order.
    static func write(_ moments: [Moment], into database: Database, _ txn: borrowing WriteTransaction) throws {
        for change in moments.lazy.flatMap(\.changes) {
            switch change {
            case .open(let key, let fact, let from):
                try txn.put(database, key: Self.key(key, to: open), value: value(key, fact, from: from))
            case .close(let key, let at):
                let openKey = Self.key(key, to: open)
                // A fact closes only after it opened; a missing one is storage damage, found by a rebuild.
                guard let stored = try txn.get(database, openKey).map(Array.init) else { throw ByteReader.Malformed() }
                _ = try txn.delete(database, key: openKey)
                try txn.put(database, key: Self.key(key, to: at), value: stored)
            }
        }
    }

    /// The facts of a group that held at seq `at`: those still open after it that began by it.
    static func holdings(_ kind: Kind, _ group: String, at: UInt64, in database: Database, _ txn: borrowing ReadTransaction) throws -> [Holding] {
        let prefix = prefix(kind, group)
        return try txn.withCursor(database) { cursor in
            var out: [Holding] = []
            var entry = try cursor.get(.keyRange, key: prefix + bigEndianBytes(at &+ 1))
            while let (key, value) = entry, key.count >= prefix.count + 8, key.starts(with: prefix) {
                guard value.count >= 17, let scope = Scope(rawValue: Int(value[16])) else { throw ByteReader.Malformed() }
                let from = readBigEndianUInt64(UnsafeRawBufferPointer(rebasing: value[0..<8]))
                if from <= at {
                    let lineage = readBigEndianUInt64(UnsafeRawBufferPointer(rebasing: value[8..<16]))
                    let member = String(decoding: UnsafeRawBufferPointer(rebasing: value[17...]), as: UTF8.self)
                    out.append(Holding(member: member, fact: Fact(lineage: lineage, scope: scope)))
                }
                entry = try cursor.get(.next)
            }
            return out
        }
    }
}
