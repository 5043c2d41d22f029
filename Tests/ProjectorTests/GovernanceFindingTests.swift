import EventModel
import Projector
import Testing

/// The governance kinds, each beside the look-alikes that must not be flagged.
@Suite struct GovernanceFindingTests {
    static let sod = Policy(separationOfDuties: [Policy.DutyPair("sales_order.create+sales_order.approve")!, Policy.DutyPair("user.manage+module_admin:sales_order")!])

    @Test func dutiesThatMustStayApartAreFlaggedWhenTheyMeet() async throws {
        let ledger = try TestLedger(policy: Self.sod)
        try await ledger.setUpTenant()
        // u-ma (sales_manager) can approve; create comes with a direct grant: a conflict, with both paths.
        let joined = try await ledger.post("user.permission_granted", by: "u-root", on: "user", "u-ma", data: #"{"permission":"sales_order.create","scope":"own"}"#)
        var found = try ledger.findings(.sodConflict)
        #expect(found.map(\.seq) == [joined])
        #expect(found.first?.subject.id == "u-ma")
        #expect(found.first?.message.contains("sales_order.create (direct [\(joined)])") == true)
        #expect(found.first?.message.contains("sales_order.approve (role sales_manager") == true)
        #expect(found.first?.evidence.contains(joined) == true)
        // Still holding both: granting create again is no new conflict.
        try await ledger.post("user.permission_granted", by: "u-root", on: "user", "u-ma", data: #"{"permission":"sales_order.create","scope":"all"}"#)
        #expect(try ledger.findings(.sodConflict).count == 1)

        // Look-alike: u-wu loses create before approve comes: never both at once.
        try await ledger.post("user.role_revoked", by: "u-root", on: "user", "u-wu", data: #"{"role":"sales_rep"}"#)
        try await ledger.post("user.permission_granted", by: "u-root", on: "user", "u-wu", data: #"{"permission":"sales_order.approve"}"#)
        #expect(try ledger.findings(.sodConflict).count == 1)

        // A role's grant joins the duties for each of its members (u-li; u-xu is disabled then, u-wu no longer a member).
        try await ledger.post("user.disabled", by: "u-root", on: "user", "u-xu")
        let roleGrant = try await ledger.post("role.permission_granted", by: "u-root", on: "role", "sales_rep", data: #"{"permission":"sales_order.approve","scope":"own"}"#)
        found = try ledger.findings(.sodConflict)
        #expect(found.filter { $0.seq == roleGrant }.map(\.subject.id) == ["u-li"])
        // Enabled again while holding both: that event joins them for u-xu.
        let enabled = try await ledger.post("user.enabled", by: "u-root", on: "user", "u-xu")
        #expect(try ledger.findings(.sodConflict).last.map { "\($0.seq) \($0.subject.id)" } == "\(enabled) u-xu")

        // A level duty: module admin of sales orders with user.manage (an admin).
        try await ledger.post("user.admin_granted", by: "u-root", on: "user", "u-ma", data: #"{"level":"admin"}"#)
        let level = try await ledger.post("user.admin_granted", by: "u-root", on: "user", "u-ma", data: #"{"level":"module_admin","module":"sales_order"}"#)
        #expect(try ledger.findings(.sodConflict).last?.seq == level)
        try await ledger.close()
    }

    @Test func aModuleLeftWithNoAdministratorIsFlagged() async throws {
        let ledger = try TestLedger()
        try await ledger.setUpTenant()
        let module = #"{"level":"module_admin","module":"sales_order"}"#
        try await ledger.post("user.admin_granted", by: "u-root", on: "user", "u-li", data: module)
        let second = try await ledger.post("user.admin_granted", by: "u-root", on: "user", "u-wu", data: module)
        // Look-alikes: one of two removed; a module admin of another module removed while this one is held.
        try await ledger.post("user.admin_revoked", by: "u-root", on: "user", "u-li", data: module)
        try await ledger.post("user.admin_granted", by: "u-root", on: "user", "u-xu", data: #"{"level":"module_admin","module":"customer"}"#)
        try await ledger.post("user.admin_granted", by: "u-root", on: "user", "u-ma", data: #"{"level":"module_admin","module":"customer"}"#)
        try await ledger.post("user.admin_revoked", by: "u-root", on: "user", "u-xu", data: #"{"level":"module_admin","module":"customer"}"#)
        #expect(try ledger.findings(.moduleWithoutAdmin).isEmpty)
        // The last one goes (offboarded): flagged, with the grant that made them the admin.
        let last = try await ledger.post("user.offboarded", by: "u-root", on: "user", "u-wu")
        let found = try ledger.findings(.moduleWithoutAdmin)
        #expect(found.map(\.seq) == [last])
        #expect(found.first?.evidence == [second])
        #expect(found.first?.message.contains("The sales_order module has no administrator left") == true)
        // Nobody left to remove: no second finding.
        try await ledger.post("user.disabled", by: "u-root", on: "user", "u-wu")
        #expect(try ledger.findings(.moduleWithoutAdmin).count == 1)
        try await ledger.close()
    }

    /// With `staleAccessDays` 1: a move whose roles stay flagged a day later, at the first event past
    /// the day; moves followed by a role change, an offboarding, or another move are not.
    @Test func aMoveWhoseRolesDidNotFollowIsFlaggedOnceTheDaysPass() async throws {
        let ledger = try TestLedger(policy: Policy(staleAccessDays: 1))
        try await ledger.setUpTenant()
        let day = 24 * 60
        let move = #"[{"field":"department","old":"east","new":"finance"}]"#
        let moved = try await ledger.post("user.updated", by: "u-root", on: "user", "u-li", changes: move, minute: 100)
        // Look-alikes: u-wu moves and gets a new role the same day; u-ma moves and is offboarded;
        // u-xu moves twice (the first move's watch sees the department changed again).
        try await ledger.post("user.updated", by: "u-root", on: "user", "u-wu", changes: move, minute: 101)
        try await ledger.post("user.role_assigned", by: "u-root", on: "user", "u-wu", data: #"{"role":"sales_manager"}"#, minute: 102)
        try await ledger.post("user.updated", by: "u-root", on: "user", "u-ma", changes: move, minute: 103)
        try await ledger.post("user.offboarded", by: "u-root", on: "user", "u-ma", minute: 104)
        try await ledger.post("user.updated", by: "u-root", on: "user", "u-xu", changes: #"[{"field":"department","old":"west","new":"east"}]"#, minute: 105)
        let movedAgain = try await ledger.post("user.updated", by: "u-root", on: "user", "u-xu", changes: #"[{"field":"department","old":"east","new":"it"}]"#, minute: 106)
        // An edit within the day: nothing due yet.
        try await ledger.post("user.updated", by: "u-root", on: "user", "u-root", changes: #"[{"field":"email","new":"r@x"}]"#, minute: 100 + day - 1)
        #expect(try ledger.findings(.staleAccess).isEmpty)
        let due = try await ledger.post("user.updated", by: "u-root", on: "user", "u-root", changes: #"[{"field":"email","new":"r@y"}]"#, minute: 110 + day)
        let found = try ledger.findings(.staleAccess)
        #expect(found.map(\.subject.id) == ["u-li", "u-xu"])
        #expect(found.allSatisfy { $0.seq == due })
        #expect(found[0].evidence.first == moved && found[0].actor == "u-root")
        #expect(found[1].evidence.first == movedAgain)
        #expect(found[0].message.contains("moved to finance") && found[0].message.contains("1 days later"))
        // Two findings of one kind on one event: both kept, told apart by their ids, paged one by one.
        #expect(found.map(\.id) == ["f-\(due)-stale_access", "f-\(due)-stale_access-2"])
        let first = try ledger.queries.findings(.init(kind: .staleAccess, limit: 1))
        let second = try ledger.queries.findings(.init(kind: .staleAccess, limit: 1, cursor: first.next))
        #expect(first.findings.map(\.id) + second.findings.map(\.id) == found.map(\.id))
        // Flagged once.
        try await ledger.post("user.updated", by: "u-root", on: "user", "u-root", changes: #"[{"field":"email","new":"r@z"}]"#, minute: 120 + 2 * day)
        #expect(try ledger.findings(.staleAccess).count == 2)
        try await ledger.close()
    }

    /// The pending watches are stored by the day they come due: a day that came due is deleted
    /// from the store, the others stay as they were, and the stored projection equals a fold in memory.
    @Test func watchesAreStoredByTheirDueDayAndGoOnceDue() async throws {
        let ledger = try TestLedger(policy: Policy(staleAccessDays: 5), projectionBatch: 1)
        try await ledger.setUpTenant()
        let day = 24 * 60
        let move = #"[{"field":"department","old":"east","new":"finance"}]"#
        // Three moves a day apart: due on three days.
        for (n, user) in ["u-li", "u-wu", "u-xu"].enumerated() {
            try await ledger.post("user.updated", by: "u-root", on: "user", user, changes: move, minute: 100 + n * day)
        }
        let firstDue = (TestLedger.time(100 + 5 * day).seconds) / 86_400
        func stored() throws -> (buckets: [String: Int], days: [Int64]) {
            let state = try ledger.projector.snapshot()
            #expect(state == (try ledger.projector.rebuild()))
            return (state.watches.all.mapValues(\.items.count), state.watchDays.all["stale-access"]?.days ?? [])
        }
        var now = try stored()
        #expect(now.buckets == ["due-\(firstDue)": 1, "due-\(firstDue + 1)": 1, "due-\(firstDue + 2)": 1])
        #expect(now.days == [firstDue, firstDue + 1, firstDue + 2])
        // Past the first: its day is gone, the others are untouched.
        try await ledger.post("user.updated", by: "u-root", on: "user", "u-root", changes: #"[{"field":"email","new":"r@x"}]"#, minute: 101 + 5 * day)
        #expect(try ledger.findings(.staleAccess).map(\.subject.id) == ["u-li"])
        now = try stored()
        #expect(now.buckets == ["due-\(firstDue + 1)": 1, "due-\(firstDue + 2)": 1])
        #expect(now.days == [firstDue + 1, firstDue + 2])
        // Past them all: nothing left pending, nothing left stored.
        try await ledger.post("user.updated", by: "u-root", on: "user", "u-root", changes: #"[{"field":"email","new":"r@y"}]"#, minute: 101 + 8 * day)
        #expect(try ledger.findings(.staleAccess).map(\.subject.id) == ["u-li", "u-wu", "u-xu"])
        now = try stored()
        #expect(now.buckets.isEmpty && now.days.isEmpty)
        try await ledger.close()
    }

    @Test func policiesAreReadFromTheirWordsAndKeptWithTheProjection() {
        #expect(Policy.DutyPair("sales_order.create + sales_order.approve")?.description == "sales_order.create+sales_order.approve")
        #expect(Policy.DutyPair("super_admin+module_admin:sales_order") != nil)
        for bad in ["sales_order.create", "a+b+c", "x.y+x.y", "module_admin+user.manage", "chief+user.manage", "sales_order+user.manage"] {
            #expect(Policy.DutyPair(bad) == nil, "\(bad)")
        }
        let policy = Policy(requireApprovedRequest: true, separationOfDuties: Self.sod.separationOfDuties, staleAccessDays: 7)
        #expect(Policy(tag: policy.tag) == policy)
        #expect(Policy(tag: "garbage") == nil)
    }
}
