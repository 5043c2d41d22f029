import EventModel

/// The state of spec 4 after a prefix of the ledger, folded in seq order: users, roles, grants,
/// admin levels, access requests and reviews, sales orders, each fact with the event that made it.
///
/// The same fold serves the live projection (which also looks for findings), a rebuild, and
/// as-of answers, which fold only the events of the entities a question is about.
public struct ProjectionState: Sendable, Equatable {
    public var users = EntityTable<UserState>(.users)
    public var roles = EntityTable<RoleState>(.roles)
    public var orders = EntityTable<RecordState>(.orders)
    public var requests = EntityTable<RequestState>(.requests)
    public var appliedThrough: UInt64 = 0
    /// Until the first super admin exists the CRM is setting the tenant up: no findings.
    public var bootstrapped = false

    // Who could ever be concerned by a permission or role: the candidates an as-of question replays.
    public var roleMembersEver = SetTable(.roleMembers)
    public var permissionRolesEver = SetTable(.permissionRoles)
    public var permissionUsersEver = SetTable(.permissionUsers)
    /// User → `AdminLevel.storedName` of every level ever granted.
    public var adminLevelsEver = SetTable(.adminLevels)
    /// Under "": every user ever granted super_admin (the last-super-admin rule looks only at them).
    public var superAdminsEver = SetTable(.superAdmins)
    /// Under "": every role ever deleted (an as-of answer replays them with their members).
    public var deletedRolesEver = SetTable(.deletedRoles)
    /// User → the access requests made for them.
    public var requestsByUser = SetTable(.requestsByUser)
    /// Every permission named in the ledger, with the first seq and the earliest time that named it.
    public var vocabulary = EntityTable<FirstNaming>(.vocabulary)
    /// Approved requests: "user\u{0}role:r" or "user\u{0}permission:p" → approval times.
    public var approvals = EntityTable<ApprovalTimes>(.approvals)
    /// Moves to another department awaiting the `stale_access` check, one entity per day they come due.
    public var watches = EntityTable<StaleWatches>(.watches)
    /// The days that have watches, earliest first (one entity).
    public internal(set) var watchDays = EntityTable<StaleSchedule>(.watchDays)
    /// The first of them, remembered between events (nil: none): every event asks whether a watch
    /// came due, and the days change only when a user moves to another department.
    var firstWatchDay = Remembered<Int64?>()
    /// Admin level → every user ever granted it (module admins of a module are found from it).
    public var levelHoldersEver = SetTable(.levelHolders)
    /// Department → every user ever in it (a review report over a department starts from it).
    public var departmentMembersEver = SetTable(.departmentMembers)

    /// A state folded in memory alone, from nothing.
    public init() {}

    /// A state over a stored projection: what it does not hold in memory it reads from `source`.
    public init(source: any ProjectionSource, appliedThrough: UInt64, bootstrapped: Bool) {
        attach(source)
        self.appliedThrough = appliedThrough
        self.bootstrapped = bootstrapped
    }

    /// Every table and set, the one place they are listed.
    mutating func visitTables<Visitor: ProjectionTableVisitor>(_ visitor: inout Visitor) {
        visitor.visit(\.users, of: &self)
        visitor.visit(\.roles, of: &self)
        visitor.visit(\.orders, of: &self)
        visitor.visit(\.requests, of: &self)
        visitor.visit(\.vocabulary, of: &self)
        visitor.visit(\.approvals, of: &self)
        visitor.visit(\.watches, of: &self)
        visitor.visit(\.watchDays, of: &self)
        visitor.visit(\.roleMembersEver, of: &self)
        visitor.visit(\.permissionRolesEver, of: &self)
        visitor.visit(\.permissionUsersEver, of: &self)
        visitor.visit(\.adminLevelsEver, of: &self)
        visitor.visit(\.superAdminsEver, of: &self)
        visitor.visit(\.deletedRolesEver, of: &self)
        visitor.visit(\.requestsByUser, of: &self)
        visitor.visit(\.levelHoldersEver, of: &self)
        visitor.visit(\.departmentMembersEver, of: &self)
    }

