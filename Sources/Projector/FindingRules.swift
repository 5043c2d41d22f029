import EventModel

/// The rules of spec 4, judged on the state just before the event.
extension ProjectionState {
    func judge(_ event: StoredEvent, policy: Policy) -> [Finding] {
        let e = event.envelope
        let actor = e.actor.id
        var out: [Finding] = []
        func add(_ kind: Finding.Kind, _ message: String, _ evidence: [UInt64]) {
            out.append(
                Finding(
                    kind: kind, seq: event.seq, time: e.instant, actor: actor, subject: e.subject, message: message,
                    evidence: Array(Set(evidence)).sorted()))
        }

        if let user = users[actor], user.status != .active {
            add(.inactiveActor, "\(actor) acted (\(e.type) on \(e.subject.id)) while \(user.status.rawValue).", user.statusSeq.map { [$0] } ?? [])
        }
        guard e.outcome == .success else { return out }

        let adminChange = e.type == "user.admin_granted" || e.type == "user.admin_revoked"
        if adminChange, !isSuperAdmin(actor) {
            let held = users[actor]?.admin.values.map { $0 } ?? []
            add(.adminGrantedByNonSuperAdmin,
                "\(actor), who is not a super admin, \(e.type == "user.admin_granted" ? "granted" : "revoked") \(e.dataString("level") ?? "an admin level") \(e.type == "user.admin_granted" ? "to" : "of") \(e.subject.id).",
                held)
        }
        if let requirement = requirement(for: e) {
            let via = paths(of: actor, to: requirement.permission)
            let widest = via.map(\.scope).max()
            if widest.map({ $0 < requirement.scope }) ?? true {
                let holds = widest.map { "holds \(requirement.permission) only with scope \($0.name)" } ?? "does not hold \(requirement.permission)"
                add(.unauthorizedChange,
                    "\(actor) made \(e.type) on \(e.subject.type) \(e.subject.id) but \(holds); this needed scope \(requirement.scope.name)\(requirement.because).",
                    via.flatMap(\.seqs) + requirement.evidence)
            }
        }
        let grantsToSelf = e.subject.type == "user" && utf8Equal(e.subject.id, actor)
            && ["user.role_assigned", "user.permission_granted", "user.admin_granted"].contains(e.type)
        if grantsToSelf {
            let what = e.dataString("role").map { "role \($0)" } ?? e.dataString("permission").map { "permission \($0)" }
                ?? "admin level \(e.dataString("level") ?? "")"
            add(.selfGrant, "\(actor) granted \(what) to themself.", paths(of: actor, to: "user.manage").flatMap(\.seqs))
        }
        if e.type == "access_request.approved", let request = requests[e.subject.id],
            utf8Equal(request.requester, actor) || utf8Equal(request.user, actor)
        {
            let who = utf8Equal(request.user, actor) ? "their own" : "a request they submitted for \(request.user), an"
            add(.selfApproval, "\(actor) approved \(who) access request \(e.subject.id).", [request.submittedSeq])
        }
        for (change, held) in mismatches(e) {
            add(.stateMismatch,
                "\(e.subject.type) \(e.subject.id): \(actor) changed \(change.field) from \(describe(change.old)) but the ledger holds \(describe(held?.value)); an edit bypassed the ledger.",
                held.map { [$0.seq] } ?? [])
        }
        if policy.requireApprovedRequest, let key = grantKey(e), !hasRecentApproval(key, before: e.instant) {
            add(.grantWithoutApproval,
                "\(actor) granted \(key.what) to \(e.subject.id) with no access request approved for it in the 30 days before.", [])
        }
        return out
    }

    /// The permission an event needs and the narrowest scope that allows it (spec 4).
    struct Requirement {
        var permission: String
        var scope: Scope
        var because: String
        var evidence: [UInt64]
    }

    func requirement(for e: Envelope) -> Requirement? {
        let actor = e.actor.id
        switch e.type {
        case "sales_order.created", "sales_order.updated", "sales_order.deleted":
            let permission: String
            if e.type == "sales_order.created" {
                permission = "sales_order.create"
            } else if e.type == "sales_order.deleted" {
                permission = "sales_order.delete"
            } else if e.changes.contains(where: { $0.field == "status" && $0.new?.stringValue == "approved" }) {
                permission = "sales_order.approve"
            } else {
                permission = "sales_order.edit"
            }
            let record = orders[e.subject.id]
            let owner = e.type == "sales_order.created"
                ? e.changes.last(where: { $0.field == "owner" })?.new?.stringValue : record?.owner
            let (scope, because) = neededScope(actor: actor, target: owner, targetDepartment: owner.flatMap { users[$0]?.department }, noun: "owned by")
            return Requirement(permission: permission, scope: scope, because: because, evidence: record?.fields["owner"].map { [$0.seq] } ?? [])
        case "user.admin_granted", "user.admin_revoked":
            return nil  // judged by admin_granted_by_non_super_admin
        case "access_request.submitted":
            return nil
        case "access_request.approved", "access_request.rejected", "access_review.completed":
            let target = e.type == "access_review.completed" ? e.subject.id : requests[e.subject.id]?.user
            let (scope, because) = neededScope(actor: actor, target: target, targetDepartment: target.flatMap { users[$0]?.department }, noun: "for")
            return Requirement(permission: "user.manage", scope: scope, because: because, evidence: [])
        default:
            if e.type.hasPrefix("user."), e.subject.type == "user", Catalog.isKnown(e.type) {
                let target = e.subject.id
                let department = e.type == "user.created"
                    ? e.changes.last(where: { $0.field == "department" })?.new?.stringValue : users[target]?.department
                let (scope, because) = neededScope(actor: actor, target: target, targetDepartment: department, noun: "for")
                return Requirement(permission: "user.manage", scope: scope, because: because, evidence: [])
            }
            if e.type.hasPrefix("role."), Catalog.isKnown(e.type) {
                // Roles belong to no one: any scope of role.manage allows it.
                return Requirement(permission: "role.manage", scope: .own, because: "", evidence: [])
            }
            return nil
        }
    }

    /// `own` when the target is the actor; `department` when they share a department; else `all`.
    private func neededScope(actor: String, target: String?, targetDepartment: String?, noun: String) -> (Scope, String) {
        guard let target else { return (.all, " (no owner is known)") }
        if utf8Equal(target, actor) { return (.own, "") }
        if let department = targetDepartment, let mine = users[actor]?.department, utf8Equal(department, mine) {
            return (.department, " (\(noun) \(target) of the same department, \(department))")
        }
        return (.all, " (\(noun) \(target)\(targetDepartment.map { " of department \($0)" } ?? ""))")
    }

    /// Changes whose `old` is not what the ledger holds, with what it holds.
    private func mismatches(_ e: Envelope) -> [(Envelope.Change, Fact?)] {
        let fields: [String: Fact]?
        switch e.type {
        case "sales_order.updated": fields = orders[e.subject.id]?.fields
        case "user.updated": fields = users[e.subject.id]?.fields
        case "role.updated": fields = roles[e.subject.id]?.fields
        default: return []
        }
        return e.changes.compactMap { change in
            guard let old = change.old else { return nil }
            let held = fields?[change.field]
            return jsonEquivalent(old, held?.value ?? .null) ? nil : (change, held)
        }
    }

    private func grantKey(_ e: Envelope) -> (key: String, what: String)? {
        switch e.type {
        case "user.role_assigned":
            return e.dataString("role").map { (e.subject.id + "\u{0}role:" + $0, "role \($0)") }
        case "user.permission_granted":
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
