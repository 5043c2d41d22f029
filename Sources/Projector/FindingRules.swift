import EventModel

/// The rules of spec 4, judged on the state just before the event.
extension ProjectionState {
    /// Called for every event of a long fold: it looks each entity up once, and makes sentences,
    /// paths and evidence lists only for an event that breaks a rule.
    func judge(_ event: StoredEvent, kind: EventKind, policy: Policy) -> [Finding] {
        let e = event.envelope
        let actor = e.actor.id
        let actorState = users[actor]
        var out: [Finding] = []
        func add(_ kind: Finding.Kind, _ message: String, _ evidence: [UInt64]) {
            out.append(
                Finding(
                    kind: kind, seq: event.seq, time: e.instant, actor: actor, subject: e.subject, message: message,
                    evidence: Array(Set(evidence)).sorted()))
        }

        if let user = actorState, user.status != .active {
            add(.inactiveActor, "\(actor) acted (\(e.type) on \(e.subject.id)) while \(user.status.rawValue).", user.statusSeq.map { [$0] } ?? [])
        }
        guard e.outcome == .success else { return out }

        if kind == .userAdminGranted || kind == .userAdminRevoked, !Self.isSuperAdmin(actorState) {
            let held = actorState?.admin.values.map { $0 } ?? []
            add(.adminGrantedByNonSuperAdmin,
                "\(actor), who is not a super admin, \(kind == .userAdminGranted ? "granted" : "revoked") \(e.dataString("level") ?? "an admin level") \(kind == .userAdminGranted ? "to" : "of") \(e.subject.id).",
                held)
        }
        let record = kind.isSalesOrderChange ? orders[e.subject.id] : nil
        if let requirement = requirement(for: e, kind: kind, actorState: actorState, record: record),
            !holds(actorState, requirement.permission, atLeast: requirement.scope)
        {
            let via = paths(of: actor, to: requirement.permission)
            let holds = via.map(\.scope).max().map { "holds \(requirement.permission) only with scope \($0.name)" }
                ?? "does not hold \(requirement.permission)"
            add(.unauthorizedChange,
                "\(actor) made \(e.type) on \(e.subject.type) \(e.subject.id) but \(holds); this needed scope \(requirement.scope.name)\(requirement.because()).",
                via.flatMap(\.seqs) + (requirement.ownerSeq.map { [$0] } ?? []))
        }
        if kind.grantsSomething, utf8Equal(e.subject.id, actor), e.subject.type == "user" {
            let what = e.dataString("role").map { "role \($0)" } ?? e.dataString("permission").map { "permission \($0)" }
                ?? "admin level \(e.dataString("level") ?? "")"
            add(.selfGrant, "\(actor) granted \(what) to themself.", paths(of: actor, to: "user.manage").flatMap(\.seqs))
        }
        if kind == .accessRequestApproved, let request = requests[e.subject.id],
            utf8Equal(request.requester, actor) || utf8Equal(request.user, actor)
        {
            let who = utf8Equal(request.user, actor) ? "their own" : "a request they submitted for \(request.user), an"
            add(.selfApproval, "\(actor) approved \(who) access request \(e.subject.id).", [request.submittedSeq])
        }
        if kind == .salesOrderUpdated || kind == .userUpdated || kind == .roleUpdated {
            // An order's fields are read by name in place; a user's or role's (rarer) as a dictionary.
            let fields = kind == .salesOrderUpdated ? nil : kind == .userUpdated ? users[e.subject.id]?.fields : roles[e.subject.id]?.fields
            for change in e.changes {
                guard let old = change.old else { continue }
                let held = kind == .salesOrderUpdated ? record?[field: change.field] : fields?[change.field]
                if jsonEquivalent(old, held?.value ?? .null) { continue }
                add(.stateMismatch,
                    "\(e.subject.type) \(e.subject.id): \(actor) changed \(change.field) from \(describe(change.old)) but the ledger holds \(describe(held?.value)); an edit bypassed the ledger.",
                    held.map { [$0.seq] } ?? [])
            }
        }
        if policy.requireApprovedRequest, let key = grantKey(e, kind: kind), !hasRecentApproval(key, before: e.instant) {
            add(.grantWithoutApproval,
                "\(actor) granted \(key.what) to \(e.subject.id) with no access request approved for it in the 30 days before.", [])
        }
        return out
    }

    /// The permission an event needs and the narrowest scope that allows it (spec 4), with what the
    /// sentence of a finding says about why (made only when a finding needs it).
    struct Requirement {
        var permission: String
        var scope: Scope
        var reason: ScopeReason
        /// The event that set the record's owner, the finding's evidence (not an array: most events
        /// make no finding, and an array was one allocation an order event).
        var ownerSeq: UInt64? = nil

        func because() -> String {
            switch reason {
            case .none: ""
            case .noOwner: " (no owner is known)"
            case .sameDepartment(let noun, let target, let department): " (\(noun) \(target) of the same department, \(department))"
            case .other(let noun, let target, let department): " (\(noun) \(target)\(department.map { " of department \($0)" } ?? ""))"
            }
        }
    }

