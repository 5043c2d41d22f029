import EventLog
import EventModel
import Projector

/// Everything the read endpoints of spec 5 need. Blocking: call from `EventLog.read` (reader threads).
///
/// As-of answers fold, through the projector's own fold, only the events of the entities a question
/// is about (the user and the roles they ever held; a record; a role and its members), read from
/// the log's subject index and cut at `asOf`. The work is bounded by those entities' histories, not
/// by the ledger's length, so no snapshots are needed; the live projection supplies findings, the
/// candidates for "who held this", and the permissions named so far.
public final class LedgerQueries: Sendable {
    public let log: EventLog
    public let projector: LiveProjector

    public init(log: EventLog, projector: LiveProjector) {
        self.log = log
        self.projector = projector
    }

    // MARK: - Records

    /// Who changed what on one record, oldest first; `field` keeps only the changes of that field.
    public func history(
        _ subject: Envelope.Subject, field: String? = nil, since: Instant? = nil, until: Instant? = nil, limit: Int = 100,
        cursor: String? = nil
    ) throws -> HistoryPage {
        let page = try historyRecords(subject, field: field, since: since, until: until, limit: limit, cursor: cursor)
        return HistoryPage(subject: subject, entries: page.events.compactMap { historyEntry($0, field: field) }, next: page.next)
    }

