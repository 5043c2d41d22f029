import EventModel

/// A short, hand-written story from the CRM help articles, for a newcomer's first queries on an empty
/// ledger: a company is set up, a sales order is created and edited, a permission request is rejected
/// and a second one approved, the order's system administrator is handed over, an admin grants admin
/// rights though only a super admin may, and an edit arrives whose old value the ledger never saw.
///
/// Every event has a fixed id, so loading the story twice appends nothing the second time.
public enum DemoStory {
    /// The events, oldest first.
    public static var events: [JSONValue] {
        // The story is data, kept as the JSON a CRM would post; it is parsed (and so checked) here.
        text.split(separator: "\n").map { try! JSONParser.parse(Array($0.utf8)) }
    }

    /// What to ask of the ledger once the story is in, and what it answers.
    public static let questions: [(command: String, answer: String)] = [
        ("history sales_order SO-1001 --field amount", "1000 by u-wang, 1000 → 1200 (CR-42), then 1300 → 1500 though the ledger held 1200"),
        ("history sales_order SO-1001 --field administrator", "u-chen, handed over to u-admin by u-chen"),
        ("access u-li", "sales_order.approve (department), directly, after request ar-2 was approved"),
        ("holders sales_order.approve", "u-zhao through sales_manager, u-li directly, u-chen and u-root as admins"),
        ("findings", "admin rights granted by u-admin, who is not a super admin; the amount edit that bypassed the ledger"),
    ]

