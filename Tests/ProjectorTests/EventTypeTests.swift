import EventModel
@testable import Projector
import Testing

/// Each event type of the catalog, folded into a state, changes what it should and nothing else.
@Suite struct EventTypeTests {
    var state = ProjectionState()
    var seq: UInt64 = 0

    mutating func fold(_ type: String, _ subjectType: String, _ id: String, changes: String? = nil, data: String? = nil, actor: String = "u-root") {
        seq += 1
        var json = #"{"seq":\#(seq),"recordedAt":"2026-03-01T00:00:00Z","id":"e\#(seq)","type":"\#(type)","time":"2026-03-01T00:00:\#(String(format2(Int(seq % 60))))Z","actor":{"id":"\#(actor)"},"subject":{"type":"\#(subjectType)","id":"\#(id)"},"outcome":"success""#
        if let changes { json += #","changes":\#(changes)"# }
        if let data { json += #","data":\#(data)"# }
        state.apply(try! StoredEvent.decode(Array((json + "}").utf8)))
    }

    @Test mutating func usersCarryFieldsStatusRolesGrantsAndLevels() {
        fold("user.created", "user", "u", changes: #"[{"field":"name","new":"A"},{"field":"department","new":"east"}]"#)
        #expect(state.users["u"]?.fields["name"] == Fact(value: .string("A"), seq: 1))
        #expect(state.users["u"]?.department == "east")
        fold("user.updated", "user", "u", changes: #"[{"field":"department","old":"east","new":"west"},{"field":"name","old":"A"}]"#)
        #expect(state.users["u"]?.department == "west")
        #expect(state.users["u"]?.fields["name"] == nil)  // `new` absent: the field was removed
        fold("user.disabled", "user", "u")
        #expect(state.users["u"]?.status == .disabled && state.users["u"]?.statusSeq == 3)
        fold("user.enabled", "user", "u")
        #expect(state.users["u"]?.status == .active)
        fold("user.role_assigned", "user", "u", data: #"{"role":"r"}"#)
        #expect(state.users["u"]?.roles == ["r": 5])
        fold("user.role_revoked", "user", "u", data: #"{"role":"r"}"#)
        #expect(state.users["u"]?.roles.isEmpty == true)
        #expect(state.roleMembersEver["r"] == ["u"])
        fold("user.permission_granted", "user", "u", data: #"{"permission":"customer.view","scope":"own"}"#)
        #expect(state.users["u"]?.direct["customer.view"] == Grant(scope: .own, seq: 7))
        fold("user.permission_revoked", "user", "u", data: #"{"permission":"customer.view"}"#)
        #expect(state.users["u"]?.direct.isEmpty == true)
        fold("user.admin_granted", "user", "u", data: #"{"level":"module_admin","module":"sales_order"}"#)
        #expect(state.users["u"]?.admin == [AdminLevel(level: "module_admin", module: "sales_order"): 9])
        fold("user.admin_revoked", "user", "u", data: #"{"level":"module_admin","module":"sales_order"}"#)
        #expect(state.users["u"]?.admin.isEmpty == true)
        fold("access_review.completed", "user", "u", data: #"{"decision":"kept"}"#)
        #expect(state.users["u"]?.lastReview?.seq == 11)
        fold("user.offboarded", "user", "u")
        #expect(state.users["u"]?.status == .offboarded)
    }

    @Test mutating func rolesCarryFieldsAndGrants() {
        fold("role.created", "role", "r", changes: #"[{"field":"name","new":"Rep"}]"#)
        fold("role.updated", "role", "r", changes: #"[{"field":"description","new":"sells"}]"#)
        #expect(state.roles["r"]?.fields.keys.sorted() == ["description", "name"])
        fold("role.permission_granted", "role", "r", data: #"{"permission":"sales_order.edit"}"#)
        #expect(state.roles["r"]?.grants["sales_order.edit"] == Grant(scope: .all, seq: 3))  // default scope: all
        fold("role.permission_granted", "role", "r", data: #"{"permission":"sales_order.edit","scope":"own"}"#)
        #expect(state.roles["r"]?.grants["sales_order.edit"] == Grant(scope: .own, seq: 4))
        fold("role.permission_revoked", "role", "r", data: #"{"permission":"sales_order.edit"}"#)
        #expect(state.roles["r"]?.grants.isEmpty == true)
        #expect(state.permissionRolesEver["sales_order.edit"] == ["r"])
        fold("role.deleted", "role", "r")
        #expect(state.roles["r"]?.isLive == false)
    }

    @Test mutating func requestsAndOrders() {
        fold("access_request.submitted", "access_request", "AR", data: #"{"user":"u","permission":"sales_order.approve","scope":"department","justification":"j"}"#, actor: "u")
        #expect(state.requests["AR"] == RequestState(
            user: "u", permission: "sales_order.approve", scope: .department, requester: "u", submittedSeq: 1, submittedTime: state.requests["AR"]!.submittedTime,
            justification: "j"))
        fold("access_request.rejected", "access_request", "AR", data: #"{"reason":"no"}"#)
        #expect(state.requests["AR"]?.outcome == .rejected && state.requests["AR"]?.decisionSeq == 2)
        #expect(state.requests["AR"]?.decider == "u-root" && state.requests["AR"]?.decisionReason == "no")
        fold("access_request.approved", "access_request", "AR")
        #expect(state.requests["AR"]?.outcome == .approved)
        #expect(state.vocabulary["sales_order.approve"]?.seq == 1)
        fold("sales_order.created", "sales_order", "SO", changes: #"[{"field":"owner","new":"u"},{"field":"lines","new":[1,2]}]"#)
        #expect(state.orders["SO"]?.owner == "u")
        fold("sales_order.updated", "sales_order", "SO", changes: #"[{"field":"owner","old":"u","new":"v"}]"#)
        #expect(state.orders["SO"]?.fields["owner"] == Fact(value: .string("v"), seq: 5))
        fold("sales_order.deleted", "sales_order", "SO")
        #expect(state.orders["SO"]?.deletedSeq == 6)
        let before = state
        fold("crm.exported", "report", "x", changes: #"[{"field":"rows","new":5}]"#)
        var expected = before
        expected.appliedThrough = 7
        #expect(state == expected)  // unknown types pass through untouched
    }
}

func format2(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