    /// Reads what is not in memory from `source` (nil: holds everything in memory), from nothing.
    mutating func attach(_ source: (any ProjectionSource)?) {
        firstWatchDay.forget()
        struct Attach: ProjectionTableVisitor {
            let source: (any ProjectionSource)?
            func visit<Value>(_ table: WritableKeyPath<ProjectionState, EntityTable<Value>>, of state: inout ProjectionState) {
                state[keyPath: table].attach(source)
            }
            func visit(_ set: WritableKeyPath<ProjectionState, SetTable>, of state: inout ProjectionState) { state[keyPath: set].attach(source) }
        }
        var visitor = Attach(source: source)
        visitTables(&visitor)
    }

    /// Reads on from a newer snapshot of the same store, keeping the entities cached so far.
    mutating func rebind(_ source: any ProjectionSource) {
        struct Rebind: ProjectionTableVisitor {
            let source: any ProjectionSource
            func visit<Value>(_ table: WritableKeyPath<ProjectionState, EntityTable<Value>>, of state: inout ProjectionState) {
                state[keyPath: table].rebind(source)
            }
            func visit(_ set: WritableKeyPath<ProjectionState, SetTable>, of state: inout ProjectionState) { state[keyPath: set].rebind(source) }
        }
        var visitor = Rebind(source: source)
        visitTables(&visitor)
    }

    /// After what changed was handed to the store's writer: the next batch's changes are counted
    /// from here. Until the writer has committed them and the state reads a newer snapshot
    /// (`rebind`), the state keeps them itself, for the fold reads the old snapshot meanwhile.
    mutating func handedOff() {
        struct HandedOff: ProjectionTableVisitor {
            func visit<Value>(_ table: WritableKeyPath<ProjectionState, EntityTable<Value>>, of state: inout ProjectionState) {
                state[keyPath: table].handedOff()
            }
            func visit(_ set: WritableKeyPath<ProjectionState, SetTable>, of state: inout ProjectionState) { state[keyPath: set].handedOff() }
        }
        var visitor = HandedOff()
        visitTables(&visitor)
    }

    /// Lays a read-only projector's in-memory tail over the stored state it was folded on.
    mutating func overlay(_ tail: ProjectionState) {
        struct Overlay: ProjectionTableVisitor {
            let tail: ProjectionState
            func visit<Value>(_ table: WritableKeyPath<ProjectionState, EntityTable<Value>>, of state: inout ProjectionState) {
                for (id, value) in tail[keyPath: table].entries { state[keyPath: table][id] = value }
            }
            func visit(_ set: WritableKeyPath<ProjectionState, SetTable>, of state: inout ProjectionState) {
                for (key, members) in tail[keyPath: set].added { for member in members { state[keyPath: set].insert(member, into: key) } }
            }
        }
        var visitor = Overlay(tail: tail)
        visitTables(&visitor)
        firstWatchDay.forget()
        appliedThrough = tail.appliedThrough
        bootstrapped = tail.bootstrapped
    }

    /// Folds one event.
    public mutating func apply(_ event: StoredEvent) {
        var none: [Finding] = []
        fold(event, policy: Policy(), judging: false, findings: &none)
    }

    /// Folds one event and adds the policy violations it shows, judged on the state just before it.
    public mutating func apply(_ event: StoredEvent, policy: Policy, findings: inout [Finding]) {
        let before = findings.count
        fold(event, policy: policy, judging: true, findings: &findings)
        // Several findings of one kind on one event are told apart by their place.
        if findings.count - before > 1 {
            var seen: [Finding.Kind: Int] = [:]
            for i in before..<findings.count {
                findings[i].ordinal = seen[findings[i].kind, default: 0]
                seen[findings[i].kind, default: 0] += 1
            }
        }
    }

