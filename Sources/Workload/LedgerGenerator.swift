import EventModel

/// A deterministic, realistic stream of CRM audit events (spec 3): the same seed and count give the
/// same bytes, and a shorter stream is a prefix of a longer one with the same seed.
///
/// It plays a company: the CRM bootstraps a super admin (actor `system`), who sets up roles, admins
/// and the sales-order module admin; then people in six departments create and edit sales orders,
/// request roles that admins approve or reject, get reviewed, move departments, are disabled and
/// offboarded, and the order module's administrator is handed over. A small share of events breaks
/// policy on purpose, so every finding kind of spec 4 shows up on a long enough stream: edits out of
/// scope, admin rights granted by a non-super-admin, self-grants, self-approvals, actions by disabled
/// users, edits that bypassed the ledger, and the last super admin removed (then restored).
public struct LedgerGenerator {
    public static let departments = ["sales-east", "sales-west", "sales-north", "service", "finance", "it"]
    static let customers = ["华为", "Acme GmbH", "北京星辰科技", "Globex", "上海云帆", "Initech", "深圳蓝海", "Umbrella"]
    static let names = ["王芳", "李伟", "张敏", "刘洋", "陈静", "杨磊", "赵丽", "黄强", "周娜", "吴军", "Anna", "Ben", "Chloé", "Dmitri"]
    /// Roles and their grants, as the seed articles' default roles.
    static let roles: [(id: String, name: String, grants: [(String, String)])] = [
        ("sales_rep", "销售代表", [("sales_order.view", "own"), ("sales_order.create", "own"), ("sales_order.edit", "own")]),
        ("sales_manager", "销售经理", [("sales_order.view", "department"), ("sales_order.edit", "department"), ("sales_order.approve", "department")]),
        ("customer_service", "客服", [("sales_order.view", "all"), ("customer.view", "all")]),
        ("finance_clerk", "财务", [("sales_order.view", "all"), ("sales_order.approve", "all")]),
    ]

    struct User {
        var department: String
        var status = "active"
        var roles: Set<String> = []
    }

    struct Order {
        var owner: String
        var amount: Int
        var status = "draft"
        var customer: String
        var administrator: String
    }

    private var random: SplitMix64
    private let seed: UInt64
    private var clock: Instant
    private var count = 0
    private var users: [String: User] = [:]
    private var userIds: [String] = []
    private var orders: [String: Order] = [:]
    private var orderIds: [String] = []
    /// Disabled users, earliest disabled first (kept beside `users` so no step scans every user).
    private var disabled: [String] = []
    /// The sales departments' managers, hired at bootstrap (nobody else is ever given sales_manager).
    private var managers: [String: String] = [:]
    private var openRequests: [(id: String, user: String, role: String)] = []
    private var superAdmin = "u-0001"
    private let admins = ["u-0002", "u-0003"]
    private var moduleAdmin = "u-0004"
    private var pending: [JSONValue] = []
    /// u-0001…u-0004 are the super admin, the two admins and the module admin: hires start after them.
    private var nextUser = 5
    private var nextOrder = 1
    private var nextRequest = 1

    public init(seed: UInt64 = 1, start: Instant = Instant(rfc3339: "2026-01-05T01:00:00Z")!) {
        self.seed = seed
        self.random = SplitMix64(seed: seed)
        self.clock = start
    }

    /// The next `n` events as JSON envelopes.
    public mutating func events(_ n: Int) -> [JSONValue] {
        var out: [JSONValue] = []
        out.reserveCapacity(n)
        while out.count < n { out.append(next()) }
        return out
    }

    /// The next `n` events as NDJSON lines (one event a line), or as JSON arrays of `batch` events a line.
    public mutating func lines(_ n: Int, batch: Int? = nil) -> [[UInt8]] {
        let events = events(n)
        guard let batch, batch > 0 else { return events.map { CanonicalJSON.encode($0) } }
        return stride(from: 0, to: events.count, by: batch).map {
            CanonicalJSON.encode(.array(Array(events[$0..<min($0 + batch, events.count)])))
        }
    }

    public mutating func next() -> JSONValue {
        if pending.isEmpty { plan() }
        return pending.removeFirst()
    }

    // MARK: - What happens next

