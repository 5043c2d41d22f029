import EventLog
import EventModel
import Logging
import Projector
@testable import Queries
import Testing
import TestSupport
import Workload

/// As-of answers of access and holders — read from stored intervals, with late events and a
/// read-only projector's tail replayed — equal a fold from nothing of exactly the events the
/// answer covers, at many points, by seq and by time.
@Suite struct AsOfTests {
    static let permissions = ["sales_order.approve", "sales_order.edit", "sales_order.view", "invoice.view", "customer.view", "user.manage", "customer.export"]

    /// Holders and access by brute force: every event the cut includes, folded from nothing.
    struct Expected {
        var state = ProjectionState()
        var universe: Set<String> = []

        init(_ events: [StoredEvent], _ cut: AsOf) {
            for event in events where cut.includes(seq: event.seq, time: event.envelope.instant) { state.apply(event) }
            universe = state.universe { _, _ in true }
        }

        func holders(_ permission: String) -> [String: [AccessPath]] {
            var out: [String: [AccessPath]] = [:]
            for user in state.users.all.keys {
                let via = state.paths(of: user, to: permission, universe: universe)
                if !via.isEmpty { out[user] = via }
            }
            return out
        }
    }

    /// Events beyond the generator's: a role deleted and re-created, a holder disabled and enabled,
    /// direct grants, an admin level granted and revoked, and events stamped late.
    static func extraEvents(startingAt n: Int, time: Instant) -> [[UInt8]] {
        var lines: [String] = []
        var i = n
        func add(_ type: String, _ subject: (String, String), _ data: String? = nil, minutesBack: Int = 0, actor: String = "u-0001") {
            i += 1
            let t = Instant(seconds: time.seconds + Int64(i) - Int64(minutesBack * 60)).rfc3339()
            lines.append(#"{"id":"x-\#(i)","type":"\#(type)","time":"\#(t)","actor":{"id":"\#(actor)"},"subject":{"type":"\#(subject.0)","id":"\#(subject.1)"}\#(data.map { #","data":\#($0)"# } ?? "")}"#)
        }
        add("user.permission_granted", ("user", "u-0010"), #"{"permission":"invoice.view","scope":"department"}"#)
        add("user.permission_granted", ("user", "u-0011"), #"{"permission":"sales_order.approve","scope":"own"}"#)
        add("user.disabled", ("user", "u-0005"))
        add("role.deleted", ("role", "finance_clerk"), minutesBack: 3)
        add("user.admin_granted", ("user", "u-0012"), #"{"level":"module_admin","module":"invoice"}"#)
        add("user.enabled", ("user", "u-0005"), minutesBack: 5)
        add("role.created", ("role", "finance_clerk"))
        add("role.permission_granted", ("role", "finance_clerk"), #"{"permission":"sales_order.approve","scope":"all"}"#, minutesBack: 1)
        add("user.role_assigned", ("user", "u-0013"), #"{"role":"finance_clerk"}"#)
        add("user.admin_revoked", ("user", "u-0012"), #"{"level":"module_admin","module":"invoice"}"#)
        add("user.permission_revoked", ("user", "u-0010"), #"{"permission":"invoice.view"}"#, minutesBack: 2)
        add("user.offboarded", ("user", "u-0011"))
        return lines.map { Array($0.utf8) }
    }

    static func compare(_ queries: LedgerQueries, _ events: [StoredEvent], _ cut: AsOf, users: [String], _ comment: String) throws {
        let expected = Expected(events, cut)
        // Record state of users and roles (the few events it depends on, picked from their trails).
        func fields(_ facts: [String: Fact]?) -> [String] { (facts ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.value)@\($0.value.seq)" } }
        for user in users + ["no-such-user"] {
            let answer = try queries.state(.init(type: "user", id: user), asOf: cut)
            let want = expected.state.users[user]
            #expect(answer.exists == (want != nil) && !answer.deleted, "\(comment) \(cut) \(user)")
            #expect(answer.fields.map { "\($0.name)=\($0.field.value)@\($0.field.lineage.seq)" } == fields(want?.fields), "\(comment) \(cut) \(user)")
        }
        for role in expected.state.roles.all.keys.sorted() {
            let answer = try queries.state(.init(type: "role", id: role), asOf: cut)
            let want = expected.state.roles[role]
            #expect(answer.exists == (want?.isLive ?? false) && answer.deleted == (want?.deletedSeq != nil), "\(comment) \(cut) \(role)")
            #expect(answer.fields.map { "\($0.name)=\($0.field.value)@\($0.field.lineage.seq)" } == fields(want?.fields), "\(comment) \(cut) \(role)")
        }
        // Roles: fields, grants and members (finance_clerk is deleted and re-created in the extra events).
        for role in expected.state.roles.all.keys.sorted() + ["no-such-role"] {
            let answer = try queries.role(role, asOf: cut)
            let want = expected.state.roles[role]
            #expect(answer.exists == (want?.isLive ?? false), "\(comment) \(cut) \(role)")
            guard let want, want.isLive else { continue }
            #expect(answer.grants.map(\.permission) == want.grants.keys.sorted(), "\(comment) \(cut) \(role)")
            #expect(answer.grants.map(\.lineage.seq) == want.grants.sorted { $0.key < $1.key }.map(\.value.seq), "\(comment) \(cut) \(role)")
            let members = expected.state.users.all.compactMap { user, state in state.roles[role].map { (user, $0) } }.sorted { $0.0 < $1.0 }
            #expect(answer.members.map(\.user) == members.map(\.0), "\(comment) \(cut) \(role)")
            #expect(answer.members.map(\.lineage.seq) == members.map(\.1), "\(comment) \(cut) \(role)")
            // A window of members (a page of them) is that slice of the whole answer.
            let part = try queries.role(role, asOf: cut, members: 1..<3)
            #expect(part.members == Array(answer.members.dropFirst().prefix(2)) && part.memberCount == answer.members.count, "\(comment) \(cut) \(role)")
            #expect(part.membersOffset == min(1, answer.members.count) && part.fields.map(\.name) == answer.fields.map(\.name) && part.grants == answer.grants)
            #expect(try queries.role(role, asOf: cut, members: 10_000..<10_100).members.isEmpty)
            let bySeq = Dictionary(uniqueKeysWithValues: events.map { ($0.seq, $0) })
            #expect(answer.members.allSatisfy { $0.lineage.actor == bySeq[$0.lineage.seq]?.envelope.actor.id && $0.lineage.time == bySeq[$0.lineage.seq]?.envelope.instant })
        }
        for permission in permissions {
            let answer = try queries.holders(permission: permission, asOf: cut)
            let want = expected.holders(permission)
            #expect(answer.holders.map(\.user) == want.keys.sorted(), "\(comment) \(cut) \(permission)")
            for holder in answer.holders { #expect(holder.via == want[holder.user], "\(comment) \(cut) \(permission) \(holder.user)") }
            #expect(answer.canonicalJSON == CanonicalJSON.encode(answer.json))
        }
        for user in users {
            let answer = try queries.access(user: user, asOf: cut)
            let want = expected.state.access(of: user, universe: expected.universe)
            #expect(answer.exists == (expected.state.users[user] != nil), "\(comment) \(cut) \(user)")
            #expect(answer.status == expected.state.users[user]?.status, "\(comment) \(cut) \(user)")
            #expect(answer.roles.map(\.role) == (expected.state.users[user]?.roles.keys.sorted() ?? []), "\(comment) \(cut) \(user)")
            #expect(answer.permissions.map(\.permission) == want.map(\.permission), "\(comment) \(cut) \(user)")
            #expect(answer.permissions.map(\.via) == want.map(\.via), "\(comment) \(cut) \(user)")
        }
    }

    @Test func holdersAndAccessAsOfAnyPointEqualAFoldOfWhatTheyCover() async throws {
        var generator = LedgerGenerator(seed: 31)
        var lines = generator.lines(5_000, batch: 250)
        let events0 = try EventBody.parse(lines.last!).events
        lines += Self.extraEvents(startingAt: 0, time: events0.last!.envelope.instant)
        lines += generator.lines(1_000, batch: 250)
        // Small batches: the intervals cross many flushes.
        let ledger = try TestLedger(projectionBatch: 700)
        for line in lines { _ = try await ledger.log.append(try EventBody.parse(line).events) }
        let head = try ledger.log.head().seq
        let events = try ledger.log.events(afterSeq: 0, limit: 100_000).map { try $0.decode() }
        #expect(events.count == Int(head))
        let late = zip(events, events.dropFirst()).filter { $1.envelope.instant < $0.envelope.instant }.count
        #expect(late > 10, "the stream has late events")

        var random = SystemRandomNumberGenerator()
        let users = ["u-0001", "u-0005", "u-0010", "u-0011", "u-0012", "u-0013"] + (0..<6).map { _ in events.randomElement(using: &random)!.envelope.actor.id }
        var cuts: [AsOf] = [.now, .seq(0), .seq(head), .seq(5_000 + 4), .seq(5_000 + 8)]
        for _ in 0..<12 { cuts.append(.seq(UInt64.random(in: 1...head, using: &random))) }
        for _ in 0..<12 {
            let t = events.randomElement(using: &random)!.envelope.instant
            cuts.append(.time(Instant(seconds: t.seconds + Int64.random(in: -30...30, using: &random), nanoseconds: t.nanoseconds)))
        }
        for event in events where event.envelope.id.hasPrefix("x-") { cuts.append(.time(event.envelope.instant)) }
        for cut in cuts { try Self.compare(ledger.queries, events, cut, users: users, "writable") }

        // The same log projected afresh, far behind: read 90 events at a time, written every 700 or
        // more, so each transaction holds the state, findings, trail and intervals of several reads.
        var farBehind = LiveProjector.Configuration(path: Scratch.directory("projection-far-behind"))
        farBehind.batchSize = 700
        farBehind.readBatchSize = 90
        let rebuilt = try LiveProjector(log: ledger.log, configuration: farBehind)
        let rebuiltQueries = LedgerQueries(log: ledger.log, projector: rebuilt)
        for cut in cuts { try Self.compare(rebuiltQueries, events, cut, users: users, "rebuilt far behind") }
        #expect(try rebuilt.snapshot() == ledger.projector.snapshot())
        #expect(try rebuilt.findings(.init(limit: 10_000)).findings == ledger.findings())
        rebuilt.close()

        // A read-only projector over the stored projection and a tail the daemon has not folded.
        ledger.projector.close()
        for line in generator.lines(600, batch: 200) + Self.extraEvents(startingAt: 100, time: events.last!.envelope.instant) {
            _ = try await ledger.log.append(try EventBody.parse(line).events)
        }
        var configuration = LiveProjector.Configuration(path: ledger.path + "/projection")
        configuration.readOnly = true
        let reader = try LiveProjector(log: ledger.log, configuration: configuration)
        let all = try ledger.log.events(afterSeq: 0, limit: 100_000).map { try $0.decode() }
        let queries = LedgerQueries(log: ledger.log, projector: reader)
        for cut in cuts + [.now, .time(all.last!.envelope.instant), .seq(UInt64(all.count - 3))] {
            try Self.compare(queries, all, cut, users: users, "read-only with a tail")
        }
        reader.close()
        try await ledger.log.close()
    }

    @Test func holdersWrittenStraightOutAreTheCanonicalBytesOfTheTree() {
        let answer = HoldersAnswer(
            permission: "sales_order.approve", asOf: "2026-03-01T00:00:00Z",
            holders: [
                .init(user: "u-\"王\"\n\u{1}", scope: .all, via: [
                    AccessPath(kind: .role, scope: .department, role: "角色\\x", seqs: [4, 11]),
                    AccessPath(kind: .direct, scope: .own, seqs: [12]),
                    AccessPath(kind: .admin, scope: .all, level: AdminLevel(level: "module_admin", module: "sales_order"), seqs: [3]),
                    AccessPath(kind: .admin, scope: .all, level: .superAdmin, seqs: [1]),
                ]),
                .init(user: "u-2", scope: .own, via: [AccessPath(kind: .direct, scope: .own, seqs: [UInt64.max])]),
            ])
        #expect(answer.canonicalJSON == CanonicalJSON.encode(answer.json))
        #expect(HoldersAnswer(permission: "p.q", asOf: "seq:0", holders: []).canonicalJSON == CanonicalJSON.encode(HoldersAnswer(permission: "p.q", asOf: "seq:0", holders: []).json))
    }

    /// Access changes between two moments equal the difference of two folds from nothing.
    @Test func accessChangesAreTheDifferenceOfTwoFolds() async throws {
        var generator = LedgerGenerator(seed: 37)
        var lines = generator.lines(3_000, batch: 250)
        lines += Self.extraEvents(startingAt: 0, time: try EventBody.parse(lines.last!).events.last!.envelope.instant)
        lines += generator.lines(500, batch: 250)
        let ledger = try TestLedger(projectionBatch: 900)
        for line in lines { _ = try await ledger.log.append(try EventBody.parse(line).events) }
        let events = try ledger.log.events(afterSeq: 0, limit: 100_000).map { try $0.decode() }
        let head = UInt64(events.count)

        /// user → "kind name" → scope name ("held" for levels and roles), as a fold of the cut sees them.
        func effective(_ cut: AsOf) -> [String: [String: String]] {
            let expected = Expected(events, cut)
            var out: [String: [String: String]] = [:]
            for (user, state) in expected.state.users.all where state.status == .active {
                var facts: [String: String] = [:]
                for p in expected.state.access(of: user, universe: expected.universe) { facts["permission " + p.permission] = p.scope.name }
                for level in state.admin.keys { facts["admin_level " + level.storedName] = "held" }
                for role in state.roles.keys { facts["role " + role] = "held" }
                out[user] = facts
            }
            return out
        }
        var random = SystemRandomNumberGenerator()
        var pairs: [(AsOf, AsOf)] = [(.seq(0), .now), (.seq(1_000), .seq(3_008)), (.seq(3_004), .seq(3_012))]
        for _ in 0..<4 {
            let (a, b) = (UInt64.random(in: 1...head, using: &random), UInt64.random(in: 1...head, using: &random))
            pairs.append((.seq(min(a, b)), .seq(max(a, b))))
            let (t1, t2) = (events.randomElement(using: &random)!.envelope.instant, events.randomElement(using: &random)!.envelope.instant)
            pairs.append((.time(min(t1, t2)), .time(max(t1, t2))))
            pairs.append((.time(t1), .seq(b)))
        }
        for (from, to) in pairs {
            let answer = try ledger.queries.accessChanges(from: from, to: to)
            let (before, after) = (effective(from == .now ? .seq(head) : from), effective(to == .now ? .seq(head) : to))
            var want: [String] = []
            for user in Set(before.keys).union(after.keys) {
                let (b, a) = (before[user] ?? [:], after[user] ?? [:])
                for fact in Set(b.keys).union(a.keys) where b[fact] != a[fact] {
                    want.append("\(user) \(fact) \(b[fact] ?? "-") \(a[fact] ?? "-")")
                }
            }
            let got = answer.changes.map { c in
                let held = { (h: Bool, scope: Scope?) in h ? (c.kind == .permission ? scope!.name : "held") : "-" }
                return "\(c.user) \(c.kind.rawValue) \(c.name) \(held(c.heldBefore, c.scopeBefore)) \(held(c.heldAfter, c.scopeAfter))"
            }
            #expect(got.sorted() == want.sorted(), "\(from) → \(to)")
            #expect(answer.canonicalJSON == CanonicalJSON.encode(answer.json))
            #expect(answer.changes.allSatisfy { !$0.causes.isEmpty || $0.kind == .permission }, "\(from) → \(to): a change with no cause")
        }
        // Filters narrow the same answer.
        let (from, to): (AsOf, AsOf) = (.seq(1_000), .now)
        let all = try ledger.queries.accessChanges(from: from, to: to).changes
        let oneUser = all.first!.user
        #expect(try ledger.queries.accessChanges(from: from, to: to, filter: .init(user: oneUser)).changes.map(\.name).sorted()
            == all.filter { $0.user == oneUser }.map(\.name).sorted())
        #expect(try ledger.queries.accessChanges(from: from, to: to, filter: .init(permission: "sales_order.approve")).changes
            == all.filter { $0.kind == .permission && $0.name == "sales_order.approve" })
        // A role's question: its (active) members at either moment, their permissions and their
        // membership in it (not their admin levels or other roles).
        let role = all.first { $0.kind == .role }!.name
        let members = Set([from, .seq(head)].flatMap { cut in effective(cut).filter { $0.value["role " + role] != nil }.map(\.key) })
        let ofRole = try ledger.queries.accessChanges(from: from, to: to, filter: .init(role: role)).changes
        let wanted = all.filter { members.contains($0.user) && ($0.kind == .permission || ($0.kind == .role && $0.name == role)) }
        #expect(!ofRole.isEmpty && ofRole == wanted, "\(role): \(ofRole.count) changes, \(wanted.count) wanted")
        try await ledger.close()
    }

    /// The review report accounts for every holder at the moment, each with the review a fold of
    /// that moment knows, overdue exactly when that review is older than the period.
    @Test func theReviewReportAccountsForEveryHolder() async throws {
        var generator = LedgerGenerator(seed: 41)
        let ledger = try TestLedger(projectionBatch: 1_000)
        for line in generator.lines(4_000, batch: 250) { _ = try await ledger.log.append(try EventBody.parse(line).events) }
        let events = try ledger.log.events(afterSeq: 0, limit: 100_000).map { try $0.decode() }
        var random = SystemRandomNumberGenerator()
        for _ in 0..<6 {
            let point = events.randomElement(using: &random)!
            let cut = AsOf.time(point.envelope.instant)
            let expected = Expected(events, cut)
            for scope in [LedgerQueries.ReviewScope.permission("sales_order.approve"), .role("finance_clerk"), .department("sales-east")] {
                let report = try ledger.queries.reviewReport(asOf: cut, periodSeconds: 3_600, period: "1h", scope: scope)
                let users = report.holders.map(\.user)
                let want: [String]
                switch scope {
                case .permission(let p): want = expected.holders(p).keys.sorted()
                case .role(let r): want = expected.state.users.all.filter { $0.value.status == .active && $0.value.roles[r] != nil }.keys.sorted()
                case .department(let d): want = expected.state.users.all.filter { $0.value.status == .active && $0.value.department == d }.keys.sorted()
                default: want = []
                }
                #expect(users == want, "\(scope) \(cut)")
                for holder in report.holders {
                    let review = expected.state.users[holder.user]?.lastReview
                    #expect(holder.lastReview?.lineage.seq == review?.seq && holder.lastReview?.decision == review?.decision)
                    // Older than the period, to the nanosecond: whole seconds misjudged a review made in
                    // the same second an hour before the point.
                    let moment = point.envelope.instant
                    let due = Instant(seconds: moment.seconds - 3_600, nanoseconds: moment.nanoseconds)
                    let old = holder.lastReview.map { $0.lineage.time < due } ?? true
                    #expect(holder.overdue == old)
                }
            }
        }
        try await ledger.close()
    }
}