    /// A failed event (`outcome: failure`) changed nothing in the CRM: it only counts for `inactive_actor`.
    private mutating func fold(_ event: StoredEvent, policy: Policy, judging asked: Bool, findings: inout [Finding]) {
        let e = event.envelope
        let seq = event.seq
        let kind = EventKind(e.type)
        appliedThrough = seq
        noteVocabulary(e, seq)
        let judging = asked && bootstrapped
        let superAdminsBefore = judging && mayRemoveSuperAdmin(e, kind) ? activeSuperAdmins() : []
        var governance = GovernanceBefore()
        if judging {
            var found = judge(event, kind: kind, policy: policy)
            governance = governanceBefore(event, kind, policy: policy, due: &found)
            if !found.isEmpty { findings += found }
        }
        guard e.outcome == .success, kind != .other else { return }
        mutate(e, kind, seq)
        if judging {
            let found = governanceAfter(event, kind, policy: policy, governance)
            if !found.isEmpty { findings += found }
        }
        if judging, !superAdminsBefore.isEmpty, activeSuperAdmins().isEmpty {
            findings.append(
                Finding(
                    kind: .lastSuperAdminRemoved, seq: seq, time: e.instant, actor: e.actor.id, subject: e.subject,
                    message: "No super admin is left: \(e.actor.id)'s \(e.type) on \(e.subject.id) removed the last one (\(superAdminsBefore.map(\.user).sorted().joined(separator: ", "))).",
                    evidence: superAdminsBefore.map(\.seq).sorted()))
        }
    }

    // MARK: - Changing the state

