import EventModel
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTPTypes

/// `GET /v1/subjects/{type}/{id}/history` answered on the connection's event loop, in the channel
/// pipeline ahead of Hummingbird. A history is a few index reads and a copy of stored bytes (tens of
/// microseconds); through the router it also paid a hand-off to a task, one to the reader pool and
/// back, and the middleware chain, several times the query itself (BENCHMARKS.md, issue 11).
///
/// Only a plain success is answered here: a valid read token, a path without escapes, parameters
/// that check, no body, no `Connection` header, and no earlier request of the connection still
/// waiting for its answer (so answers never overtake each other). Every other request, and any
/// whose question fails, goes on to the router untouched, which answers it as it always did. The
/// answer is the router's byte for byte (SameAnswersTests), with the same log line and metrics.
final class EventLoopHistory: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// The route as the router names it in metrics.
    static let route = "/v1/subjects/{type}/{id}/history"

    private let responder: EventLoopResponder

    private enum State {
        case idle
        /// A request this handler may answer, held until its end arrives.
        case held(HTTPRequest, start: ContinuousClock.Instant)
        /// Passing the parts of a request on to the router.
        case passing
    }
    private var state = State.idle
    /// Requests passed on whose answers have not all gone out yet.
    private var awaitingAnswers = 0
    private var needsFlush = false

    init(_ responder: EventLoopResponder) { self.responder = responder }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch (state, unwrapInboundIn(data)) {
        case (.idle, .head(let head)):
            if awaitingAnswers == 0, head.method == .get, head.headerFields[.connection] == nil, Self.subject(of: head.path) != nil {
                state = .held(head, start: .now)
            } else {
                passOn(context, .head(head))
                state = .passing
            }
        case (.held(let head, let start), .end):
            state = .idle
            if !answer(context, head, start: start) {
                passOn(context, .head(head))
                passOn(context, .end(nil))
            }
        case (.held(let head, _), let part):
            passOn(context, .head(head))
            passOn(context, part)
            state = .passing
        case (.passing, let part):
            if case .end = part { state = .idle }
            passOn(context, part)
        case (.idle, let part):
            passOn(context, part)
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

    private func passOn(_ context: ChannelHandlerContext, _ part: HTTPRequestPart) {
        if case .head = part { awaitingAnswers += 1 }
        context.fireChannelRead(wrapInboundOut(part))
    }

    /// Writes the answer and true, or false (nothing written) when the router should answer instead.
    private func answer(_ context: ChannelHandlerContext, _ head: HTTPRequest, start: ContinuousClock.Instant) -> Bool {
        guard let caller = responder.api.tokens.entry(authorization: head.headerFields[.authorization]), caller.scopes.contains(.read),
            let (type, id) = Self.subject(of: head.path)
        else { return false }
        let bytes: [UInt8]
        do {
            let question = try LedgerAPI.HistoryQuestion(Request(head: head, body: RequestBody(buffer: ByteBuffer())), type: type, id: id)
            bytes = try question.answer(responder.api.queries)
        } catch {
            return false
        }
        responder.write(context, .ok, jsonBody([bytes]), to: head, route: Self.route, start: start, token: caller.name)
        needsFlush = true
        return true
    }

    /// The subject of a history path, when it is one the router would match with the same
    /// parameters: exactly `/v1/subjects/TYPE/ID/history`, no escapes in the path, no empty segment.
    static func subject(of target: String?) -> (type: String, id: String)? {
        guard let target else { return nil }
        let path = target.utf8.prefix { $0 != UInt8(ascii: "?") }
        guard !path.contains(UInt8(ascii: "%")) else { return nil }
        let segments = path.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        guard segments.count == 6, segments[0].isEmpty, segments[1].elementsEqual("v1".utf8), segments[2].elementsEqual("subjects".utf8),
            !segments[3].isEmpty, !segments[4].isEmpty, segments[5].elementsEqual("history".utf8)
        else { return nil }
        return (String(decoding: segments[3], as: UTF8.self), String(decoding: segments[4], as: UTF8.self))
    }
}

