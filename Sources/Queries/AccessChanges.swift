import Dispatch
import EventLog
import EventModel
import Projector
import Synchronization

/// What changed in who can do what between two moments (issue 14): every permission, admin level
/// and role membership gained or lost, by whom, with the scope before and after and the events
/// that caused it. Each is the difference of the two moments' answers — holders of each permission,
/// holders of each admin level, members of each role — counted while the user is active, as the
/// access answer counts them.
extension LedgerQueries {
    public struct ChangeFilter: Sendable, Equatable {
        public var user: String?
        public var permission: String?
        public var role: String?
        public var department: String?

        public init(user: String? = nil, permission: String? = nil, role: String? = nil, department: String? = nil) {
            self.user = user
            self.permission = permission
            self.role = role
            self.department = department
        }
    }

    public func accessChanges(from: AsOf, to: AsOf, filter: ChangeFilter = ChangeFilter()) throws -> AccessChangesAnswer {
        let head = try log.head().seq
        let (fromCut, toCut) = (from == .now ? AsOf.seq(head) : from, to == .now ? AsOf.seq(head) : to)
        if let user = filter.user {
            // One user: both answers and the causes through the same two views (each view reads the
            // trail written after its moment, which for an old moment is most of the ledger's).
            return try projector.accessView(through: toCut.lastSeq, time: toCut.instant) { later in
                try projector.accessView(through: fromCut.lastSeq, time: fromCut.instant) { earlier in
                    var changes = try userChanges(of: user, from: fromCut, to: toCut, head: head, earlier: earlier, later: later)
                    changes = Self.inAnswerOrder(try inDepartment(filter.department, changes, from: fromCut, to: toCut))
                    let causes = try self.causes(of: changes[...], from: fromCut, to: toCut, later: later, earlier: earlier)
                    return answer(changes, causes: causes, from: fromCut, to: toCut, head: head)
                }
            }
        }
        var changes: [AccessChange] = []

        // What the question covers: every permission in either moment's universe (or the one asked
        // about), and unless it is about one permission, every admin level and role ever held.
        let permissions = try filter.permission.map { [$0] }
            ?? Array(try projector.read { state in
                state.universe { fromCut.includes(seq: $0, time: $1) || toCut.includes(seq: $0, time: $1) }
            }).sorted()
        let (levels, roles) = filter.permission != nil ? ([], []) : try projector.read { state in
            (
                filter.role != nil ? [] : Set(state.adminLevelsEver.all.values.joined()).sorted().map(AdminLevel.init(storedName:)),
                state.roleMembersEver.all.keys.sorted().filter { role in filter.role.map { $0 == role } ?? true }
            )
        }
        // A role's question covers its members at either moment: found first, so that each moment's
        // holders are worked out for them alone.
        let roleMembersAt = try filter.role.map { role in try [fromCut, toCut].map { try members(of: role, at: $0) } }
        let users = roleMembersAt.map { Set($0.joined()) }
        // Each moment's answer through one view (which reads each role's members once), the two
        // moments on two threads; every list sorted by user.
        struct Moment {
            var holders: [[HoldersAnswer.Holder]]
            var levelHolders: [[String]]
            var roleMembers: [[String]]
        }
        let moments = try inParallel(2) { side throws -> Moment in
            let cut = side == 0 ? fromCut : toCut
            return try self.projector.accessView(through: cut.lastSeq, time: cut.instant) { view in
                let replayed = try self.replayedUsers(view)
                return Moment(
                    holders: try permissions.map { try self.holders(of: $0, in: view, cut: cut, among: users) },
                    levelHolders: try levels.map { try self.holders(of: $0, in: view, replayed: replayed) },
                    roleMembers: try roles.map { try roleMembersAt?[side] ?? self.members(of: $0, in: view, replayed: replayed) })
            }
        }
        let (before, after) = (moments[0], moments[1])
        for (index, permission) in permissions.enumerated() {
            mergeByUser(before.holders[index], after.holders[index], user: { (holder: HoldersAnswer.Holder) in holder.user }) { was, now in
                let user = (was ?? now)!.user
                guard was?.scope != now?.scope, users?.contains(user) ?? true else { return }
                changes.append(
                    AccessChange(
                        user: user, kind: .permission, name: permission, heldBefore: was != nil, heldAfter: now != nil, scopeBefore: was?.scope,
                        scopeAfter: now?.scope, pathsBefore: was?.via ?? [], pathsAfter: now?.via ?? [], causes: []))
            }
        }
        // Admin levels and role memberships: held or not, without a scope.
        for (kind, names, heldBefore, heldAfter) in [
            (AccessChange.Kind.adminLevel, levels.map(\.storedName), before.levelHolders, after.levelHolders),
            (.role, roles, before.roleMembers, after.roleMembers),
        ] {
            for (index, name) in names.enumerated() {
                mergeByUser(heldBefore[index], heldAfter[index], user: { $0 }) { was, now in
                    let user = (was ?? now)!
                    guard (was == nil) != (now == nil), users?.contains(user) ?? true else { return }
                    changes.append(AccessChange(user: user, kind: kind, name: name, heldBefore: was != nil, heldAfter: now != nil))
                }
            }
        }
        changes = Self.inAnswerOrder(try inDepartment(filter.department, changes, from: fromCut, to: toCut))
        // The causes: the events on the access trail in one answer and not the other (between the
        // moments, when the second is later) that bear on each change. Two halves on two threads
        // (in answer order: each user's changes together, mostly in one half), each through views
        // of its own (a read transaction serves one thread at a time).
        let causes = try inHalves(changes) { part in try self.causes(of: part, from: fromCut, to: toCut) }.flatMap { $0 }
        return answer(changes, causes: causes, from: fromCut, to: toCut, head: head)
    }

