import Configuration
@testable import Console
import EventModel
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import LedgerHTTP
import Synchronization
import Testing
import TestSupport
import Workload

/// The web console over HTTP: sessions and their cookie, the headers that keep hostile data inert,
/// escaping, every page on the demo story, downloads. (`make ui-test` drives it in Chromium.)
@Suite struct ConsoleTests {
    /// The test client names its server `localhost`; a form of the console comes from there.
    static let host: HTTPFields = [.origin: "http://localhost"]

    /// Pages (with their downloads) that must never answer without a session.
    static let pages = [
        "/ui/", "/ui/search?q=SO-1001", "/ui/events", "/ui/events?format=csv&table=events", "/ui/events?format=bundle&table=events",
        "/ui/events/1", "/ui/subjects/sales_order/SO-1001", "/ui/subjects/sales_order/SO-1001?format=csv&table=history",
        "/ui/users/u-li", "/ui/users/u-li?from=2026-03-01&to=2026-03-31", "/ui/users/u-li?format=csv&table=permissions",
        "/ui/permissions/sales_order.approve", "/ui/permissions/sales_order.approve?asOf=2026-03-03&format=csv&table=holders",
        "/ui/roles/sales_manager", "/ui/findings", "/ui/findings?kind=admin_granted_by_non_super_admin&format=csv&table=findings",
        "/ui/integrity", "/ui/integrity/checkpoint.note", "/ui/integrity/checkpoint.vkey",
        "/ui/access/changes?from=seq:25&to=seq:33", "/ui/access/changes?from=seq:25&format=csv&table=changes",
        "/ui/reviews?permission=sales_order.approve", "/ui/reviews?permission=sales_order.approve&format=json",
        "/ui/reviews?role=sales_manager&format=csv&table=holders", "/ui/requests", "/ui/requests?status=rejected&format=csv&table=requests",
    ]

    static func load(_ client: any TestClientProtocol, _ events: [JSONValue]) async throws {
        let body = ByteBuffer(bytes: CanonicalJSON.encode(.array(events)))
        let response = try await client.execute(uri: "/v1/events", method: .post, headers: auth("ingest"), body: body)
        #expect(response.status == .created, "\(response.text.prefix(300))")
        _ = try await client.execute(uri: "/v1/checkpoint", method: .get, headers: auth("read"))
    }

    /// Signs in with a token; the session cookie (`name=value`) or nil, and the answer.
    static func signIn(_ client: any TestClientProtocol, token: String, headers: HTTPFields = host) async throws -> (String?, TestResponse) {
        let form = "token=" + (token.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "") + "&next=%2Fui%2Fevents"
        var fields = headers
        fields[.contentType] = "application/x-www-form-urlencoded"
        let response = try await client.execute(uri: "/ui/login", method: .post, headers: fields, body: ByteBuffer(string: form))
        let cookie = response.headers[.setCookie].flatMap { $0.split(separator: ";").first.map(String.init) }
        return (cookie?.hasPrefix("ledger_session=") == true ? cookie : nil, response)
    }

    static func get(_ client: any TestClientProtocol, _ uri: String, cookie: String?, headers: HTTPFields = [:]) async throws -> TestResponse {
        var fields = headers
        if let cookie { fields[.cookie] = cookie }
        return try await client.execute(uri: uri, method: .get, headers: fields)
    }

