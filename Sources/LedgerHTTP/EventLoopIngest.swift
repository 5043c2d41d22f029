import EventLog
import EventModel
import HTTPTypes
import Hummingbird
import NIOCore
import NIOHTTPTypes

/// `POST /v1/events` with a small body (a single event, or a few) parsed on the connection's event
/// loop and handed straight to the writer; the answer goes out from the writer's completion, once the
/// commit is durable, as the router's would. Through the router the same request also paid the hops
/// to a task and back, the body as an async sequence and the middleware chain: most of what a
/// single durable event cost (BENCHMARKS.md, issue 11).
///
/// Taken here: an ingest token, a JSON (or no) Content-Type, a `Content-Length` of at most
/// `maxBody` bytes, no `Expect` or `Connection` header, a target of exactly `/v1/events`, a body
/// that parses, and nothing earlier on the connection still owed an answer. Anything else, and a
/// body that does not parse, goes on to the router untouched (it answers with the same error as
/// ever). Once an append is under way the answer is this handler's, failure included: until it is
/// written, the connection's next requests wait here, reading pauses and a shutdown's request to
/// close idle connections waits, so answers leave in order and none is lost.
final class EventLoopIngest: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    static let route = "/v1/events"
    /// Larger bodies (batches) go to the router, which parses them off the event loop.
    static let maxBody = 16 * 1024

    private let responder: EventLoopResponder

    private enum State {
        case idle
        case collecting(HTTPRequest, caller: TokenStore.Entry, body: ByteBuffer, start: ContinuousClock.Instant)
        /// The writer has the events; the answer is owed.
        case appending
        case passing
    }
    private var state = State.idle
    /// Requests passed on whose answers have not all gone out yet.
    private var awaitingAnswers = 0
    /// What arrived while appending, taken up again once the answer is out.
    private var backlog: [HTTPRequestPart] = []
    private var readHeld = false
    private var quiesceHeld: Any?
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
            if awaitingAnswers == 0, let (caller, length) = eligible(head) {
                state = .collecting(head, caller: caller, body: context.channel.allocator.buffer(capacity: length), start: .now)
            } else {
                passOn(context, .head(head))
                state = .passing
            }
        case (.collecting(let head, let caller, var body, let start), .body(let chunk)):
            guard body.readableBytes + chunk.readableBytes <= Self.maxBody else {
                passOn(context, .head(head))
                passOn(context, .body(body))
                passOn(context, .body(chunk))
                state = .passing
                return
            }
            body.writeImmutableBuffer(chunk)
            state = .collecting(head, caller: caller, body: body, start: start)
        case (.collecting(let head, let caller, let body, let start), .end):
            let events: [PreparedEvent]
            do {
                events = try body.withUnsafeReadableBytes { try EventBody.parse($0).events }
            } catch {
                state = .idle
                passOn(context, .head(head))
                if body.readableBytes > 0 { passOn(context, .body(body)) }
                passOn(context, .end(nil))
                return
            }
            state = .appending
            let handler = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            responder.api.log.append(events) { result in
                handler.eventLoop.execute {
                    let (ingest, context) = handler.value
                    ingest.answer(context, result, to: head, caller: caller, start: start)
                }
            }
        case (.collecting(let head, _, let body, _), let part):
            passOn(context, .head(head))
            if body.readableBytes > 0 { passOn(context, .body(body)) }
            passOn(context, part)
            state = .passing
        case (.passing, let part):
            if case .end = part { state = .idle }
            passOn(context, part)
        case (.idle, let part), (.appending, let part):
            passOn(context, part)
        }
    }

    /// The token and the body's length when this handler may take the request.
    private func eligible(_ head: HTTPRequest) -> (TokenStore.Entry, Int)? {
        let fields = head.headerFields
        guard head.method == .post, head.path == Self.route, fields[.connection] == nil, fields[.expect] == nil,
            fields[.contentType].map(LedgerAPI.isJSON(contentType:)) ?? true,
            let length = fields[.contentLength].flatMap(Int.init), length <= Self.maxBody,
            let caller = responder.api.tokens.entry(authorization: fields[.authorization]), caller.scopes.contains(.ingest)
        else { return nil }
        return (caller, length)
    }

    /// On the event loop, once the writer is done: the answer, then whatever waited for it.
    private func answer(
        _ context: ChannelHandlerContext, _ result: Result<[AppendResult], LogError>, to head: HTTPRequest, caller: TokenStore.Entry,
        start: ContinuousClock.Instant
    ) {
        // The connection is gone: the events are in (or not) all the same, and a retry says which.
        guard !removed else { return }
        let requestID = RequestID().description
        switch result {
        case .success(let results):
            let (status, bytes) = LedgerAPI.ingestAnswer(results)
            responder.write(context, status, jsonBody([bytes]), to: head, route: Self.route, start: start, token: caller.name, requestID: requestID)
        case .failure(let error):
            var failure = APIError.from(error)
            if failure.status == .internalServerError {
                RequestLogMiddleware.logInternalError(cause: failure.cause ?? "\(error)", responder.logger, Self.route)
                failure = failure.naming(requestID: requestID)
            }
            responder.write(
                context, failure.status, jsonBody([CanonicalJSON.encode(failure.json)]), headers: failure.responseHeaders, to: head,
                route: Self.route, start: start, token: caller.name, requestID: requestID)
        }
        context.flush()
        state = .idle
        let replayed = !backlog.isEmpty
        while !backlog.isEmpty {
            if case .appending = state { break }
            take(context, backlog.removeFirst())
        }
        // Outside NIO's read loop: the handlers behind (the router's) deliver what they were passed
        // at the end of a read, so tell them it ended.
        if replayed { context.fireChannelReadComplete() }
        if case .appending = state { return }
        if readHeld {
            readHeld = false
            context.read()
        }
        if let event = quiesceHeld {
            quiesceHeld = nil
            context.fireUserInboundEventTriggered(event)
        }
    }

    private func passOn(_ context: ChannelHandlerContext, _ part: HTTPRequestPart) {
        if case .head = part { awaitingAnswers += 1 }
        context.fireChannelRead(wrapInboundOut(part))
    }

    /// The router's answers pass here on their way out: the last part of each settles one request.
    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data), awaitingAnswers > 0 { awaitingAnswers -= 1 }
        context.write(data, promise: promise)
    }

    func handlerRemoved(context: ChannelHandlerContext) { removed = true }

    func read(context: ChannelHandlerContext) {
        if case .appending = state {
            readHeld = true
        } else {
            context.read()
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .appending = state, event is ChannelShouldQuiesceEvent {
            quiesceHeld = event
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}