    /// The changes of users in the department, as each stood at either moment (all without one).
    private func inDepartment(_ department: String?, _ changes: [AccessChange], from fromCut: AsOf, to toCut: AsOf) throws -> [AccessChange] {
        guard let department else { return changes }
        var kept: [String: Bool] = [:]
        return try changes.filter { change in
            if let known = kept[change.user] { return known }
            let inIt = try [fromCut, toCut].contains { try self.department(of: change.user, at: $0) == department }
            kept[change.user] = inIt
            return inIt
        }
    }

    /// Changes sorted as the answer lists them, by user, kind and name, through their keys (moving
    /// the changes themselves while sorting costs more than finding them). Changes come in runs of
    /// one kind and name, so those are ranked once per run and the sort compares a user and a number
    /// (a user has one change of a kind and name at most, so two runs of the same need no tie).
    private static func inAnswerOrder(_ changes: [AccessChange]) -> [AccessChange] {
        var runs: [(kind: String, name: String)] = []
        let runOf = changes.map { change in
            if runs.last?.kind != change.kind.rawValue || runs.last?.name != change.name { runs.append((change.kind.rawValue, change.name)) }
            return runs.count - 1
        }
        var rankOfRun = Array(repeating: 0, count: runs.count)
        for (position, run) in runs.indices.sorted(by: { (runs[$0].kind, runs[$0].name) < (runs[$1].kind, runs[$1].name) }).enumerated() {
            rankOfRun[run] = position
        }
        let keys = changes.indices.map { (changes[$0].user, rankOfRun[runOf[$0]]) }
        return changes.indices.sorted { keys[$0] < keys[$1] }.map { changes[$0] }
    }

    /// The answer: each change (in answer order) with its causes.
    private func answer(_ found: [AccessChange], causes: [[Lineage]], from fromCut: AsOf, to toCut: AsOf, head: UInt64) -> AccessChangesAnswer {
        var changes = found
        for i in changes.indices { changes[i].causes = causes[i] }
        return AccessChangesAnswer(from: fromCut.echo(head: head), to: toCut.echo(head: head), changes: changes)
    }

