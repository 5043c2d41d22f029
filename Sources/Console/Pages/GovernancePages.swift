import EventModel
import Hummingbird
import LedgerHTTP
import Projector
import Queries

/// Access governance (issue 14): who gained or lost what between two moments across the
/// organization, the signed review report, and the permission requests. The same questions as
/// the API, with its parameter names and checks (`QueryParameters`), moments in the reader's zone.
extension Console {
    func accessChanges(_ request: Request, _ context: LedgerRequestContext, _ c: PageContext) async throws -> Response {
        try c.allow(["from", "to", "user", "permission", "role", "department"])
        let filter = try QueryParameters(values: c.fields).changeFilter()
        let (from, to) = (try c.zone.parseMoment(c["from"], field: "from", dayStarts: true), try c.moment("to"))
        if c["from"] == nil && (c["to"] != nil || c.wantsCSV) {
            throw APIError(.badRequest, "invalid_parameter", "from is needed to compare two moments (to defaults to now)", field: "from")
        }
        let answer = c["from"] == nil ? nil : try await api.run { try $0.queries.accessChanges(from: from, to: to, filter: filter) }
        if c.wantsCSV { return try c.download(["changes": PageContext.changesCSV(answer?.changes ?? [], withUser: true)]) }
        let narrowing = [("user", Text.colUser), ("permission", .colPermission), ("role", .colRole), ("department", .colDepartment)].map { name, label in
            HTML("<label>\(c.t(label)) <input name=\"\(name)\" value=\"\(c[name] ?? "")\"></label>")
        }
        let results: HTML = answer.map { answer -> HTML in
            let shown = c.shown(answer.changes, in: "changes")
            return c.table(
                "changes", caption: "\(c.t(.changesBetween)) \(c.asOfText(from, echo: answer.from)) → \(c.asOfText(to, echo: answer.to))",
                headers: [c.t(.colUser), c.t(.colChange), c.t(.colKind), c.t(.colName), c.t(.colScope), c.t(.causes)],
                rows: shown.map { c.changeRow($0, withUser: true) }, total: answer.changes.count, offset: shown.startIndex, empty: c.t(.noAccessChanges))
        } ?? .empty
        return c.respond(
            title: c.t(.accessChangesTitle),
            """
            <p>\(c.t(.accessChangesExplain))</p>
            <form class="filters" method="get" action="/ui/access/changes">
            <label>\(c.t(.from)) <input name="from" value="\(c["from"] ?? "")" placeholder="2026-03-01" required></label>
            <label>\(c.t(.to)) <input name="to" value="\(c["to"] ?? "")" placeholder="2026-03-31"></label>
            \(narrowing)
            <button type="submit">\(c.t(.compare))</button>
            <small>\(c.t(.momentHint)) \(c.zone.identifier)</small>
            </form>
            \(results)
            """)
    }

