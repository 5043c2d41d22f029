import EventLog
import EventModel
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
        [EventLoopAnswers(EventLoopResponder(api: self, metrics: metrics, logger: logger, serverName: serverName))]
    }
}

/// Requests answered on the connection's event loop, in the channel pipeline ahead of Hummingbird:
/// a plain history (`EventLoopHistory.swift`) and a small append (`EventLoopIngest.swift`). Through
/// the router each also paid hand-offs to a task (and a history to the reader pool) and back, and the
/// middleware chain: several times a history's query, most of a single event's cost (BENCHMARKS.md,
/// issue 11). Every other request, and any that does not qualify or whose question fails, goes on to
/// the router untouched, which answers it as it always did; the answers given here are the router's
/// byte for byte (SameAnswersTests), with the same log line and metrics.
///
/// Answers leave in the order the requests came: a request passed on is owed an answer until the
/// router's last part of it goes out through `write`, and while one is owed nothing is answered
/// here. An append waits for the writer's commit: until its answer is written, the connection's next
/// requests wait in `backlog` (reading pauses once one has come, so the backlog stays one read long),
/// and the end of the client's input and a shutdown's request to close idle connections wait, so
/// none is lost or overtaken. Reading goes on while nothing waits: pausing it for every append made
/// NIO re-arm the socket twice a request, 4.5% of an event loop under single events (BENCHMARKS.md).
final class EventLoopAnswers: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    let responder: EventLoopResponder

    private enum State {
        case idle
        /// A history to answer here, held until its end arrives.
        case history(HTTPRequest, HistoryTarget, start: ContinuousClock.Instant)
        /// An append to take, its body gathering.
        case collecting(HTTPRequest, caller: TokenStore.Entry, body: ByteBuffer, start: ContinuousClock.Instant)
        /// The writer has the events; the answer is owed.
        case appending
        /// Passing the parts of a request on to the router.
        case passing
    }
    private var state = State.idle
    /// Requests passed on whose answers have not all gone out yet.
    private var awaitingAnswers = 0
    /// What arrived while appending, taken up again once the answer is out.
    private var backlog: [HTTPRequestPart] = []
    private var readHeld = false
    /// Events that would close the connection (its input ended, a shutdown), held while appending.
    private var eventsHeld: [Any] = []
    private var needsFlush = false
    private var removed = false

    init(_ responder: EventLoopResponder) { self.responder = responder }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if case .appending = state {
            backlog.append(part)
        } else {
            take(context, part)
        }
    }

    private func take(_ context: ChannelHandlerContext, _ part: HTTPRequestPart) {
        switch (state, part) {
        case (.idle, .head(let head)):
            if awaitingAnswers == 0, let target = Self.historyTarget(head) {
                state = .history(head, target, start: .now)
            } else if awaitingAnswers == 0, let (caller, length) = ingestCaller(head) {
                state = .collecting(head, caller: caller, body: context.channel.allocator.buffer(capacity: length), start: .now)
            } else {
                passOn(context, [.head(head)])
                state = .passing
            }
        case (.history(let head, let target, let start), .end):
            state = .idle
            if answerHistory(context, head, target, start: start) {
                needsFlush = true
            } else {
                passOn(context, [.head(head), .end(nil)])
            }
        case (.collecting(let head, let caller, var body, let start), .body(let chunk)):
            guard body.readableBytes + chunk.readableBytes <= Self.maxIngestBody else {
                passOn(context, [.head(head), .body(body), .body(chunk)])
                state = .passing
                return
            }
            body.writeImmutableBuffer(chunk)
            state = .collecting(head, caller: caller, body: body, start: start)
        case (.collecting(let head, let caller, let body, let start), .end):
            guard let events = Self.parse(body) else {
                state = .idle
                passOn(context, [.head(head), .body(body), .end(nil)])
                return
            }
            state = .appending
            let handler = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            responder.api.log.append(events) { result in
                handler.eventLoop.execute {
                    let (answers, context) = handler.value
                    answers.appended(context, result, to: head, caller: caller, start: start)
                }
            }
        case (.history(let head, _, _), let part):
            passOn(context, [.head(head), part])
            state = .passing
        case (.collecting(let head, _, let body, _), let part):
            passOn(context, [.head(head), .body(body), part])
            state = .passing
        case (.passing, let part):
            if case .end = part { state = .idle }
            passOn(context, [part])
        case (.idle, let part), (.appending, let part):
            passOn(context, [part])
        }
    }

    /// On the event loop, once the writer is done: the append's answer, then whatever waited for it.
    private func appended(
        _ context: ChannelHandlerContext, _ result: Result<[AppendResult], LogError>, to head: HTTPRequest, caller: TokenStore.Entry,
        start: ContinuousClock.Instant
    ) {
        // The connection is gone: the events are in (or not) all the same, and a retry says which.
        guard !removed else { return }
        answerAppend(context, result, to: head, caller: caller, start: start)
        state = .idle
        let replayed = !backlog.isEmpty
        while !backlog.isEmpty {
            if case .appending = state { break }
            take(context, backlog.removeFirst())
        }
        context.flush()
        needsFlush = false
        // Outside NIO's read loop: the router's channel delivers what it was passed at the end of a
        // read, so tell it the read ended.
        if replayed { context.fireChannelReadComplete() }
        if case .appending = state { return }
        if readHeld {
            readHeld = false
            context.read()
        }
        let events = eventsHeld
        eventsHeld = []
        for event in events { context.fireUserInboundEventTriggered(event) }
    }

    /// Hands parts to the router; an empty body part (nothing gathered) is left out.
    private func passOn(_ context: ChannelHandlerContext, _ parts: [HTTPRequestPart]) {
        for part in parts {
            switch part {
            case .head: awaitingAnswers += 1
            case .body(let bytes) where bytes.readableBytes == 0: continue
            default: break
            }
            context.fireChannelRead(wrapInboundOut(part))
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if needsFlush {
            needsFlush = false
            context.flush()
        }
        context.fireChannelReadComplete()
    }

    /// The router's answers pass here on their way out: the last part of each settles one request.
    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data), awaitingAnswers > 0 { awaitingAnswers -= 1 }
        context.write(data, promise: promise)
    }

    func handlerRemoved(context: ChannelHandlerContext) { removed = true }

    func read(context: ChannelHandlerContext) {
        if case .appending = state, !backlog.isEmpty {
            readHeld = true
        } else {
            context.read()
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .appending = state, event is ChannelShouldQuiesceEvent || (event as? ChannelEvent) == .inputClosed {
            eventsHeld.append(event)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}

/// What `EventLoopAnswers` needs to answer as the router does: the API, and an answer written with
/// the router's headers, request id, metrics and log line.
struct EventLoopResponder: Sendable {
    let api: LedgerAPI
    let metrics: RequestMetricHandles
    let logger: Logger
    let serverName: String

    /// Writes one whole answer to `request` (not flushed), counts it and logs its line. `path` is the
    /// request's target without its query, as the router logs it.
    func write(
        _ context: ChannelHandlerContext, _ status: HTTPResponse.Status, _ body: ByteBuffer,
        headers: HTTPFields = jsonHeaders, to request: HTTPRequest, path: String, route: String,
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
        RequestLogMiddleware.log(logger, request.method, path, status, since: start, token: token, requestID: requestID)
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