    /// The causes of some changes (see `accessChanges`), in their order.
    private func causes(of changes: ArraySlice<AccessChange>, from fromCut: AsOf, to toCut: AsOf) throws -> [[Lineage]] {
        try projector.accessView(through: toCut.lastSeq, time: toCut.instant) { later in
            try projector.accessView(through: fromCut.lastSeq, time: fromCut.instant) { earlier in
                try causes(of: changes, from: fromCut, to: toCut, later: later, earlier: earlier)
            }
        }
    }

    /// The causes of some changes (in answer order) through views at the two moments.
    private func causes(
        of changes: ArraySlice<AccessChange>, from fromCut: AsOf, to toCut: AsOf, later: AccessView, earlier: AccessView
    ) throws -> [[Lineage]] {
        var trails: [Envelope.Subject: [TrailEvent]] = [:]  // roles'
        var out: [[Lineage]] = []
        out.reserveCapacity(changes.count)
        // Changes come in user order: a user's window is read once, and kept while their changes last.
        var lastUser: (id: String, window: [TrailEvent])?
        /// The last event about each fact on a subject's trail between the moments, digested once,
        /// oldest first. Whether an event bears on a change depends on its fact alone, so the last
        /// event of each fact that bears on a change is one of these (`TrailEvent.lastOfEachFact`).
        func window(_ subject: Envelope.Subject) throws -> [TrailEvent] {
            if subject.type == "user", let lastUser, lastUser.id == subject.id { return lastUser.window }
            if let known = trails[subject] { return known }
            // Everything up to a view's point is in its answer: each side is read past the other's point only.
            let entries = try later.trailEntries(subject, after: earlier.point).filter { !fromCut.includes(seq: $0.seq, time: $0.time) }
                + earlier.trailEntries(subject, after: later.point).filter { !toCut.includes(seq: $0.seq, time: $0.time) }
            let digested = TrailEvent.lastOfEachFact(entries.compactMap(TrailEvent.init))
            if subject.type == "user" { lastUser = (subject.id, digested) } else { trails[subject] = digested }
            return digested
        }
        // A role's window bears alike on every change of the same kind and name: reduced once.
        // Facts are per subject, so the user's and each role's reduce apart and merge by seq.
        struct RoleKey: Hashable {
            let role: String
            let kind: AccessChange.Kind
            let name: String
        }
        var roleCauses: [RoleKey: [Lineage]] = [:]
        var events: [TrailEvent] = []
        for change in changes {
            let roles = change.roles
            events.removeAll(keepingCapacity: true)
            for event in try window(Envelope.Subject(type: "user", id: change.user)) where event.bears(on: change, roles: roles) {
                events.append(event)
            }
            var causes = events.map(\.lineage)
            var merged = causes.isEmpty ? 0 : 1
            for role in roles {
                let key = RoleKey(role: role, kind: change.kind, name: change.name)
                if roleCauses[key] == nil {
                    roleCauses[key] = try window(Envelope.Subject(type: "role", id: role)).filter { $0.bears(on: change, roles: roles) }.map(\.lineage)
                }
                let found = roleCauses[key]!
                guard !found.isEmpty else { continue }
                // Alone, a role's causes are shared, not copied (one role's grant reaches thousands).
                causes = causes.isEmpty ? found : causes + found
                merged += 1
            }
            if merged > 1 { causes.sort { $0.seq < $1.seq } }
            out.append(causes)
        }
        return out
    }