    private mutating func plan() {
        if count == 0 { bootstrap(); return }
        // Once early on (and every 100k events), the only super admin removes themself by mistake,
        // and an admin, who may not, grants the right back.
        if count % 100_000 >= 1_500 && lastIncident != count / 100_000 { superAdminIncident(); return }
        let roll = random.below(1000)
        switch roll {
        case 0..<380: editOrder()
        case 380..<520: createOrder()
        case 520..<600: approveOrder()
        case 600..<630: handOverAdministrator()
        case 630..<660: reassignOrder()
        case 660..<670: deleteOrder()
        case 670..<730: submitRequest()
        case 730..<790: decideRequest()
        case 790..<830: review()
        case 830..<850: hire()
        case 850..<865: moveDepartment()
        case 865..<880: disableOrEnable()
        case 880..<888: offboard()
        case 888..<900: changeRoleGrants()
        case 900..<912: readOnlyNoise()
        case 912..<980: editOrder()
        default: violation()  // 2%: a sprinkling of every finding kind
        }
        if pending.isEmpty { editOrder() }
    }

    /// The 100k window in which the last super-admin incident was played.
    private var lastIncident = -1

    // MARK: - Setting the company up

    private mutating func bootstrap() {
        let root = superAdmin
        emit("user.created", actor: "system", subject: ("user", root), changes: [("name", nil, .string("系统管理员")), ("department", nil, .string("it"))])
        users[root] = User(department: "it")
        emit("user.admin_granted", actor: "system", subject: ("user", root), data: [("level", .string("super_admin"))])
        for role in Self.roles {
            emit("role.created", actor: root, subject: ("role", role.id), changes: [("name", nil, .string(role.name))])
            for (permission, scope) in role.grants {
                emit("role.permission_granted", actor: root, subject: ("role", role.id), data: [("permission", .string(permission)), ("scope", .string(scope))])
            }
        }
        for admin in admins {
            createUser(admin, department: "it", by: root)
            emit("user.admin_granted", actor: root, subject: ("user", admin), data: [("level", .string("admin"))])
        }
        createUser(moduleAdmin, department: "it", by: root)
        emit("user.admin_granted", actor: root, subject: ("user", moduleAdmin), data: [("level", .string("module_admin")), ("module", .string("sales_order"))])
        // A manager for each sales department, then a handful of people everywhere.
        for department in Self.departments where department.hasPrefix("sales-") {
            let manager = newUserId()
            createUser(manager, department: department, by: admins[0])
            assign("sales_manager", to: manager, by: admins[0])
            managers[department] = manager
        }
        for _ in 0..<20 { hire() }
    }

    private mutating func createUser(_ id: String, department: String, by actor: String) {
        emit("user.created", actor: actor, subject: ("user", id), changes: [
            ("name", nil, .string(random.pick(Self.names))), ("department", nil, .string(department)),
            ("email", nil, .string("\(id)@example.cn")),
        ])
        users[id] = User(department: department)
        userIds.append(id)
    }

    private mutating func newUserId() -> String {
        defer { nextUser += 1 }
        return "u-" + pad(nextUser, 4)
    }

    private mutating func assign(_ role: String, to user: String, by actor: String) {
        emit("user.role_assigned", actor: actor, subject: ("user", user), data: [("role", .string(role))])
        users[user]?.roles.insert(role)
    }

    // MARK: - People

    private mutating func hire() {
        let id = newUserId()
        let department = random.pick(Self.departments)
        createUser(id, department: department, by: random.pick(admins))
        let role: String? =
            department.hasPrefix("sales-") ? "sales_rep" : department == "service" ? "customer_service" : department == "finance" ? "finance_clerk" : nil
        if let role { assign(role, to: id, by: random.pick(admins)) }
    }

    private mutating func moveDepartment() {
        guard let user = activeUser(where: { !$0.roles.contains("sales_manager") }) else { return }
        let from = users[user]!.department
        let to = random.pick(Self.departments.filter { $0 != from })
        emit("user.updated", actor: random.pick(admins), subject: ("user", user), changes: [("department", .string(from), .string(to))],
             reason: "transfer")
        users[user]!.department = to
        // Often the old roles are left in place: stale access a review should catch.
    }

    private mutating func disableOrEnable() {
        if let user = disabled.first, random.below(2) == 0 {
            emit("user.enabled", actor: random.pick(admins), subject: ("user", user))
            users[user]!.status = "active"
            disabled.removeFirst()
        } else if let user = activeUser(where: { !$0.roles.contains("sales_manager") }) {
            emit("user.disabled", actor: random.pick(admins), subject: ("user", user), reason: "leave of absence")
            users[user]!.status = "disabled"
            disabled.append(user)
        }
    }

