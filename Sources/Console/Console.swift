import EventLog
import EventModel
import Foundation
import HTTPTypes
import Hummingbird
import LedgerHTTP
import Logging
import Projector
import Queries
import Transparency

/// `ui.*` of the configuration.
public struct ConsoleSettings: Sendable, Equatable {
    /// Serve the console under `/ui/` on the API's port.
    public var enabled = true
    /// A session unused this long is over.
    public var sessionIdle: Duration = .seconds(1800)
    /// Mark the session cookie `Secure` on every answer; without it, only when a TLS proxy says so
    /// (`X-Forwarded-Proto: https`).
    public var secureCookies = false
    /// Failed sign-ins a minute from one address before it is told to wait.
    public var signInAttemptsPerMinute = 10

    public init() {}
}

/// The web console for compliance officers: server-rendered pages over the same queries as the
/// API, each value escaped by construction (`HTML`), behind a session opened with a read or admin
/// token. No script, no inline style, nothing fetched from elsewhere (`Content-Security-Policy`).
public struct Console: Sendable {
    let api: LedgerAPI
    let settings: ConsoleSettings
    let sessions: SessionStore
    let limiter: SignInLimiter

    public init(api: LedgerAPI, settings: ConsoleSettings) {
        self.api = api
        self.settings = settings
        sessions = SessionStore(idle: settings.sessionIdle)
        limiter = SignInLimiter(perMinute: settings.signInAttemptsPerMinute)
    }

    public func addRoutes(to router: Router<LedgerRequestContext>) {
        let ui = router.group("/ui").add(middleware: ConsoleMiddleware())
        ui.get("static/console.css") { _, _ in Assets.stylesheet }
        ui.get("login") { request, context in try signInForm(request, context) }
        ui.post("login") { request, context in try await signIn(request, context) }
        ui.post("logout") { request, context in try await signOut(request, context) }
        ui.get("/") { request, context in try await page(request, context, home) }
        ui.get("search") { request, context in try await page(request, context, search) }
        ui.get("events") { request, context in try await page(request, context, events) }
        ui.get("events/:seq") { request, context in try await page(request, context) { try await event($0, $1, $2) } }
        ui.get("subjects/:type/:id") { request, context in try await page(request, context) { try await subject($0, $1, $2) } }
        ui.get("users/:id") { request, context in try await page(request, context) { try await user($0, $1, $2) } }
        ui.get("permissions/:permission") { request, context in try await page(request, context) { try await permission($0, $1, $2) } }
        ui.get("roles/:id") { request, context in try await page(request, context) { try await role($0, $1, $2) } }
        ui.get("findings") { request, context in try await page(request, context, findings) }
        ui.get("access/changes") { request, context in try await page(request, context, accessChanges) }
        ui.get("reviews") { request, context in try await page(request, context, reviewReport) }
        ui.get("requests") { request, context in try await page(request, context, requests) }
        ui.get("integrity") { request, context in try await page(request, context, integrity) }
        ui.get("integrity/checkpoint.note") { request, context in try await page(request, context, checkpointNote) }
        ui.get("integrity/checkpoint.vkey") { request, context in try await page(request, context, verifierKey) }
        ui.post("integrity/verify") { request, context in try await verifyNow(request, context) }
    }

    /// A page behind a session: without one, the browser is sent to sign in and brought back after.
    func page(
        _ request: Request, _ context: LedgerRequestContext,
        _ render: (Request, LedgerRequestContext, PageContext) async throws -> Response
    ) async throws -> Response {
        guard let session = currentSession(request) else {
            let back = request.uri.path + (request.uri.query.map { "?" + $0 } ?? "")
            throw ConsoleRedirect(URLPath("login", query: [("next", back)]))
        }
        context.caller.tokenName = session.tokenName
        let page = try PageContext(request: request, session: session)
        var response = try await render(request, context, page)
        for cookie in page.preferenceCookies(secure: secureCookie(request)) { response.setCookie(cookie) }
        return response
    }

    func currentSession(_ request: Request) -> SessionStore.Session? {
        request.cookies[Self.sessionCookie].flatMap { sessions.session(id: $0.value, tokens: api.tokens) }
    }

    static let sessionCookie = "ledger_session"

    func secureCookie(_ request: Request) -> Bool {
        settings.secureCookies || request.headers[HTTPField.Name("X-Forwarded-Proto")!]?.lowercased() == "https"
    }

    // MARK: - Signing in and out

    func signInForm(_ request: Request, _ context: LedgerRequestContext) throws -> Response {
        let fields = FormFields(query: request.uri.query)
        let language = Language.of(request, choice: fields["lang"])
        if currentSession(request) != nil { throw ConsoleRedirect(location: safeNext(fields["next"])) }
        return Layout.signIn(language: language, next: safeNext(fields["next"]), problem: nil, status: .ok)
    }

