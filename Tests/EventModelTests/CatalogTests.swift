import Testing

@testable import EventModel

@Suite struct CatalogTests {
    func envelope(type: String, subject: String, data: String?) -> String {
        var json = modified("type", "\"\(type)\"")
        json = modified("subject", #"{"type":"\#(subject)","id":"x-1"}"#, in: json)
        json = modified("changes", nil, in: json)
        return modified("data", data, in: json)
    }

    static let allowed: [(String, String, String?)] = [
        ("role.permission_granted", "role", #"{"permission":"sales_order.edit","scope":"own"}"#),
        ("role.permission_revoked", "role", #"{"permission":"sales_order.edit"}"#),
        ("user.role_assigned", "user", #"{"role":"sales_rep"}"#),
        ("user.permission_granted", "user", #"{"permission":"customer.view","scope":"department"}"#),
        ("user.admin_granted", "user", #"{"level":"super_admin"}"#),
        ("user.admin_granted", "user", #"{"level":"module_admin","module":"sales_order"}"#),
        ("user.admin_revoked", "user", #"{"level":"admin"}"#),
        ("access_request.submitted", "access_request", #"{"user":"u-1","role":"sales_rep","justification":"quarter close"}"#),
        ("access_request.submitted", "access_request", #"{"user":"u-1","permission":"sales_order.approve","scope":"all","justification":"j"}"#),
        ("access_request.approved", "access_request", nil),
        ("access_request.rejected", "access_request", #"{"reason":"not needed"}"#),
        ("access_review.completed", "user", #"{"decision":"kept","notes":"fine"}"#),
        ("user.offboarded", "user", nil),
        ("sales_order.deleted", "sales_order", #"{}"#),
        ("crm.login_succeeded", "session", #"{"anything":[1,2]}"#),
    ]

    @Test(arguments: allowed)
    func acceptsWhatTheCatalogAllows(type: String, subject: String, data: String?) {
        let error = validationError(envelope(type: type, subject: subject, data: data))
        #expect(error == nil, "\(type): \(String(describing: error))")
    }

    static let refused: [(String, String, String?, String)] = [
        ("user.created", "role", nil, "subject.type"),
        ("sales_order.updated", "user", nil, "subject.type"),
        ("role.permission_granted", "role", #"{"scope":"own"}"#, "data.permission"),
        ("role.permission_granted", "role", #"{"permission":"edit"}"#, "data.permission"),
        ("role.permission_granted", "role", #"{"permission":"a.b.c"}"#, "data.permission"),
        ("role.permission_granted", "role", #"{"permission":"sales_order.edit","scope":"team"}"#, "data.scope"),
        ("user.permission_granted", "user", #"{"permission":"sales_order.edit","extra":1}"#, "data.extra"),
        ("user.role_assigned", "user", #"{}"#, "data.role"),
        ("user.role_assigned", "user", #"{"role":7}"#, "data.role"),
        ("user.admin_granted", "user", #"{"level":"root"}"#, "data.level"),
        ("user.admin_granted", "user", #"{"level":"module_admin"}"#, "data.module"),
        ("user.admin_granted", "user", #"{"level":"admin","module":"sales_order"}"#, "data.module"),
        ("access_request.submitted", "access_request", #"{"user":"u","justification":"j"}"#, "data"),
        ("access_request.submitted", "access_request", #"{"user":"u","role":"r","permission":"a.b","justification":"j"}"#, "data"),
        ("access_request.submitted", "access_request", #"{"user":"u","role":"r"}"#, "data.justification"),
        ("access_request.submitted", "access_request", #"{"user":"u","role":"r","scope":"own","justification":"j"}"#, "data.scope"),
        ("access_review.completed", "user", #"{"decision":"maybe"}"#, "data.decision"),
        ("user.offboarded", "user", #"{"why":"left"}"#, "data.why"),
    ]

    @Test(arguments: refused)
    func refusesWhatTheCatalogDoesNot(type: String, subject: String, data: String?, field: String) {
        let error = validationError(envelope(type: type, subject: subject, data: data))
        #expect(error?.field == field, "\(type) \(data ?? ""): \(String(describing: error))")
        #expect(error?.code != nil)
    }

    @Test func typePrefixesAreWholeSegmentsOrTheStartOfAnAction() {
        #expect(Catalog.isTypePrefix("user.*"))
        #expect(Catalog.isTypePrefix("crm.audit.*"))
        #expect(Catalog.isTypePrefix("user.admin_*"))
        #expect(!Catalog.isTypePrefix("user"))
        #expect(!Catalog.isTypePrefix("*"))
        #expect(!Catalog.isTypePrefix("us*"))
        #expect(!Catalog.isTypePrefix("User.*"))
    }
}
