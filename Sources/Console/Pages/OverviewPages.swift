import EventLog
import EventModel
import Foundation
import Hummingbird
import LedgerHTTP
import Projector
import Queries
import Transparency

/// The home page and its search, the findings, and the integrity of the ledger.
extension Console {
    func home(_ request: Request, _ context: LedgerRequestContext, _ c: PageContext) async throws -> Response {
        try c.allow([])
        let (latest, counts, checkpoint) = try await api.run { api in
            (try api.log.events(EventQuery(order: .desc, limit: 10)), try api.queries.projector.findingCounts(), try api.log.latestCheckpoint())
        }
        if c.wantsBundle { return try await bundle(latest.events) }
        let events = try latest.events.map { try $0.decode() }
        let findingRows = Finding.Kind.allCases.compactMap { kind -> [HTML]? in
            guard let count = counts[kind], count > 0 else { return nil }
            return ["<a href=\"\(URLPath("findings", query: [("kind", kind.rawValue)]))\">\(c.t(.finding(kind)))</a>", "\(count)"]
        }
        if c.wantsCSV {
            return try c.download([
                "events": PageContext.eventsCSV(events),
                "findings": CSVRows(header: ["kind", "count"], rows: Finding.Kind.allCases.compactMap { k in counts[k].map { [k.rawValue, String($0)] } }),
            ])
        }
        return c.respond(
            title: c.t(.homeTitle),
            """
            <form class="search" role="search" method="get" action="/ui/search">
            <label for="q">\(c.t(.searchLabel))</label>
            <input id="q" name="q" type="search" placeholder="u-wang · SO-1001 · sales_order.approve · sales_manager · 42" aria-describedby="q-hint">
            <button type="submit">\(c.t(.search))</button>
            <small id="q-hint">\(c.t(.searchHint))</small>
            </form>
            \(integritySummary(c, checkpoint: checkpoint))
            \(c.table("findings", caption: c.t(.openFindings), headers: [c.t(.colKind), c.t(.colCount)], rows: findingRows, empty: c.t(.noFindings)))
            \(c.eventsTable("events", caption: c.t(.latestEvents), events: events, more: "<p class=\"paging\"><a href=\"/ui/events\">\(c.t(.allInTimeline))</a></p>"))
            """)
    }

    func integritySummary(_ c: PageContext, checkpoint: StoredCheckpoint?) -> HTML {
        let head = api.log.committedHead
        let checkpointText: HTML = checkpoint.map { cp in
            let age = Instant.now().seconds - cp.signedAt.seconds
            return "\(c.t(.treeSize)) \(cp.treeSize), \(c.time(cp.signedAt)) (\(c.t(.age)) \(ageText(age)))"
        } ?? "\(c.t(.noCheckpointYet))"
        return """
            <section aria-labelledby="integrity-h"><h2 id="integrity-h">\(c.t(.integrityStatus))</h2>
            <dl class="facts">
            <dt>\(c.t(.head))</dt><dd>\(head > 0 ? c.eventLink(head) : "0")</dd>
            <dt>\(c.t(.latestCheckpoint))</dt><dd>\(checkpointText)</dd>
            <dt>\(c.t(.lastVerification))</dt><dd>\(verificationText(c))</dd>
            </dl>
            <p><a href="/ui/integrity">\(c.t(.navIntegrity))</a></p>
            </section>
            """
    }

    func verificationText(_ c: PageContext) -> HTML {
        guard let last = api.verifications.last else { return "\(c.t(.neverVerified))" }
        let result: HTML =
            last.report.ok
            ? "<strong class=\"ok\">\(c.t(.verifiedOK))</strong> (\(last.report.count) \(c.t(.records)))"
            : "<strong class=\"bad\">\(c.t(.verifyFailed))</strong> \(last.report.firstBadSeq.map { c.eventLink($0) }) \(c.value(last.report.problem ?? ""))"
        return "\(result), \(c.time(last.at)), \(c.t(.by)) \(c.value(last.by))"
    }

    func ageText(_ seconds: Int64) -> String {
        seconds < 120 ? "\(seconds) s" : seconds < 7200 ? "\(seconds / 60) min" : seconds < 172_800 ? "\(seconds / 3600) h" : "\(seconds / 86400) d"
    }

