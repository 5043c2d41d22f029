import EventModel
import LMDB

/// One as-of question about access ("who held P then", "what could U do then"), read through one
/// snapshot of the stored projection.
///
/// The stored intervals (`AccessIntervals`) answer exactly at `point`: every event up to it is in
/// the answer. Past it, the answer may still include some events — late ones (stamped before the
/// trail's time when they came, so an answer by time takes them), and a read-only projector's tail
/// — and the users and roles they touch are the `replayed` ones: their trails are folded instead.
public final class AccessView {
    /// A read-only projector's access-trail entry past the stored projection.
    struct TailEntry {
        var seq: UInt64
        var time: Instant
        var value: [UInt8]
    }

    /// The seq the stored intervals answer at.
    public let point: UInt64
    /// Users and roles with events in the answer past `point`: replay their trails.
    public let replayedUsers: Set<String>
    public let replayedRoles: Set<String>
    /// The projection's sets and vocabulary (read through the same snapshot).
    public let state: ProjectionState
    private let snapshot: StoreSnapshot?
    private let tail: [Envelope.Subject: [TailEntry]]
    private let through: UInt64
    private let time: Instant?

    init(
        snapshot: StoreSnapshot?, state: ProjectionState, storedThrough: UInt64, tail: [Envelope.Subject: [TailEntry]], through: UInt64,
        time: Instant?
    ) throws {
        self.snapshot = snapshot
        self.state = state
        self.tail = tail
        self.through = through
        self.time = time
        var point = min(through, snapshot == nil ? 0 : storedThrough)
        var users = Set<String>()
        var roles = Set<String>()
        func replay(_ subject: Envelope.Subject) {
            if subject.type == "user" { users.insert(subject.id) } else { roles.insert(subject.id) }
        }
        if let time, let snapshot {
            // Up to the first event on the trail past `time`, every event is in the answer.
            if let first = try snapshot.firstTrailEvent(after: time) { point = min(point, first - 1) }
            for late in try snapshot.lateTrail(after: point, through: min(through, storedThrough)) where !(time < late.time) {
                replay(late.subject)
            }
        }
        for (subject, entries) in tail {
            let inAnswer = entries.contains { entry in entry.seq > point && entry.seq <= through && (time.map { !($0 < entry.time) } ?? true) }
            if inAnswer { replay(subject) }
        }
        // Deleting a role takes it from its members: a replayed role that was ever deleted replays them too.
        let deleted = state.deletedRolesEver[""]
        for role in roles where deleted.contains(role) { users.formUnion(state.roleMembersEver[role]) }
        self.point = point
        replayedUsers = users
        replayedRoles = roles
    }

    /// Whether an event belongs to the answer.
    func includes(seq: UInt64, time eventTime: Instant) -> Bool {
        seq <= through && (time.map { !($0 < eventTime) } ?? true)
    }

    /// A role's grants at the cut: those held at `point`, and the role's own events past it that
    /// the answer includes (a role ever deleted, whose liveness the intervals do not tell, is
    /// folded from its first event). Its fields and dates are not read.
    public func role(_ id: String) throws -> RoleState? {
        let subject = Envelope.Subject(type: "role", id: id)
        var state = ProjectionState()
        if self.state.deletedRolesEver[""].contains(id) {
            for event in try trail([subject]) { state.apply(event) }
            return state.roles[id]
        }
        var grants: [String: Grant] = [:]
        for held in try holdings(.roleGrant, id) { grants[held.member] = Grant(scope: held.fact.scope, seq: held.fact.lineage) }
        state.roles[id] = RoleState(grants: grants)
        if replayedRoles.contains(id) {
            for event in try trail([subject], after: point) { state.apply(event) }
        }
        return state.roles[id]
    }

    /// The facts of a group that held at `point`.
    public func holdings(_ kind: AccessIntervals.Kind, _ group: String) throws -> [AccessIntervals.Holding] {
        guard let snapshot, point > 0 else { return [] }
        let key = HoldingsKey(kind: kind, group: group)
        if let known = holdingsRead[key] { return known }
        let found = try snapshot.holdings(kind, group, at: point)
        holdingsRead[key] = found
        return found
    }

    /// Holdings already read through this view: a question over many permissions reads a role's
    /// members, or a level's holders, once, not once for every permission they reach.
    private var holdingsRead: [HoldingsKey: [AccessIntervals.Holding]] = [:]
    private struct HoldingsKey: Hashable {
        let kind: AccessIntervals.Kind
        let group: String
    }

    /// Who made some facts and when, from the trail entries of the events that made them: the
    /// lineage of a role's thousands of members without reading their records. A fact whose event
    /// is not on its subject's trail is left out.
    public func madeBy(_ facts: [(subject: Envelope.Subject, seq: UInt64)]) throws -> [UInt64: (actor: String, time: Instant)] {
        var out = try snapshot?.madeBy(facts) ?? [:]
        for fact in facts where out[fact.seq] == nil {
            guard let entry = tail[fact.subject]?.first(where: { $0.seq == fact.seq }) else { continue }
            let header = try entry.value.withUnsafeBytes { try AccessTrail.header($0) }
            out[fact.seq] = (header.actor, header.time)
        }
        return out
    }

