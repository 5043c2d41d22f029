/// The event types the fold understands (spec 3.3), told once per event: a fold then switches on
/// a small enum instead of comparing the type string against every case.
enum EventKind: UInt8, CaseIterable {
    case userCreated, userUpdated, userDisabled, userEnabled, userOffboarded
    case roleCreated, roleUpdated, roleDeleted, rolePermissionGranted, rolePermissionRevoked
    case userRoleAssigned, userRoleRevoked, userPermissionGranted, userPermissionRevoked
    case userAdminGranted, userAdminRevoked
    case accessRequestSubmitted, accessRequestApproved, accessRequestRejected, accessReviewCompleted
    case salesOrderCreated, salesOrderUpdated, salesOrderDeleted
    /// Stored and indexed, but nothing to fold.
    case other

    var type: String {
        switch self {
        case .userCreated: "user.created"
        case .userUpdated: "user.updated"
        case .userDisabled: "user.disabled"
        case .userEnabled: "user.enabled"
        case .userOffboarded: "user.offboarded"
        case .roleCreated: "role.created"
        case .roleUpdated: "role.updated"
        case .roleDeleted: "role.deleted"
        case .rolePermissionGranted: "role.permission_granted"
        case .rolePermissionRevoked: "role.permission_revoked"
        case .userRoleAssigned: "user.role_assigned"
        case .userRoleRevoked: "user.role_revoked"
        case .userPermissionGranted: "user.permission_granted"
        case .userPermissionRevoked: "user.permission_revoked"
        case .userAdminGranted: "user.admin_granted"
        case .userAdminRevoked: "user.admin_revoked"
        case .accessRequestSubmitted: "access_request.submitted"
        case .accessRequestApproved: "access_request.approved"
        case .accessRequestRejected: "access_request.rejected"
        case .accessReviewCompleted: "access_review.completed"
        case .salesOrderCreated: "sales_order.created"
        case .salesOrderUpdated: "sales_order.updated"
        case .salesOrderDeleted: "sales_order.deleted"
        case .other: ""
        }
    }

    /// Keyed by `TableKey`: told at every event, and `String`'s hash was a twentieth of the follower.
    private static let byType: [TableKey: EventKind] = Dictionary(
        uniqueKeysWithValues: allCases.filter { $0 != .other }.map { (TableKey($0.type), $0) })

    init(_ type: String) { self = Self.byType[TableKey(type)] ?? .other }

    /// A user's own record changes (what `unauthorized_change` checks against `user.manage`).
    var isUserChange: Bool { rawValue <= EventKind.userOffboarded.rawValue || (self >= .userRoleAssigned && self <= .userPermissionRevoked) }

    var isRoleChange: Bool { self >= .roleCreated && self <= .rolePermissionRevoked }

    var isSalesOrderChange: Bool { self >= .salesOrderCreated && self <= .salesOrderDeleted }

    /// Grants that `self_grant` looks at.
    var grantsSomething: Bool { self == .userRoleAssigned || self == .userPermissionGranted || self == .userAdminGranted }

    static func >= (a: EventKind, b: EventKind) -> Bool { a.rawValue >= b.rawValue }
    static func <= (a: EventKind, b: EventKind) -> Bool { a.rawValue <= b.rawValue }
}
