import Hummingbird
import Logging
import Synchronization

/// The context of one request: Hummingbird's, plus who made it, which `AuthMiddleware` fills in
/// and `RequestLogMiddleware` writes to the request's log line (the token's name, never its value).
public struct LedgerRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let caller = Caller()

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
    }

    public final class Caller: Sendable {
        private let name = Mutex<String?>(nil)
        public var tokenName: String? {
            get { name.withLock { $0 } }
            set { name.withLock { $0 = newValue } }
        }
    }
}

/// One log line per request: method, path, status, duration, token name.
public struct RequestLogMiddleware: RouterMiddleware {
    public typealias Context = LedgerRequestContext

    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        var status: HTTPResponse.Status = .internalServerError
        defer {
            let elapsed = ContinuousClock.now - start
            context.logger.info(
                "request",
                metadata: [
                    "http.method": "\(request.method)", "http.path": "\(request.uri.path)", "http.status": "\(status.code)",
                    "http.duration_ms": "\(Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000)",
                    "auth.token": "\(context.caller.tokenName ?? "-")",
                ])
        }
        do {
            let response = try await next(request, context)
            status = response.status
            return response
        } catch let error as HTTPResponseError {
            status = error.status
            throw error
        }
    }
}