    private mutating func offboard() {
        guard let user = activeUser(where: { !$0.roles.contains("sales_manager") }) else { return }
        emit("user.offboarded", actor: random.pick(admins), subject: ("user", user), reason: "left the company")
        users[user]!.status = "offboarded"
        users[user]!.roles = []
    }

    private mutating func review() {
        guard let user = activeUser(where: { !$0.roles.isEmpty }) else { return }
        let revoke = random.below(10) == 0
        let admin = random.pick(admins)
        emit("access_review.completed", actor: admin, subject: ("user", user),
             data: [("decision", .string(revoke ? "revoked" : "kept")), ("notes", .string("quarterly review"))])
        if revoke, let role = users[user]!.roles.sorted().first {
            emit("user.role_revoked", actor: admin, subject: ("user", user), data: [("role", .string(role))])
            users[user]!.roles.remove(role)
        }
    }

    private mutating func submitRequest() {
        guard let user = activeUser(where: { _ in true }) else { return }
        let wanted = Self.roles.map(\.id).filter { $0 != "sales_manager" && !users[user]!.roles.contains($0) }
        guard !wanted.isEmpty else { return }
        let id = "ar-\(seed)-" + pad(nextRequest, 6)
        nextRequest += 1
        let role = random.pick(wanted)
        emit("access_request.submitted", actor: user, subject: ("access_request", id),
             data: [("user", .string(user)), ("role", .string(role)), ("justification", .string("需要处理\(role)相关工作"))])
        openRequests.append((id, user, role))
    }

    private mutating func decideRequest() {
        guard !openRequests.isEmpty else { return }
        let request = openRequests.remove(at: random.below(openRequests.count))
        let admin = random.pick(admins)
        if random.below(4) == 0 || users[request.user]!.status != "active" {
            emit("access_request.rejected", actor: admin, subject: ("access_request", request.id), data: [("reason", .string("not needed for the job"))])
        } else {
            emit("access_request.approved", actor: admin, subject: ("access_request", request.id))
            assign(request.role, to: request.user, by: admin)
        }
    }

    private mutating func changeRoleGrants() {
        let role = random.pick(["customer_service", "finance_clerk"])
        let permission = random.pick(["customer.export", "invoice.view", "report.view"])
        let granted = random.below(2) == 0
        emit(granted ? "role.permission_granted" : "role.permission_revoked", actor: random.pick(admins), subject: ("role", role),
             data: [("permission", .string(permission)), ("scope", .string("all"))])
    }

    // MARK: - Sales orders

    private mutating func createOrder() {
        guard let rep = activeUser(where: { $0.roles.contains("sales_rep") }) else { return }
        let id = "SO-2026-" + pad(nextOrder, 6)
        nextOrder += 1
        let order = Order(owner: rep, amount: 100 * (1 + random.below(500)), customer: random.pick(Self.customers), administrator: moduleAdmin)
        emit("sales_order.created", actor: rep, subject: ("sales_order", id), changes: [
            ("customer", nil, .string(order.customer)), ("amount", nil, .number(String(order.amount))), ("currency", nil, .string("CNY")),
            ("status", nil, .string(order.status)), ("owner", nil, .string(rep)), ("administrator", nil, .string(order.administrator)),
        ])
        orders[id] = order
        orderIds.append(id)
    }

    /// Someone who may edit the order: its owner while they hold `sales_rep`, a manager of the owner's
    /// department, else the module admin.
    private mutating func editor(of order: Order) -> String {
        if let owner = users[order.owner], owner.status == "active", owner.roles.contains("sales_rep"), random.below(3) > 0 { return order.owner }
        if let manager = manager(of: users[order.owner]?.department ?? "") { return manager }
        return moduleAdmin
    }

    /// The department's manager while they are active and still hold the role (a review may take it).
    private func manager(of department: String) -> String? {
        guard let id = managers[department], let user = users[id], user.department == department, user.status == "active",
            user.roles.contains("sales_manager")
        else { return nil }
        return id
    }

    private mutating func editOrder() {
        guard let id = liveOrder(where: { $0.status != "closed" }) else { createOrder(); return }
        let order = orders[id]!
        let actor = editor(of: order)
        if random.below(3) == 0 {
            let customer = random.pick(Self.customers.filter { $0 != order.customer })
            emit("sales_order.updated", actor: actor, subject: ("sales_order", id), changes: [("customer", .string(order.customer), .string(customer))])
            orders[id]!.customer = customer
        } else {
            let amount = max(100, order.amount + 50 * (random.below(41) - 20))
            emit("sales_order.updated", actor: actor, subject: ("sales_order", id),
                 changes: [("amount", .number(String(order.amount)), .number(String(amount)))], reason: "CR-\(random.below(900) + 100) customer renegotiated")
            orders[id]!.amount = amount
        }
    }