    /// One user's changes: the difference of their two access answers (roles and levels count while active).
    private func userChanges(of user: String, from: AsOf, to: AsOf, head: UInt64, earlier: AccessView, later: AccessView) throws -> [AccessChange] {
        let (before, after) = (try access(user: user, asOf: from, head: head, cut: from, in: earlier), try access(user: user, asOf: to, head: head, cut: to, in: later))
        var out: [AccessChange] = []
        let (was, now) = (Dictionary(uniqueKeysWithValues: before.permissions.map { ($0.permission, $0) }), Dictionary(uniqueKeysWithValues: after.permissions.map { ($0.permission, $0) }))
        for permission in Set(was.keys).union(now.keys) where was[permission]?.scope != now[permission]?.scope {
            out.append(
                AccessChange(
                    user: user, kind: .permission, name: permission, heldBefore: was[permission] != nil, heldAfter: now[permission] != nil,
                    scopeBefore: was[permission]?.scope, scopeAfter: now[permission]?.scope, pathsBefore: was[permission]?.via ?? [],
                    pathsAfter: now[permission]?.via ?? []))
        }
        func active(_ answer: AccessAnswer) -> Bool { answer.status == .active }
        let (levelsBefore, levelsAfter) = (Set(active(before) ? before.adminLevels.map(\.level.storedName) : []), Set(active(after) ? after.adminLevels.map(\.level.storedName) : []))
        for level in levelsBefore.symmetricDifference(levelsAfter) {
            out.append(AccessChange(user: user, kind: .adminLevel, name: level, heldBefore: levelsBefore.contains(level), heldAfter: levelsAfter.contains(level)))
        }
        let (rolesBefore, rolesAfter) = (Set(active(before) ? before.roles.map(\.role) : []), Set(active(after) ? after.roles.map(\.role) : []))
        for role in rolesBefore.symmetricDifference(rolesAfter) {
            out.append(AccessChange(user: user, kind: .role, name: role, heldBefore: rolesBefore.contains(role), heldAfter: rolesAfter.contains(role)))
        }
        return out
    }

    /// Users who held an admin level at a moment (while active), sorted.
    func holders(of level: AdminLevel, at cut: AsOf) throws -> [String] {
        try projector.accessView(through: cut.lastSeq, time: cut.instant) { view in try holders(of: level, in: view, replayed: try replayedUsers(view)) }
    }

    /// Members of a role at a moment (while active), sorted.
    func members(of role: String, at cut: AsOf) throws -> [String] {
        try projector.accessView(through: cut.lastSeq, time: cut.instant) { view in try members(of: role, in: view, replayed: try replayedUsers(view)) }
    }

    /// `holders(of:at:)` through a view; `replayed` is `replayedUsers(view)`, worked out once for many levels.
    private func holders(of level: AdminLevel, in view: AccessView, replayed: [(String, UserState)]) throws -> [String] {
        try users(holding: .admin, level.storedName, in: view, replayed: replayed) { $0.admin[level] != nil }
    }

    /// `members(of:at:)` through a view; `replayed` is `replayedUsers(view)`, worked out once for many roles.
    private func members(of role: String, in view: AccessView, replayed: [(String, UserState)]) throws -> [String] {
        try users(holding: .membership, role, in: view, replayed: replayed) { $0.roles[role] != nil }
    }

    /// The users in a group of stored holdings at a view's point, but for the replayed ones, who are
    /// in it when their state at the cut `holds` it (and they are active), sorted.
    private func users(
        holding kind: AccessIntervals.Kind, _ group: String, in view: AccessView, replayed: [(String, UserState)], holds: (UserState) -> Bool
    ) throws -> [String] {
        var out = try view.holdings(kind, group).map(\.member).filter { !view.replayedUsers.contains($0) }
        for (user, state) in replayed where state.status == .active && holds(state) { out.append(user) }
        return Set(out).sorted()
    }

    /// The replayed users' states at the view's cut (their trails, with the ever-deleted roles' that take members away).
    private func replayedUsers(_ view: AccessView) throws -> [(String, UserState)] {
        guard !view.replayedUsers.isEmpty else { return [] }
        let users = view.replayedUsers.sorted()
        let deleted = view.state.deletedRolesEver[""].sorted()
        let replay = Replay(events: try view.trail(users.map { .init(type: "user", id: $0) } + deleted.map { .init(type: "role", id: $0) }))
        return users.compactMap { user in replay.state.users[user].map { (user, $0) } }
    }

