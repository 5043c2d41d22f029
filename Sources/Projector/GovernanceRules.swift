import EventModel

/// The access-governance findings (issue 14): duties held together that must stay apart
/// (`sod_conflict`), a module left with nobody to administer it (`module_without_admin`), and a
/// user moved to another department whose roles did not follow (`stale_access`). Like the rules of
/// spec 4 they are judged on the state just before and just after each event.
extension ProjectionState {
    /// What the governance rules need to know before an event changes the state.
    struct GovernanceBefore {
        /// User → the indices of the policy's duty pairs they hold both of.
        var conflicts: [String: Set<Int>] = [:]
        /// Module admin levels the event may take from the last active holder, with those holders.
        var moduleAdmins: [(level: AdminLevel, holders: [(user: String, seq: UInt64)])] = []
        /// The subject user's department, before a `user.updated`.
        var department: String?
    }

    /// Called before the event is applied; `due` findings (stale access that came due by this
    /// event's time) are returned at once.
    mutating func governanceBefore(_ event: StoredEvent, _ kind: EventKind, policy: Policy, due: inout [Finding]) -> GovernanceBefore {
        var before = GovernanceBefore()
        if policy.staleAccessDays > 0 { due += staleAccessDue(by: event, policy) }
        guard event.envelope.outcome == .success else { return before }
        if kind == .userUpdated { before.department = users[event.envelope.subject.id]?.department }
        if !policy.separationOfDuties.isEmpty {
            for user in usersWhoseDutiesMayChange(event, kind, policy) {
                let held = conflictsHeld(by: user, policy)
                if !held.isEmpty { before.conflicts[user] = held }
            }
        }
        if kind == .userAdminRevoked || kind == .userOffboarded || kind == .userDisabled || kind == .userCreated,
            let subject = users[event.envelope.subject.id], subject.status == .active
        {
            // Only when the subject is the last active holder can the module be left without one.
            for (level, seq) in subject.admin where level.level == "module_admin" && !hasActiveHolder(of: level, besides: event.envelope.subject.id) {
                before.moduleAdmins.append((level, [(event.envelope.subject.id, seq)]))
            }
        }
        return before
    }

    /// Called after the event is applied: the findings it causes.
    mutating func governanceAfter(_ event: StoredEvent, _ kind: EventKind, policy: Policy, _ before: GovernanceBefore) -> [Finding] {
        let e = event.envelope
        var out: [Finding] = []
        func add(_ kind: Finding.Kind, subject: Envelope.Subject, _ message: String, _ evidence: [UInt64]) {
            out.append(
                Finding(kind: kind, seq: event.seq, time: e.instant, actor: e.actor.id, subject: subject, message: message,
                    evidence: Array(Set(evidence)).sorted()))
        }
        if !policy.separationOfDuties.isEmpty {
            for user in usersWhoseDutiesMayChange(event, kind, policy) {
                for index in conflictsHeld(by: user, policy).subtracting(before.conflicts[user] ?? []).sorted() {
                    let pair = policy.separationOfDuties[index]
                    let first = dutyPaths(of: user, pair.first)
                    let second = dutyPaths(of: user, pair.second)
                    add(.sodConflict, subject: Envelope.Subject(type: "user", id: user),
                        "\(user) now holds both \(pair.first) (\(Self.describePaths(first))) and \(pair.second) (\(Self.describePaths(second))), which must stay apart; \(e.actor.id)'s \(e.type) on \(e.subject.id) joined them.",
                        first.flatMap(\.seqs) + second.flatMap(\.seqs))
                }
            }
        }
        for (level, holders) in before.moduleAdmins where !holders.isEmpty && !hasActiveHolder(of: level, besides: nil) {
            add(.moduleWithoutAdmin, subject: e.subject,
                "The \(level.module ?? "") module has no administrator left: \(e.actor.id)'s \(e.type) on \(e.subject.id) removed the last module admin (\(holders.map(\.user).joined(separator: ", "))).",
                holders.map(\.seq))
        }
        if policy.staleAccessDays > 0 { watchForStaleAccess(event, kind, policy, movedFrom: before.department) }
        return out
    }

    // MARK: - Separation of duties

