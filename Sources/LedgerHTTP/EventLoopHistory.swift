import HTTPTypes
import Hummingbird
import NIOCore

/// `GET /v1/subjects/{type}/{id}/history` on the event loop (`EventLoopAnswers`): a history is a few
/// index reads and a copy of stored bytes, tens of microseconds. Answered here only with a read token,
/// a path without escapes, parameters that check (`HistoryQuestion`, the route's own), no body and
/// no `Connection` header; anything else is the router's.
extension EventLoopAnswers {
    /// The route as the router names it in metrics.
    static let historyRoute = "/v1/subjects/{type}/{id}/history"

    /// Whether the head is one to hold for an answer here (the token and parameters are checked at its end).
    static func mayAnswerHistory(_ head: HTTPRequest) -> Bool {
        head.method == .get && head.headerFields[.connection] == nil && subject(of: head.path) != nil
    }

    /// Writes the answer and true, or false (nothing written) when the router should answer instead.
    func answerHistory(_ context: ChannelHandlerContext, _ head: HTTPRequest, start: ContinuousClock.Instant) -> Bool {
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
        responder.write(context, .ok, jsonBody([bytes]), to: head, route: Self.historyRoute, start: start, token: caller.name)
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
