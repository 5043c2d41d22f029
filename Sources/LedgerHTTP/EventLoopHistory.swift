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

    /// A history request to hold for an answer here: its subject, the path its log line names, and the
    /// `Authorization` field (the token and parameters are checked at its end).
    struct HistoryTarget {
        let type: String
        let id: String
        /// The target without its query, as the router logs it.
        let path: String
        let hasQuery: Bool
        let authorization: String?
    }

    /// The history a head asks for, when it is one to hold: a GET of a history path with no
    /// `Connection` field and at most one `Authorization` field (given twice, the router reads the
    /// joined value). The fields are read in one pass, as an append's are (`ingestCaller`).
    static func historyTarget(_ head: HTTPRequest) -> HistoryTarget? {
        guard head.method == .get, let target = head.path, let (type, id, path) = subject(of: target) else { return nil }
        var authorization: String?
        for field in head.headerFields {
            switch field.name {
            case .connection: return nil
            case .authorization:
                guard authorization == nil else { return nil }
                authorization = field.value
            default: continue
            }
        }
        return HistoryTarget(type: type, id: id, path: path, hasQuery: path.utf8.count < target.utf8.count, authorization: authorization)
    }

    /// Writes the answer and true, or false (nothing written) when the router should answer instead.
    func answerHistory(_ context: ChannelHandlerContext, _ head: HTTPRequest, _ target: HistoryTarget, start: ContinuousClock.Instant) -> Bool {
        guard let caller = responder.api.tokens.entry(authorization: target.authorization), caller.scopes.contains(.read) else { return false }
        let bytes: [UInt8]
        do {
            // Without a query string the parameters are all absent: no request to read them from.
            let parameters = target.hasQuery
                ? try QueryParameters(Request(head: head, body: RequestBody(buffer: ByteBuffer())), allowed: LedgerAPI.HistoryQuestion.parameters)
                : QueryParameters(values: [:])
            let question = try LedgerAPI.HistoryQuestion(parameters, type: target.type, id: target.id)
            bytes = try question.answer(responder.api.queries)
        } catch {
            return false
        }
        responder.write(context, .ok, jsonBody([bytes]), to: head, path: target.path, route: Self.historyRoute, start: start, token: caller.name)
        return true
    }

    /// The subject of a history path, when it is one the router would match with the same
    /// parameters: exactly `/v1/subjects/TYPE/ID/history`, no escapes in the path, no empty segment;
    /// with the path, the target without its query.
    static func subject(of target: String) -> (type: String, id: String, path: String)? {
        let path = target.utf8.prefix { $0 != UInt8(ascii: "?") }
        guard !path.contains(UInt8(ascii: "%")) else { return nil }
        let segments = path.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        guard segments.count == 6, segments[0].isEmpty, segments[1].elementsEqual("v1".utf8), segments[2].elementsEqual("subjects".utf8),
            !segments[3].isEmpty, !segments[4].isEmpty, segments[5].elementsEqual("history".utf8)
        else { return nil }
        return (String(decoding: segments[3], as: UTF8.self), String(decoding: segments[4], as: UTF8.self), String(decoding: path, as: UTF8.self))
    }
}
