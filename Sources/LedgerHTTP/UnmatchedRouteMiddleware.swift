import HTTPTypes
import Hummingbird

/// What a client gets for a path the API does not have (404) or a method the path does not take (405
/// with `Allow`): the API's error JSON, like every other refusal, not an empty body. Added to the router
/// after the routes, so it wraps only the router's not-found answer.
public struct UnmatchedRouteMiddleware: RouterMiddleware {
    public typealias Context = LedgerRequestContext
    private let routes: [(segments: [String], method: HTTPRequest.Method)]

    public init(routes: [Router<Context>.RouteDescription]) {
        self.routes = routes.map { route in (route.path.description.split(separator: "/").map(String.init), route.method) }
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            let segments = request.uri.path.split(separator: "/")
            let allowed = Set(routes.filter { Self.matches($0.segments, segments) }.map(\.method.rawValue)).sorted()
            guard !allowed.isEmpty else {
                throw APIError(.notFound, "not_found", "no such endpoint: \(request.uri.path) (the API is in openapi.yaml)")
            }
            var refusal = APIError(
                .methodNotAllowed, "method_not_allowed", "\(request.uri.path) takes \(allowed.joined(separator: ", ")), not \(request.method)")
            refusal.headers[.allow] = allowed.joined(separator: ", ")
            throw refusal
        }
    }

    /// `{name}` in a route matches any one segment.
    private static func matches(_ route: [String], _ path: [Substring]) -> Bool {
        route.count == path.count && zip(route, path).allSatisfy { $0.hasPrefix("{") || $0 == $1 }
    }
}
