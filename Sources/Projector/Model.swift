import EventModel

/// The reach of a grant over record-level data; the widest wins.
public enum Scope: Int, Comparable, Sendable, CaseIterable {
    case own = 0, department = 1, all = 2

    public init?(name: String) {
        switch name {
        case "own": self = .own
        case "department": self = .department
        case "all": self = .all
        default: return nil
        }
    }

    public var name: String {
        switch self {
        case .own: "own"
        case .department: "department"
        case .all: "all"
        }
    }

    public static func < (a: Scope, b: Scope) -> Bool { a.rawValue < b.rawValue }
}

public enum UserStatus: String, Sendable {
    case active, disabled, offboarded
}

/// `super_admin`, `admin`, or `module_admin` of one module.
public struct AdminLevel: Hashable, Sendable, Comparable {
    public var level: String
    public var module: String?

    public init(level: String, module: String? = nil) {
        self.level = level
        self.module = module
    }

    public static let superAdmin = AdminLevel(level: "super_admin")

    /// Whether this level gives `permission` (spec 2): super admin everything; admin `user.manage`,
    /// `role.manage` and every `*.view`; a module admin every `module.*`.
    public func covers(_ permission: String) -> Bool {
        switch level {
        case "super_admin": return true
        case "admin": return permission == "user.manage" || permission == "role.manage" || permission.hasSuffix(".view")
        case "module_admin":
            // `module.` as a prefix, compared as bytes without making the prefix string.
            guard let module else { return false }
            let object = permission.utf8.prefix { $0 != UInt8(ascii: ".") }
            return object.count < permission.utf8.count && object.elementsEqual(module.utf8)
        default: return false
        }
    }

    /// Every level that covers `permission`, in order: super admin, admin for what it covers, the
    /// module admin of the permission's object (the catalog admits no other level).
    public static func covering(_ permission: String) -> [AdminLevel] {
        let object = String(permission.prefix { $0 != "." })
        return [AdminLevel(level: "admin"), AdminLevel(level: "module_admin", module: object), .superAdmin]
            .filter { $0.covers(permission) }.sorted()
    }

    public static func < (a: AdminLevel, b: AdminLevel) -> Bool {
        (a.level, a.module ?? "") < (b.level, b.module ?? "")
    }
}

/// A value and the event that set it; the event's actor and time complete the lineage.
public struct Fact: Sendable, Equatable {
    public var value: JSONValue
    public var seq: UInt64

    public init(value: JSONValue, seq: UInt64) {
        self.value = value
        self.seq = seq
    }
}

public struct Grant: Sendable, Equatable {
    public var scope: Scope
    public var seq: UInt64

    public init(scope: Scope, seq: UInt64) {
        self.scope = scope
        self.seq = seq
    }
}

/// A user as the fold knows them. Its parts live in one copy-on-write box: the fold copies the user
/// it looks up at nearly every event, and with four dictionaries and a string held directly each
/// copy and each release touched five references.
public struct UserState: Sendable, Equatable {
    private var box: Box

    public init(createdSeq: UInt64? = nil) { box = Box(createdSeq: createdSeq) }

    public var createdSeq: UInt64? {
        get { box.createdSeq }
        set { unique().createdSeq = newValue }
    }
    public var fields: [String: Fact] {
        _read { yield box.fields }
        _modify {
            let box = unique()
            defer { box.department = box.fields["department"]?.value.stringValue }
            yield &box.fields
        }
    }
    public var status: UserStatus {
        get { box.status }
        set { unique().status = newValue }
    }
    /// The event that set the status (nil: active since creation).
    public var statusSeq: UInt64? {
        get { box.statusSeq }
        set { unique().statusSeq = newValue }
    }
    /// Role → the assignment event.
    public var roles: [String: UInt64] {
        _read { yield box.roles }
        _modify { yield &unique().roles }
    }
    /// Permission → direct grant.
    public var direct: [String: Grant] {
        _read { yield box.direct }
        _modify { yield &unique().direct }
    }
    /// Level → the grant event.
    public var admin: [AdminLevel: UInt64] {
        _read { yield box.admin }
        _modify { yield &unique().admin }
    }
    /// The last access review: (seq, decision).
    public var lastReview: (seq: UInt64, decision: String)? {
        get { box.lastReview }
        set { unique().lastReview = newValue }
    }
    /// The last event that assigned or took away a role (`stale_access` asks whether roles followed a move).
    public var rolesChangedSeq: UInt64? {
        get { box.rolesChangedSeq }
        set { unique().rolesChangedSeq = newValue }
    }

    /// Kept beside the fields: the rules ask for the actor's department and the target's at most
    /// events, and users' fields change far less often.
    public var department: String? { box.department }

    /// The box, copied first if another user value shares it.
    private mutating func unique() -> Box {
        if !isKnownUniquelyReferenced(&box) { box = box.copy() }
        return box
    }

    /// Mutated only through `unique()`, so never while another value can see it.
    private final class Box: @unchecked Sendable {
        var createdSeq: UInt64?
        var fields: [String: Fact] = [:]
        var department: String?
        var status: UserStatus = .active
        var statusSeq: UInt64?
        var roles: [String: UInt64] = [:]
        var direct: [String: Grant] = [:]
        var admin: [AdminLevel: UInt64] = [:]
        var lastReview: (seq: UInt64, decision: String)?
        var rolesChangedSeq: UInt64?

        init(createdSeq: UInt64?) { self.createdSeq = createdSeq }