    private mutating func mutate(_ e: Envelope, _ kind: EventKind, _ seq: UInt64) {
        let id = e.subject.id
        switch kind {
        case .userCreated:
            // Made whole, then stored: one look-up in the table, not one to store and one to fill.
            var user = UserState(createdSeq: seq)
            Self.applyChanges(e.changes, seq, to: &user.fields)
            if let department = user.department { departmentMembersEver.insert(id, into: department) }
            users[id] = user
        case .userUpdated:
            Self.applyChanges(e.changes, seq, to: &users[id, default: UserState()].fields)
            if e.changes.contains(where: { $0.field == "department" }), let department = users[id]?.department {
                departmentMembersEver.insert(id, into: department)
            }
        case .userDisabled:
            users[id, default: UserState()].status = .disabled
            users[id]!.statusSeq = seq
        case .userEnabled:
            users[id, default: UserState()].status = .active
            users[id]!.statusSeq = seq
        case .userOffboarded:
            var user = users[id, default: UserState()]
            user.status = .offboarded
            user.statusSeq = seq
            if !user.roles.isEmpty { user.rolesChangedSeq = seq }
            user.roles = [:]
            user.direct = [:]
            user.admin = [:]
            users[id] = user
        case .roleCreated:
            var role = RoleState(createdSeq: seq)
            Self.applyChanges(e.changes, seq, to: &role.fields)
            roles[id] = role
        case .roleUpdated:
            Self.applyChanges(e.changes, seq, to: &roles[id, default: RoleState()].fields)
        case .roleDeleted:
            var role = roles[id, default: RoleState()]
            role.deletedSeq = seq
            role.grants = [:]
            roles[id] = role
            deletedRolesEver.insert(id, into: "")
            for member in roleMembersEver[id] where users[member]?.roles[id] != nil {
                users[member]!.roles[id] = nil
                users[member]!.rolesChangedSeq = seq
            }
        case .rolePermissionGranted:
            guard let permission = e.dataString("permission") else { return }
            let scope = e.dataString("scope").flatMap(Scope.init(name:)) ?? .all
            roles[id, default: RoleState()].setGrant(permission, Grant(scope: scope, seq: seq))
            permissionRolesEver.insert(id, into: permission)
        case .rolePermissionRevoked:
            guard let permission = e.dataString("permission") else { return }
            roles[id]?.setGrant(permission, nil)
        case .userRoleAssigned:
            guard let role = e.dataString("role") else { return }
            users[id, default: UserState()].roles[role] = seq
            users[id]!.rolesChangedSeq = seq
            roleMembersEver.insert(id, into: role)
        case .userRoleRevoked:
            guard let role = e.dataString("role") else { return }
            if users[id]?.roles[role] != nil {
                users[id]!.roles[role] = nil
                users[id]!.rolesChangedSeq = seq
            }
        case .userPermissionGranted:
            guard let permission = e.dataString("permission") else { return }
            let scope = e.dataString("scope").flatMap(Scope.init(name:)) ?? .all
            users[id, default: UserState()].direct[permission] = Grant(scope: scope, seq: seq)
            permissionUsersEver.insert(id, into: permission)
        case .userPermissionRevoked:
            guard let permission = e.dataString("permission") else { return }
            users[id]?.direct[permission] = nil
        case .userAdminGranted:
            guard let level = adminLevel(e) else { return }
            users[id, default: UserState()].admin[level] = seq
            adminLevelsEver.insert(level.storedName, into: id)
            levelHoldersEver.insert(id, into: level.storedName)
            if level == .superAdmin {
                superAdminsEver.insert(id, into: "")
                bootstrapped = true
            }
        case .userAdminRevoked:
            guard let level = adminLevel(e) else { return }
            users[id]?.admin[level] = nil
        case .accessRequestSubmitted:
            guard let user = e.dataString("user") else { return }
            requests[id] = RequestState(
                user: user, role: e.dataString("role"), permission: e.dataString("permission"),
                scope: e.dataString("scope").flatMap(Scope.init(name:)), requester: e.actor.id, submittedSeq: seq, submittedTime: e.instant,
                justification: e.dataString("justification"))
            requestsByUser.insert(id, into: user)
        case .accessRequestApproved, .accessRequestRejected:
            guard var request = requests[id] else { return }
            request.outcome = kind == .accessRequestApproved ? .approved : .rejected
            request.decisionSeq = seq
            request.decisionTime = e.instant
            request.decider = e.actor.id
            request.decisionReason = e.dataString("reason")
            requests[id] = request
            if request.outcome == .approved { approvals[approvalKey(request), default: ApprovalTimes()].times.append(e.instant) }
        case .accessReviewCompleted:
            users[id, default: UserState()].lastReview = (seq, e.dataString("decision") ?? "")
        case .salesOrderCreated:
            var order = RecordState(createdSeq: seq)
            Self.applyChanges(e.changes, seq, to: &order.facts)
            orders[id] = order
        case .salesOrderUpdated:
            Self.applyChanges(e.changes, seq, to: &orders[id, default: RecordState()].facts)
        case .salesOrderDeleted:
            orders[id, default: RecordState()].deletedSeq = seq
        case .other:
            break
        }
    }

    /// Static: an instance method taking `inout` into `self`'s own dictionaries makes Swift copy them.
    /// A new entity's fields are made with room for all its changes at once: grown one by one, the
    /// dictionary was made again at every doubling, a twelfth of a fold.
    private static func applyChanges<Key: StoredKey>(_ changes: [Envelope.Change], _ seq: UInt64, to fields: inout [Key: Fact]) {
        // Made with its room, not reserved: `reserveCapacity` ran unspecialized in the standard library.
        if fields.isEmpty { fields = Dictionary(minimumCapacity: changes.count) }
        for change in changes {
            let key = Key(storedId: change.field)
            if let new = change.new { fields[key] = Fact(value: new, seq: seq) } else { fields[key] = nil }
        }
    }

    private mutating func noteVocabulary(_ e: Envelope, _ seq: UInt64) {
        guard let permission = e.dataString("permission"), Catalog.isPermission(permission) else { return }
        if let known = vocabulary[permission] {
            if e.instant < known.time { vocabulary[permission] = FirstNaming(seq: known.seq, time: e.instant) }
        } else {
            vocabulary[permission] = FirstNaming(seq: seq, time: e.instant)
        }
    }

    func adminLevel(_ e: Envelope) -> AdminLevel? {
        guard let level = e.dataString("level") else { return nil }
        return AdminLevel(level: level, module: level == "module_admin" ? e.dataString("module") : nil)
    }