    /// Users whose duties the event may change: its subject user; for a role's grant of a permission
    /// that a rule names, or the role's deletion, the role's members.
    private func usersWhoseDutiesMayChange(_ event: StoredEvent, _ kind: EventKind, _ policy: Policy) -> [String] {
        let e = event.envelope
        if e.subject.type == "user", kind != .other { return [e.subject.id] }
        guard e.subject.type == "role" else { return [] }
        switch kind {
        case .rolePermissionGranted:
            guard let permission = e.dataString("permission"),
                policy.separationOfDuties.contains(where: { $0.first == .permission(permission) || $0.second == .permission(permission) })
            else { return [] }
        case .roleDeleted, .roleCreated:
            break
        default:
            return []
        }
        return roleMembersEver[e.subject.id].filter { users[$0]?.roles[e.subject.id] != nil }.sorted()
    }

    func conflictsHeld(by user: String, _ policy: Policy) -> Set<Int> {
        guard let state = users[user], state.status == .active else { return [] }
        var out = Set<Int>()
        for (index, pair) in policy.separationOfDuties.enumerated() where holds(state, pair.first) && holds(state, pair.second) {
            out.insert(index)
        }
        return out
    }

    private func holds(_ user: UserState, _ duty: Policy.Duty) -> Bool {
        switch duty {
        case .permission(let permission): holds(user, permission, atLeast: .own)
        case .level(let level): user.admin[level] != nil
        }
    }

    private func dutyPaths(of user: String, _ duty: Policy.Duty) -> [AccessPath] {
        switch duty {
        case .permission(let permission): return paths(of: user, to: permission)
        case .level(let level):
            guard let seq = users[user]?.admin[level] else { return [] }
            return [AccessPath(kind: .admin, scope: .all, level: level, seqs: [seq])]
        }
    }

    static func describePaths(_ paths: [AccessPath]) -> String {
        paths.map { path in
            switch path.kind {
            case .role: "role \(path.role ?? "") [\(path.seqs.map(String.init).joined(separator: ","))]"
            case .direct: "direct [\(path.seqs.map(String.init).joined(separator: ","))]"
            case .admin: "admin \(path.level?.storedName ?? "") [\(path.seqs.map(String.init).joined(separator: ","))]"
            }
        }.joined(separator: "; ")
    }

    // MARK: - Module admins

    /// Whether an active user (other than `besides`) holds an admin level now: stops at the first.
    func hasActiveHolder(of level: AdminLevel, besides: String?) -> Bool {
        levelHoldersEver.first(level.storedName) { user in
            guard user != besides, let state = users[user], state.status == .active else { return false }
            return state.admin[level] != nil
        } != nil
    }

    // MARK: - Stale access

    /// A move to another department, watched until `staleAccessDays` later. The watches live in the
    /// projection by the day they come due, so a batch rewrites the days it touched, not every
    /// pending move (a reorganisation can leave thousands pending).
    private mutating func watchForStaleAccess(_ event: StoredEvent, _ kind: EventKind, _ policy: Policy, movedFrom: String?) {
        let e = event.envelope
        guard kind == .userUpdated, let movedFrom, let user = users[e.subject.id], user.fields["department"]?.seq == event.seq,
            let department = user.department, !utf8Equal(department, movedFrom), !user.roles.isEmpty
        else { return }
        let due = Instant(seconds: e.instant.seconds + Int64(policy.staleAccessDays) * 86_400, nanoseconds: e.instant.nanoseconds)
        let day = StaleSchedule.day(of: due)
        watches[StaleWatches.key(day: day), default: StaleWatches()].add(StaleWatches.Watch(due: due, user: e.subject.id, moveSeq: event.seq, mover: e.actor.id))
        if watchDays[StaleSchedule.key]?.days.contains(day) != true {
            watchDays[StaleSchedule.key, default: StaleSchedule()].insert(day)
            firstWatchDay.forget()
        }
    }

