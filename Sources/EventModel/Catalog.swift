/// The event types the projector understands (spec 3.3): their subject type and the shape of
/// their `data`. Every other type is stored and indexed all the same.
public enum Catalog {
    enum DataShape {
        /// No `data` (absent or `{}`).
        case none
        /// `permission`, `scope`?
        case permissionGrant
        /// `role`
        case role
        /// `level`, `module`? (required for `module_admin`)
        case adminLevel
        /// `user`, one of `role` / `permission`, `scope`?, `justification`
        case requestSubmission
        /// `reason`?
        case requestDecision
        /// `decision` (`kept`/`revoked`), `notes`?
        case review
    }

    public static let scopes: Set<String> = ["own", "department", "all"]
    public static let adminLevels: Set<String> = ["super_admin", "admin", "module_admin"]

    static let rules: [String: (subject: String, data: DataShape)] = [
        "user.created": ("user", .none), "user.updated": ("user", .none),
        "user.disabled": ("user", .none), "user.enabled": ("user", .none), "user.offboarded": ("user", .none),
        "role.created": ("role", .none), "role.updated": ("role", .none), "role.deleted": ("role", .none),
        "role.permission_granted": ("role", .permissionGrant), "role.permission_revoked": ("role", .permissionGrant),
        "user.role_assigned": ("user", .role), "user.role_revoked": ("user", .role),
        "user.permission_granted": ("user", .permissionGrant), "user.permission_revoked": ("user", .permissionGrant),
        "user.admin_granted": ("user", .adminLevel), "user.admin_revoked": ("user", .adminLevel),
        "access_request.submitted": ("access_request", .requestSubmission),
        "access_request.approved": ("access_request", .requestDecision),
        "access_request.rejected": ("access_request", .requestDecision),
        "access_review.completed": ("user", .review),
        "sales_order.created": ("sales_order", .none), "sales_order.updated": ("sales_order", .none),
        "sales_order.deleted": ("sales_order", .none),
    ]

    /// Every type the projector folds, sorted.
    public static var knownTypes: [String] { rules.keys.sorted() }

    /// The subject types of those events: `user`, `role`, `access_request`, `sales_order`.
    public static var subjectTypes: Set<String> { Set(rules.values.map(\.subject)) }

    /// Whether the projector folds this type.
    public static func isKnown(_ type: String) -> Bool { rules[type] != nil }

    /// A valid event type (spec 3.1).
    public static func isType(_ s: String) -> Bool { s.utf8.count <= 64 && isDottedName(s, minSegments: 2) }

    /// A type filter of a query: an exact type, or a prefix as `isTypePrefix` says.
    public static func isTypeFilter(_ s: String) -> Bool { s.hasSuffix("*") ? isTypePrefix(s) : isType(s) }

    /// A type prefix for queries: whole segments (`user.*`, `crm.audit.*`) or the start of an action
    /// (`user.admin_*`: `user.admin_granted` and `user.admin_revoked`).
    public static func isTypePrefix(_ s: String) -> Bool {
        guard s.hasSuffix("*"), s.utf8.count <= 66 else { return false }
        let body = s.dropLast()
        if body.hasSuffix(".") { return isDottedName(String(body.dropLast()), minSegments: 1) }
        return isDottedName(String(body), minSegments: 2)
    }

    /// `object.action`, e.g. `sales_order.approve`.
    public static func isPermission(_ s: String) -> Bool { s.utf8.count <= 128 && isDottedName(s, minSegments: 2, maxSegments: 2) }

    static func check(_ envelope: Envelope, _ check: inout Checker) throws(ValidationError) {
        guard let rule = rules[envelope.type] else { return }
        guard envelope.subject.type == rule.subject else {
            throw check.error(
                .invalidField, "\(envelope.type) needs subject.type \(rule.subject), not \(envelope.subject.type)",
                field: "subject.type")
        }
        let data = envelope.data.map { JSONValue.object($0) } ?? .object([])
        var allowed: Set<String> = []
        func required(_ key: String, maxLength: Int = 128) throws(ValidationError) -> String {
            allowed.insert(key)
            return try check.requiredString(data[key], "data.\(key)", maxLength: maxLength)
        }
        func optional(_ key: String, maxLength: Int = 128) throws(ValidationError) -> String? {
            allowed.insert(key)
            guard let value = data[key] else { return nil }
            return try check.requiredString(value, "data.\(key)", minLength: 0, maxLength: maxLength)
        }
        func permission(_ key: String) throws(ValidationError) {
            let p = try required(key)
            guard isPermission(p) else {
                throw check.error(.invalidField, "data.\(key) must be object.action, e.g. sales_order.edit", field: "data.\(key)")
            }
        }
        func scope() throws(ValidationError) {
            if let s = try optional("scope"), !scopes.contains(s) {
                throw check.error(.invalidField, "data.scope must be one of own, department, all", field: "data.scope")
            }
        }

        switch rule.data {
        case .none:
            break
        case .permissionGrant:
            try permission("permission")
            try scope()
        case .role:
            _ = try required("role")
        case .adminLevel:
            let level = try required("level")
            guard adminLevels.contains(level) else {
                throw check.error(.invalidField, "data.level must be one of super_admin, admin, module_admin", field: "data.level")
            }
            let module = try optional("module")
            if level == "module_admin" {
                guard let module, isDottedName(module, minSegments: 1, maxSegments: 1) else {
                    throw check.error(
                        .invalidField, "data.module is required for module_admin and must name an object, e.g. sales_order",
                        field: "data.module")
                }
            } else if module != nil {
                throw check.error(.invalidField, "data.module goes only with level module_admin", field: "data.module")
            }
        case .requestSubmission:
            _ = try required("user")
            _ = try required("justification", maxLength: EnvelopeValidator.maxTextLength)
            let hasRole = data["role"] != nil
            let hasPermission = data["permission"] != nil
            guard hasRole != hasPermission else {
                throw check.error(.invalidField, "data must name exactly one of role or permission", field: "data")
            }
            if hasRole {
                _ = try required("role")
                if data["scope"] != nil {
                    throw check.error(.invalidField, "data.scope goes only with a permission", field: "data.scope")
                }
            } else {
                try permission("permission")
                try scope()
            }
        case .requestDecision:
            _ = try optional("reason", maxLength: EnvelopeValidator.maxTextLength)
        case .review:
            let decision = try required("decision")
            guard decision == "kept" || decision == "revoked" else {
                throw check.error(.invalidField, "data.decision must be kept or revoked", field: "data.decision")
            }
            _ = try optional("notes", maxLength: EnvelopeValidator.maxTextLength)
        }
        for member in envelope.data ?? [] where !allowed.contains(member.key) {
            throw check.error(
                .unknownField, "unknown field \"data.\(member.key.prefix(64))\" for \(envelope.type)",
                field: "data.\(member.key.prefix(64))")
        }
    }
}
