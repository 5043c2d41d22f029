import EventModel
import HTTPTypes
import Hummingbird
import HummingbirdTesting
@testable import LedgerHTTP
import Logging
import NIOCore
import NIOEmbedded
import NIOHTTPTypes
import Testing

/// The history handler in the channel pipeline answers only plain successes, and never ahead of an
/// answer the router still owes on the same connection. (SameAnswersTests holds its bytes equal to
/// the router's.)
@Suite struct EventLoopHistoryTests {
    static let history = "/v1/subjects/sales_order/SO-1/history"

    static func request(_ path: String, _ fields: HTTPFields = auth("read")) -> HTTPRequest {
        HTTPRequest(method: .get, scheme: "http", authority: "ledgerd", path: path, headerFields: fields)
    }

    /// Sends one request through the channel as NIO would (its parts, then the end of the read).
    static func send(_ channel: EmbeddedChannel, _ request: HTTPRequest) throws {
        try channel.writeInbound(HTTPRequestPart.head(request))
        try channel.writeInbound(HTTPRequestPart.end(nil))
        channel.pipeline.fireChannelReadComplete()
    }

    /// The parts passed on to the router: the paths of their heads, and whether each request ended.
    static func passedOn(_ channel: EmbeddedChannel) throws -> [String] {
        var paths: [String] = []
        while let part = try channel.readInbound(as: HTTPRequestPart.self) {
            switch part {
            case .head(let head): paths.append(head.path ?? "")
            case .body: paths.append("body")
            case .end: paths.append("end")
            }
        }
        return paths
    }

    /// The router answering one request: its parts go out through the handler.
    static func routerAnswers(_ channel: EmbeddedChannel) throws {
        try channel.writeOutbound(HTTPResponsePart.head(HTTPResponse(status: .badRequest)))
        try channel.writeOutbound(HTTPResponsePart.end(nil))
        while try channel.readOutbound(as: HTTPResponsePart.self) != nil {}
    }

    @Test func answersPlainHistoriesAndPassesEverythingElseOnInOrder() async throws {
        let server = try Server()
        try await server.run { client in
            let body = "[\(event("e-1")),\(event("e-2", minute: 2)),\(event("e-3", subject: "SO-2"))]"
            #expect(try await client.execute(uri: "/v1/events", method: .post, headers: auth("ingest"), body: ByteBuffer(string: body)).status == .created)

            let channel = EmbeddedChannel(
                handlers: server.api.eventLoopHandlers(metrics: RequestMetricHandles(), logger: Logger(label: "test"), serverName: "ledgerd"))
            // A history with a read token: answered in the pipeline, nothing passed on.
            try Self.send(channel, Self.request(Self.history + "?limit=5"))
            #expect(try Self.passedOn(channel) == [])
            guard case .head(let head)? = try channel.readOutbound(as: HTTPResponsePart.self),
                case .body(let answer)? = try channel.readOutbound(as: HTTPResponsePart.self),
                case .end? = try channel.readOutbound(as: HTTPResponsePart.self)
            else {
                Issue.record("no answer written")
                return
            }
            #expect(head.status == .ok)
            #expect(head.headerFields[.contentType] == "application/json; charset=utf-8")
            #expect(head.headerFields[.contentLength] == String(answer.readableBytes))
            #expect(head.headerFields[.server] == "ledgerd")
            #expect(head.headerFields[.date]?.hasSuffix(" GMT") == true)
            #expect(head.headerFields[RequestLogMiddleware.requestIdHeader]?.isEmpty == false)
            let entries = try JSONParser.parse(Array(answer.readableBytesView))["entries"]
            #expect(entries.map { if case .array(let list) = $0 { list.count } else { 0 } } == 2)

            // Whatever is not a plain success goes on to the router untouched, head and end.
            var others: [(String, HTTPFields)] = [
                (Self.history, [:]), (Self.history, auth("ingest")), (Self.history, auth("read") + [.connection: "close"]),
                ("/v1/subjects/sales_order/SO-%31/history", auth("read")), (Self.history + "?limit=0", auth("read")),
                (Self.history + "?lmit=2", auth("read")), (Self.history + "/", auth("read")), ("/v1/events", auth("read")),
            ]
            others.append(("/v1/subjects/sales_order/SO-1/history?cursor=garbage", auth("read")))
            // Two Authorization fields: the router reads them joined, and refuses.
            others.append((Self.history, auth("read") + auth("read")))
            for (path, fields) in others {
                try Self.send(channel, Self.request(path, fields))
                #expect(try Self.passedOn(channel) == [path, "end"], "\(path)")
                #expect(try channel.readOutbound(as: HTTPResponsePart.self) == nil, "\(path)")
                try Self.routerAnswers(channel)
            }

            // A request the router has not answered yet: the history behind it is passed on too, so
            // the answers leave in the order the requests came.
            try Self.send(channel, Self.request("/v1/events"))
            try Self.send(channel, Self.request(Self.history))
            #expect(try Self.passedOn(channel) == ["/v1/events", "end", Self.history, "end"])
            try Self.routerAnswers(channel)
            // One answer still owed: the next history waits its turn as well.
            try Self.send(channel, Self.request(Self.history))
            #expect(try Self.passedOn(channel) == [Self.history, "end"])
            try Self.routerAnswers(channel)
            try Self.routerAnswers(channel)
            // Once every answer owed is out, histories are answered here again.
            try Self.send(channel, Self.request(Self.history))
            #expect(try Self.passedOn(channel) == [])
            #expect(try channel.readOutbound(as: HTTPResponsePart.self) != nil)
            _ = try channel.finish()
        }
    }

    @Test func dateHeaderIsIMFFixdate() {
        #expect(HTTPDate.format(0) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(HTTPDate.format(1_796_302_551) == "Thu, 03 Dec 2026 12:55:51 GMT")
    }
}