    func reviewReport(_ request: Request, _ context: LedgerRequestContext, _ c: PageContext) async throws -> Response {
        try c.allow(["asOf", "period", "permission", "role", "adminLevel", "department"])
        let parameters = QueryParameters(values: c.fields)
        let (asOf, period) = (try c.moment("asOf"), try parameters.reviewPeriod())
        let asked = ["permission", "role", "adminLevel", "department"].contains { c[$0] != nil }
        let scope = asked || c["format"] != nil ? try parameters.reviewScope() : nil
        var report: ReviewReport?
        if let scope {
            report = try await api.run { try $0.queries.reviewReport(asOf: asOf, periodSeconds: period.seconds, period: period.text, scope: scope) }
        }
        if c["format"] == "json", let report {
            let signed = try await api.run { try $0.queries.signedReport(report) }
            return attachment(jsonBody([signed]), contentType: "application/json", filename: "review-report.json")
        }
        if c.wantsCSV {
            let (header, rows) = report.map(LedgerAPI.reportRows) ?? ([], [])
            return try c.download(["holders": CSVRows(header: header, rows: rows)])
        }
        let fields = [("permission", Text.colPermission), ("role", .colRole), ("adminLevel", .colLevel), ("department", .colDepartment)].map { name, label in
            HTML("<label>\(c.t(label)) <input name=\"\(name)\" value=\"\(c[name] ?? "")\"\(name == "adminLevel" ? HTML(" placeholder=\"module_admin:sales_order\"") : .empty)></label>")
        }
        let results: HTML = report.map { report -> HTML in
            let shown = c.shown(report.holders, in: "holders")
            let rows = shown.map { holder -> [HTML] in
                let review: HTML = holder.lastReview.map {
                    "\(c.value($0.decision)) · \(c.userLink($0.lineage.actor)) · \(c.time($0.lineage.time)) \(c.eventLink($0.lineage.seq))"
                } ?? "\(c.t(.never))"
                let pending = holder.pending.map { id, request in
                    HTML("<li><bdi>\(id)</bdi> \(request.role.map(c.roleLink) ?? request.permission.map(c.permissionLink) ?? .empty) \(c.eventLink(request.submittedSeq))</li>")
                }
                return [
                    c.userLink(holder.user), review, holder.overdue ? "<strong class=\"bad\">\(c.t(.yes))</strong>" : "\(c.t(.no))",
                    pending.isEmpty ? .empty : "<ul class=\"paths\">\(pending)</ul>",
                ]
            }
            let signature = c.t(api.checkpointVerifier == nil ? .notSigned : .signedWithCheckpointKey)
            return """
                <dl class="facts">
                <dt>\(c.t(.asOf))</dt><dd>\(c.asOfText(asOf, echo: report.asOf))</dd>
                <dt>\(c.t(.judgedAt))</dt><dd>\(c.time(report.reference))</dd>
                <dt>\(c.t(.holders))</dt><dd>\(report.holders.count)</dd>
                <dt>\(c.t(.overdue))</dt><dd>\(report.holders.filter(\.overdue).count)</dd>
                <dt>\(c.t(.neverReviewed))</dt><dd>\(report.holders.filter { $0.lastReview == nil }.count)</dd>
                <dt>\(c.t(.treeSize))</dt><dd>\(report.treeSize)</dd>
                <dt>\(c.t(.merkleRoot))</dt><dd><code class="key">\(hexString(report.root))</code></dd>
                </dl>
                <p>\(signature) <a href="\(c.url(replacing: ["format": "json", "table": nil, "offset": nil]))">\(c.t(.downloadSignedReport))</a></p>
                \(c.table("holders", caption: c.t(.holders), headers: [c.t(.colUser), c.t(.lastReview), c.t(.overdue), c.t(.pendingRequests)], rows: rows, total: report.holders.count, offset: shown.startIndex, empty: c.t(.noHolders)))
                """
        } ?? .empty
        return c.respond(
            title: c.t(.reviewsTitle),
            """
            <p>\(c.t(.reviewsExplain))</p>
            <form class="filters" method="get" action="/ui/reviews">
            \(fields)
            <label>\(c.t(.asOf)) <input name="asOf" value="\(c["asOf"] ?? "")" placeholder="2026-03-31 · seq:120"></label>
            <label>\(c.t(.period)) <input name="period" value="\(c["period"] ?? "")" placeholder="90d"></label>
            <button type="submit">\(c.t(.show))</button>
            </form>
            \(results)
            """)
    }

    func requests(_ request: Request, _ context: LedgerRequestContext, _ c: PageContext) async throws -> Response {
        try c.allow(["status", "olderThan", "approver", "cursor"])
        let filter = try QueryParameters(values: c.fields).requestFilter()
        let page = try await api.run { try $0.queries.accessRequests(filter, limit: Self.pageSize, cursor: c["cursor"]) }
        if c.wantsCSV {
            return try c.download([
                "requests": CSVRows(
                    header: ["id", "status", "requester", "user", "role", "permission", "scope", "justification", "submitted_seq", "submitted_at", "decided_by",
                        "decided_at", "decision_seq", "decision_reason"],
                    rows: page.requests.map { id, r in
                        [id, r.outcome.rawValue, r.requester, r.user, r.role ?? "", r.permission ?? "", r.scope?.name ?? "", r.justification ?? "", String(r.submittedSeq),
                         r.submittedTime.utcText, r.decider ?? "", r.decisionTime?.utcText ?? "", r.decisionSeq.map(String.init) ?? "", r.decisionReason ?? ""]
                    })
            ])
        }
        let rows = page.requests.map { id, r -> [HTML] in
            let asked: HTML = "\(r.role.map(c.roleLink) ?? r.permission.map(c.permissionLink) ?? .empty)\(r.scope.map { HTML(" (\($0.name))") } ?? .empty)"
            let decided: HTML = r.decisionTime.map { time in "\(c.time(time)) \(r.decisionSeq.map(c.eventLink) ?? .empty)" } ?? .empty
            return [
                c.value(id), "\(c.t(.requestStatus(r.outcome)))", c.userLink(r.requester), c.userLink(r.user), asked, c.value(r.justification ?? ""),
                "\(c.time(r.submittedTime)) \(c.eventLink(r.submittedSeq))", "\(ageText(max(0, page.now.seconds - r.submittedTime.seconds)))",
                r.decider.map(c.userLink) ?? .empty, decided, c.value(r.decisionReason ?? ""),
            ]
        }
        let options = [RequestState.Outcome.pending, .approved, .rejected].map { status in
            HTML("<option value=\"\(status.rawValue)\"\(c["status"] == status.rawValue ? HTML(" selected") : .empty)>\(c.t(.requestStatus(status)))</option>")
        }
        return c.respond(
            title: c.t(.requestsTitle),
            """
            <p>\(c.t(.requestsExplain))</p>
            <form class="filters" method="get" action="/ui/requests">
            <label>\(c.t(.status)) <select name="status"><option value="">\(c.t(.anyStatus))</option>\(options)</select></label>
            <label>\(c.t(.olderThan)) <input name="olderThan" value="\(c["olderThan"] ?? "")" placeholder="7d"></label>
            <label>\(c.t(.decidedBy)) <input name="approver" value="\(c["approver"] ?? "")" placeholder="u-wang"></label>
            <button type="submit">\(c.t(.filter))</button>
            </form>
            \(c.table("requests", caption: c.t(.requestsTitle), headers: [c.t(.colRequest), c.t(.status), c.t(.colRequestedBy), c.t(.colFor), c.t(.colAskedFor), c.t(.colJustification), c.t(.colSubmitted), c.t(.colAge), c.t(.decidedBy), c.t(.colDecided), c.t(.colReason)], rows: rows, empty: c.t(.noRequests)))
            \(c.nextPage(page.next))
            """)
    }
}