    enum ScopeReason {
        case none, noOwner
        case sameDepartment(noun: String, target: String, department: String)
        case other(noun: String, target: String, department: String?)
    }

    func requirement(for e: Envelope, kind: EventKind, actorState: UserState?, record: RecordState?) -> Requirement? {
        let actor = e.actor.id
        let actorDepartment = actorState?.department
        switch kind {
        case .salesOrderCreated, .salesOrderUpdated, .salesOrderDeleted:
            let permission: String
            if kind == .salesOrderCreated {
                permission = "sales_order.create"
            } else if kind == .salesOrderDeleted {
                permission = "sales_order.delete"
            } else if e.changes.contains(where: { $0.field == "status" && $0.new?.stringValue == "approved" }) {
                permission = "sales_order.approve"
            } else {
                permission = "sales_order.edit"
            }
            let ownerFact = record?[field: "owner"]
            let owner = kind == .salesOrderCreated ? e.changes.last(where: { $0.field == "owner" })?.new?.stringValue : ownerFact?.value.stringValue
            let (scope, reason) = neededScope(
                actor: actor, actorDepartment: actorDepartment, target: owner, targetDepartment: { users[$0]?.department }, noun: "owned by")
            return Requirement(permission: permission, scope: scope, reason: reason, ownerSeq: ownerFact?.seq)
        case .userAdminGranted, .userAdminRevoked:
            return nil  // judged by admin_granted_by_non_super_admin
        case .accessRequestSubmitted, .other:
            return nil
        case .accessRequestApproved, .accessRequestRejected, .accessReviewCompleted:
            let target = kind == .accessReviewCompleted ? e.subject.id : requests[e.subject.id]?.user
            let (scope, reason) = neededScope(
                actor: actor, actorDepartment: actorDepartment, target: target, targetDepartment: { users[$0]?.department }, noun: "for")
            return Requirement(permission: "user.manage", scope: scope, reason: reason)
        default:
            if kind.isUserChange, e.subject.type == "user" {
                let target = e.subject.id
                let (scope, reason) = neededScope(
                    actor: actor, actorDepartment: actorDepartment, target: target,
                    targetDepartment: { target in
                        kind == .userCreated ? e.changes.last(where: { $0.field == "department" })?.new?.stringValue : users[target]?.department
                    }, noun: "for")
                return Requirement(permission: "user.manage", scope: scope, reason: reason)
            }
            if kind.isRoleChange {
                // Roles belong to no one: any scope of role.manage allows it.
                return Requirement(permission: "role.manage", scope: .own, reason: .none)
            }
            return nil
        }
    }

    /// Whether a user holds a permission with at least `scope`, as `paths` would find it, without
    /// making the paths. It stops at the first path wide enough: most changes need only `own`, which
    /// any path gives.
    func holds(_ user: UserState?, _ permission: String, atLeast scope: Scope) -> Bool {
        guard let user, user.status == .active else { return false }
        if !user.direct.isEmpty, let grant = user.direct[permission], !(grant.scope < scope) { return true }
        let key = TableKey(permission)
        for role in user.roles.keys {
            guard let state = roles[role], state.isLive, let grant = state.grant(key) else { continue }
            if !(grant.scope < scope) { return true }
        }
        return user.admin.keys.contains { $0.covers(permission) }
    }

    /// `own` when the target is the actor; `department` when they share a department; else `all`.
    /// The target's department is looked up only when the target is someone else (most edits are
    /// of one's own records).
    private func neededScope(
        actor: String, actorDepartment: String?, target: String?, targetDepartment: (String) -> String?, noun: String
    ) -> (Scope, ScopeReason) {
        guard let target else { return (.all, .noOwner) }
        if utf8Equal(target, actor) { return (.own, .none) }
        let department = targetDepartment(target)
        if let department, let mine = actorDepartment, utf8Equal(department, mine) {
            return (.department, .sameDepartment(noun: noun, target: target, department: department))
        }
        return (.all, .other(noun: noun, target: target, department: department))
    }

    private func grantKey(_ e: Envelope, kind: EventKind) -> (key: String, what: String)? {
        switch kind {
        case .userRoleAssigned:
            return e.dataString("role").map { (e.subject.id + "\u{0}role:" + $0, "role \($0)") }
        case .userPermissionGranted:
            return e.dataString("permission").map { (e.subject.id + "\u{0}permission:" + $0, "permission \($0)") }
        default:
            return nil
        }
    }

    private func hasRecentApproval(_ key: (key: String, what: String), before time: Instant) -> Bool {
        let windowStart = Instant(seconds: time.seconds - 30 * 86400, nanoseconds: time.nanoseconds)
        return approvals[key.key]?.times.contains { !($0 < windowStart) && !(time < $0) } ?? false
    }
}

/// A JSON value as a short text for messages.
func describe(_ value: JSONValue?) -> String {
    guard let value else { return "nothing" }
    let text = String(decoding: CanonicalJSON.encode(value), as: UTF8.self)
    return text.count > 80 ? String(text.prefix(77)) + "…" : text
}