    private mutating func approveOrder() {
        guard let id = liveOrder(where: { $0.status == "draft" || $0.status == "submitted" }) else { return }
        let order = orders[id]!
        if order.status == "draft" {
            emit("sales_order.updated", actor: editor(of: order), subject: ("sales_order", id), changes: [("status", .string("draft"), .string("submitted"))])
            orders[id]!.status = "submitted"
            return
        }
        let finance = userIds.first { users[$0]!.status == "active" && users[$0]!.roles.contains("finance_clerk") }
        let approver = manager(of: users[order.owner]?.department ?? "") ?? finance ?? moduleAdmin
        emit("sales_order.updated", actor: approver, subject: ("sales_order", id), changes: [("status", .string("submitted"), .string("approved"))])
        orders[id]!.status = "approved"
    }

    /// The seed article's procedure: the order module's administrator hands an order over to another.
    private mutating func handOverAdministrator() {
        guard let id = liveOrder(where: { _ in true }) else { return }
        let current = orders[id]!.administrator
        let successor = random.pick(admins + [moduleAdmin].filter { $0 != current })
        guard successor != current else { return }
        emit("sales_order.updated", actor: moduleAdmin, subject: ("sales_order", id), changes: [("administrator", .string(current), .string(successor))],
             reason: "系统管理员变更")
        orders[id]!.administrator = successor
    }

    private mutating func reassignOrder() {
        let people = users
        guard let id = liveOrder(where: { people[$0.owner]?.status != "active" }) ?? liveOrder(where: { _ in true }) else { return }
        let order = orders[id]!
        guard let rep = activeUser(where: { $0.roles.contains("sales_rep") }), rep != order.owner else { return }
        emit("sales_order.updated", actor: moduleAdmin, subject: ("sales_order", id), changes: [("owner", .string(order.owner), .string(rep))])
        orders[id]!.owner = rep
    }

    private mutating func deleteOrder() {
        guard let id = liveOrder(where: { $0.status == "draft" }) else { return }
        emit("sales_order.deleted", actor: moduleAdmin, subject: ("sales_order", id), reason: "duplicate entry")
        orders[id] = nil
    }

    /// Types the projector does not fold: stored and indexed all the same.
    private mutating func readOnlyNoise() {
        guard let id = liveOrder(where: { _ in true }), let viewer = activeUser(where: { !$0.roles.isEmpty }) else { return }
        emit("crm.report.exported", actor: viewer, subject: ("sales_order", id), data: [("format", .string("pdf"))])
    }

    // MARK: - Breaking policy

    private mutating func violation() {
        switch random.below(6) {
        case 0:  // unauthorized_change: a sales rep edits someone else's order
            guard let id = liveOrder(where: { _ in true }), let rep = activeUser(where: { $0.roles == ["sales_rep"] }), rep != orders[id]!.owner
            else { return }
            let order = orders[id]!
            emit("sales_order.updated", actor: rep, subject: ("sales_order", id), changes: [("amount", .number(String(order.amount)), .number(String(order.amount + 1)))])
            orders[id]!.amount += 1
        case 1:  // admin_granted_by_non_super_admin
            guard let user = activeUser(where: { $0.roles.contains("sales_rep") }) else { return }
            emit("user.admin_granted", actor: random.pick(admins), subject: ("user", user), data: [("level", .string("module_admin")), ("module", .string("customer"))])
        case 2:  // self_grant: an admin gives themself a role
            let admin = random.pick(admins)
            assign("finance_clerk", to: admin, by: admin)
        case 3:  // self_approval: a requester approves their own request
            guard let index = openRequests.indices.first(where: { users[openRequests[$0].user]!.status == "active" }) else { return }
            let request = openRequests.remove(at: index)
            emit("access_request.approved", actor: request.user, subject: ("access_request", request.id))
        case 4:  // inactive_actor: a disabled user still edits
            guard let user = disabled.first, let id = liveOrder(where: { $0.owner == user }) ?? liveOrder(where: { _ in true })
            else { return }
            let order = orders[id]!
            emit("sales_order.updated", actor: user, subject: ("sales_order", id), changes: [("customer", .string(order.customer), .string("Globex"))])
            orders[id]!.customer = "Globex"
        default:  // state_mismatch: the old value says the CRM changed it behind the ledger
            guard let id = liveOrder(where: { _ in true }) else { return }
            let order = orders[id]!
            let actor = editor(of: order)
            emit("sales_order.updated", actor: actor, subject: ("sales_order", id),
                 changes: [("amount", .number(String(order.amount + 999)), .number(String(order.amount + 1000)))])
            orders[id]!.amount += 1000
        }
    }

