import EventLog
import EventModel
import Hummingbird
import LedgerHTTP
import Projector
import Queries

/// A record as it stands (or stood), a user's access and what changed in it, a permission's
/// holders, a role: each answer with the events it rests on.
extension Console {
    func subject(_ request: Request, _ context: LedgerRequestContext, _ c: PageContext) async throws -> Response {
        try c.allow(["asOf", "field", "cursor"])
        let subject = Envelope.Subject(type: try pathString(context, "type", maxLength: 64), id: try pathString(context, "id"))
        let (asOf, field, cursor) = (try c.moment("asOf"), c["field"], c["cursor"])
        let (state, history) = try await api.run { api in
            (try api.queries.state(subject, asOf: asOf), try api.log.events(
                EventQuery(subjectType: subject.type, subjectId: subject.id, field: field, order: .desc, limit: Self.pageSize, cursor: cursor)))
        }
        if c.wantsBundle { return try await bundle(history.events) }
        let events = try history.events.map { try $0.decode() }
        let stateRows = state.fields.map { name, answer -> [HTML] in
            [
                "<code><bdi>\(name)</bdi></code>", c.value(answer.value.displayText), c.userLink(answer.lineage.actor), c.time(answer.lineage.time),
                c.eventLink(answer.lineage.seq),
                "<a href=\"\(URLPath(parts: ["subjects", subject.type, subject.id], query: [("field", name)]))\">\(c.t(.fieldHistory))</a>",
            ]
        }
        if c.wantsCSV {
            return try c.download([
                "state": CSVRows(
                    header: ["field", "value", "set_by", "set_at", "seq"],
                    rows: state.fields.map { [$0.name, $0.field.value.displayText, $0.field.lineage.actor, $0.field.lineage.time.utcText, String($0.field.lineage.seq)] }),
                "history": PageContext.eventsCSV(events),
            ])
        }
        let status: HTML =
            !state.exists ? "<p class=\"empty\">\(c.t(.noSuchRecordThen))</p>" : state.deleted ? "<p class=\"pending\">\(c.t(.deletedRecord))</p>" : .empty
        let fieldNote: HTML = field.map { "<p>\(c.t(.onlyField)) <code><bdi>\($0)</bdi></code> · <a href=\"\(URLPath(parts: ["subjects", subject.type, subject.id]))\">\(c.t(.allFields))</a></p>" } ?? .empty
        return c.respond(
            title: "\(subject.type)/\(subject.id)",
            """
            \(c.asOfForm())
            <p class="asof-shown">\(c.t(.asOf)): \(c.asOfText(asOf, echo: state.asOf))</p>
            \(status)
            \(c.table("state", caption: c.t(.currentState), headers: [c.t(.colField), c.t(.colValue), c.t(.setBy), c.t(.colTime), c.t(.colEvent), ""], rows: stateRows))
            \(fieldNote)
            \(c.eventsTable("history", caption: c.t(.historyTitle), events: events, more: c.nextPage(history.next)))
            """)
    }

