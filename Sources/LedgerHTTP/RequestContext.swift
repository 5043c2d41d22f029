import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// The context of one request: Hummingbird's, plus who made it, which `AuthMiddleware` fills in
/// and `RequestLogMiddleware` writes to the request's log line (the token's name, never its value).
public struct LedgerRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let caller = Caller()
    /// The connection: a stream closes it to cut off a client that stopped reading.
    public let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    public final class Caller: Sendable {
        private let name = Mutex<String?>(nil)
        public var tokenName: String? {
            get { name.withLock { $0 } }
            set { name.withLock { $0 = newValue } }
        }
    }
}

/// One log line per request (method, path, status, duration, token name), and the request's id in an
/// `X-Request-Id` header on every answer. A 500 is logged with its cause under that id, which the
/// client sees, so an operator can find it; the client never sees the cause.
public struct RequestLogMiddleware: RouterMiddleware {
    public typealias Context = LedgerRequestContext
    public static let requestIdHeader = HTTPField.Name("X-Request-Id")!

    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            var failure = error as? any HTTPResponseError ?? APIError.from(error)
            if failure.status == .internalServerError {
                Self.logInternalError(cause: (failure as? APIError)?.cause ?? "\(error)", context.logger, request.uri.path)
                if let api = failure as? APIError { failure = api.naming(requestID: context.id) }
            }
            response = try failure.response(from: request, context: context)
        }
        response.headers[Self.requestIdHeader] = context.id
        Self.log(context.logger, request.method, request.uri.path, response.status, since: start, token: context.caller.tokenName)
        return response
    }

    /// A 500's cause, for the operator: the client sees only the request id.
    static func logInternalError(cause: String, _ logger: Logger, _ path: String) {
        logger.error("internal error", metadata: ["http.path": "\(path)", "error.cause": "\(cause)"])
    }

    /// The request's line (also written by the handlers that answer on the event loop, which give
    /// the request id here rather than copy the logger to set it).
    static func log(
        _ logger: Logger, _ method: HTTPRequest.Method, _ path: String, _ status: HTTPResponse.Status, since start: ContinuousClock.Instant,
        token: String?, requestID: String? = nil
    ) {
        let elapsed = ContinuousClock.now - start
        var metadata: Logger.Metadata = [
            "http.method": "\(method)", "http.path": "\(path)", "http.status": "\(status.code)",
            "http.duration_ms": "\(Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000)",
            "auth.token": "\(token ?? "-")",
        ]
        if let requestID { metadata["hb.request.id"] = .string(requestID) }
        logger.info("request", metadata: metadata)
    }
}