    /// One box for everything: an event seq, a permission, `type/id`, a user, a role, or any subject id.
    /// One match goes straight to its page; several are listed.
    func search(_ request: Request, _ context: LedgerRequestContext, _ c: PageContext) async throws -> Response {
        try c.allow(["q"])
        guard let q = c["q"], q.unicodeScalars.count <= 128 else {
            throw APIError(.badRequest, "invalid_parameter", "q must be 1–128 characters", field: "q")
        }
        let digits = q.hasPrefix("#") ? String(q.dropFirst()) : q.hasPrefix("seq:") ? String(q.dropFirst(4)) : q
        if let seq = UInt64(digits), seq > 0 { throw ConsoleRedirect(URLPath("events", String(seq))) }
        if Catalog.isPermission(q) { throw ConsoleRedirect(URLPath("permissions", q)) }
        let typed = q.split(separator: "/", maxSplits: 1).map(String.init)
        let matches = try await api.run { api -> [(URLPath, String)] in
            var found: [(URLPath, String)] = []
            if typed.count == 2, try api.log.events(EventQuery(subjectType: typed[0], subjectId: typed[1], limit: 1)).events.count > 0 {
                return [(URLPath("subjects", typed[0], typed[1]), q)]
            }
            let (_, subjectTypes) = try api.log.vocabulary()
            for type in subjectTypes where try !api.log.events(EventQuery(subjectType: type, subjectId: q, limit: 1)).events.isEmpty {
                let url = type == "user" ? URLPath("users", q) : type == "role" ? URLPath("roles", q) : URLPath("subjects", type, q)
                found.append((url, "\(type)/\(q)"))
            }
            if !found.contains(where: { $0.1 == "user/\(q)" }), try !api.log.events(EventQuery(actor: q, limit: 1)).events.isEmpty {
                found.append((URLPath("users", q), "\(c.t(.actor)) \(q)"))
            }
            return found
        }
        if matches.count == 1 { throw ConsoleRedirect(matches[0].0) }
        let items = matches.map { url, label in HTML("<li><a href=\"\(url)\"><bdi>\(label)</bdi></a></li>") }
        return c.respond(
            title: "\(c.t(.searchResults)) \(q)",
            matches.isEmpty ? "<p class=\"empty\">\(c.t(.nothingFound))</p>" : "<ul class=\"results\">\(items)</ul>",
            status: matches.isEmpty ? .notFound : .ok)
    }

    func findings(_ request: Request, _ context: LedgerRequestContext, _ c: PageContext) async throws -> Response {
        try c.allow(["kind", "cursor"])
        var kind: Finding.Kind?
        if let name = c["kind"] {
            guard let known = Finding.Kind(rawValue: name) else {
                throw APIError(.badRequest, "invalid_parameter", "kind must be one of \(Finding.Kind.allCases.map(\.rawValue).joined(separator: ", "))", field: "kind")
            }
            kind = known
        }
        let query = LiveProjector.FindingQuery(kind: kind, limit: Self.pageSize, cursor: c["cursor"])
        let page = try await api.run { try $0.queries.findings(query) }
        if c.wantsCSV {
            return try c.download([
                "findings": CSVRows(
                    header: ["id", "kind", "seq", "time", "actor", "subject_type", "subject_id", "message", "evidence"],
                    rows: page.findings.map {
                        [$0.id, $0.kind.rawValue, String($0.seq), $0.time.utcText, $0.actor, $0.subject.type, $0.subject.id, $0.message,
                         $0.evidence.map { "#\($0)" }.joined(separator: " ")]
                    })
            ])
        }
        let options = Finding.Kind.allCases.map { k in
            HTML("<option value=\"\(k.rawValue)\"\(k == kind ? HTML(" selected") : .empty)>\(c.t(.finding(k)))</option>")
        }
        let items = page.findings.map { f -> HTML in
            """
            <li class="finding" id="\(f.id)">
            <p class="sentence">\(c.findingSentence(f))</p>
            <p class="evidence">\(c.t(.evidence)): \(c.eventLinks([f.seq] + f.evidence)) · \(c.time(f.time))</p>
            </li>
            """
        }
        let list: HTML =
            page.findings.isEmpty
            ? "<p class=\"empty\">\(c.t(.noFindings))</p>"
            : "<p class=\"download\"><a href=\"\(c.url(replacing: ["format": "csv", "table": "findings"]))\">\(c.t(.downloadCSV))</a></p><ol class=\"findings\">\(items)</ol>"
        return c.respond(
            title: c.t(.findingsTitle),
            """
            <form class="filters" method="get" action="/ui/findings">
            <label>\(c.t(.colKind)) <select name="kind"><option value="">\(c.t(.allKinds))</option>\(options)</select></label>
            <button type="submit">\(c.t(.filter))</button>
            </form>
            \(list)
            \(c.nextPage(page.next))
            """)
    }