    /// The bytes of `CanonicalJSON.encode(history(…).json)`, spliced from the stored records instead
    /// of decoding each into a tree and encoding it again: what the HTTP route serves. A record the
    /// splice cannot read goes through the decoder, which reports it if it does not decode either.
    public func historyJSON(
        _ subject: Envelope.Subject, field: String? = nil, since: Instant? = nil, until: Instant? = nil, limit: Int = 100,
        cursor: String? = nil
    ) throws -> [UInt8] {
        let page = try historyRecords(subject, field: field, since: since, until: until, limit: limit, cursor: cursor)
        let fieldJSON = field.map { name -> [UInt8] in
            var quoted: [UInt8] = []
            CanonicalJSON.writeString(name, into: &quoted)
            return quoted
        }
        var out: [UInt8] = []
        out.reserveCapacity(page.events.reduce(96) { $0 + $1.record.count })
        out.append(contentsOf: #"{"entries":["#.utf8)
        var written = 0
        for logged in page.events {
            let mark = out.count
            if written > 0 { out.append(UInt8(ascii: ",")) }
            if !HistoryEntry.splice(record: logged.record, field: fieldJSON, into: &out) {
                out.removeSubrange(mark...)
                guard let entry = historyEntry(logged, field: field) else { continue }
                if written > 0 { out.append(UInt8(ascii: ",")) }
                CanonicalJSON.write(entry.json, into: &out)
            }
            written += 1
        }
        out.append(contentsOf: #"],"next":"#.utf8)
        CanonicalJSON.write(page.next.map { .string($0) } ?? .null, into: &out)
        out.append(contentsOf: #","subject":"#.utf8)
        CanonicalJSON.write(subjectJSON(subject), into: &out)
        out.append(UInt8(ascii: "}"))
        return out
    }

    private func historyRecords(
        _ subject: Envelope.Subject, field: String?, since: Instant?, until: Instant?, limit: Int, cursor: String?
    ) throws -> EventPage {
        try log.events(
            EventQuery(
                subjectType: subject.type, subjectId: subject.id, field: field, since: since, until: until, limit: limit,
                cursor: cursor))
    }

    private func historyEntry(_ logged: LoggedEvent, field: String?) -> HistoryEntry? {
        guard let event = log.decodeOrReport(logged) else { return nil }
        let e = event.envelope
        let changes = field.map { f in e.changes.filter { utf8Equal($0.field, f) } } ?? e.changes
        return HistoryEntry(
            seq: event.seq, time: e.instant, type: e.type, actor: e.actor, changes: changes, data: e.data, outcome: e.outcome,
            reason: e.reason)
    }

    /// A record's fields as of a moment, each with the event that set it.
    ///
    /// A user's or role's own events are picked from its trail (`stateEvents`): an administrator
    /// with thousands of role assignments has a handful that its fields depend on.
    public func state(_ subject: Envelope.Subject, asOf: AsOf = .now) throws -> RecordStateAnswer {
        let (head, cut) = try horizon(asOf)
        let replay =
            subject.type == "user" || subject.type == "role"
            ? try projector.accessView(through: cut.lastSeq, time: cut.instant) { view in try recordReplay(subject, in: view) }
            : try Replay(log: log, subjects: [subject], cut: cut)
        var exists = false
        var deleted = false
        var fields: [String: Fact] = [:]
        switch subject.type {
        case "sales_order":
            if let record = replay.state.orders[subject.id] {
                exists = record.createdSeq != nil || !record.fields.isEmpty
                deleted = record.deletedSeq != nil
                fields = record.fields
            }
        case "user":
            if let user = replay.state.users[subject.id] {
                exists = true
                fields = user.fields
            }
        case "role":
            if let role = replay.state.roles[subject.id] {
                exists = role.deletedSeq == nil
                deleted = role.deletedSeq != nil
                fields = role.fields
            }
        default:
            // Types the projector does not know: their changes, folded in order.
            for event in replay.events {
                exists = true
                for change in event.envelope.changes {
                    fields[change.field] = change.new.map { Fact(value: $0, seq: event.seq) }
                }
                deleted = event.envelope.type.hasSuffix(".deleted")
            }
        }
        return RecordStateAnswer(
            subject: subject, asOf: asOf.echo(head: head), exists: exists, deleted: deleted,
            fields: fields.sorted { $0.key < $1.key }.map { ($0.key, FieldAnswer(value: $0.value.value, lineage: replay.lineage($0.value.seq))) })
    }

    /// Everything an actor did, in seq order.
    public func activity(actor: String, since: Instant? = nil, until: Instant? = nil, limit: Int = 100, cursor: String? = nil) throws -> EventPage {
        try log.events(EventQuery(actor: actor, since: since, until: until, limit: limit, cursor: cursor))
    }

    // MARK: - Access

    /// A user's status, admin levels, roles and effective permissions as of a moment, with lineage.
    ///
    /// The user's own trail is folded (it is short); the grants of the user's roles come from the
    /// view (stored intervals and the role's events past their point), but for a role ever deleted
    /// (which takes it from its members), whose trail is folded with the user's.
    public func access(user: String, asOf: AsOf = .now) throws -> AccessAnswer {
        let (head, cut) = try horizon(asOf)
        return try projector.accessView(through: cut.lastSeq, time: cut.instant) { view in
            try access(user: user, asOf: asOf, head: head, cut: cut, in: view)
        }
    }

    /// A user's access through a view at the cut (one view can serve several questions).
    func access(user: String, asOf: AsOf, head: UInt64, cut: AsOf, in view: AccessView) throws -> AccessAnswer {
        let own = try view.trail([Envelope.Subject(type: "user", id: user)])
        let assigned = Set(own.compactMap { $0.envelope.type == "user.role_assigned" ? $0.envelope.dataString("role") : nil })
        // A deleted role takes itself from its members: its trail is folded with the user's.
        let deleted = assigned.intersection(view.state.deletedRolesEver[""]).sorted()
        var replay = Replay(events: own + (try view.trail(deleted.map { .init(type: "role", id: $0) })))
        let universe = view.state.universe { cut.includes(seq: $0, time: $1) }
        guard let state = replay.state.users[user] else {
            return AccessAnswer(user: user, asOf: asOf.echo(head: head), exists: false, status: nil, adminLevels: [], roles: [], permissions: [])
        }
        for role in state.roles.keys where !deleted.contains(role) { replay.state.roles[role] = try view.role(role) }
        return AccessAnswer(
            user: user, asOf: asOf.echo(head: head), exists: true, status: state.status,
            adminLevels: state.admin.sorted { $0.key < $1.key }.map { .init(level: $0.key, lineage: replay.lineage($0.value)) },
            roles: state.roles.sorted { $0.key < $1.key }.map { .init(role: $0.key, lineage: replay.lineage($0.value)) },
            permissions: replay.state.access(of: user, universe: universe).map { .init(permission: $0.permission, scope: $0.scope, via: $0.via) },
            lastReview: state.lastReview.map { .init(decision: $0.decision, lineage: replay.lineage($0.seq)) })
    }

    /// Who held a permission as of a moment, and through which paths.
    ///
    /// The paths come from the stored intervals at the view's point — the roles granting the
    /// permission, their members, direct grants, admin levels covering it — except for the users
    /// and roles with events past that point, whose trails are folded instead.
    public func holders(permission: String, asOf: AsOf = .now) throws -> HoldersAnswer {
        let (head, cut) = try horizon(asOf)
        return try projector.accessView(through: cut.lastSeq, time: cut.instant) { view in
            HoldersAnswer(permission: permission, asOf: asOf.echo(head: head), holders: try holders(of: permission, in: view, cut: cut))
        }
    }

    /// The holders of a permission through a view at `cut` (one view serves many permissions);
    /// among `users` only, when given (a question about a role's members).
    func holders(of permission: String, in view: AccessView, cut: AsOf, among users: Set<String>? = nil) throws -> [HoldersAnswer.Holder] {
        func asked(_ user: String) -> Bool { users?.contains(user) ?? true }
        let state = view.state
        let universe = state.universe { cut.includes(seq: $0, time: $1) }
        // The roles granting the permission at the cut, with their grant.
        var granting: [String: Grant] = [:]
        for held in try view.holdings(.grantingRole, permission) where !view.replayedRoles.contains(held.member) {
            granting[held.member] = Grant(scope: held.fact.scope, seq: held.fact.lineage)
        }
        for role in state.permissionRolesEver[permission].intersection(view.replayedRoles) {
            if let held = try view.role(role), held.isLive, let grant = held.grant(permission) { granting[role] = grant }
        }
        // Paths from the intervals, for every user not replayed, in the order `ProjectionState.paths`
        // gives: roles by name, the direct grant, admin levels in order.
        var found: [(user: String, rank: Int, role: String, path: AccessPath)] = []
        for (role, grant) in granting {
            for member in try view.holdings(.membership, role) where asked(member.member) && !view.replayedUsers.contains(member.member) {
                found.append((member.member, 0, role, AccessPath(kind: .role, scope: grant.scope, role: role, seqs: [grant.seq, member.fact.lineage])))
            }
        }
        for held in try view.holdings(.direct, permission) where asked(held.member) && !view.replayedUsers.contains(held.member) {
            found.append((held.member, 1, "", AccessPath(kind: .direct, scope: held.fact.scope, seqs: [held.fact.lineage])))
        }
        if universe.contains(permission) {
            for (rank, level) in AdminLevel.covering(permission).enumerated() {
                for held in try view.holdings(.admin, level.storedName) where asked(held.member) && !view.replayedUsers.contains(held.member) {
                    found.append((held.member, 2 + rank, "", AccessPath(kind: .admin, scope: .all, level: level, seqs: [held.fact.lineage])))
                }
            }
        }
        found.sort { ($0.user, $0.rank, $0.role) < ($1.user, $1.rank, $1.role) }
        var holders: [HoldersAnswer.Holder] = []
        for entry in found {
            if holders.last?.user == entry.user {
                holders[holders.count - 1].via.append(entry.path)
                holders[holders.count - 1].scope = max(holders[holders.count - 1].scope, entry.path.scope)
            } else {
                holders.append(.init(user: entry.user, scope: entry.path.scope, via: [entry.path]))
            }
        }

        // The replayed users: their trails, over the roles' grants at the cut.
        let replayedUsers = view.replayedUsers.filter(asked).sorted()
        if !replayedUsers.isEmpty {
            // A deleted role's trail takes it from its members as the fold did.
            let deletedRoles = state.permissionRolesEver[permission].intersection(state.deletedRolesEver[""]).sorted()
            var replay = Replay(
                events: try view.trail(replayedUsers.map { .init(type: "user", id: $0) } + deletedRoles.map { .init(type: "role", id: $0) }))
            for (role, grant) in granting { replay.state.roles[role] = RoleState(grants: [permission: grant]) }
            for user in replayedUsers {
                let via = replay.state.paths(of: user, to: permission, universe: universe)
                if let widest = via.map(\.scope).max() { holders.append(.init(user: user, scope: widest, via: via)) }
            }
            holders.sort { $0.user < $1.user }
        }
        return holders
    }

    /// Which of a user's or role's own events (its trail, cut as the answer is) its record state
    /// depends on: its fields change only through `*.created` and `*.updated`, whether a role is live
    /// through `role.created` and `role.deleted`, and it exists from its first event that is not a
    /// revocation (a revocation of nothing creates nothing). The rest need not be read.
    static func stateEvents(_ trail: [(seq: UInt64, type: String)]) -> [UInt64] {
        var exists = false
        return trail.filter { entry in
            let revocation = entry.type.hasSuffix("_revoked")
            defer { if !revocation { exists = true } }
            return (!exists && !revocation) || entry.type.hasSuffix(".created") || entry.type.hasSuffix(".updated") || entry.type == "role.deleted"
        }.map(\.seq)
    }

    /// A user's or role's own events that its record state depends on (`stateEvents`), folded.
    private func recordReplay(_ subject: Envelope.Subject, in view: AccessView) throws -> Replay {
        Replay(events: try log.foldedEvents(seqs: Self.stateEvents(try view.trailTypes(subject))))
    }

    /// A role's fields, grants and members as of a moment; `window` (positions in user order)
    /// limits which members are answered with their lineage, for a page that shows some of thousands.
    ///
    /// All from one access view at the cut. The role's own events are read from the records for its
    /// fields and whether it is live, less its grant churn (a busy role has thousands of grants and
    /// revocations), which changes neither (`stateEvents`).
    /// Its grants and members come from the stored intervals (members whatever their status), with
    /// the trails of the users the intervals cannot answer for folded instead (`replayedUsers`), and
    /// their lineage from the trail entries of the events that made them.
    public func role(_ id: String, asOf: AsOf = .now, members window: Range<Int>? = nil) throws -> RoleAnswer {
        let (head, cut) = try horizon(asOf)
        let subject = Envelope.Subject(type: "role", id: id)
        let found = try projector.accessView(through: cut.lastSeq, time: cut.instant) { view in
            let own = try recordReplay(subject, in: view)
            var members: [(user: String, seq: UInt64)] = try view.holdings(.assignment, id)
                .filter { !view.replayedUsers.contains($0.member) }.map { ($0.member, $0.fact.lineage) }
            if !view.replayedUsers.isEmpty {
                let replayed = view.replayedUsers.intersection(view.state.roleMembersEver[id]).sorted()
                let trails = Replay(events: try view.trail([subject] + replayed.map { .init(type: "user", id: $0) }))
                members += replayed.compactMap { user in trails.state.users[user]?.roles[id].map { (user: user, seq: $0) } }
            }
            members.sort { $0.user < $1.user }
            let count = members.count
            let shown = window.map { members[$0.clamped(to: members.indices)] } ?? members[...]
            let grants = try view.role(id)?.grants ?? [:]
            let made = try view.madeBy(grants.values.map { (subject, $0.seq) } + shown.map { (Envelope.Subject(type: "user", id: $0.user), $0.seq) })
            return (own: own, grants: grants, members: shown, count: count, madeBy: made)
        }
        guard let role = found.own.state.roles[id], role.isLive else {
            return RoleAnswer(role: id, asOf: asOf.echo(head: head), exists: false, fields: [], grants: [], members: [], memberCount: 0, membersOffset: 0)
        }
        // A fact the trail does not know (none should be): read from its record.
        var madeBy = found.madeBy
        let unknown = (found.grants.values.map(\.seq) + found.members.map(\.seq)).filter { madeBy[$0] == nil }
        for event in try log.foldedEvents(seqs: unknown) { madeBy[event.seq] = (event.envelope.actor.id, event.envelope.instant) }
        func lineage(_ seq: UInt64) -> Lineage { madeBy[seq].map { Lineage(seq: seq, actor: $0.actor, time: $0.time) } ?? .unknown(seq) }
        return RoleAnswer(
            role: id, asOf: asOf.echo(head: head), exists: true,
            fields: role.fields.sorted { $0.key < $1.key }.map { ($0.key, FieldAnswer(value: $0.value.value, lineage: found.own.lineage($0.value.seq))) },
            grants: found.grants.sorted { $0.key < $1.key }.map { .init(permission: $0.key, scope: $0.value.scope, lineage: lineage($0.value.seq)) },
            members: found.members.map { .init(user: $0.user, lineage: lineage($0.seq)) }, memberCount: found.count,
            membersOffset: found.members.startIndex)
    }

    // MARK: - Findings

    public func findings(_ query: LiveProjector.FindingQuery) throws -> LiveProjector.FindingPage {
        try projector.findings(query)
    }

    // MARK: - Vocabulary

    /// The names the ledger holds — event types, subject types, permissions (with the standard
    /// set admin levels expand to), roles, finding kinds — for telling a typo from an empty answer.
    public func vocabulary() throws -> VocabularyAnswer {
        let (eventTypes, subjectTypes) = try log.vocabulary()
        return try projector.read { state in
            VocabularyAnswer(
                eventTypes: eventTypes, subjectTypes: subjectTypes, permissions: state.universe { _, _ in true }.sorted(),
                roles: state.roles.all.keys.sorted(), findingKinds: Finding.Kind.allCases.map(\.rawValue))
        }
    }

    // MARK: - Helpers

    /// The head the answer sees, and the cut: `.now` becomes that head, so every entity is read at the same point.
    private func horizon(_ asOf: AsOf) throws -> (UInt64, AsOf) {
        let head = try log.head().seq
        if case .now = asOf { return (head, .seq(head)) }
        return (head, asOf)
    }

    /// The permissions admin levels expand to at the cut.
    private func universe(_ cut: AsOf) throws -> Set<String> {
        try projector.read { Self.universe($0, cut) }
    }

    private static func universe(_ state: borrowing ProjectionState, _ cut: AsOf) -> Set<String> {
        state.universe { cut.includes(seq: $0, time: $1) }
    }
}

/// The events of some subjects, cut at an as-of point and folded in seq order.
struct Replay {
    var events: [StoredEvent]
    var state = ProjectionState()
    private var lineages: [UInt64: Lineage] = [:]

    init(log: EventLog, subjects: [Envelope.Subject], cut: AsOf) throws {
        var all: [StoredEvent] = []
        for subject in subjects { all += try Self.events(log: log, subject: subject, cut: cut) }
        self.init(events: all)
    }

    /// Folds events of several subjects (in any order; one seen twice counts once).
    init(events given: [StoredEvent]) {
        events = LiveProjector.mergedInSeqOrder(given)
        for event in events {
            state.apply(event)
            lineages[event.seq] = Lineage(of: event)
        }
    }

    func lineage(_ seq: UInt64) -> Lineage {
        lineages[seq] ?? .unknown(seq)
    }

    /// One subject's events up to the cut, oldest first, as much of each as a fold reads.
    static func events(log: EventLog, subject: Envelope.Subject, cut: AsOf) throws -> [StoredEvent] {
        var out: [StoredEvent] = []
        var query = EventQuery(subjectType: subject.type, subjectId: subject.id, limit: 1000)
        if case .seq(let n) = cut, n == 0 { return [] }
        var decoder = StoredEvent.FoldDecoder()
        while true {
            let page = try log.events(query)
            for logged in page.events {
                if case .seq(let n) = cut, logged.seq > n { return out }
                guard let event = log.decodeForFoldOrReport(logged, using: &decoder) else { continue }
                if cut.includes(seq: event.seq, time: event.envelope.instant) { out.append(event) }
            }
            guard let next = page.next else { return out }
            query.cursor = next
        }
    }
}
