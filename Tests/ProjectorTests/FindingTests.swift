import EventModel
import Projector
import Testing
import Workload

@Suite struct FindingTests {
    /// The stored form is written without the JSON tree; it must be the tree's canonical bytes, byte for byte.
    @Test func aFindingIsStoredAsTheCanonicalBytesOfItsJSON() async throws {
        var generator = LedgerGenerator(seed: 5)
        let ledger = try TestLedger()
        for line in generator.lines(6_000, batch: 500) { _ = try await ledger.log.append(try EventBody.parse(line).events) }
        let folded = try ledger.findings()
        #expect(Set(folded.map(\.kind)).count >= 5)
        // Strings that need escaping, several evidence seqs or none, a second finding of a kind, every fraction length.
        let crafted = [
            (#"u-"q"\\b"#, "line\nbreak\t\u{01} 引号 \"x\"", "2026-01-05T01:02:50Z", "[]", "f-9-self_grant-2"),
            ("u-1", "", "2026-01-05T01:02:50.120Z", "[3,1,2]", "f-9-self_grant"),
            ("u-2", "\u{7F}\u{1F}", "2026-01-05T01:02:50.123456Z", "[18446744073709551615]", "f-9-self_grant"),
            ("u-3", "/", "2026-01-05T01:02:50.123456789Z", "[0]", "f-9-self_grant-3"),
        ].map { actor, message, time, evidence, id in
            let json = JSONValue.object([
                JSONMember("id", .string(id)), JSONMember("kind", .string("self_grant")), JSONMember("seq", .number("9")),
                JSONMember("time", .string(time)), JSONMember("actor", .string(actor)),
                JSONMember("subject", .object([JSONMember("type", .string("user")), JSONMember("id", .string(actor + "\u{0}"))])),
                JSONMember("message", .string(message)), JSONMember("evidence", try! JSONParser.parse(Array(evidence.utf8))),
            ])
            return Finding(json: json)!
        }
        try await ledger.close()
        for finding in folded + crafted {
            #expect(finding.canonicalJSON == CanonicalJSON.encode(finding.json), "\(finding.id)")
            #expect(Finding(json: try JSONParser.parse(finding.canonicalJSON)) == finding)
        }
    }

    @Test func bootstrapRaisesNothingUntilTheFirstSuperAdmin() async throws {
        let ledger = try TestLedger()
        // The CRM sets the tenant up as "system", which holds nothing: no findings until u-root is super admin.
        try await ledger.post("user.created", by: "system", on: "user", "u-root")
        try await ledger.post("role.created", by: "system", on: "role", "r")
        try await ledger.post("user.admin_granted", by: "system", on: "user", "u-root", data: #"{"level":"super_admin"}"#)
        #expect(try ledger.findings().isEmpty)
        let after = try await ledger.post("role.created", by: "system", on: "role", "r2")
        #expect(try ledger.findings().map(\.seq) == [after])
        #expect(try ledger.findings().map(\.kind) == [.unauthorizedChange])
        try await ledger.close()
    }

    @Test func repsEditTheirOwnOrdersOnly() async throws {
        let ledger = try TestLedger()
        try await ledger.setUpTenant()
        try await ledger.createOrder("SO-1")
        try await ledger.post("sales_order.updated", by: "u-li", on: "sales_order", "SO-1", changes: #"[{"field":"amount","old":1000,"new":1100}]"#)
        #expect(try ledger.findings().isEmpty)
        let bad = try await ledger.post("sales_order.updated", by: "u-wu", on: "sales_order", "SO-1", changes: #"[{"field":"amount","old":1100,"new":1200}]"#)
        let findings = try ledger.findings()
        #expect(findings.map(\.seq) == [bad])
        #expect(findings.first?.kind == .unauthorizedChange)
        #expect(findings.first?.message.contains("sales_order.edit only with scope own") == true)
        // The evidence: u-wu's role grant and assignment, and the event that set the owner.
        #expect(findings.first?.evidence.count == 3)
        try await ledger.close()
    }

    @Test func managersApproveInTheirDepartmentOnly() async throws {
        let ledger = try TestLedger()
        try await ledger.setUpTenant()
        try await ledger.createOrder("SO-east", owner: "u-li")
        try await ledger.createOrder("SO-west", owner: "u-xu")
        try await ledger.post("sales_order.updated", by: "u-ma", on: "sales_order", "SO-east", changes: #"[{"field":"status","old":"draft","new":"approved"}]"#)
        #expect(try ledger.findings().isEmpty)
        let bad = try await ledger.post("sales_order.updated", by: "u-ma", on: "sales_order", "SO-west", changes: #"[{"field":"status","old":"draft","new":"approved"}]"#)
        #expect(try ledger.findings().map(\.seq) == [bad])
        #expect(try ledger.findings().first?.message.contains("sales_order.approve") == true)
        // A rep may edit their order but not approve it: approving needs sales_order.approve.
        let approveOwn = try await ledger.post("sales_order.updated", by: "u-li", on: "sales_order", "SO-east", changes: #"[{"field":"status","old":"approved","new":"approved"}]"#)
        #expect(try ledger.findings().map(\.seq) == [bad, approveOwn])
        try await ledger.close()
    }

    @Test func moduleAdminsAndSuperAdminsMayEditAnyOrder() async throws {
        let ledger = try TestLedger()
        try await ledger.setUpTenant()
        try await ledger.createOrder("SO-1", owner: "u-xu")
        try await ledger.post("user.admin_granted", by: "u-root", on: "user", "u-wu", data: #"{"level":"module_admin","module":"sales_order"}"#)
        try await ledger.post("sales_order.updated", by: "u-wu", on: "sales_order", "SO-1", changes: #"[{"field":"owner","old":"u-xu","new":"u-li"}]"#)
        try await ledger.post("sales_order.deleted", by: "u-root", on: "sales_order", "SO-1")
        #expect(try ledger.findings().isEmpty)
        // A customer module admin is no sales-order admin.
        try await ledger.post("user.admin_granted", by: "u-root", on: "user", "u-xu", data: #"{"level":"module_admin","module":"customer"}"#)
        try await ledger.createOrder("SO-2", owner: "u-li")
        let bad = try await ledger.post("sales_order.deleted", by: "u-xu", on: "sales_order", "SO-2")
        #expect(try ledger.findings().map(\.seq) == [bad])
        try await ledger.close()
    }

    @Test func onlySuperAdminsGrantAdminLevels() async throws {
        let ledger = try TestLedger()
        try await ledger.setUpTenant()
        try await ledger.post("user.admin_granted", by: "u-root", on: "user", "u-ma", data: #"{"level":"admin"}"#)
        #expect(try ledger.findings().isEmpty)
        let bad = try await ledger.post("user.admin_granted", by: "u-ma", on: "user", "u-wu", data: #"{"level":"admin"}"#)
        let revoke = try await ledger.post("user.admin_revoked", by: "u-ma", on: "user", "u-wu", data: #"{"level":"admin"}"#)
        #expect(try ledger.findings(.adminGrantedByNonSuperAdmin).map(\.seq) == [bad, revoke])
        // Admin levels are judged by that rule alone, not as an unauthorized user change as well.
        #expect(try ledger.findings(.unauthorizedChange).isEmpty)
        try await ledger.close()
    }

    @Test func selfGrantsAreFlagged() async throws {
        let ledger = try TestLedger()
        try await ledger.setUpTenant()
        try await ledger.post("user.admin_granted", by: "u-root", on: "user", "u-ma", data: #"{"level":"admin"}"#)
        try await ledger.post("user.role_assigned", by: "u-ma", on: "user", "u-wu", data: #"{"role":"sales_manager"}"#)
        #expect(try ledger.findings().isEmpty)
        let role = try await ledger.post("user.role_assigned", by: "u-ma", on: "user", "u-ma", data: #"{"role":"sales_rep"}"#)
        let permission = try await ledger.post("user.permission_granted", by: "u-ma", on: "user", "u-ma", data: #"{"permission":"customer.view"}"#)
        let level = try await ledger.post("user.admin_granted", by: "u-root", on: "user", "u-root", data: #"{"level":"module_admin","module":"customer"}"#)
        #expect(try ledger.findings(.selfGrant).map(\.seq) == [role, permission, level])
        try await ledger.close()
    }

    @Test func approvingOnesOwnRequestIsFlagged() async throws {
        let ledger = try TestLedger()
        try await ledger.setUpTenant()
        try await ledger.post("user.admin_granted", by: "u-root", on: "user", "u-ma", data: #"{"level":"admin"}"#)
        let submitted = try await ledger.post("access_request.submitted", by: "u-li", on: "access_request", "AR-1",
            data: #"{"user":"u-li","role":"sales_manager","justification":"cover"}"#)
        try await ledger.post("access_request.submitted", by: "u-ma", on: "access_request", "AR-2",
            data: #"{"user":"u-wu","permission":"customer.view","justification":"calls"}"#)
        try await ledger.post("access_request.submitted", by: "u-xu", on: "access_request", "AR-3",
            data: #"{"user":"u-xu","role":"sales_manager","justification":"cover"}"#)
        // Another admin approves: fine.
        try await ledger.post("access_request.approved", by: "u-root", on: "access_request", "AR-3")
        #expect(try ledger.findings().isEmpty)
        let own = try await ledger.post("access_request.approved", by: "u-li", on: "access_request", "AR-1")
        let submittedByMe = try await ledger.post("access_request.approved", by: "u-ma", on: "access_request", "AR-2")
        let approvals = try ledger.findings(.selfApproval)
        #expect(approvals.map(\.seq) == [own, submittedByMe])
        #expect(approvals.first?.evidence == [submitted])
        // u-li also lacks user.manage to approve anything; u-ma, an admin, has it.
        #expect(try ledger.findings(.unauthorizedChange).map(\.seq) == [own])
        try await ledger.close()
    }

    @Test func inactiveActorsAreFlaggedUntilReenabled() async throws {
        let ledger = try TestLedger()
        try await ledger.setUpTenant()
        try await ledger.createOrder("SO-1")
        let disabled = try await ledger.post("user.disabled", by: "u-root", on: "user", "u-li")
        let acted = try await ledger.post("sales_order.updated", by: "u-li", on: "sales_order", "SO-1", changes: #"[{"field":"amount","old":1000,"new":1}]"#)
        try await ledger.post("user.enabled", by: "u-root", on: "user", "u-li")
        try await ledger.post("sales_order.updated", by: "u-li", on: "sales_order", "SO-1", changes: #"[{"field":"amount","old":1,"new":2}]"#)
        let inactive = try ledger.findings(.inactiveActor)
        #expect(inactive.map(\.seq) == [acted])
        #expect(inactive.first?.evidence == [disabled])
        // Disabled, u-li held nothing: the edit was unauthorized too.
        #expect(try ledger.findings(.unauthorizedChange).map(\.seq) == [acted])
        try await ledger.close()
    }

    @Test func removingTheLastSuperAdminIsFlagged() async throws {
        let ledger = try TestLedger()
        try await ledger.setUpTenant()
        let second = try await ledger.post("user.admin_granted", by: "u-root", on: "user", "u-ma", data: #"{"level":"super_admin"}"#)
        try await ledger.post("user.admin_revoked", by: "u-ma", on: "user", "u-root", data: #"{"level":"super_admin"}"#)
        #expect(try ledger.findings().isEmpty)
        let last = try await ledger.post("user.offboarded", by: "u-ma", on: "user", "u-ma")
        let findings = try ledger.findings(.lastSuperAdminRemoved)
        #expect(findings.map(\.seq) == [last])
        #expect(findings.first?.evidence == [second])
        try await ledger.close()
    }

    @Test func aChangeFromAValueTheLedgerDoesNotHoldIsAMismatch() async throws {
        let ledger = try TestLedger()
        try await ledger.setUpTenant()
        let created = try await ledger.createOrder("SO-1", amount: "1000")
        // 1000.0 is the same number: no mismatch.
        try await ledger.post("sales_order.updated", by: "u-li", on: "sales_order", "SO-1", changes: #"[{"field":"amount","old":1000.0,"new":1100}]"#)
        #expect(try ledger.findings().isEmpty)
        let bad = try await ledger.post("sales_order.updated", by: "u-li", on: "sales_order", "SO-1", changes: #"[{"field":"amount","old":1500,"new":1600}]"#)
        let unknownField = try await ledger.post("sales_order.updated", by: "u-li", on: "sales_order", "SO-1", changes: #"[{"field":"currency","old":"USD","new":"EUR"}]"#)
        let mismatches = try ledger.findings(.stateMismatch)
        #expect(mismatches.map(\.seq) == [bad, unknownField])
        #expect(mismatches.first?.evidence == [created + 1])
        #expect(mismatches.first?.message.contains("from 1500 but the ledger holds 1100") == true)
        try await ledger.close()
    }

    @Test func grantsWithoutApprovalOnlyWhenThePolicyAsks() async throws {
        for policy in [false, true] {
            let ledger = try TestLedger(policy: Policy(requireApprovedRequest: policy))
            try await ledger.setUpTenant()
            // The tenant's own set-up assigned roles with no requests: flagged too when the policy is on.
            let setUp = try ledger.findings(.grantWithoutApproval).map(\.seq)
            #expect(setUp.count == (policy ? 4 : 0))
            try await ledger.post("access_request.submitted", by: "u-li", on: "access_request", "AR-1",
                data: #"{"user":"u-li","role":"sales_manager","justification":"cover"}"#, minute: 40)
            try await ledger.post("access_request.approved", by: "u-root", on: "access_request", "AR-1", minute: 41)
            try await ledger.post("user.role_assigned", by: "u-root", on: "user", "u-li", data: #"{"role":"sales_manager"}"#, minute: 42)
            let unapproved = try await ledger.post("user.permission_granted", by: "u-root", on: "user", "u-wu", data: #"{"permission":"customer.view"}"#, minute: 43)
            // An approval older than 30 days does not count.
            let stale = try await ledger.post("user.role_assigned", by: "u-root", on: "user", "u-li", data: #"{"role":"sales_manager"}"#, minute: 41 + 31 * 24 * 60)
            #expect(try ledger.findings(.grantWithoutApproval).map(\.seq) == setUp + (policy ? [unapproved, stale] : []))
            try await ledger.close()
        }
    }

    @Test func failedEventsChangeNothingButStillShowInactiveActors() async throws {
        let ledger = try TestLedger()
        try await ledger.setUpTenant()
        try await ledger.createOrder("SO-1")
        try await ledger.post("sales_order.updated", by: "u-xu", on: "sales_order", "SO-1", changes: #"[{"field":"amount","old":1000,"new":5}]"#, outcome: "failure")
        #expect(try ledger.findings().isEmpty)
        let state = try ledger.queries.state(.init(type: "sales_order", id: "SO-1"))
        #expect(state.fields.first { $0.name == "amount" }?.field.value == .number("1000"))
        try await ledger.close()
    }
}