    @Test func noPageOrDownloadWithoutASessionAndOnlyReadOrAdminTokensOpenOne() async throws {
        try await Server().run { client in
            try await Self.load(client, DemoStory.events)
            for page in Self.pages {
                for cookie in [nil, "ledger_session=0123456789abcdef", "ledger_session="] as [String?] {
                    let response = try await Self.get(client, page, cookie: cookie)
                    #expect(response.status == .seeOther, "\(page) answered without a session")
                    #expect(response.headers[.location]?.hasPrefix("/ui/login?next=") == true)
                    #expect(!response.text.contains("SO-1001") && !response.text.contains("u-li"))
                }
            }
            // A bearer token is not a session: the console takes none.
            #expect(try await Self.get(client, "/ui/events", cookie: nil, headers: auth("read")).status == .seeOther)

            let (ingestCookie, ingest) = try await Self.signIn(client, token: Server.tokens["ingest"]!)
            #expect(ingest.status == .forbidden && ingestCookie == nil)
            let (wrongCookie, wrong) = try await Self.signIn(client, token: "not-a-token")
            #expect(wrong.status == .unauthorized && wrongCookie == nil)
            #expect(wrong.headers[.contentType]?.hasPrefix("text/html") == true)

            let (cookie, signedIn) = try await Self.signIn(client, token: Server.tokens["read"]!)
            #expect(signedIn.status == .seeOther)
            #expect(signedIn.headers[.location] == "/ui/events")
            let flags = Set((signedIn.headers[.setCookie] ?? "").split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) })
            #expect(flags.isSuperset(of: ["HttpOnly", "SameSite=Strict", "Path=/ui"]))
            #expect(!flags.contains("Secure"))
            for page in Self.pages {
                let response = try await Self.get(client, page, cookie: cookie)
                #expect(response.status == (page.hasPrefix("/ui/search") ? .seeOther : .ok), "\(page): \(response.status) \(response.text.prefix(300))")
                #expect(!response.text.contains(Server.tokens["read"]!), "the token shows on \(page)")
                // The console's own markup is never escaped into text (a String where HTML was meant).
                #expect(!response.text.contains("&lt;p") && !response.text.contains("&lt;a ") && !response.text.contains("HTML(text"), "\(page)")
            }
            // Behind a TLS proxy the cookie is Secure.
            var proxied = Self.host
            proxied[HTTPField.Name("X-Forwarded-Proto")!] = "https"
            let (_, secure) = try await Self.signIn(client, token: Server.tokens["admin"]!, headers: proxied)
            #expect(secure.headers[.setCookie]?.contains("Secure") == true)

