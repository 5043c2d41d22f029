import Glibc
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTPTypes
import Synchronization

extension LedgerAPI {
    /// The handlers that answer in the channel pipeline, ahead of Hummingbird, one set per connection.
    public func eventLoopHandlers(metrics: RequestMetricHandles, logger: Logger, serverName: String) -> [any RemovableChannelHandler] {
        let responder = EventLoopResponder(api: self, metrics: metrics, logger: logger, serverName: serverName)
        return [EventLoopHistory(responder), EventLoopIngest(responder)]
    }
}

/// What the handlers that answer on the event loop share: an answer written as the router writes it,
/// with the same headers, request id, metrics and log line.
struct EventLoopResponder: Sendable {
    let api: LedgerAPI
    let metrics: RequestMetricHandles
    let logger: Logger
    let serverName: String

    /// Writes one whole answer to `request` (not flushed), counts it and logs its line.
    func write(
        _ context: ChannelHandlerContext, _ status: HTTPResponse.Status, _ body: ByteBuffer,
        headers: HTTPFields = [.contentType: "application/json; charset=utf-8"], to request: HTTPRequest, route: String,
        start: ContinuousClock.Instant, token: String?, requestID: String = RequestID().description
    ) {
        var fields = headers
        fields[.contentLength] = String(body.readableBytes)
        fields[RequestLogMiddleware.requestIdHeader] = requestID
        fields[.date] = HTTPDate.now
        fields[.server] = serverName
        context.write(NIOAny(HTTPResponsePart.head(HTTPResponse(status: status, headerFields: fields))), promise: nil)
        context.write(NIOAny(HTTPResponsePart.body(body)), promise: nil)
        context.write(NIOAny(HTTPResponsePart.end(nil)), promise: nil)
        metrics.record(route: route, method: request.method, status: status, since: start)
        var requestLogger = logger
        requestLogger[metadataKey: "hb.request.id"] = .string(requestID)
        RequestLogMiddleware.log(requestLogger, request.method, Self.path(of: request), status, since: start, token: token)
    }

    /// The path of a request's target, without its query (as the router logs it).
    static func path(of request: HTTPRequest) -> String {
        request.path.map { String($0.prefix { $0 != "?" }) } ?? ""
    }
}

/// The `Date` header's value (RFC 9110's IMF-fixdate), made at most once a second.
enum HTTPDate {
    private static let cache = Mutex<(second: Int, text: String)>((-1, ""))
    private static let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    static var now: String {
        var clock = timespec()
        clock_gettime(CLOCK_REALTIME, &clock)
        let second = clock.tv_sec
        return cache.withLock { cached in
            if cached.second != second { cached = (second, format(second)) }
            return cached.text
        }
    }

    static func format(_ secondsSince1970: Int) -> String {
        var time = time_t(secondsSince1970)
        var parts = tm()
        gmtime_r(&time, &parts)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
    }
}
