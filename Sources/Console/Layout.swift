import EventModel
import HTTPTypes
import Hummingbird
import LedgerHTTP

/// The frame of every page: a skip link, the navigation, the language and time-zone switch, the
/// sign-out button, then the page's own content under one `h1`.
enum Layout {
    static func page(_ c: PageContext, title: String, body: HTML, status: HTTPResponse.Status) -> Response {
        let hidden = c.fields.filter { $0.key != "format" }.sorted { $0.key < $1.key }.map { name, value in
            HTML("<input type=\"hidden\" name=\"\(name)\" value=\"\(value)\">")
        }
        let languages = Language.allCases.map { language in
            HTML("<option value=\"\(language.rawValue)\"\(language == c.language ? HTML(" selected") : .empty)>\(language.name)</option>")
        }
        let zones = DisplayZone.offered.map { zone in
            HTML("<option value=\"\(zone.identifier)\"\(zone == c.zone ? HTML(" selected") : .empty)>\(zone.identifier)</option>")
        }
        let nav: [(String, Text)] = [
            ("/ui/", .navHome), ("/ui/events", .navEvents), ("/ui/findings", .navFindings), ("/ui/access/changes", .navAccessChanges),
            ("/ui/reviews", .navReviews), ("/ui/requests", .navRequests), ("/ui/integrity", .navIntegrity),
        ]
        let links = nav.map { href, key in
            HTML("<li><a href=\"\(href)\"\(c.path == href || (href != "/ui/" && c.path.hasPrefix(href)) ? HTML(" aria-current=\"page\"") : .empty)>\(c.t(key))</a></li>")
        }
        let chrome: HTML = """
            <header class="top">
            <a class="brand" href="/ui/">AuditLedger</a>
            <nav aria-label="\(c.t(.navLabel))"><ul>\(links)</ul></nav>
            <form class="prefs" method="get" action="\(c.path)">\(hidden)
            <label>\(c.t(.language)) <select name="lang">\(languages)</select></label>
            <label>\(c.t(.timeZone)) <select name="tz">\(zones)</select></label>
            <button type="submit">\(c.t(.apply))</button>
            </form>
            <form class="signout" method="post" action="/ui/logout"><button type="submit">\(c.t(.signOut)) (\(c.session.tokenName))</button></form>
            </header>
            """
        return document(language: c.language, title: title, status: status, content: """
            \(chrome)
            <main id="main">
            <h1>\(title)</h1>
            \(body)
            </main>
            """)
    }

    static func signIn(language: Language, next: String, problem: String?, status: HTTPResponse.Status) -> Response {
        let t = language.text
        let alert: HTML = problem.map { "<p class=\"problem\" role=\"alert\">\($0)</p>" } ?? .empty
        let switcher = Language.allCases.filter { $0 != language }.map { other in
            HTML("<a href=\"\(URLPath("login", query: [("lang", other.rawValue), ("next", next)]))\" lang=\"\(other.htmlLang)\">\(other.name)</a>")
        }
        return document(language: language, title: t(.signInTitle), status: status, content: """
            <main id="main" class="signin">
            <h1>\(t(.signInTitle))</h1>
            <p>\(t(.signInExplain))</p>
            \(alert)
            <form method="post" action="/ui/login">
            <input type="hidden" name="next" value="\(next)">
            <label for="token">\(t(.token))</label>
            <input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
            <button type="submit">\(t(.signIn))</button>
            </form>
            <p class="lang">\(switcher)</p>
            </main>
            """)
    }

    static func errorPage(_ error: APIError, language: Language, requestId: String) -> Response {
        let t = language.text
        let detail: HTML = error.status == .internalServerError ? "<p>\(t(.errorRequestId)) <code>\(requestId)</code></p>" : .empty
        return document(language: language, title: "\(error.status.code) · \(t(.errorTitle))", status: error.status, content: """
            <main id="main">
            <h1>\(t(.errorTitle))</h1>
            <p class="problem" role="alert">\(error.message)</p>
            \(detail)
            <p><a href="/ui/">\(t(.backHome))</a></p>
            </main>
            """)
    }

    private static func document(language: Language, title: String, status: HTTPResponse.Status, content: HTML) -> Response {
        let html: HTML = """
            <!doctype html>
            <html lang="\(language.htmlLang)">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(title) · AuditLedger</title>
            <link rel="stylesheet" href="/ui/static/console.css">
            </head>
            <body>
            <a class="skip" href="#main">\(language.text(.skipToContent))</a>
            \(content)
            </body>
            </html>

            """
        return Response(
            status: status, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: html.text)))
    }
}