    /// A user's department at a moment, from their trail.
    func department(of user: String, at cut: AsOf) throws -> String? {
        try projector.accessView(through: cut.lastSeq, time: cut.instant) { view in
            Replay(events: try view.trail([Envelope.Subject(type: "user", id: user)])).state.users[user]?.department
        }
    }
}

/// One change in who can do what between two moments.
public struct AccessChange: Sendable, Equatable {
    public enum Kind: String, Sendable { case permission, adminLevel = "admin_level", role }
    public enum Direction: String, Sendable { case gained, lost, changed }

    public var user: String
    public var kind: Kind
    /// The permission, the admin level (`module_admin:sales_order`), or the role.
    public var name: String
    public var heldBefore: Bool
    public var heldAfter: Bool
    /// For permissions: the widest scope and the paths before and after.
    public var scopeBefore: Scope? = nil
    public var scopeAfter: Scope? = nil
    public var pathsBefore: [AccessPath] = []
    public var pathsAfter: [AccessPath] = []
    /// The events between the two moments that bear on it, oldest first.
    public var causes: [Lineage] = []

    /// Gained, lost, or (a permission held at both moments) its scope changed.
    public var direction: Direction { heldBefore == heldAfter ? .changed : heldAfter ? .gained : .lost }

    /// The roles whose events may have caused it.
    var roles: [String] {
        if kind == .role { return [name] }
        var out: [String] = []
        for path in pathsBefore + pathsAfter { if let role = path.role, !out.contains(role) { out.append(role) } }
        return out
    }
}

/// An event of an access trail as the causes of a change weigh it: what it is about, read once from
/// its envelope (a wide window digests tens of thousands of events, each weighed against many changes).
struct TrailEvent {
    /// What the event is about: a user's status, a role's life, one membership, one grant, one level.
    enum Fact: Hashable {
        case status
        case roleLife
        case membership(role: String)
        case permission(String)
        case adminLevel(level: String, module: String?)
    }

    let seq: UInt64
    let actor: String
    let time: Instant
    let fact: Fact
    /// For `adminLevel`: the level as granted, for `covers`.
    let level: AdminLevel?

    var lineage: Lineage { Lineage(seq: seq, actor: actor, time: time) }

    /// Nil for an event that bears on no change of access.
    init?(_ e: TrailEntry) {
        var level: AdminLevel?
        switch e.type {
        case "user.created", "user.disabled", "user.enabled", "user.offboarded": fact = .status
        case "role.created", "role.deleted": fact = .roleLife
        case "user.role_assigned", "user.role_revoked":
            guard let role = e.dataString("role") else { return nil }
            fact = .membership(role: role)
        case "user.permission_granted", "user.permission_revoked", "role.permission_granted", "role.permission_revoked":
            guard let permission = e.dataString("permission") else { return nil }
            fact = .permission(permission)
        case "user.admin_granted", "user.admin_revoked":
            guard let name = e.dataString("level") else { return nil }
            let module = e.dataString("module")
            fact = .adminLevel(level: name, module: module)
            level = AdminLevel(level: name, module: name == "module_admin" ? module : nil)
        default: return nil
        }
        (seq, actor, time, self.level) = (e.seq, e.actor, e.time, level)
    }

    /// Whether this event, on the trail of the change's user or of one of its roles (`change.roles`),
    /// bears on it: a question about the event's fact alone (`level` follows from the fact).
    func bears(on change: AccessChange, roles: [String]) -> Bool {
        switch fact {
        case .status: return true
        case .roleLife: return change.kind != .adminLevel
        case .membership(let role): return change.kind == .role ? role == change.name : roles.contains(role)
        case .permission(let permission): return change.kind == .permission && permission == change.name
        case .adminLevel:
            guard let level else { return false }
            return change.kind == .adminLevel ? level.storedName == change.name : change.kind == .permission && level.covers(change.name)
        }
    }

