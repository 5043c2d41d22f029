import EventModel
import Projector
import Queries
import LMDB
import Testing

/// The story of the CRM help articles (the seed articles of the spec): a super admin sets up roles and adds an
/// admin; that admin, not being super admin, adds another admin; the system administrator of sales
/// orders changes hands; a rep edits a colleague's order; a user approves their own request, is
/// offboarded, and edits again. Each event happens at the minute equal to its seq.
@Suite struct SeedScenarioTests {
    func tell(_ ledger: TestLedger) async throws {
        try await ledger.post("user.created", by: "system", on: "user", "u-root", changes: created([("name", #""系统管理员""#), ("department", #""it""#)]))
        try await ledger.post("user.admin_granted", by: "system", on: "user", "u-root", data: #"{"level":"super_admin"}"#)
        try await ledger.post("role.created", by: "u-root", on: "role", "sales_rep", changes: created([("name", #""销售代表""#)]))
        for p in ["sales_order.view", "sales_order.edit", "sales_order.create"] {  // 4, 5, 6
            try await ledger.post("role.permission_granted", by: "u-root", on: "role", "sales_rep", data: #"{"permission":"\#(p)","scope":"own"}"#)
        }
        try await ledger.post("role.created", by: "u-root", on: "role", "sales_manager", changes: created([("name", #""销售经理""#)]))  // 7
        try await ledger.post("role.permission_granted", by: "u-root", on: "role", "sales_manager", data: #"{"permission":"sales_order.approve","scope":"department"}"#)
        try await ledger.post("user.created", by: "u-root", on: "user", "u-admin", changes: created([("department", #""it""#)]))  // 9
        try await ledger.post("user.admin_granted", by: "u-root", on: "user", "u-admin", data: #"{"level":"admin"}"#)  // 10
        try await ledger.post("user.created", by: "u-admin", on: "user", "u-han", changes: created([("department", #""it""#)]))  // 11
        try await ledger.post("user.admin_granted", by: "u-admin", on: "user", "u-han", data: #"{"level":"admin"}"#)  // 12: flagged
        try await ledger.post("user.created", by: "u-admin", on: "user", "u-zhao", changes: created([("department", #""east""#)]))  // 13
        try await ledger.post("user.created", by: "u-admin", on: "user", "u-wang", changes: created([("department", #""east""#)]))  // 14
        try await ledger.post("user.admin_granted", by: "u-root", on: "user", "u-zhao", data: #"{"level":"module_admin","module":"sales_order"}"#)  // 15
        try await ledger.post("user.created", by: "u-admin", on: "user", "u-li", changes: created([("department", #""east""#)]))  // 16
        try await ledger.post("user.role_assigned", by: "u-admin", on: "user", "u-li", data: #"{"role":"sales_rep"}"#)  // 17
        try await ledger.post("user.created", by: "u-admin", on: "user", "u-chen", changes: created([("department", #""east""#)]))  // 18
        try await ledger.post("user.role_assigned", by: "u-admin", on: "user", "u-chen", data: #"{"role":"sales_rep"}"#)  // 19
        try await ledger.post("sales_order.created", by: "u-li", on: "sales_order", "SO-1",
            changes: created([("owner", #""u-li""#), ("amount", "1000"), ("status", #""draft""#)]))  // 20
        try await ledger.post("user.admin_revoked", by: "u-root", on: "user", "u-zhao", data: #"{"level":"module_admin","module":"sales_order"}"#)  // 21
        try await ledger.post("user.admin_granted", by: "u-root", on: "user", "u-wang", data: #"{"level":"module_admin","module":"sales_order"}"#)  // 22
        try await ledger.post("sales_order.updated", by: "u-chen", on: "sales_order", "SO-1", changes: #"[{"field":"amount","old":1000,"new":1200}]"#)  // 23: flagged
        try await ledger.post("access_request.submitted", by: "u-chen", on: "access_request", "AR-1",
            data: #"{"user":"u-chen","role":"sales_manager","justification":"covering for the manager"}"#)  // 24
        try await ledger.post("access_request.approved", by: "u-chen", on: "access_request", "AR-1")  // 25: flagged twice
        try await ledger.post("user.role_assigned", by: "u-admin", on: "user", "u-chen", data: #"{"role":"sales_manager"}"#)  // 26
        try await ledger.post("user.offboarded", by: "u-admin", on: "user", "u-chen")  // 27
        try await ledger.post("sales_order.updated", by: "u-chen", on: "sales_order", "SO-1", changes: #"[{"field":"amount","old":1200,"new":1300}]"#)  // 28: flagged twice
        try await ledger.post("sales_order.updated", by: "u-wang", on: "sales_order", "SO-1", changes: #"[{"field":"status","old":"draft","new":"approved"}]"#)  // 29
        // 30: arrives last, happened at 09:16:30 (a late event).
        try await ledger.post("user.updated", by: "u-admin", on: "user", "u-li", changes: #"[{"field":"email","new":"li@example.com"}]"#, minute: 16, seconds: 30)
    }

    func t(_ minute: Int) -> AsOf { .time(TestLedger.time(minute)) }

    @Test func theComplianceOfficersQuestions() async throws {
        let ledger = try TestLedger()
        try await tell(ledger)
        let q = ledger.queries

        // Which changes broke policy?
        let findings = try ledger.findings()
        #expect(findings.map { "\($0.seq) \($0.kind.rawValue) \($0.actor) \($0.evidence)" } == [
            "12 admin_granted_by_non_super_admin u-admin [10]",
            // The sales-order module's administrator handed over at 21–22: for one event nobody held it.
            "21 module_without_admin u-root [15]",
            "23 unauthorized_change u-chen [5, 19, 20]",
            "25 unauthorized_change u-chen []",
            "25 self_approval u-chen [24]",
            "28 unauthorized_change u-chen [20]",
            "28 inactive_actor u-chen [27]",
        ])
        #expect(findings[0].message == "u-admin, who is not a super admin, granted admin to u-han.")
        #expect(findings[1].message == "The sales_order module has no administrator left: u-root's user.admin_revoked on u-zhao removed the last module admin (u-zhao).")
        #expect(findings[2].message.contains("holds sales_order.edit only with scope own; this needed scope department"))
        #expect(findings[4].id == "f-25-self_approval")
        #expect(try q.findings(.init(kind: .unauthorizedChange, limit: 2)).findings.map(\.seq) == [23, 25])
        #expect(try q.findings(.init(since: TestLedger.time(26))).findings.map(\.seq) == [28, 28])

        // Who could approve sales orders, and when? The sales-order administrator changed hands at 21–22.
        #expect(try q.holders(permission: "sales_order.approve", asOf: t(14)).holders.map(\.user) == ["u-root"])
        #expect(try q.holders(permission: "sales_order.approve", asOf: t(15)).holders.map(\.user) == ["u-root", "u-zhao"])
        #expect(try q.holders(permission: "sales_order.approve", asOf: t(21)).holders.map(\.user) == ["u-root"])
        #expect(try q.holders(permission: "sales_order.approve", asOf: t(22)).holders.map(\.user) == ["u-root", "u-wang"])
        let atTwentySix = try q.holders(permission: "sales_order.approve", asOf: t(26)).holders
        #expect(atTwentySix.map(\.user) == ["u-chen", "u-root", "u-wang"])
        #expect(atTwentySix[0].scope == .department)
        #expect(atTwentySix[0].via == [AccessPath(kind: .role, scope: .department, role: "sales_manager", seqs: [8, 26])])
        #expect(try q.holders(permission: "sales_order.approve").holders.map(\.user) == ["u-root", "u-wang"])

        // What could u-chen do, before and after each step?
        let before = try q.access(user: "u-chen", asOf: t(25))
        #expect(before.roles.map(\.role) == ["sales_rep"])
        #expect(before.permission("sales_order.approve") == nil)
        let approved = try q.access(user: "u-chen", asOf: t(26))
        #expect(approved.status == .active)
        #expect(approved.roles.map(\.role) == ["sales_manager", "sales_rep"])
        #expect(approved.roles[0].lineage == Lineage(seq: 26, actor: "u-admin", time: TestLedger.time(26)))
        #expect(approved.permissions.map { "\($0.permission) \($0.scope.name) \($0.via.map(\.seqs))" } == [
            "sales_order.approve department [[8, 26]]",
            "sales_order.create own [[6, 19]]",
            "sales_order.edit own [[5, 19]]",
            "sales_order.view own [[4, 19]]",
        ])
        let gone = try q.access(user: "u-chen", asOf: t(27))
        #expect(gone.status == .offboarded && gone.roles.isEmpty && gone.permissions.isEmpty)
        #expect(try q.access(user: "u-chen", asOf: .seq(26)) == approved.with(asOf: "seq:26"))
        #expect(try q.access(user: "u-root", asOf: t(0)).exists == false)
        let zhao = try q.access(user: "u-zhao", asOf: t(20))
        #expect(zhao.adminLevels.map { "\($0.level.level) \($0.level.module ?? "-") \($0.lineage.seq) \($0.lineage.actor)" } == ["module_admin sales_order 15 u-root"])

        // Who changed the order's amount, and what did it hold when?
        let so1 = Envelope.Subject(type: "sales_order", id: "SO-1")
        let history = try q.history(so1, field: "amount")
        #expect(history.entries.map(\.seq) == [20, 23, 28])
        #expect(history.entries.map(\.actor.id) == ["u-li", "u-chen", "u-chen"])
        #expect(history.entries[1].changes == [Envelope.Change(field: "amount", old: .number("1000"), new: .number("1200"))])
        #expect(history.entries[0].changes.map(\.field) == ["amount"])
        func amount(_ asOf: AsOf) throws -> String {
            let field = try q.state(so1, asOf: asOf).fields.first { $0.name == "amount" }?.field
            return field.map { "\(describeValue($0.value)) \($0.lineage.seq) \($0.lineage.actor)" } ?? "none"
        }
        #expect(try amount(t(19)) == "none")
        #expect(try amount(t(22)) == "1000 20 u-li")
        #expect(try amount(t(23)) == "1200 23 u-chen")
        #expect(try amount(.now) == "1300 28 u-chen")
        #expect(try q.state(so1).fields.first { $0.name == "status" }?.field.value == .string("approved"))

        // The roles as they stood.
        let manager = try q.role("sales_manager", asOf: t(26))
        #expect(manager.exists)
        #expect(manager.fields.first?.field.value == .string("销售经理"))
        #expect(manager.grants.map { "\($0.permission) \($0.scope.name) \($0.lineage.seq)" } == ["sales_order.approve department 8"])
        #expect(manager.members.map { "\($0.user) \($0.lineage.seq)" } == ["u-chen 26"])
        #expect(try q.role("sales_manager", asOf: t(27)).members.isEmpty)

        // The late event: by time it is in place at 09:17, by seq only after 30.
        let li = Envelope.Subject(type: "user", id: "u-li")
        #expect(try q.state(li, asOf: t(17)).fields.map(\.name) == ["department", "email"])
        #expect(try q.state(li, asOf: .seq(29)).fields.map(\.name) == ["department"])

        // Everything u-chen did.
        #expect(try q.activity(actor: "u-chen").events.map(\.seq) == [23, 24, 25, 28])
        #expect(try q.activity(actor: "u-chen", since: TestLedger.time(25)).events.map(\.seq) == [25, 28])
        try await ledger.close()
    }

    @Test func theRebuiltProjectionEqualsTheLiveOne() async throws {
        let ledger = try TestLedger()
        try await tell(ledger)
        let live = try ledger.projector.snapshot()
        #expect(try ledger.projector.rebuild() == live)
        let path = ledger.path
        try await ledger.close()
        // A restart folds the log again and stores no finding twice.
        let reopened = try TestLedger(path: path)
        #expect(try reopened.findings().count == 7)
        #expect(try reopened.projector.snapshot() == live)
        try await reopened.close()
    }
}

extension AccessAnswer {
    func with(asOf: String) -> AccessAnswer {
        var copy = self
        copy.asOf = asOf
        return copy
    }
}

func describeValue(_ value: JSONValue) -> String {
    String(decoding: CanonicalJSON.encode(value), as: UTF8.self)
}

@Suite struct FindingStoreTests {
    @Test func findingsPageInSeqOrder() async throws {
        let ledger = try TestLedger()
        try await SeedScenarioTests().tell(ledger)
        var seen: [String] = []
        var cursor: String?
        repeat {
            let page = try ledger.queries.findings(.init(limit: 4, cursor: cursor))
            seen += page.findings.map(\.id)
            cursor = page.next
        } while cursor != nil
        let all = try ledger.findings().map(\.id)
        #expect(seen == all)
        #expect(seen.count == 7)
        #expect(throws: (any Error).self) { try ledger.queries.findings(.init(cursor: "nonsense")) }
        try await ledger.close()
    }

    @Test func aStoreOfAnotherFormatIsRebuiltNotTrusted() async throws {
        let ledger = try TestLedger()
        try await SeedScenarioTests().tell(ledger)
        let before = try ledger.findings()
        let path = ledger.path
        try await ledger.close()
        // An older ledgerd's store: another format, and a bogus finding in it.
        let old = try Environment(.init(path: path + "/projection", maxDatabases: 4))
        let dbs = try old.openDatabases([("findings", []), ("meta", [])])
        try old.write { txn in
            try txn.put(dbs[1], key: Array("format".utf8), value: Array("findings-0".utf8))
            try txn.put(dbs[0], key: bigEndianBytes(1) + [0], value: Array("{}".utf8))
        }
        old.close()
        let reopened = try TestLedger(path: path)
        #expect(try reopened.findings() == before)
        try await reopened.close()
        // A changed policy is a changed format too: the findings are judged again under it.
        let strict = try TestLedger(policy: Policy(requireApprovedRequest: true), path: path)
        #expect(try strict.findings(.grantWithoutApproval).count > 0)
        try await strict.close()
    }
}