    private static let text = """
        {"id":"demo-01","type":"user.created","time":"2026-03-02T01:00:00Z","actor":{"id":"system"},"subject":{"type":"user","id":"u-root"},"changes":[{"field":"name","new":"系统管理员"},{"field":"department","new":"it"}]}
        {"id":"demo-02","type":"user.admin_granted","time":"2026-03-02T01:00:05Z","actor":{"id":"system"},"subject":{"type":"user","id":"u-root"},"data":{"level":"super_admin"}}
        {"id":"demo-03","type":"role.created","time":"2026-03-02T01:10:00Z","actor":{"id":"u-root","name":"系统管理员","via":"web"},"subject":{"type":"role","id":"sales_rep"},"changes":[{"field":"name","new":"销售代表"}]}
        {"id":"demo-04","type":"role.permission_granted","time":"2026-03-02T01:10:10Z","actor":{"id":"u-root","via":"web"},"subject":{"type":"role","id":"sales_rep"},"data":{"permission":"sales_order.view","scope":"own"}}
        {"id":"demo-05","type":"role.permission_granted","time":"2026-03-02T01:10:20Z","actor":{"id":"u-root","via":"web"},"subject":{"type":"role","id":"sales_rep"},"data":{"permission":"sales_order.create","scope":"own"}}
        {"id":"demo-06","type":"role.permission_granted","time":"2026-03-02T01:10:30Z","actor":{"id":"u-root","via":"web"},"subject":{"type":"role","id":"sales_rep"},"data":{"permission":"sales_order.edit","scope":"own"}}
        {"id":"demo-07","type":"role.created","time":"2026-03-02T01:12:00Z","actor":{"id":"u-root","via":"web"},"subject":{"type":"role","id":"sales_manager"},"changes":[{"field":"name","new":"销售经理"}]}
        {"id":"demo-08","type":"role.permission_granted","time":"2026-03-02T01:12:10Z","actor":{"id":"u-root","via":"web"},"subject":{"type":"role","id":"sales_manager"},"data":{"permission":"sales_order.view","scope":"department"}}
        {"id":"demo-09","type":"role.permission_granted","time":"2026-03-02T01:12:20Z","actor":{"id":"u-root","via":"web"},"subject":{"type":"role","id":"sales_manager"},"data":{"permission":"sales_order.edit","scope":"department"}}
        {"id":"demo-10","type":"role.permission_granted","time":"2026-03-02T01:12:30Z","actor":{"id":"u-root","via":"web"},"subject":{"type":"role","id":"sales_manager"},"data":{"permission":"sales_order.approve","scope":"department"}}
        {"id":"demo-11","type":"user.created","time":"2026-03-02T01:20:00Z","actor":{"id":"u-root","via":"web"},"subject":{"type":"user","id":"u-admin"},"changes":[{"field":"name","new":"韩梅"},{"field":"department","new":"it"}]}
        {"id":"demo-12","type":"user.admin_granted","time":"2026-03-02T01:20:30Z","actor":{"id":"u-root","via":"web"},"subject":{"type":"user","id":"u-admin"},"data":{"level":"admin"}}
        {"id":"demo-13","type":"user.created","time":"2026-03-02T01:21:00Z","actor":{"id":"u-root","via":"web"},"subject":{"type":"user","id":"u-chen"},"changes":[{"field":"name","new":"陈静"},{"field":"department","new":"it"}]}
        {"id":"demo-14","type":"user.admin_granted","time":"2026-03-02T01:21:30Z","actor":{"id":"u-root","via":"web"},"subject":{"type":"user","id":"u-chen"},"data":{"level":"module_admin","module":"sales_order"},"reason":"系统管理员 of the sales-order module"}
        {"id":"demo-15","type":"user.created","time":"2026-03-02T02:00:00Z","actor":{"id":"u-admin","via":"web"},"subject":{"type":"user","id":"u-wang"},"changes":[{"field":"name","new":"王芳"},{"field":"department","new":"sales-east"}]}
        {"id":"demo-16","type":"user.created","time":"2026-03-02T02:01:00Z","actor":{"id":"u-admin","via":"web"},"subject":{"type":"user","id":"u-li"},"changes":[{"field":"name","new":"李伟"},{"field":"department","new":"sales-east"}]}
        {"id":"demo-17","type":"user.created","time":"2026-03-02T02:02:00Z","actor":{"id":"u-admin","via":"web"},"subject":{"type":"user","id":"u-zhao"},"changes":[{"field":"name","new":"赵丽"},{"field":"department","new":"sales-east"}]}
        {"id":"demo-18","type":"user.role_assigned","time":"2026-03-02T02:05:00Z","actor":{"id":"u-admin","via":"web"},"subject":{"type":"user","id":"u-wang"},"data":{"role":"sales_rep"}}
        {"id":"demo-19","type":"user.role_assigned","time":"2026-03-02T02:05:10Z","actor":{"id":"u-admin","via":"web"},"subject":{"type":"user","id":"u-li"},"data":{"role":"sales_rep"}}
        {"id":"demo-20","type":"user.role_assigned","time":"2026-03-02T02:05:20Z","actor":{"id":"u-admin","via":"web"},"subject":{"type":"user","id":"u-zhao"},"data":{"role":"sales_manager"}}
        {"id":"demo-21","type":"sales_order.created","time":"2026-03-03T01:30:00Z","actor":{"id":"u-wang","name":"王芳","ip":"10.1.2.3","via":"web"},"subject":{"type":"sales_order","id":"SO-1001"},"changes":[{"field":"customer","new":"华为"},{"field":"amount","new":1000},{"field":"currency","new":"CNY"},{"field":"status","new":"draft"},{"field":"owner","new":"u-wang"},{"field":"administrator","new":"u-chen"}]}
        {"id":"demo-22","type":"sales_order.updated","time":"2026-03-03T07:45:01Z","actor":{"id":"u-wang","name":"王芳","ip":"10.1.2.3","via":"web"},"subject":{"type":"sales_order","id":"SO-1001"},"changes":[{"field":"amount","old":1000,"new":1200}],"reason":"CR-42 customer renegotiated"}
        {"id":"demo-23","type":"access_request.submitted","time":"2026-03-04T01:00:00Z","actor":{"id":"u-li","via":"web"},"subject":{"type":"access_request","id":"ar-1"},"data":{"user":"u-li","role":"sales_manager","justification":"cover for 赵丽 during her leave"}}
        {"id":"demo-24","type":"access_request.rejected","time":"2026-03-04T03:00:00Z","actor":{"id":"u-admin","via":"web"},"subject":{"type":"access_request","id":"ar-1"},"data":{"reason":"the whole manager role is more than the cover needs"}}
        {"id":"demo-25","type":"access_request.submitted","time":"2026-03-04T03:30:00Z","actor":{"id":"u-li","via":"web"},"subject":{"type":"access_request","id":"ar-2"},"data":{"user":"u-li","permission":"sales_order.approve","scope":"department","justification":"approve sales-east orders while 赵丽 is away"}}
        {"id":"demo-26","type":"access_request.approved","time":"2026-03-04T04:00:00Z","actor":{"id":"u-admin","via":"web"},"subject":{"type":"access_request","id":"ar-2"}}
        {"id":"demo-27","type":"user.permission_granted","time":"2026-03-04T04:00:30Z","actor":{"id":"u-admin","via":"web"},"subject":{"type":"user","id":"u-li"},"data":{"permission":"sales_order.approve","scope":"department"},"reason":"request ar-2"}
        {"id":"demo-28","type":"sales_order.updated","time":"2026-03-05T02:00:00Z","actor":{"id":"u-wang","via":"web"},"subject":{"type":"sales_order","id":"SO-1001"},"changes":[{"field":"status","old":"draft","new":"submitted"}]}
        {"id":"demo-29","type":"sales_order.updated","time":"2026-03-05T06:00:00Z","actor":{"id":"u-li","via":"web"},"subject":{"type":"sales_order","id":"SO-1001"},"changes":[{"field":"status","old":"submitted","new":"approved"}]}
        {"id":"demo-30","type":"sales_order.updated","time":"2026-03-06T01:00:00Z","actor":{"id":"u-chen","via":"web"},"subject":{"type":"sales_order","id":"SO-1001"},"changes":[{"field":"administrator","old":"u-chen","new":"u-admin"}],"reason":"系统管理员变更: 陈静 moves to another project"}
        {"id":"demo-31","type":"user.admin_granted","time":"2026-03-06T02:00:00Z","actor":{"id":"u-admin","via":"web"},"subject":{"type":"user","id":"u-wang"},"data":{"level":"module_admin","module":"sales_order"}}
        {"id":"demo-32","type":"user.admin_revoked","time":"2026-03-06T05:00:00Z","actor":{"id":"u-root","via":"web"},"subject":{"type":"user","id":"u-wang"},"data":{"level":"module_admin","module":"sales_order"},"reason":"granted without a super admin"}
        {"id":"demo-33","type":"sales_order.updated","time":"2026-03-07T01:00:00Z","actor":{"id":"u-wang","via":"api"},"subject":{"type":"sales_order","id":"SO-1001"},"changes":[{"field":"amount","old":1300,"new":1500}],"reason":"CR-57"}
        """
}