    func user(_ request: Request, _ context: LedgerRequestContext, _ c: PageContext) async throws -> Response {
        try c.allow(["asOf", "from", "to"])
        let id = try pathString(context, "id")
        let asOf = try c.moment("asOf")
        let compare = c["from"] != nil || c["to"] != nil
        let (from, to) = (try c.zone.parseMoment(c["from"], field: "from", dayStarts: true), try c.moment("to"))
        if compare && c["from"] == nil {
            throw APIError(.badRequest, "invalid_parameter", "from is needed to compare two moments (to defaults to now)", field: "from")
        }
        let subject = Envelope.Subject(type: "user", id: id)
        let (access, state, asActor, asSubject, changes) = try await api.run { api in
            (
                try api.queries.access(user: id, asOf: asOf), try api.queries.state(subject, asOf: asOf),
                try api.log.events(EventQuery(actor: id, order: .desc, limit: 20)),
                try api.log.events(EventQuery(subjectType: "user", subjectId: id, order: .desc, limit: 20)),
                compare ? try api.queries.accessChanges(from: from, to: to, filter: .init(user: id)) : nil
            )
        }
        if c.wantsBundle { return try await bundle(c["table"] == "did" ? asActor.events : asSubject.events) }
        let did = try asActor.events.map { try $0.decode() }
        let done = try asSubject.events.map { try $0.decode() }
        let permissionRows = access.permissions.map { p -> [HTML] in
            [c.permissionLink(p.permission), "\(p.scope.name)", "<ul class=\"paths\">\(p.via.map { HTML("<li>\(c.path($0))</li>") })</ul>"]
        }
        let levelRows = access.adminLevels.map { l -> [HTML] in [c.value(levelName(l.level)), c.userLink(l.lineage.actor), c.time(l.lineage.time), c.eventLink(l.lineage.seq)] }
        let roleRows = access.roles.map { r -> [HTML] in [c.roleLink(r.role), c.userLink(r.lineage.actor), c.time(r.lineage.time), c.eventLink(r.lineage.seq)] }
        let changeRows = (changes?.changes ?? []).map { c.changeRow($0, withUser: false) }
        if c.wantsCSV {
            return try c.download([
                "permissions": CSVRows(
                    header: ["permission", "scope", "via"],
                    rows: access.permissions.map { [$0.permission, $0.scope.name, $0.via.map(PageContext.pathText).joined(separator: "; ")] }),
                "levels": CSVRows(
                    header: ["level", "granted_by", "granted_at", "seq"],
                    rows: access.adminLevels.map { [levelName($0.level), $0.lineage.actor, $0.lineage.time.utcText, String($0.lineage.seq)] }),
                "roles": CSVRows(
                    header: ["role", "assigned_by", "assigned_at", "seq"],
                    rows: access.roles.map { [$0.role, $0.lineage.actor, $0.lineage.time.utcText, String($0.lineage.seq)] }),
                "changes": PageContext.changesCSV(changes?.changes ?? [], withUser: false),
                "did": PageContext.eventsCSV(did), "done": PageContext.eventsCSV(done),
            ])
        }
        let facts = state.fields.map { name, answer in
            HTML("<dt><bdi>\(name)</bdi></dt><dd>\(c.value(answer.value.displayText)) <small>\(c.eventLink(answer.lineage.seq))</small></dd>")
        }
        let review: HTML = access.lastReview.map {
            "<dt>\(c.t(.lastReview))</dt><dd>\(c.value($0.decision)) · \(c.userLink($0.lineage.actor)) · \(c.time($0.lineage.time)) \(c.eventLink($0.lineage.seq))</dd>"
        } ?? .empty
        let compareSection: HTML = """
            <section><h2>\(c.t(.compareTitle))</h2>
            <form class="compare" method="get" action="\(URLPath("users", id))">
            <label>\(c.t(.from)) <input name="from" value="\(c["from"] ?? "")" placeholder="2026-03-01" required></label>
            <label>\(c.t(.to)) <input name="to" value="\(c["to"] ?? "")" placeholder="2026-03-31"></label>
            <button type="submit">\(c.t(.compare))</button>
            </form>
            \(changes.map { answer in
                c.table("changes", caption: "\(c.t(.changesBetween)) \(c.asOfText(from, echo: answer.from)) → \(c.asOfText(to, echo: answer.to))", headers: [c.t(.colChange), c.t(.colKind), c.t(.colName), c.t(.colScope), c.t(.causes)], rows: changeRows, empty: c.t(.noAccessChanges))
            })
            </section>
            """
        return c.respond(
            title: "\(c.t(.userTitle)) \(id)",
            """
            \(c.asOfForm())
            <p class="asof-shown">\(c.t(.asOf)): \(c.asOfText(asOf, echo: access.asOf))</p>
            \(access.exists ? HTML.empty : "<p class=\"empty\">\(c.t(.noSuchUserThen))</p>")
            <dl class="facts"><dt>\(c.t(.status))</dt><dd>\(access.status?.rawValue ?? "—")</dd>\(facts)\(review)</dl>
            \(c.table("permissions", caption: c.t(.effectivePermissions), headers: [c.t(.colPermission), c.t(.colScope), c.t(.grantedThrough)], rows: permissionRows))
            \(c.table("levels", caption: c.t(.adminLevels), headers: [c.t(.colLevel), c.t(.grantedBy), c.t(.colTime), c.t(.colEvent)], rows: levelRows))
            \(c.table("roles", caption: c.t(.roles), headers: [c.t(.colRole), c.t(.assignedBy), c.t(.colTime), c.t(.colEvent)], rows: roleRows))
            \(compareSection)
            \(c.eventsTable("did", caption: c.t(.whatTheyDid), events: did, more: moreLink(c, .init(actor: id))))
            \(c.eventsTable("done", caption: c.t(.doneToThem), events: done, more: moreLink(c, .init(subjectType: "user", subjectId: id))))
            """)
    }

