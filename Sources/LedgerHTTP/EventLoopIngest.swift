import EventLog
import EventModel
import HTTPTypes
import Hummingbird
import NIOCore

/// `POST /v1/events` with a small body (a single event, or a few) on the event loop
/// (`EventLoopAnswers`): parsed there and handed straight to the writer; the answer goes out from the
/// writer's completion, once the commit is durable, failure included. Taken here only with an ingest
/// token, a JSON (or no) Content-Type, a `Content-Length` of at most `maxIngestBody` bytes, no
/// `Expect` or `Connection` header, a target of exactly `/v1/events` and a body that parses; anything
/// else is the router's (a body that does not parse gets its usual error there).
extension EventLoopAnswers {
    static let ingestRoute = "/v1/events"
    /// Larger bodies (batches) go to the router, which parses them off the event loop.
    static let maxIngestBody = 16 * 1024

    /// The token and the body's length when the append may be taken here.
    ///
    /// The fields are read in one pass: looking each of the five names up scanned them all again and
    /// joined repeated values, 3.5% of an event loop's time under single events (BENCHMARKS.md). A
    /// field given twice goes to the router, which reads the joined value as before.
    func ingestCaller(_ head: HTTPRequest) -> (TokenStore.Entry, Int)? {
        guard head.method == .post, head.path == Self.ingestRoute else { return nil }
        var contentType: String?, contentLength: String?, authorization: String?
        for field in head.headerFields {
            switch field.name {
            case .connection, .expect: return nil
            case .contentType:
                guard contentType == nil else { return nil }
                contentType = field.value
            case .contentLength:
                guard contentLength == nil else { return nil }
                contentLength = field.value
            case .authorization:
                guard authorization == nil else { return nil }
                authorization = field.value
            default: continue
            }
        }
        guard contentType.map(LedgerAPI.isJSON(contentType:)) ?? true,
            let length = contentLength.flatMap(Int.init), length <= Self.maxIngestBody,
            let caller = responder.api.tokens.entry(authorization: authorization), caller.scopes.contains(.ingest)
        else { return nil }
        return (caller, length)
    }

    /// The body's events, or nil when it does not parse.
    static func parse(_ body: ByteBuffer) -> [PreparedEvent]? {
        try? body.withUnsafeReadableBytes { try EventBody.parse($0).events }
    }

    /// Writes what the router would have answered to the append (not flushed).
    func answerAppend(
        _ context: ChannelHandlerContext, _ result: Result<[AppendResult], LogError>, to head: HTTPRequest, caller: TokenStore.Entry,
        start: ContinuousClock.Instant
    ) {
        let requestID = RequestID().description
        switch result {
        case .success(let results):
            let (status, bytes) = LedgerAPI.ingestAnswer(results)
            responder.write(
                context, status, jsonBody([bytes]), to: head, path: Self.ingestRoute, route: Self.ingestRoute, start: start, token: caller.name,
                requestID: requestID)
        case .failure(let error):
            var failure = APIError.from(error)
            if failure.status == .internalServerError {
                RequestLogMiddleware.logInternalError(cause: failure.cause ?? "\(error)", responder.logger, Self.ingestRoute)
                failure = failure.naming(requestID: requestID)
            }
            responder.write(
                context, failure.status, failure.responseBody, headers: failure.responseHeaders, to: head, path: Self.ingestRoute,
                route: Self.ingestRoute, start: start, token: caller.name, requestID: requestID)
        }
    }
}
