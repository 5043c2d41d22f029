import EventModel
import Projector
import Queries
import Testing

@Suite struct AccessTests {
    @Test func theWidestScopeWinsAndEveryPathIsListed() async throws {
        let ledger = try TestLedger()
        try await ledger.setUpTenant()
        let direct = try await ledger.post("user.permission_granted", by: "u-root", on: "user", "u-li",
            data: #"{"permission":"sales_order.edit","scope":"department"}"#)
        let access = try ledger.queries.access(user: "u-li")
        let edit = try #require(access.permission("sales_order.edit"))
        #expect(edit.scope == .department)
        #expect(edit.via.map(\.kind) == [.role, .direct])
        // The role path: the role's grant (seq 4) and the assignment of u-li (seq 11).
        #expect(edit.via[0].seqs == [4, 11])
        #expect(edit.via[0].scope == .own)
        #expect(edit.via[1].seqs == [direct])
        #expect(access.permission("sales_order.view")?.scope == .own)
        #expect(access.permission("sales_order.approve") == nil)
        #expect(access.roles.map(\.role) == ["sales_rep"])
        #expect(access.roles.first?.lineage == Lineage(seq: 11, actor: "u-root", time: TestLedger.time(11)))
        try await ledger.close()
    }

    @Test func offboardingTakesEverythingFromThatEventOn() async throws {
        let ledger = try TestLedger()
        try await ledger.setUpTenant()
        try await ledger.post("user.admin_granted", by: "u-root", on: "user", "u-li", data: #"{"level":"admin"}"#, minute: 30)
        let offboarded = try await ledger.post("user.offboarded", by: "u-root", on: "user", "u-li", minute: 40)
        try await ledger.post("user.enabled", by: "u-root", on: "user", "u-li", minute: 50)
        let before = try ledger.queries.access(user: "u-li", asOf: .time(TestLedger.time(39)))
        #expect(before.status == .active)
        #expect(before.adminLevels.map(\.level.level) == ["admin"])
        #expect(before.permission("user.manage")?.via.first?.kind == .admin)
        let at = try ledger.queries.access(user: "u-li", asOf: .time(TestLedger.time(40)))
        #expect(at.status == .offboarded)
        #expect(at.roles.isEmpty && at.adminLevels.isEmpty && at.permissions.isEmpty)
        #expect(try ledger.queries.access(user: "u-li", asOf: .seq(offboarded - 1)).permissions.count > 0)
        // Re-enabled, the user is active again but regains nothing.
        let later = try ledger.queries.access(user: "u-li")
        #expect(later.status == .active)
        #expect(later.permissions.isEmpty)
        try await ledger.close()
    }

    @Test func deletingARoleTakesItFromItsMembers() async throws {
        let ledger = try TestLedger()
        try await ledger.setUpTenant()
        let deleted = try await ledger.post("role.deleted", by: "u-root", on: "role", "sales_manager", minute: 30)
        try await ledger.post("role.created", by: "u-root", on: "role", "sales_manager", minute: 31)
        try await ledger.post("role.permission_granted", by: "u-root", on: "role", "sales_manager",
            data: #"{"permission":"sales_order.approve","scope":"all"}"#, minute: 32)
        #expect(try ledger.queries.access(user: "u-ma", asOf: .seq(deleted - 1)).permission("sales_order.approve")?.scope == .department)
        #expect(try ledger.queries.access(user: "u-ma", asOf: .seq(deleted)).roles.isEmpty)
        // The role was created anew: its old members are not in it.
        #expect(try ledger.queries.access(user: "u-ma").permission("sales_order.approve") == nil)
        #expect(try ledger.queries.role("sales_manager", asOf: .seq(deleted - 1)).members.map(\.user) == ["u-ma"])
        #expect(try ledger.queries.role("sales_manager", asOf: .seq(deleted)).exists == false)
        let recreated = try ledger.queries.role("sales_manager")
        #expect(recreated.exists && recreated.members.isEmpty)
        #expect(recreated.grants.map(\.scope) == [.all])
        try await ledger.close()
    }

    @Test func adminLevelsExpandOverTheStandardSetAndNamedPermissions() async throws {
        let ledger = try TestLedger()
        try await ledger.setUpTenant()
        let module = try await ledger.post("user.admin_granted", by: "u-root", on: "user", "u-ma",
            data: #"{"level":"module_admin","module":"sales_order"}"#, minute: 30)
        let access = try ledger.queries.access(user: "u-ma")
        // sales_order.approve: through the role (department) and the module admin level (all).
        let approve = try #require(access.permission("sales_order.approve"))
        #expect(approve.scope == .all)
        #expect(approve.via.map(\.kind) == [.role, .admin])
        #expect(approve.via[1].level == AdminLevel(level: "module_admin", module: "sales_order"))
        #expect(approve.via[1].seqs == [module])
        #expect(access.permission("sales_order.delete")?.via.map(\.kind) == [.admin])
        #expect(access.permission("customer.view") == nil)
        #expect(access.permission("sales_order.export") == nil)
        // Once a permission is named anywhere, the levels that cover it expand to it, from then on.
        let named = try await ledger.post("role.permission_granted", by: "u-root", on: "role", "sales_rep",
            data: #"{"permission":"sales_order.export","scope":"own"}"#, minute: 31)
        #expect(try ledger.queries.access(user: "u-ma").permission("sales_order.export")?.via.map(\.kind) == [.admin])
        #expect(try ledger.queries.access(user: "u-ma", asOf: .seq(named - 1)).permission("sales_order.export") == nil)
        // The super admin holds everything named, the admin every .view.
        let root = try ledger.queries.access(user: "u-root")
        #expect(Set(root.permissions.map(\.permission)) == Set(standardPermissions + ["sales_order.export"]))
        try await ledger.close()
    }

    @Test func asOfATimeIncludesEventsAtThatInstantAndLateOnes() async throws {
        let ledger = try TestLedger()
        try await ledger.setUpTenant()
        try await ledger.createOrder("SO-1")  // minute 17
        let raised = try await ledger.post("sales_order.updated", by: "u-li", on: "sales_order", "SO-1",
            changes: #"[{"field":"amount","old":1000,"new":1500}]"#, minute: 20)
        // Arrives later in the ledger, but happened at minute 19.
        let late = try await ledger.post("sales_order.updated", by: "u-li", on: "sales_order", "SO-1",
            changes: #"[{"field":"currency","new":"CNY"}]"#, minute: 19)
        let subject = Envelope.Subject(type: "sales_order", id: "SO-1")
        let atRaise = try ledger.queries.state(subject, asOf: .time(TestLedger.time(20)))
        #expect(atRaise.fields.first { $0.name == "amount" }?.field.value == .number("1500"))
        #expect(atRaise.fields.first { $0.name == "amount" }?.field.lineage == Lineage(seq: raised, actor: "u-li", time: TestLedger.time(20)))
        #expect(atRaise.asOf == "2026-03-01T09:20:00Z")
        let justBefore = try ledger.queries.state(subject, asOf: .time(Instant(seconds: TestLedger.time(20).seconds - 1, nanoseconds: 999_999_999)))
        #expect(justBefore.fields.first { $0.name == "amount" }?.field.value == .number("1000"))
        // The late event counts by its time…
        #expect(justBefore.fields.first { $0.name == "currency" }?.field.lineage.seq == late)
        // …but not by seq.
        #expect(try ledger.queries.state(subject, asOf: .seq(raised)).fields.contains { $0.name == "currency" } == false)
        #expect(try ledger.queries.state(subject, asOf: .seq(raised)).asOf == "seq:\(raised)")
        let before = try ledger.queries.state(subject, asOf: .time(TestLedger.time(16)))
        #expect(!before.exists)
        try await ledger.close()
    }

    @Test func holdersAsOf() async throws {
        let ledger = try TestLedger()
        try await ledger.setUpTenant()
        try await ledger.post("user.admin_granted", by: "u-root", on: "user", "u-wu", data: #"{"level":"module_admin","module":"sales_order"}"#, minute: 30)
        let revoked = try await ledger.post("user.admin_revoked", by: "u-root", on: "user", "u-wu", data: #"{"level":"module_admin","module":"sales_order"}"#, minute: 40)
        let atThirty = try ledger.queries.holders(permission: "sales_order.approve", asOf: .time(TestLedger.time(30)))
        #expect(atThirty.holders.map(\.user) == ["u-ma", "u-root", "u-wu"])
        #expect(atThirty.holders.map(\.scope) == [.department, .all, .all])
        #expect(atThirty.holders[2].via.first?.kind == .admin)
        let after = try ledger.queries.holders(permission: "sales_order.approve", asOf: .seq(revoked))
        #expect(after.holders.map(\.user) == ["u-ma", "u-root"])
        try await ledger.close()
    }

    @Test func asOfParsing() throws {
        #expect(try AsOf.parse(nil) == .now)
        #expect(try AsOf.parse("seq:42") == .seq(42))
        #expect(try AsOf.parse("2026-03-01T10:15:00+08:00") == .time(Instant(seconds: TestLedger.start + 75 * 60 - 8 * 3600)))
        for bad in ["seq:", "seq:-1", "yesterday", "2026-03-01", "2026-03-01T10:15:00"] {
            #expect(throws: AsOf.ParseError.self) { try AsOf.parse(bad) }
        }
    }
}