    private mutating func superAdminIncident() {
        lastIncident = count / 100_000
        emit("user.admin_revoked", actor: superAdmin, subject: ("user", superAdmin), data: [("level", .string("super_admin"))], reason: "cleaning up old rights")
        emit("user.admin_granted", actor: admins[0], subject: ("user", superAdmin), data: [("level", .string("super_admin"))], reason: "restore after mistake")
    }

    // MARK: - Helpers

    private mutating func activeUser(where accept: (User) -> Bool) -> String? {
        for _ in 0..<8 {
            let id = random.pick(userIds)
            if let user = users[id], user.status == "active", accept(user), !admins.contains(id), id != moduleAdmin { return id }
        }
        return nil
    }

    private mutating func liveOrder(where accept: (Order) -> Bool) -> String? {
        guard !orderIds.isEmpty else { return nil }
        for _ in 0..<8 {
            // Recent orders are edited more than old ones.
            let window = min(orderIds.count, 400)
            let id = orderIds[orderIds.count - 1 - random.below(window)]
            if let order = orders[id], accept(order) { return id }
        }
        return nil
    }

    private mutating func emit(
        _ type: String, actor: String, subject: (String, String), changes: [(String, JSONValue?, JSONValue?)] = [],
        data: [(String, JSONValue)] = [], reason: String? = nil
    ) {
        count += 1
        // Mostly forward; now and then an event stamped a little in the past (a skewed clock, a late upload).
        clock = clock.adding(milliseconds: 50 + random.below(3950))
        let time = random.below(200) == 0 ? clock.adding(milliseconds: -(60_000 + random.below(600_000))) : clock
        var members = [
            JSONMember("id", .string("evt-\(seed)-" + pad(count, 8))), JSONMember("type", .string(type)),
            JSONMember("time", .string(time.rfc3339(fractionDigits: 3))),
            JSONMember("actor", .object([
                JSONMember("id", .string(actor)),
                JSONMember("ip", .string("10.\(random.below(10)).\(random.below(256)).\(1 + random.below(254))")),
                JSONMember("via", .string(random.pick(["web", "web", "mobile", "api"]))),
            ])),
            JSONMember("subject", .object([JSONMember("type", .string(subject.0)), JSONMember("id", .string(subject.1))])),
            JSONMember("source", .string("crm-prod")),
        ]
        if !changes.isEmpty {
            members.append(JSONMember("changes", .array(changes.map { change in
                var c = [JSONMember("field", .string(change.0))]
                if let old = change.1 { c.append(JSONMember("old", old)) }
                if let new = change.2 { c.append(JSONMember("new", new)) }
                return .object(c)
            })))
        }
        if !data.isEmpty { members.append(JSONMember("data", .object(data.map { JSONMember($0.0, $0.1) }))) }
        if let reason { members.append(JSONMember("reason", .string(reason))) }
        if random.below(3) == 0 { members.append(JSONMember("requestId", .string("req-\(random.below(1_000_000))"))) }
        pending.append(.object(members))
    }
}

func pad(_ n: Int, _ width: Int) -> String {
    let digits = String(n)
    return String(repeating: "0", count: max(0, width - digits.count)) + digits
}

extension Instant {
    func adding(milliseconds: Int) -> Instant {
        var nanos = Int64(nanoseconds) + Int64(milliseconds % 1000) * 1_000_000
        var secs = seconds + Int64(milliseconds / 1000)
        if nanos >= 1_000_000_000 { nanos -= 1_000_000_000; secs += 1 }
        if nanos < 0 { nanos += 1_000_000_000; secs -= 1 }
        return Instant(seconds: secs, nanoseconds: Int32(nanos))
    }
}

/// SplitMix64: small, fast, and the same numbers on every platform (Swift's own generator is not
/// seedable, and asks the kernel at each call).
public struct SplitMix64 {
    private var state: UInt64
    public init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A number in 0..<n (n > 0).
    public mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }

    mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }
}