    func signIn(_ request: Request, _ context: LedgerRequestContext) async throws -> Response {
        try checkOrigin(request)
        let form = try await FormFields.body(of: request)
        let language = Language.of(request, choice: nil)
        let next = safeNext(form["next"])
        let address = context.channel.remoteAddress?.ipAddress ?? "?"
        guard limiter.allows(address) else {
            var response = Layout.signIn(language: language, next: next, problem: language.text(.signInTooMany), status: .tooManyRequests)
            response.headers[.retryAfter] = "60"
            return response
        }
        guard let token = form["token"]?.trimmingCharacters(in: .whitespaces), let entry = api.tokens.store.authenticate(token) else {
            limiter.failed(address)
            context.logger.notice("console sign-in refused", metadata: ["auth.reason": "unknown token", "net.peer": "\(address)"])
            return Layout.signIn(language: language, next: next, problem: language.text(.signInUnknownToken), status: .unauthorized)
        }
        guard let session = sessions.open(for: entry) else {
            limiter.failed(address)
            context.logger.notice("console sign-in refused", metadata: ["auth.reason": "no read scope", "auth.token": "\(entry.name)"])
            return Layout.signIn(language: language, next: next, problem: language.text(.signInNoReadScope), status: .forbidden)
        }
        limiter.succeeded(address)
        context.caller.tokenName = entry.name
        context.logger.info("console sign-in", metadata: ["auth.token": "\(entry.name)"])
        var response = Response(status: .seeOther, headers: [.location: next])
        response.setCookie(
            Cookie(
                name: Self.sessionCookie, value: session.id, path: "/ui", secure: secureCookie(request), httpOnly: true, sameSite: .strict))
        return response
    }

    func signOut(_ request: Request, _ context: LedgerRequestContext) async throws -> Response {
        try checkOrigin(request)
        if let id = request.cookies[Self.sessionCookie]?.value { sessions.close(id: id) }
        var response = Response(status: .seeOther, headers: [.location: "/ui/login"])
        response.setCookie(
            Cookie(name: Self.sessionCookie, value: "", maxAge: 0, path: "/ui", secure: secureCookie(request), httpOnly: true, sameSite: .strict))
        return response
    }

    /// A state-changing request must come from a page of this console: its `Origin` names the host it
    /// was sent to. Under `Referrer-Policy: no-referrer` browsers send `Origin: null` even from the same
    /// page; then `Sec-Fetch-Site: same-origin`, which no page can forge, must vouch for it. (The session
    /// cookie is `SameSite=Strict` as well; this holds where a browser ignores that.)
    func checkOrigin(_ request: Request) throws {
        let origin = request.headers[.origin]
        let sameSite = request.headers[HTTPField.Name("Sec-Fetch-Site")!] == "same-origin"
        let matches = request.head.authority.map { origin == "http://" + $0 || origin == "https://" + $0 } ?? false
        guard matches || (origin == "null" && sameSite) else {
            throw APIError(.forbidden, "bad_origin", "this form must be sent from a page of this console (the Origin header does not match)")
        }
    }

    /// Where to go after signing in: a console page, never another site.
    func safeNext(_ next: String?) -> String {
        guard let next, next.hasPrefix("/ui/") || next == "/ui", !next.hasPrefix("//"), !next.contains("\\"),
            !next.unicodeScalars.contains(where: { $0.value < 0x20 })
        else { return "/ui/" }
        return next
    }
}

/// Sends the browser elsewhere (303): to sign in, or to the page a search found.
struct ConsoleRedirect: Error {
    let location: String
    init(location: String) { self.location = location }
    init(_ url: URLPath) { location = url.text }
}

/// Every answer under `/ui/` carries the headers that keep a hostile value inert even if it ever
/// escaped: no script from anywhere, no framing, no sniffing, no referrer, no caching of ledger data.
/// Errors become pages in the reader's language; a 500's cause goes to the log, not the page.
struct ConsoleMiddleware: RouterMiddleware {
    typealias Context = LedgerRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        do {
            response = try await next(request, context)
        } catch let redirect as ConsoleRedirect {
            response = Response(status: .seeOther, headers: [.location: redirect.location])
        } catch {
            let failure: APIError
            if let api = error as? APIError {
                failure = api
            } else if let http = error as? any HTTPResponseError, http.status != .internalServerError {
                failure = APIError(http.status, "bad_request", "\(http.status.reasonPhrase)")
            } else {
                failure = APIError.from(error)
            }
            if failure.status == .internalServerError {
                context.logger.error("internal error", metadata: ["http.path": "\(request.uri.path)", "error.cause": "\(failure.cause ?? "\(error)")"])
            }
            response = Layout.errorPage(failure, language: Language.of(request, choice: nil), requestId: context.id)
        }
        response.headers[.contentSecurityPolicy] =
            "default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        response.headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        response.headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        response.headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        if response.headers[.cacheControl] == nil { response.headers[.cacheControl] = "no-store" }
        return response
    }
}
