import EventLog
import EventModel
import Projector
import Queries

/// The pieces pages are made of: links to the ledger's things, a change, a table with its download.
extension PageContext {
    /// Every CRM value is isolated for bidirectional text, so an override inside it cannot reorder the page around it.
    func value(_ text: String) -> HTML { "<bdi>\(text)</bdi>" }

    func userLink(_ id: String) -> HTML { "<a href=\"\(URLPath("users", id))\"><bdi>\(id)</bdi></a>" }

    func roleLink(_ id: String) -> HTML { "<a href=\"\(URLPath("roles", id))\"><bdi>\(id)</bdi></a>" }

    func permissionLink(_ permission: String) -> HTML { "<a href=\"\(URLPath("permissions", permission))\"><bdi>\(permission)</bdi></a>" }

    func eventLink(_ seq: UInt64) -> HTML { "<a href=\"\(URLPath("events", String(seq)))\">#\(seq)</a>" }

    func eventLinks(_ seqs: [UInt64]) -> HTML { HTML(joining: seqs.map(eventLink), separator: " ") }

    /// Users and roles have their own pages; every other subject the record page.
    func subjectLink(_ subject: Envelope.Subject) -> HTML {
        switch subject.type {
        case "user": "<a href=\"\(URLPath("users", subject.id))\"><bdi>\(subject.type)/\(subject.id)</bdi></a>"
        case "role": "<a href=\"\(URLPath("roles", subject.id))\"><bdi>\(subject.type)/\(subject.id)</bdi></a>"
        default: "<a href=\"\(URLPath("subjects", subject.type, subject.id))\"><bdi>\(subject.type)/\(subject.id)</bdi></a>"
        }
    }

    /// `field: old → new`, one a line; a missing old or new (a create, a removal) shows as —.
    func changes(_ changes: [Envelope.Change]) -> HTML {
        guard !changes.isEmpty else { return .empty }
        let items = changes.map { change in
            HTML("<li><code><bdi>\(change.field)</bdi></code>: \(value(change.old?.displayText ?? "—")) → \(value(change.new?.displayText ?? "—"))</li>")
        }
        return "<ul class=\"changes\">\(items)</ul>"
    }

    /// What an event says besides its changes (`data`: the permission granted, the role assigned, a justification).
    func data(_ members: [JSONMember]?) -> HTML {
        guard let members, !members.isEmpty else { return .empty }
        return "<ul class=\"data\">\(members.map { HTML("<li><bdi>\($0.key)</bdi>: \(value($0.value.displayText))</li>") })</ul>"
    }

    static func dataText(_ members: [JSONMember]?) -> String {
        (members ?? []).map { "\($0.key): \($0.value.displayText)" }.joined(separator: "; ")
    }

    static func changesText(_ changes: [Envelope.Change]) -> String {
        changes.map { "\($0.field): \($0.old?.displayText ?? "—") → \($0.new?.displayText ?? "—")" }.joined(separator: "; ")
    }