    func integrity(_ request: Request, _ context: LedgerRequestContext, _ c: PageContext) async throws -> Response {
        try c.allow([])
        let checkpoints = try await api.run { try $0.log.latestCheckpoints(20) }
        if c.wantsCSV {
            return try c.download([
                "checkpoints": CSVRows(header: ["tree_size", "signed_at"], rows: checkpoints.map { [String($0.treeSize), $0.signedAt.utcText] })
            ])
        }
        let rows = checkpoints.map { cp -> [HTML] in
            [
                "\(cp.treeSize)", c.time(cp.signedAt),
                "<a href=\"\(URLPath("integrity", "checkpoint.note", query: [("size", String(cp.treeSize))]))\">\(c.t(.downloadNote))</a>",
            ]
        }
        let verifyButton: HTML =
            c.session.isAdmin
            ? "<form method=\"post\" action=\"/ui/integrity/verify\"><button type=\"submit\">\(c.t(.verifyNow))</button> <small>\(c.t(.verifyNowHint))</small></form>"
            : "<p class=\"hint\">\(c.t(.verifyNeedsAdmin))</p>"
        let key = api.checkpointVerifier?.verifierKey ?? "—"
        return c.respond(
            title: c.t(.integrityTitle),
            """
            \(integritySummary(c, checkpoint: checkpoints.first))
            \(verifyButton)
            <section><h2>\(c.t(.verifierKey))</h2><p><code class="key">\(key)</code></p>
            <p class="download"><a href="/ui/integrity/checkpoint.vkey">\(c.t(.downloadKey))</a></p></section>
            \(c.table("checkpoints", caption: c.t(.checkpoints), headers: [c.t(.treeSize), c.t(.signedAt), ""], rows: rows, empty: c.t(.noCheckpointYet)))
            <section><h2>\(c.t(.offlineCheck))</h2>
            <p>\(c.t(.offlineCheckExplain))</p>
            <ol class="commands">
            <li><code>ledgerctl export &gt; ledger.ndjson</code></li>
            <li><code>ledgerctl checkpoint &gt; checkpoint.note</code></li>
            <li><code>python3 scripts/verify_export.py ledger.ndjson checkpoint.note @checkpoint.vkey</code></li>
            </ol>
            <p>\(c.t(.offlineBundleExplain)) <code>python3 scripts/verify_export.py --bundle evidence.json @checkpoint.vkey</code></p>
            </section>
            """)
    }

    func checkpointNote(_ request: Request, _ context: LedgerRequestContext, _ c: PageContext) async throws -> Response {
        try c.allow(["size"])
        let size = try c.seq("size")
        let note = try await api.run { api -> String? in
            guard let size else { return try api.log.latestCheckpoint()?.note }
            return try api.log.checkpoints(since: nil, afterSize: size - 1, limit: 1).first { $0.treeSize == size }?.note
        }
        guard let note else { throw APIError(.notFound, "not_found", size.map { "no checkpoint of tree size \($0) is stored" } ?? "no checkpoint is signed yet") }
        return attachment(ByteBuffer(string: note), contentType: "text/plain; charset=utf-8", filename: "checkpoint-\(size.map(String.init) ?? "latest").note")
    }

    func verifierKey(_ request: Request, _ context: LedgerRequestContext, _ c: PageContext) async throws -> Response {
        try c.allow([])
        guard let verifier = api.checkpointVerifier else { throw APIError(.notFound, "unsigned", "no checkpoint signing key is configured") }
        return attachment(ByteBuffer(string: verifier.verifierKey + "\n"), contentType: "text/plain; charset=utf-8", filename: "checkpoint.vkey")
    }

    /// Verify now (admin): the whole chain, tree, checkpoints and indexes, as `GET /v1/verify` does.
    func verifyNow(_ request: Request, _ context: LedgerRequestContext) async throws -> Response {
        try checkOrigin(request)
        guard let session = currentSession(request) else { throw ConsoleRedirect(URLPath("login")) }
        context.caller.tokenName = session.tokenName
        guard session.isAdmin else { throw APIError(.forbidden, "forbidden", "verifying the ledger from the console needs a token with the admin scope") }
        let report = try await api.verifyLedger(indexes: true, by: session.tokenName)
        context.logger.notice("console verification", metadata: ["verify.ok": "\(report.ok)", "auth.token": "\(session.tokenName)"])
        throw ConsoleRedirect(URLPath("integrity"))
    }
}

extension PageContext {
    /// A finding as a sentence in the reader's language; the ledger's own English words beside it in English.
    func findingSentence(_ f: Finding) -> HTML {
        let lead: HTML = "<strong>\(t(.finding(f.kind)))</strong>: \(userLink(f.actor)) → \(subjectLink(f.subject))"
        return language == .en ? "\(lead). \(value(f.message))" : "\(lead)。"
    }
}