    /// Of one subject's events (its window: two trail reads, so not always in seq order), the last
    /// one about each fact: the ones that left things as they are at the later moment. A role's
    /// grant toggled a thousand times in between is one cause, not a thousand. Oldest first.
    static func lastOfEachFact(_ events: [TrailEvent]) -> [TrailEvent] {
        guard events.count > 1 else { return events }
        var seen = Set<Fact>()
        var kept: [TrailEvent] = []
        for event in events.sorted(by: { $0.seq > $1.seq }) where seen.insert(event.fact).inserted {
            kept.append(event)
        }
        return kept.reversed()
    }
}

/// `GET /v1/access/changes`
public struct AccessChangesAnswer: Sendable, Equatable {
    public var from: String
    public var to: String
    public var changes: [AccessChange]

    /// The bytes `CanonicalJSON.encode(json)` gives, written straight out (an answer can hold tens of thousands of changes).
    public var canonicalJSON: [UInt8] { Array(canonicalJSONParts.joined()) }

    /// `canonicalJSON` in the parts it is written in, for a caller that copies them anyway (a
    /// response body): a large answer is written in two halves on two threads, and joining tens
    /// of megabytes costs as much as writing them.
    public var canonicalJSONParts: [[UInt8]] {
        var parts = [Array(#"{"changes":["#.utf8)]
        for part in inHalves(changes, Self.write) where !part.isEmpty {
            if parts.count > 1 { parts.append([UInt8(ascii: ",")]) }
            parts.append(part)
        }
        var end = Array(#"],"from":"#.utf8)
        CanonicalJSON.writeString(from, into: &end)
        end.append(contentsOf: #","to":"#.utf8)
        CanonicalJSON.writeString(to, into: &end)
        end.append(UInt8(ascii: "}"))
        parts.append(end)
        return parts
    }

    /// Changes as the comma-separated members of the answer's array.
    private static func write(_ changes: ArraySlice<AccessChange>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(changes.count * 400)
        // Many changes share causes (a role's grant reaches all its members): each is written once.
        var written: [UInt64: [UInt8]] = [:]
        for (i, change) in changes.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: #"{"causes":["#.utf8)
            for (j, cause) in change.causes.enumerated() {
                if j > 0 { out.append(UInt8(ascii: ",")) }
                if let bytes = written[cause.seq] {
                    out.append(contentsOf: bytes)
                    continue
                }
                var bytes = Array(#"{"actor":"#.utf8)
                CanonicalJSON.writeString(cause.actor, into: &bytes)
                bytes.append(contentsOf: #","seq":"#.utf8)
                CanonicalJSON.writeInteger(cause.seq, into: &bytes)
                bytes.append(contentsOf: #","time":"#.utf8)
                CanonicalJSON.writeString(cause.time.utcText, into: &bytes)
                bytes.append(UInt8(ascii: "}"))
                out.append(contentsOf: bytes)
                written[cause.seq] = bytes
            }
            out.append(contentsOf: #"],"change":""#.utf8)
            out.append(contentsOf: change.direction.rawValue.utf8)
            out.append(contentsOf: #"","kind":""#.utf8)
            out.append(contentsOf: change.kind.rawValue.utf8)
            out.append(contentsOf: #"","name":"#.utf8)
            CanonicalJSON.writeString(change.name, into: &out)
            if change.kind == .permission {
                writePaths(#","pathsAfter":["#, change.pathsAfter, into: &out)
                writePaths(#","pathsBefore":["#, change.pathsBefore, into: &out)
                writeScope(#","scopeAfter":"#, change.scopeAfter, into: &out)
                writeScope(#","scopeBefore":"#, change.scopeBefore, into: &out)
            }
            out.append(contentsOf: #","user":"#.utf8)
            CanonicalJSON.writeString(change.user, into: &out)
            out.append(UInt8(ascii: "}"))
        }
        return out
    }

    private static func writePaths(_ label: StaticString, _ paths: [AccessPath], into out: inout [UInt8]) {
        out.append(contentsOf: UnsafeBufferPointer(start: label.utf8Start, count: label.utf8CodeUnitCount))
        for (j, path) in paths.enumerated() {
            if j > 0 { out.append(UInt8(ascii: ",")) }
            PathAnswer(path: path).write(into: &out)
        }
        out.append(UInt8(ascii: "]"))
    }

    private static func writeScope(_ label: StaticString, _ scope: Scope?, into out: inout [UInt8]) {
        out.append(contentsOf: UnsafeBufferPointer(start: label.utf8Start, count: label.utf8CodeUnitCount))
        guard let scope else { return out.append(contentsOf: "null".utf8) }
        out.append(UInt8(ascii: "\""))
        out.append(contentsOf: scope.name.utf8)
        out.append(UInt8(ascii: "\""))
    }

    public var json: JSONValue {
        .object([
            JSONMember("changes", .array(changes.map { change in
                var members = [
                    JSONMember("causes", .array(change.causes.map { .object($0.members) })),
                    JSONMember("change", .string(change.direction.rawValue)),
                    JSONMember("kind", .string(change.kind.rawValue)),
                    JSONMember("name", .string(change.name)),
                ]
                if change.kind == .permission {
                    members += [
                        JSONMember("pathsAfter", .array(change.pathsAfter.map { PathAnswer(path: $0).json })),
                        JSONMember("pathsBefore", .array(change.pathsBefore.map { PathAnswer(path: $0).json })),
                        JSONMember("scopeAfter", change.scopeAfter.map { .string($0.name) } ?? .null),
                        JSONMember("scopeBefore", change.scopeBefore.map { .string($0.name) } ?? .null),
                    ]
                }
                members.append(JSONMember("user", .string(change.user)))
                return .object(members)
            })),
            JSONMember("from", .string(from)),
            JSONMember("to", .string(to)),
        ])
    }
}

/// `body(0)`…`body(count - 1)` on as many threads at once, in order; the first error is thrown.
/// For the few big answers a reader thread can split (a read transaction serves one thread at a
/// time, so each part opens its own views).
func inParallel<T: Sendable, Failure: Error>(_ count: Int, _ body: @Sendable (Int) throws(Failure) -> T) throws(Failure) -> [T] {
    guard count > 1 else { return try (0..<count).map(body) }
    let results = Mutex<[Int: T]>([:])
    let failure = Mutex<Failure?>(nil)
    DispatchQueue.concurrentPerform(iterations: count) { index in
        do throws(Failure) {
            let value = try body(index)
            results.withLock { $0[index] = value }
        } catch {
            failure.withLock { $0 = $0 ?? error }
        }
    }
    if let error = failure.withLock({ $0 }) { throw error }
    return results.withLock { all in (0..<count).map { all[$0]! } }
}

/// `body` over the two halves of `items` on two threads, or over all of them on this one when
/// there are fewer than `minimum` (splitting a small answer costs more than it saves).
func inHalves<Element: Sendable, T: Sendable, Failure: Error>(
    _ items: [Element], minimum: Int = 2_000, _ body: @Sendable (ArraySlice<Element>) throws(Failure) -> T
) throws(Failure) -> [T] {
    let parts = items.count >= minimum ? 2 : 1
    let size = (items.count + parts - 1) / parts
    return try inParallel(parts) { (part) throws(Failure) in try body(items[(part * size)..<min(items.count, (part + 1) * size)]) }
}

/// Walks two lists sorted by user (each user once in each) together: `body(a, b)` once for every
/// user, with the user's item in each list or nil.
func mergeByUser<T>(_ first: [T], _ second: [T], user: (T) -> String, _ body: (T?, T?) -> Void) {
    var (i, j) = (first.startIndex, second.startIndex)
    while i < first.endIndex || j < second.endIndex {
        if j == second.endIndex || (i < first.endIndex && user(first[i]) < user(second[j])) {
            body(first[i], nil)
            i += 1
        } else if i == first.endIndex || user(second[j]) < user(first[i]) {
            body(nil, second[j])
            j += 1
        } else {
            body(first[i], second[j])
            (i, j) = (i + 1, j + 1)
        }
    }
}