    func approvalKey(_ r: RequestState) -> String {
        r.user + "\u{0}" + (r.role.map { "role:" + $0 } ?? "permission:" + (r.permission ?? ""))
    }

    // MARK: - Questions about the state

    /// Users who are active super admins, with their grant.
    func activeSuperAdmins() -> [(user: String, seq: UInt64)] {
        superAdminsEver[""].compactMap { id in
            guard let user = users[id], user.status == .active, let seq = user.admin[.superAdmin] else { return nil }
            return (id, seq)
        }
    }

    static func isSuperAdmin(_ user: UserState?) -> Bool {
        guard let user, user.status == .active else { return false }
        return user.admin[.superAdmin] != nil
    }

    private func mayRemoveSuperAdmin(_ e: Envelope, _ kind: EventKind) -> Bool {
        switch kind {
        case .userAdminRevoked: e.dataString("level") == "super_admin"
        case .userOffboarded, .userDisabled: users[e.subject.id]?.admin[.superAdmin] != nil
        default: false
        }
    }
}

/// One way a user holds a permission.
public struct AccessPath: Sendable, Equatable, Hashable {
    public enum Kind: String, Sendable { case role, direct, admin }
    public var kind: Kind
    public var scope: Scope
    /// The role, for `role` paths.
    public var role: String?
    /// The level, for `admin` paths.
    public var level: AdminLevel?
    /// The events that make the path: a role's grant and the assignment; a direct grant; an admin grant.
    public var seqs: [UInt64]

    public init(kind: Kind, scope: Scope, role: String? = nil, level: AdminLevel? = nil, seqs: [UInt64]) {
        self.kind = kind
        self.scope = scope
        self.role = role
        self.level = level
        self.seqs = seqs
    }
}

extension ProjectionState {
    /// Every path by which `user` holds `permission` now; none while the user is not active.
    /// `universe` limits what admin levels expand to (spec 2); nil means any permission.
    public func paths(of user: String, to permission: String, universe: Set<String>? = nil) -> [AccessPath] {
        guard let u = users[user], u.status == .active else { return [] }
        var out: [AccessPath] = []
        for (role, assigned) in u.roles.sorted(by: { $0.key < $1.key }) {
            guard let r = roles[role], r.isLive, let grant = r.grant(permission) else { continue }
            out.append(AccessPath(kind: .role, scope: grant.scope, role: role, seqs: [grant.seq, assigned]))
        }
        if let grant = u.direct[permission] {
            out.append(AccessPath(kind: .direct, scope: grant.scope, seqs: [grant.seq]))
        }
        if universe?.contains(permission) ?? true {
            for (level, seq) in u.admin.sorted(by: { $0.key < $1.key }) where level.covers(permission) {
                out.append(AccessPath(kind: .admin, scope: .all, level: level, seqs: [seq]))
            }
        }
        return out
    }

    /// Every permission `user` holds, each with its paths (widest scope first in `scope`).
    public func access(of user: String, universe: Set<String>) -> [(permission: String, scope: Scope, via: [AccessPath])] {
        guard let u = users[user], u.status == .active else { return [] }
        var candidates = Set(u.direct.keys)
        for role in u.roles.keys { if let r = roles[role], r.isLive { candidates.formUnion(r.grants.keys) } }
        for level in u.admin.keys { candidates.formUnion(universe.filter { level.covers($0) }) }
        return candidates.sorted().compactMap { permission in
            let via = paths(of: user, to: permission, universe: universe)
            guard let widest = via.map(\.scope).max() else { return nil }
            return (permission, widest, via)
        }
    }

    /// The permissions admin levels expand to as of a point: the standard set and every permission named by then.
    public func universe(includes: (UInt64, Instant) -> Bool) -> Set<String> {
        var out = Set(standardPermissions)
        for (permission, first) in vocabulary.all where includes(first.seq, first.time) { out.insert(permission) }
        return out
    }
}