    /// The seqs and types of a subject's events on its trail that the answer includes, oldest
    /// first, reading no more of each entry than its type and time: which of a record's thousands of
    /// events to read. (`trailEntries` reads each whole; on a busy role that cost a fifth of its page.)
    public func trailTypes(_ subject: Envelope.Subject) throws -> [(seq: UInt64, type: String)] {
        var out = try snapshot?.trailTypes(subject, through: through, includes: includes) ?? []
        for entry in tail[subject] ?? [] where includes(seq: entry.seq, time: entry.time) {
            out.append((entry.seq, try entry.value.withUnsafeBytes { try AccessTrail.header($0).type }))
        }
        return out
    }

    /// The trails of some users and roles past seq `after`, as much of each event as a fold of
    /// access reads, cut as the answer is, merged in seq order.
    public func trail(_ subjects: [Envelope.Subject], after: UInt64 = 0) throws -> [StoredEvent] {
        var out: [StoredEvent] = []
        for subject in subjects {
            if let whole = wholeTrailsRead[subject] {
                out += after == 0 ? whole : whole.filter { $0.seq > after }
                continue
            }
            var events: [StoredEvent] = []
            if let snapshot { events += try snapshot.trail(subject, after: after, through: through, includes: includes) }
            for entry in tail[subject] ?? [] where entry.seq > after && includes(seq: entry.seq, time: entry.time) {
                events.append(try entry.value.withUnsafeBytes { try AccessTrail.event(subject, seq: entry.seq, $0) })
            }
            if after == 0 { wholeTrailsRead[subject] = events }
            out += events
        }
        return LiveProjector.mergedInSeqOrder(out)
    }

    /// A subject's trail entries past seq `after` that the answer includes, oldest first, without
    /// building the events.
    public func trailEntries(_ subject: Envelope.Subject, after: UInt64) throws -> [TrailEntry] {
        // Past `point` the answer holds only the replayed subjects' events: nothing to read for the rest
        // (the causes of a wide window ask this of thousands of users).
        if after >= point && !(subject.type == "user" ? replayedUsers : replayedRoles).contains(subject.id) { return [] }
        var out = try snapshot?.trailEntries(subject, after: after, through: through, includes: includes) ?? []
        for entry in tail[subject] ?? [] where entry.seq > after && includes(seq: entry.seq, time: entry.time) {
            out.append(try entry.value.withUnsafeBytes { try AccessTrail.entry(seq: entry.seq, $0) })
        }
        return out
    }

    /// Whole trails already read through this view: a question that folds a user at a moment and
    /// then looks for the causes of what changed reads an administrator's thousand events once.
    private var wholeTrailsRead: [Envelope.Subject: [StoredEvent]] = [:]
}

extension StoreSnapshot {
    /// The seq of the first event on the trail with a time past `time`, if any.
    func firstTrailEvent(after time: Instant) throws -> UInt64? {
        try snapshot.read { txn in
            try txn.withCursor(store.trailTimes) { cursor in
                guard let (key, _) = try cursor.get(.keyRange, key: AccessTrail.Times.key(time, seq: .max)), key.count == 20 else { return nil }
                return readBigEndianUInt64(UnsafeRawBufferPointer(rebasing: key[12..<20]))
            }
        }
    }

    /// The late events on the trail in `(after, through]`: their time and subject.
    func lateTrail(after: UInt64, through: UInt64) throws -> [(time: Instant, subject: Envelope.Subject)] {
        guard after < through else { return [] }
        return try snapshot.read { txn in
            try txn.withCursor(store.lateTrail) { cursor in
                var out: [(time: Instant, subject: Envelope.Subject)] = []
                var entry = try cursor.get(.keyRange, key: bigEndianBytes(after + 1))
                while let (key, value) = entry, key.count == 8, readBigEndianUInt64(key) <= through {
                    guard value.count >= 13, let time = AccessTrail.Times.instant(fromKey: value) else { throw ByteReader.Malformed() }
                    let id = String(decoding: UnsafeRawBufferPointer(rebasing: value[13...]), as: UTF8.self)
                    out.append((time, Envelope.Subject(type: value[12] == 1 ? "user" : "role", id: id)))
                    entry = try cursor.get(.next)
                }
                return out
            }
        }
    }

    func madeBy(_ facts: [(subject: Envelope.Subject, seq: UInt64)]) throws -> [UInt64: (actor: String, time: Instant)] {
        let seqs = Set(facts.filter { AccessTrail.isOnTrail($0.subject) }.map(\.seq)).sorted()
        return try snapshot.read { txn in
            // In seq order, the trail's key order, through one cursor: LMDB finds a key on the page it
            // stands on without a search.
            try txn.withCursor(store.trail) { cursor in
                var out: [UInt64: (actor: String, time: Instant)] = [:]
                for seq in seqs {
                    guard let (_, value) = try cursor.get(.key, key: bigEndianBytes(seq)) else { continue }
                    let header = try AccessTrail.header(value)
                    out[seq] = (header.actor, header.time)
                }
                return out
            }
        }
    }

    func holdings(_ kind: AccessIntervals.Kind, _ group: String, at point: UInt64) throws -> [AccessIntervals.Holding] {
        try snapshot.read { txn in try AccessIntervals.holdings(kind, group, at: point, in: store.intervals, txn) }
    }
}