    func permission(_ request: Request, _ context: LedgerRequestContext, _ c: PageContext) async throws -> Response {
        try c.allow(["asOf"])
        let permission = try pathString(context, "permission")
        guard Catalog.isPermission(permission) else {
            throw APIError(.badRequest, "invalid_parameter", "a permission is object.action, e.g. sales_order.approve", field: "permission")
        }
        let asOf = try c.moment("asOf")
        let answer = try await api.run { try $0.queries.holders(permission: permission, asOf: asOf) }
        if c.wantsCSV {
            return try c.download([
                "holders": CSVRows(
                    header: ["user", "scope", "via"], rows: answer.holders.map { [$0.user, $0.scope.name, $0.via.map(PageContext.pathText).joined(separator: "; ")] })
            ])
        }
        let shown = c.shown(answer.holders, in: "holders")
        let rows = shown.map { h -> [HTML] in
            [c.userLink(h.user), "\(h.scope.name)", "<ul class=\"paths\">\(h.via.map { HTML("<li>\(c.path($0))</li>") })</ul>"]
        }
        return c.respond(
            title: "\(c.t(.permissionTitle)) \(permission)",
            """
            \(c.asOfForm())
            <p class="asof-shown">\(c.t(.asOf)): \(c.asOfText(asOf, echo: answer.asOf)) · \(answer.holders.count) \(c.t(.holdersCount))</p>
            \(c.table("holders", caption: c.t(.holders), headers: [c.t(.colUser), c.t(.colScope), c.t(.grantedThrough)], rows: rows, total: answer.holders.count, offset: shown.startIndex, empty: c.t(.noHolders)))
            """)
    }

    func role(_ request: Request, _ context: LedgerRequestContext, _ c: PageContext) async throws -> Response {
        try c.allow(["asOf"])
        let id = try pathString(context, "id")
        let asOf = try c.moment("asOf")
        let window = c.wantsCSV ? nil : c.window("members")
        let answer = try await api.run { try $0.queries.role(id, asOf: asOf, members: window) }
        if c.wantsCSV {
            return try c.download([
                "grants": CSVRows(
                    header: ["permission", "scope", "granted_by", "granted_at", "seq"],
                    rows: answer.grants.map { [$0.permission, $0.scope.name, $0.lineage.actor, $0.lineage.time.utcText, String($0.lineage.seq)] }),
                "members": CSVRows(
                    header: ["user", "assigned_by", "assigned_at", "seq"],
                    rows: answer.members.map { [$0.user, $0.lineage.actor, $0.lineage.time.utcText, String($0.lineage.seq)] }),
            ])
        }
        let grants = answer.grants.map { g -> [HTML] in [c.permissionLink(g.permission), "\(g.scope.name)", c.userLink(g.lineage.actor), c.time(g.lineage.time), c.eventLink(g.lineage.seq)] }
        let members = answer.members.map { m -> [HTML] in [c.userLink(m.user), c.userLink(m.lineage.actor), c.time(m.lineage.time), c.eventLink(m.lineage.seq)] }
        let facts = answer.fields.map { name, field in HTML("<dt><bdi>\(name)</bdi></dt><dd>\(c.value(field.value.displayText)) <small>\(c.eventLink(field.lineage.seq))</small></dd>") }
        return c.respond(
            title: "\(c.t(.roleTitle)) \(id)",
            """
            \(c.asOfForm())
            <p class="asof-shown">\(c.t(.asOf)): \(c.asOfText(asOf, echo: answer.asOf))</p>
            \(answer.exists ? HTML("<dl class=\"facts\">\(facts)</dl>") : "<p class=\"empty\">\(c.t(.noSuchRoleThen))</p>")
            \(c.table("grants", caption: c.t(.grants), headers: [c.t(.colPermission), c.t(.colScope), c.t(.grantedBy), c.t(.colTime), c.t(.colEvent)], rows: grants))
            \(c.table("members", caption: c.t(.members), headers: [c.t(.colUser), c.t(.assignedBy), c.t(.colTime), c.t(.colEvent)], rows: members, total: answer.memberCount, offset: answer.membersOffset))
            <p><a href="\(URLPath("subjects", "role", id))">\(c.t(.historyTitle))</a></p>
            """)
    }

    /// "All of them" under a short list: the timeline with the same filter.
    func moreLink(_ c: PageContext, _ query: EventQuery) -> HTML {
        let url = URLPath("events", query: [("actor", query.actor), ("subjectType", query.subjectType), ("subjectId", query.subjectId)])
        return "<p class=\"paging\"><a href=\"\(url)\">\(c.t(.allInTimeline))</a></p>"
    }
}