            // Signing out ends the session for good.
            var out = Self.host
            out[.cookie] = cookie!
            let signedOut = try await client.execute(uri: "/ui/logout", method: .post, headers: out)
            #expect(signedOut.status == .seeOther)
            #expect(try await Self.get(client, "/ui/", cookie: cookie).status == .seeOther)
        }
    }

    @Test func formsFromAnotherOriginAndGuessingAreRefused() async throws {
        try await Server(extra: ["ui.signInAttemptsPerMinute": ConfigValue(.int(3), isSecret: false)]).run { client in
            for headers: HTTPFields in [
                [:], [.origin: "http://evil.example"], [.origin: "null"], [.origin: "http://localhost.evil.example"],
                [.origin: "null", HTTPField.Name("Sec-Fetch-Site")!: "cross-site"], [HTTPField.Name("Sec-Fetch-Site")!: "same-origin"],
            ] {
                let (cookie, response) = try await Self.signIn(client, token: Server.tokens["read"]!, headers: headers)
                #expect(response.status == .forbidden && cookie == nil, "\(headers)")
                #expect(response.text.contains("Origin"))
            }
            // What a browser sends from the console's own page under Referrer-Policy: no-referrer.
            let (sameOrigin, _) = try await Self.signIn(client, token: Server.tokens["read"]!, headers: [.origin: "null", HTTPField.Name("Sec-Fetch-Site")!: "same-origin"])
            #expect(sameOrigin != nil)
            for _ in 0..<3 { #expect(try await Self.signIn(client, token: "guess").1.status == .unauthorized) }
            let (cookie, limited) = try await Self.signIn(client, token: Server.tokens["read"]!)
            #expect(limited.status == .tooManyRequests && cookie == nil)
            #expect(limited.headers[.retryAfter] == "60")
        }
    }

    /// Judged by a clock the test moves: a loaded machine cannot make a fresh session look idle.
    @Test func aSessionEndsOnlyAfterItsIdleTimeUnused() throws {
        let now = Mutex(ContinuousClock.now)
        let store = SessionStore(idle: .seconds(1800), clock: { now.withLock { $0 } })
        let tokens = TokenRegistry(try TokenStore(contents: TokenStore.line(name: "auditor", scopes: [.read], token: "t-read")))
        let session = try #require(store.open(for: tokens.store.entries[0]))
        #expect(session.id.count == 64 && session.id.allSatisfy(\.isHexDigit))
        now.withLock { $0 += .seconds(1799) }
        #expect(store.session(id: session.id, tokens: tokens) != nil)  // used: the idle time starts again
        now.withLock { $0 += .seconds(1799) }
        #expect(store.session(id: session.id, tokens: tokens) != nil)
        now.withLock { $0 += .seconds(1801) }
        #expect(store.session(id: session.id, tokens: tokens) == nil)
        #expect(store.session(id: session.id, tokens: tokens) == nil)  // gone for good
        #expect(store.open(for: try TokenStore(contents: TokenStore.line(name: "crm", scopes: [.ingest], token: "t-ingest")).entries[0]) == nil)
    }

    @Test func aSessionEndsWhenItsTokenIsRemoved() async throws {
        let server = try Server()
        try await server.run { client in
            let (cookie, _) = try await Self.signIn(client, token: Server.tokens["read"]!)
            #expect(try await Self.get(client, "/ui/", cookie: cookie).status == .ok)
            server.api.tokens.replace(with: try TokenStore(contents: TokenStore.line(name: "root", scopes: [.admin], token: "another")))
            #expect(try await Self.get(client, "/ui/", cookie: cookie).status == .seeOther)
        }
    }

    @Test func hostileValuesAreTextOnEveryPageAndInertInCSV() async throws {
        let hostile = [
            "<script>window.pwned=1</script>", "\"><img src=x onerror=alert(1)>", "javascript:alert(1)", "' onmouseover='alert(1)",
            "\u{202E}evil\u{202C}", String(repeating: "长", count: 3_400) /* 10 KB */, "🧾 审计", "=HYPERLINK(\"http://evil\")",
        ]
        let events = try hostile.enumerated().map { i, value -> JSONValue in
            let text = #"{"id":"h-\#(i)","type":"sales_order.updated","time":"2026-03-08T01:00:0\#(i)Z","actor":{"id":"u-x\#(i)","via":\#(json(String(value.prefix(200))))},"subject":{"type":"sales_order","id":"SO-H"},"changes":[{"field":\#(json("f" + String(value.prefix(40)))),"new":\#(json(value))}],"reason":\#(json(String(value.prefix(1000))))}"#
            return try JSONParser.parse(Array(text.utf8))
        }
        try await Server().run { client in
            try await Self.load(client, events)
            let (cookie, _) = try await Self.signIn(client, token: Server.tokens["read"]!)
            for page in ["/ui/", "/ui/events", "/ui/events/1", "/ui/subjects/sales_order/SO-H", "/ui/users/u-x0", "/ui/search?q=SO-H"] {
                let response = try await Self.get(client, page.hasPrefix("/ui/search") ? "/ui/subjects/sales_order/SO-H" : page, cookie: cookie)
                #expect(response.status == .ok)
                let body = response.text
                // Markup in a value stays text: no tag opens, no quote closes an attribute.
                #expect(!body.contains("<script>") && !body.contains("<img") && !body.contains("' onmouseover") && !body.contains("\" onerror"), "\(page)")
                #expect(body.contains("&lt;script&gt;window.pwned=1&lt;/script&gt;") || page == "/ui/users/u-x0" || page == "/ui/events/1")
                #expect(!body.contains("href=\"javascript:"))
                #expect(response.headers[.contentSecurityPolicy]?.contains("default-src 'self'") == true)
                #expect(response.headers[.contentSecurityPolicy]?.contains("frame-ancestors 'none'") == true)
                #expect(response.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff")
                #expect(response.headers[HTTPField.Name("Referrer-Policy")!] == "no-referrer")
            }
            let csv = try await Self.get(client, "/ui/subjects/sales_order/SO-H?format=csv&table=history", cookie: cookie)
            #expect(csv.headers[.contentType]?.hasPrefix("text/csv") == true)
            #expect(csv.text.contains("'=HYPERLINK") && !csv.text.contains(",=HYPERLINK"))
        }
    }

    /// A role with 250 members shows them a hundred at a time, with links between the pages, and
    /// the CSV has every one.
    @Test func longTablesArePagedAndTheirCSVHasEveryRow() async throws {
        var lines = [#"{"id":"r","type":"role.created","time":"2026-03-01T00:00:00Z","actor":{"id":"u-root"},"subject":{"type":"role","id":"clerk"},"changes":[{"field":"name","new":"Clerk"}]}"#]
        for i in 0..<250 {
            let user = "u-" + String(1000 + i)
            lines.append(#"{"id":"a-\#(i)","type":"user.role_assigned","time":"2026-03-02T00:00:00Z","actor":{"id":"u-root"},"subject":{"type":"user","id":"\#(user)"},"data":{"role":"clerk"}}"#)
        }
        let events = try lines.map { try JSONParser.parse(Array($0.utf8)) }
        try await Server().run { client in
            try await Self.load(client, events)
            let (cookie, _) = try await Self.signIn(client, token: Server.tokens["read"]!)
            let first = try await Self.get(client, "/ui/roles/clerk", cookie: cookie).text
            #expect(first.contains("<bdi>u-1000</bdi>") && first.contains("<bdi>u-1099</bdi>") && !first.contains("<bdi>u-1100</bdi>"))
            #expect(first.contains("Rows 1–100 / 250.") && first.contains("href=\"/ui/roles/clerk?offset=100&amp;table=members#members\">next rows →"))
            #expect(!first.contains("previous rows"))
            let middle = try await Self.get(client, "/ui/roles/clerk?offset=100&table=members", cookie: cookie).text
            #expect(middle.contains("<bdi>u-1100</bdi>") && middle.contains("<bdi>u-1199</bdi>") && !middle.contains("<bdi>u-1099</bdi>"))
            #expect(middle.contains("Rows 101–200 / 250.") && middle.contains("previous rows") && middle.contains("next rows"))
            let last = try await Self.get(client, "/ui/roles/clerk?offset=200&table=members", cookie: cookie).text
            #expect(last.contains("Rows 201–250 / 250.") && last.contains("<bdi>u-1249</bdi>") && !last.contains("next rows"))
            let csv = try await Self.get(client, "/ui/roles/clerk?offset=200&table=members&format=csv", cookie: cookie).text
            #expect(csv.split(whereSeparator: \.isNewline).count == 251 && csv.contains("u-1000,u-root"), "\(csv.prefix(300))")
            for bad in ["-1", "x", "1.5"] {
                let response = try await Self.get(client, "/ui/roles/clerk?table=members&offset=\(bad)", cookie: cookie)
                #expect(response.status == .badRequest && response.text.contains("offset"), "\(bad)")
            }
        }
    }

    @Test func pagesAnswerTheDemoStoryInBothLanguagesAndRefuseBadInput() async throws {
        try await Server().run { client in
            try await Self.load(client, DemoStory.events)
            let (cookie, _) = try await Self.signIn(client, token: Server.tokens["read"]!)
            // Who was the order's administrator on 5 March, and who set it.
            let before = try await Self.get(client, "/ui/subjects/sales_order/SO-1001?asOf=2026-03-05", cookie: cookie)
            #expect(before.text.contains("<bdi>u-chen</bdi>") && !before.text.contains(">u-admin</bdi></td>"))
            // Why u-li holds sales_order.approve: directly, by event 27.
            let access = try await Self.get(client, "/ui/users/u-li", cookie: cookie)
            #expect(access.text.contains("granted directly (department) <a href=\"/ui/events/27\">#27</a>"))
            // What u-li gained in March, in Chinese, chosen by Accept-Language.
            let zh = try await Self.get(client, "/ui/users/u-li?from=2026-03-01&to=2026-03-31", cookie: cookie, headers: [.acceptLanguage: "zh-CN,zh;q=0.9,en;q=0.5"])
            #expect(zh.text.contains("<html lang=\"zh-Hans\">") && zh.text.contains("获得") && zh.text.contains("sales_order.approve"))
            // A language picked on a page is remembered.
            let picked = try await Self.get(client, "/ui/findings?lang=zh&tz=Asia/Shanghai", cookie: cookie)
            #expect(picked.text.contains("非超级管理员授予了管理员权限"))
            let remembered = picked.headers[values: .setCookie].compactMap { $0.split(separator: ";").first.map(String.init) }
            #expect(remembered.contains("ledger_lang=zh") && remembered.contains("ledger_tz=Asia/Shanghai"))
            let later = try await Self.get(client, "/ui/events/22", cookie: ([cookie!] + remembered).joined(separator: "; "))
            #expect(later.text.contains("2026-03-03 15:45:01 +08:00") && later.text.contains("datetime=\"2026-03-03T07:45:01Z\""))
            // The record just before the amount edit of event 22 held 1000.
            let stood = try await Self.get(client, "/ui/subjects/sales_order/SO-1001?asOf=seq:21", cookie: cookie)
            #expect(stood.text.contains("<td><bdi>1000</bdi></td>"))

            for (page, field) in [
                ("/ui/events?since=yesterday", "since"), ("/ui/users/u-li?asOf=2026-13-01", "asOf"), ("/ui/events?colour=red", "colour"),
                ("/ui/findings?kind=typo", "kind"), ("/ui/events?type=not%20a%20type", "type"), ("/ui/users/u-li?to=2026-03-01", "from"),
                ("/ui/permissions/approve", "permission"), ("/ui/events?tz=Mars/Olympus", "tz"), ("/ui/events?actor=a&actor=b", "actor"),
                ("/ui/events?format=csv&table=nope", "table"), ("/ui/events/0", "seq"),
            ] {
                let response = try await Self.get(client, page, cookie: cookie)
                #expect(response.status == .badRequest, "\(page): \(response.status)")
                #expect(response.text.contains(field), "\(page) does not name \(field)")
            }
            #expect(try await Self.get(client, "/ui/events/999", cookie: cookie).status == .notFound)
            #expect(try await Self.get(client, "/ui/search?q=nobody-at-all", cookie: cookie).status == .notFound)
            let search = try await Self.get(client, "/ui/search?q=sales_order.approve", cookie: cookie)
            #expect(search.headers[.location] == "/ui/permissions/sales_order.approve")
        }
    }

    /// The governance pages answer what the API answers: the same changes, the same signed report
    /// byte for byte, the same requests; and they refuse what the API refuses.
    @Test func governancePagesAnswerAsTheAPIDoes() async throws {
        try await Server().run { client in
            try await Self.load(client, DemoStory.events)
            let (cookie, _) = try await Self.signIn(client, token: Server.tokens["read"]!)
            // Every change the API lists between seq 25 and 33, one CSV row each; u-li's approval on the page with its cause.
            let api = try await client.execute(uri: "/v1/access/changes?from=seq:25&to=seq:33", method: .get, headers: auth("read")).json
            let changes = (api["changes"] ?? .null).list
            let csv = try await Self.get(client, "/ui/access/changes?from=seq:25&to=seq:33&format=csv&table=changes", cookie: cookie).text
            let rows = csv.split(whereSeparator: \.isNewline).dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false).prefix(4).joined(separator: ",") }
            #expect(!changes.isEmpty && rows == changes.map { c in ["user", "change", "kind", "name"].map { c[$0]?.stringValue ?? "" }.joined(separator: ",") })
            let page = try await Self.get(client, "/ui/access/changes?from=seq:25&to=seq:33", cookie: cookie).text
            #expect(page.contains("<td><a href=\"/ui/users/u-li\"><bdi>u-li</bdi></a></td><td><strong>gained</strong></td><td>permission</td>"))
            #expect(page.contains("<a href=\"/ui/events/27\">#27</a>") && page.contains("aria-current=\"page\""))
            let narrowed = try await Self.get(client, "/ui/access/changes?from=seq:25&to=seq:33&permission=sales_order.approve&format=csv&table=changes", cookie: cookie)
            #expect(narrowed.text.split(whereSeparator: \.isNewline).dropFirst().allSatisfy { $0.contains(",sales_order.approve,") })
            // The signed review report: the console's download is the API's answer, byte for byte.
            let report = "permission=sales_order.approve&asOf=seq:40"
            let signed = try await client.execute(uri: "/v1/reviews/report?\(report)", method: .get, headers: auth("read"))
            let download = try await Self.get(client, "/ui/reviews?\(report)&format=json", cookie: cookie)
            #expect(download.status == .ok && download.headers[.contentDisposition]?.contains("review-report.json") == true)
            #expect(download.text == signed.text && download.text.contains("\"signature\":"))
            let reportPage = try await Self.get(client, "/ui/reviews?\(report)", cookie: cookie).text
            let holders = ((signed.json["report"] ?? .null)["holders"] ?? .null).list.compactMap { $0["user"]?.stringValue }
            #expect(!holders.isEmpty && holders.allSatisfy { reportPage.contains("<a href=\"/ui/users/\($0)\"><bdi>\($0)</bdi></a>") })
            // The requests: ar-1 rejected with its reason, ar-2 approved; in Chinese on request.
            let requests = try await Self.get(client, "/ui/requests?status=rejected", cookie: cookie).text
            #expect(requests.contains("<bdi>ar-1</bdi>") && !requests.contains("<bdi>ar-2</bdi>") && requests.contains("the whole manager role is more than the cover needs"))
            let zh = try await Self.get(client, "/ui/requests?lang=zh", cookie: cookie).text
            #expect(zh.contains("已拒绝") && zh.contains("已批准") && zh.contains("权限变更"))
            for (uri, field) in [
                ("/ui/access/changes?from=seq:1&user=a&role=b", "at most one"), ("/ui/access/changes?to=seq:3", "from"),
                ("/ui/access/changes?from=seq:1&permission=nope", "permission"), ("/ui/reviews?permission=sales_order.approve&role=r", "exactly one"),
                ("/ui/reviews?format=json", "exactly one"), ("/ui/reviews?role=r&period=soon", "period"), ("/ui/reviews?adminLevel=boss", "adminLevel"),
                ("/ui/requests?status=maybe", "status"), ("/ui/requests?olderThan=old", "olderThan"), ("/ui/requests?colour=red", "colour"),
            ] {
                let response = try await Self.get(client, uri, cookie: cookie)
                #expect(response.status == .badRequest && response.text.contains(field), "\(uri): \(response.status)")
            }
        }
    }

    @Test func verifyingNeedsAnAdminSessionAndTheBundleConvincesTheOfflineVerifier() async throws {
        let server = try Server()
        try await server.run { client in
            try await Self.load(client, DemoStory.events)
            let (reader, _) = try await Self.signIn(client, token: Server.tokens["read"]!)
            let (admin, _) = try await Self.signIn(client, token: Server.tokens["admin"]!)
            var post = Self.host
            post[.cookie] = reader!
            #expect(try await client.execute(uri: "/ui/integrity/verify", method: .post, headers: post).status == .forbidden)
            post[.cookie] = admin!
            let verified = try await client.execute(uri: "/ui/integrity/verify", method: .post, headers: post)
            #expect(verified.status == .seeOther)
            let integrity = try await Self.get(client, "/ui/integrity", cookie: admin)
            #expect(integrity.text.contains("Intact</strong> (33 records)") && integrity.text.contains("by <bdi>ops</bdi>"))

            let bundle = try await Self.get(client, "/ui/subjects/sales_order/SO-1001?format=bundle&table=history", cookie: reader)
            #expect(bundle.headers[.contentDisposition]?.hasPrefix("attachment") == true)
            let directory = NSTemporaryDirectory() + "bundle-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            try Data(bundle.body.readableBytesView).write(to: URL(fileURLWithPath: directory + "/evidence.json"))
            let good = try await runVerifier(["--bundle", directory + "/evidence.json", server.verifier.verifierKey])
            #expect(good.status == 0 && good.output.contains("ok: 6 records proven"), "\(good.output)")
            // One byte of one record changed: the proof no longer leads to the signed root.
            let text = try String(contentsOfFile: directory + "/evidence.json", encoding: .utf8).replacingOccurrences(of: "1300", with: "1301")
            try text.write(toFile: directory + "/tampered.json", atomically: true, encoding: .utf8)
            let bad = try await runVerifier(["--bundle", directory + "/tampered.json", server.verifier.verifierKey])
            #expect(bad.status == 1 && bad.output.contains("does not lead to the checkpoint's root"))
        }
    }
}

private func json(_ text: String) -> String { String(decoding: CanonicalJSON.encode(.string(text)), as: UTF8.self) }

/// `scripts/verify_export.py` with these arguments: its exit status and what it printed.
func runVerifier(_ arguments: [String]) async throws -> (status: Int32, output: String) {
    try await offThePool { try runVerifierWaiting(arguments) }
}

private func runVerifierWaiting(_ arguments: [String]) throws -> (status: Int32, output: String) {
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("scripts/verify_export.py").path
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", script] + arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: output, as: UTF8.self))
}