        func copy() -> Box {
            let other = Box(createdSeq: createdSeq)
            other.fields = fields
            other.department = department
            other.status = status
            other.statusSeq = statusSeq
            other.roles = roles
            other.direct = direct
            other.admin = admin
            other.lastReview = lastReview
            other.rolesChangedSeq = rolesChangedSeq
            return other
        }
    }

    public static func == (a: UserState, b: UserState) -> Bool {
        if a.box === b.box { return true }
        return a.createdSeq == b.createdSeq && a.fields == b.fields && a.status == b.status && a.statusSeq == b.statusSeq
            && a.roles == b.roles && a.direct == b.direct && a.admin == b.admin
            && a.lastReview?.seq == b.lastReview?.seq && a.lastReview?.decision == b.lastReview?.decision
            && a.rolesChangedSeq == b.rolesChangedSeq
    }
}

/// A role as the fold knows it, its parts in one copy-on-write box as a user's are: the rules look up
/// each of the actor's roles at most events.
public struct RoleState: Sendable, Equatable {
    private var box: Box

    public init(createdSeq: UInt64? = nil, deletedSeq: UInt64? = nil, fields: [String: Fact] = [:], grants: [String: Grant] = [:]) {
        box = Box(createdSeq: createdSeq, deletedSeq: deletedSeq, fields: fields, grants: [TableKey: Grant](byId: grants))
    }

    public var createdSeq: UInt64? {
        get { box.createdSeq }
        set { unique().createdSeq = newValue }
    }
    public var deletedSeq: UInt64? {
        get { box.deletedSeq }
        set { unique().deletedSeq = newValue }
    }
    public var fields: [String: Fact] {
        _read { yield box.fields }
        _modify { yield &unique().fields }
    }
    /// Permission → the role's grant, as a dictionary for answers (made anew at each read). The
    /// fold reads and changes one grant by name (`grant(_:)`, `setGrant`): the rules ask each of the
    /// actor's roles for a permission at most events, and the grants are keyed by `TableKey`.
    public var grants: [String: Grant] {
        get { box.grants.byId }
        set { unique().grants = [TableKey: Grant](byId: newValue) }
    }

    /// The grants as the box keys them, for the stored form.
    var grantsByKey: [TableKey: Grant] {
        get { box.grants }
        set { unique().grants = newValue }
    }

    public func grant(_ permission: String) -> Grant? { box.grants[TableKey(permission)] }

    /// The same, for a permission asked of several roles: its key is made once.
    func grant(_ permission: TableKey) -> Grant? { box.grants[permission] }

    mutating func setGrant(_ permission: String, _ grant: Grant?) { unique().grants[TableKey(permission)] = grant }

    /// Live: created (or only ever referenced) and not deleted since.
    public var isLive: Bool { box.deletedSeq == nil }

    /// The box, copied first if another role value shares it.
    private mutating func unique() -> Box {
        if !isKnownUniquelyReferenced(&box) { box = box.copy() }
        return box
    }

    /// Mutated only through `unique()`, so never while another value can see it.
    private final class Box: @unchecked Sendable {
        var createdSeq: UInt64?
        var deletedSeq: UInt64?
        var fields: [String: Fact]
        var grants: [TableKey: Grant]

        init(createdSeq: UInt64?, deletedSeq: UInt64?, fields: [String: Fact], grants: [TableKey: Grant]) {
            self.createdSeq = createdSeq
            self.deletedSeq = deletedSeq
            self.fields = fields
            self.grants = grants
        }

        func copy() -> Box { Box(createdSeq: createdSeq, deletedSeq: deletedSeq, fields: fields, grants: grants) }
    }

    public static func == (a: RoleState, b: RoleState) -> Bool {
        a.box === b.box || (a.createdSeq == b.createdSeq && a.deletedSeq == b.deletedSeq && a.fields == b.fields && a.box.grants == b.box.grants)
    }
}

/// A business record (a sales order): its fields, each with the event that set it.
public struct RecordState: Sendable, Equatable {
    public var createdSeq: UInt64?
    public var deletedSeq: UInt64?
    /// Keyed by `TableKey`, not `String`: most events of a ledger edit an order, and the fold reads
    /// and writes its fields by name at each of them.
    var facts: [TableKey: Fact] = [:]

    public init(createdSeq: UInt64? = nil, deletedSeq: UInt64? = nil) {
        self.createdSeq = createdSeq
        self.deletedSeq = deletedSeq
    }

    /// Every field, for answers (made anew at each read).
    public var fields: [String: Fact] { facts.byId }

    public subscript(field name: String) -> Fact? {
        get { facts[TableKey(name)] }
        set { facts[TableKey(name)] = newValue }
    }

    public var owner: String? { self[field: "owner"]?.value.stringValue }
}

public struct RequestState: Sendable, Equatable {
    public enum Outcome: String, Sendable { case pending, approved, rejected }
    public var user: String
    public var role: String?
    public var permission: String?
    public var scope: Scope?
    /// Who submitted it.
    public var requester: String
    public var submittedSeq: UInt64
    public var submittedTime = Instant(seconds: 0)
    public var justification: String?
    public var outcome: Outcome = .pending
    public var decisionSeq: UInt64?
    public var decisionTime: Instant?
    /// Who approved or rejected it, and why, as the event said.
    public var decider: String?
    public var decisionReason: String?
}

/// The permissions every admin level is expanded over, besides those named in the ledger.
public let standardPermissions: [String] = [
    "sales_order.view", "sales_order.create", "sales_order.edit", "sales_order.delete", "sales_order.approve",
    "customer.view", "user.manage", "role.manage",
]