    /// The watches that came due by this event's time: a user still in the department they were
    /// moved to, with the roles they had before the move, is flagged (once).
    private mutating func staleAccessDue(by event: StoredEvent, _ policy: Policy) -> [Finding] {
        let now = event.envelope.instant
        let today = StaleSchedule.day(of: now)
        var due: [StaleWatches.Watch] = []
        while let day = firstWatchDay.value(else: { watchDays[StaleSchedule.key]?.days.first }), day <= today {
            let key = StaleWatches.key(day: day)
            // Only today's watches can still lie ahead: the days before ended before `now`.
            if let first = watches[key]?.items.first, now < first.due { break }
            due += watches[key]?.takeDue(by: now) ?? []
            guard watches[key]?.items.isEmpty ?? true else { break }
            watches[key] = nil
            watchDays[StaleSchedule.key]!.days.removeFirst()
            firstWatchDay.forget()
        }
        var out: [Finding] = []
        for watch in due {
            guard let user = users[watch.user], user.status == .active, user.fields["department"]?.seq == watch.moveSeq,
                (user.rolesChangedSeq ?? 0) < watch.moveSeq, !user.roles.isEmpty
            else { continue }
            let department = user.department ?? "?"
            out.append(
                Finding(
                    kind: .staleAccess, seq: event.seq, time: event.envelope.instant, actor: watch.mover,
                    subject: Envelope.Subject(type: "user", id: watch.user),
                    message: "\(watch.user) was moved to \(department) by \(watch.mover) (seq \(watch.moveSeq)) and, \(policy.staleAccessDays) days later, still holds the roles from before the move (\(user.roles.keys.sorted().joined(separator: ", "))).",
                    evidence: [watch.moveSeq] + user.roles.values.sorted()))
        }
        return out
    }
}

/// The moves to another department that come due on one day (UTC), earliest due first.
public struct StaleWatches: Sendable, Equatable {
    static func key(day: Int64) -> String { "due-\(day)" }

    public struct Watch: Sendable, Equatable {
        var due: Instant
        var user: String
        var moveSeq: UInt64
        var mover: String
    }

    public var items: [Watch] = []

    /// Moves come in time order, nearly: the place is found from the end.
    mutating func add(_ watch: Watch) {
        let index = (items.lastIndex { !(watch.due < $0.due) }).map { $0 + 1 } ?? 0
        items.insert(watch, at: index)
    }

    mutating func takeDue(by time: Instant) -> [Watch] {
        let count = items.prefix { !(time < $0.due) }.count
        defer { items.removeFirst(count) }
        return Array(items.prefix(count))
    }
}

extension StaleWatches: StoredEntity {
    public func write(to w: inout ByteWriter) {
        w.write(items.count)
        for item in items {
            w.write(item.due)
            w.write(item.user)
            w.write(item.moveSeq)
            w.write(item.mover)
        }
    }

    public init(from r: inout ByteReader) throws {
        self.init()
        for _ in 0..<(try r.int()) {
            items.append(Watch(due: try r.instant(), user: try r.string(), moveSeq: try r.uint64(), mover: try r.string()))
        }
    }
}

/// A value derived from the state, kept until the state it comes from changes (`forget`). Not part of
/// what the state is: two states that hold the same entities are equal whatever they remember.
struct Remembered<Value: Sendable>: Sendable, Equatable {
    private var known: Value?

    init() {}

    mutating func value(else derive: () -> Value) -> Value {
        if let known { return known }
        let value = derive()
        known = value
        return value
    }

    mutating func forget() { known = nil }

    static func == (a: Self, b: Self) -> Bool { true }
}

/// The days (since 1970, UTC) on which stale-access watches come due, earliest first.
public struct StaleSchedule: Sendable, Equatable {
    static let key = "stale-access"

    public var days: [Int64] = []

    static func day(of time: Instant) -> Int64 {
        time.seconds >= 0 ? time.seconds / 86_400 : (time.seconds - 86_399) / 86_400
    }

    mutating func insert(_ day: Int64) {
        let index = days.firstIndex { day <= $0 } ?? days.endIndex
        if index == days.endIndex || days[index] != day { days.insert(day, at: index) }
    }
}

extension StaleSchedule: StoredEntity {
    public func write(to w: inout ByteWriter) {
        w.write(days.count)
        for day in days { w.write(UInt64(bitPattern: day)) }
    }

    public init(from r: inout ByteReader) throws {
        self.init()
        for _ in 0..<(try r.int()) { days.append(Int64(bitPattern: try r.uint64())) }
    }
}