    /// Who acted, and through what (`via`), when the CRM said.
    func actor(_ actor: Envelope.Actor) -> HTML {
        let via = actor.attributes.first { $0.key == "via" }?.value.stringValue
        return "\(userLink(actor.id))\(via.map { HTML(" <span class=\"via\">\(t(.via)) \(value($0))</span>") })"
    }

    /// Rows a page shows of one table at a time; the CSV has them all.
    static let rowsShown = 100

    /// The rows of a long answer a page renders: a hundred, from where the reader paged to
    /// (`table=NAME&offset=N`). Markup for thousands of rows nobody scrolls costs more than the query.
    func shown<T>(_ items: [T], in table: String) -> ArraySlice<T> { items[window(table).clamped(to: items.indices)] }

    /// The positions of the rows a page shows of a table, for a query that answers only those.
    func window(_ table: String) -> Range<Int> { rowsFrom(table)..<(rowsFrom(table) + Self.rowsShown) }

    /// A table with a caption, and a link that downloads every row as CSV. A table longer than a
    /// page can usefully show (a role with thousands of members) is paged: either `rows` holds every
    /// row, or it holds the shown part (`shown(_:in:)`, `window(_:)`), from `offset` of `total`.
    func table(_ name: String, caption: String, headers: [String], rows: [[HTML]], total: Int? = nil, offset: Int = 0, empty: String? = nil) -> HTML {
        let count = max(total ?? rows.count, rows.count)
        guard count > 0 else { return "<section><h2>\(caption)</h2><p class=\"empty\">\(empty ?? t(.nothing))</p></section>" }
        let head = headers.map { HTML("<th scope=\"col\">\($0)</th>") }
        let visible = total == nil ? shown(rows, in: name) : rows.prefix(Self.rowsShown)
        let from = total == nil ? visible.startIndex : offset
        let body = visible.map { row in HTML("<tr>\(row.map { HTML("<td>\($0)</td>") })</tr>") }
        let csv = url(replacing: ["format": "csv", "table": name, "offset": nil])
        var more: HTML = .empty
        if count > Self.rowsShown || from > 0 {
            func page(_ start: Int, _ label: Text) -> HTML {
                "<a href=\"\(url(replacing: ["table": name, "offset": String(start), "format": nil]))#\(name)\">\(t(label))</a>"
            }
            let links = [
                from > 0 ? page(max(0, min(from, count) - Self.rowsShown), .previousRows) : nil,
                from + Self.rowsShown < count ? page(from + Self.rowsShown, .nextRows) : nil,
            ].compactMap { $0 }
            let range = visible.isEmpty ? "—" : "\(from + 1)–\(from + visible.count)"
            more = "<p class=\"more\">\(t(.rows)) \(range) / \(count). \(HTML(joining: links, separator: " · ")) · \(t(.allInCSV))</p>"
        }
        return """
            <section id="\(name)"><h2>\(caption)</h2>
            <p class="download"><a href="\(csv)">\(t(.downloadCSV))</a></p>
            <div class="scroll"><table><thead><tr>\(head)</tr></thead><tbody>\(body)</tbody></table></div>
            \(more)
            </section>
            """
    }

    /// The events of a view, newest first as given: the console's timeline rows.
    func eventsTable(_ name: String, caption: String, events: [StoredEvent], more: HTML? = nil, bundle: Bool = true) -> HTML {
        let rows = events.map { e -> [HTML] in
            [
                eventLink(e.seq), time(e.envelope.instant), "<code>\(e.envelope.type)</code>", subjectLink(e.envelope.subject),
                actor(e.envelope.actor), "\(changes(e.envelope.changes))\(data(e.envelope.data))",
                HTML(joining: [
                    e.envelope.reason.map { value($0) },
                    e.envelope.outcome == .failure ? HTML("<strong class=\"failure\">\(t(.failed))</strong>") : nil,
                ].compactMap { $0 }, separator: " "),
            ]
        }
        let table = table(
            name, caption: caption, headers: [t(.colSeq), t(.colTime), t(.colType), t(.colSubject), t(.colActor), t(.colChanges), t(.colReason)],
            rows: rows, empty: t(.noEvents))
        let bundleLink: HTML =
            bundle && !events.isEmpty
            ? "<p class=\"download\"><a href=\"\(url(replacing: ["format": "bundle", "table": name]))\">\(t(.downloadBundle))</a></p>" : .empty
        return "\(table)\(bundleLink)\(more)"
    }

    static func eventsCSV(_ events: [StoredEvent]) -> CSVRows {
        CSVRows(
            header: ["seq", "time", "type", "subject_type", "subject_id", "actor", "via", "changes", "data", "reason", "outcome"],
            rows: events.map { e in
                [
                    String(e.seq), e.envelope.instant.utcText, e.envelope.type, e.envelope.subject.type, e.envelope.subject.id, e.envelope.actor.id,
                    e.envelope.actor.attributes.first { $0.key == "via" }?.value.stringValue ?? "", changesText(e.envelope.changes), dataText(e.envelope.data),
                    e.envelope.reason ?? "", e.envelope.outcome.rawValue,
                ]
            })
    }

    /// A link to the next page of a list, when there is one.
    func nextPage(_ cursor: String?) -> HTML {
        guard let cursor else { return .empty }
        return "<p class=\"paging\"><a href=\"\(url(replacing: ["cursor": cursor]))\" rel=\"next\">\(t(.nextPage))</a></p>"
    }

    /// An access path in words, with the events that make it.
    func path(_ path: AccessPath) -> HTML {
        let how: HTML =
            switch path.kind {
            case .role: "\(t(.throughRole)) \(roleLink(path.role ?? "?"))"
            case .direct: "\(t(.directly))"
            case .admin: "\(t(.asAdmin)) <bdi>\(path.level.map(levelName) ?? "?")</bdi>"
            }
        return "\(how) (\(path.scope.name)) \(eventLinks(path.seqs))"
    }

    static func pathText(_ path: AccessPath) -> String {
        let how =
            switch path.kind {
            case .role: "role \(path.role ?? "?")"
            case .direct: "direct"
            case .admin: "admin \(path.level.map(levelName) ?? "?")"
            }
        return "\(how) (\(path.scope.name)) " + path.seqs.map { "#\($0)" }.joined(separator: " ")
    }

    /// One access change as a table row: what was gained or lost, the scope before and after, and the
    /// events that caused it; led by whose access it was when the table lists many users.
    func changeRow(_ change: AccessChange, withUser: Bool) -> [HTML] {
        let direction: Text = change.direction == .gained ? .gained : change.direction == .lost ? .lost : .changedScope
        let name = change.kind == .permission ? permissionLink(change.name) : change.kind == .role ? roleLink(change.name) : value(change.name)
        let row: [HTML] = [
            "<strong>\(t(direction))</strong>", "\(change.kind.rawValue)", name, "\(change.scopeBefore?.name ?? "—") → \(change.scopeAfter?.name ?? "—")",
            eventLinks(change.causes.map(\.seq)),
        ]
        return withUser ? [userLink(change.user)] + row : row
    }

    /// Access changes as CSV rows, every one of them.
    static func changesCSV(_ changes: [AccessChange], withUser: Bool) -> CSVRows {
        CSVRows(
            header: (withUser ? ["user"] : []) + ["direction", "kind", "name", "scope_before", "scope_after", "causes"],
            rows: changes.map { change in
                (withUser ? [change.user] : [])
                    + [change.direction.rawValue, change.kind.rawValue, change.name, change.scopeBefore?.name ?? "", change.scopeAfter?.name ?? "",
                        change.causes.map { "#\($0.seq)" }.joined(separator: " ")]
            })
    }

    /// The moment an answer is for, as the reader set it.
    func asOfText(_ asOf: AsOf, echo: String) -> String {
        if case .now = asOf { return t(.now) + " (\(echo))" }
        if case .time(let instant) = asOf { return zone.format(instant) }
        return echo
    }

    /// A small form that asks for a moment (`asOf`), keeping the page's other fields.
    func asOfForm(hint: Bool = true) -> HTML {
        let hidden = fields.filter { $0.key != "asOf" && $0.key != "format" && $0.key != "table" && $0.key != "cursor" }.sorted { $0.key < $1.key }
            .map { HTML("<input type=\"hidden\" name=\"\($0.key)\" value=\"\($0.value)\">") }
        return """
            <form class="asof" method="get" action="\(path)">\(hidden)
            <label for="asOf">\(t(.asOf))</label>
            <input id="asOf" name="asOf" value="\(fields["asOf"] ?? "")" placeholder="2026-03-06 09:30 · seq:120" aria-describedby="asOf-hint">
            <button type="submit">\(t(.show))</button>
            \(hint ? HTML("<small id=\"asOf-hint\">\(t(.momentHint)) \(zone.identifier)</small>") : .empty)
            </form>
            """
    }
}

func levelName(_ level: AdminLevel) -> String { level.module.map { "\(level.level):\($0)" } ?? level.level }

/// Rows for a CSV download, made from the same answer as the page.
struct CSVRows {
    var header: [String]
    var rows: [[String]]
}
