import Hummingbird

/// Lets a request through only with a bearer token that has `scope`: 401 without a valid token,
/// 403 with one that lacks the scope. The token's name (never its value) is kept for the request log.
public struct AuthMiddleware: RouterMiddleware {
    public typealias Context = LedgerRequestContext
    let tokens: TokenRegistry
    let scope: Scope

    public init(tokens: TokenRegistry, scope: Scope) {
        self.tokens = tokens
        self.scope = scope
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let entry = tokens.entry(authorization: request.headers[.authorization]) else {
            throw APIError(.unauthorized, "unauthorized", "a valid bearer token is required (Authorization: Bearer <token>)")
        }
        context.caller.tokenName = entry.name
        guard entry.scopes.contains(scope) else {
            throw APIError(.forbidden, "forbidden", "token \"\(entry.name)\" lacks the \(scope.rawValue) scope")
        }
        return try await next(request, context)
    }
}
