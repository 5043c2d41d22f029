import EventModel
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import LedgerHTTP
import Logging
import NIOCore
import NIOEmbedded
import NIOHTTPTypes
import Testing

/// The ingest handler in the channel pipeline takes only small, well-formed appends, answers them
/// after the commit as the router would, and keeps the connection's answers in order.
@Suite struct EventLoopIngestTests {
    static func post(_ body: String, _ fields: HTTPFields = auth("ingest"), path: String = "/v1/events") -> [HTTPRequestPart] {
        var fields = fields
        if fields[.contentLength] == nil && fields[.transferEncoding] == nil { fields[.contentLength] = String(body.utf8.count) }
        return [
            .head(HTTPRequest(method: .post, scheme: "http", authority: "ledgerd", path: path, headerFields: fields)),
            .body(ByteBuffer(string: body)), .end(nil),
        ]
    }

    static func channel(_ server: Server) async throws -> NIOAsyncTestingChannel {
        let api = server.api
        return try await NIOAsyncTestingChannel { channel in
            try channel.pipeline.syncOperations.addHandlers(
                api.eventLoopHandlers(metrics: RequestMetricHandles(), logger: Logger(label: "test"), serverName: "ledgerd"))
        }
    }

    /// One whole answer written by the pipeline: its head and its body.
    static func answer(_ channel: NIOAsyncTestingChannel) async throws -> (HTTPResponse, String) {
        guard case .head(let head) = try await channel.waitForOutboundWrite(as: HTTPResponsePart.self),
            case .body(let body) = try await channel.waitForOutboundWrite(as: HTTPResponsePart.self),
            case .end = try await channel.waitForOutboundWrite(as: HTTPResponsePart.self)
        else { throw CancellationError() }
        return (head, String(buffer: body))
    }

    @Test func smallAppendsAreAnsweredAfterTheCommitAndInOrder() async throws {
        let server = try Server()
        try await server.run { client in
            let channel = try await Self.channel(server)
            // A single event: appended, answered 201 by the pipeline, nothing passed on.
            for part in Self.post(event("p-1")) { try await channel.writeInbound(part) }
            let (created, body) = try await Self.answer(channel)
            #expect(created.status == .created)
            #expect(created.headerFields[.contentLength] == String(body.utf8.count))
            #expect(body.hasPrefix(#"{"results":[{"duplicate":false,"hash":""#) && body.contains(#""id":"p-1","seq":1}]}"#), "\(body)")
            #expect(try await channel.readInbound(as: HTTPRequestPart.self) == nil)
            let stored = try await client.execute(uri: "/v1/events/1", method: .get, headers: auth("read"))
            #expect(stored.json["id"] == .string("p-1"))

            // The same again: 200, a duplicate. Other content under its id: 409, answered here too.
            for part in Self.post(event("p-1")) { try await channel.writeInbound(part) }
            #expect(try await Self.answer(channel).0.status == .ok)
            for part in Self.post(event("p-1", minute: 7)) { try await channel.writeInbound(part) }
            let (conflict, reason) = try await Self.answer(channel)
            #expect(conflict.status == .conflict)
            #expect(reason.contains(#""code":"conflict""#) && reason.contains(#""field":"id""#), "\(reason)")

            // A request right behind an append is passed on only once the append's answer is out.
            for part in Self.post(event("p-2")) { try await channel.writeInbound(part) }
            try await channel.writeInbound(HTTPRequestPart.head(HTTPRequest(method: .get, scheme: "http", authority: "ledgerd", path: "/v1/events", headerFields: auth("read"))))
            try await channel.writeInbound(HTTPRequestPart.end(nil))
            guard case .head(let behind) = try await channel.waitForInboundWrite(as: HTTPRequestPart.self) else {
                Issue.record("the request behind the append was not passed on")
                return
            }
            #expect(behind.path == "/v1/events")
            guard case .head(let first) = try await channel.readOutbound(as: HTTPResponsePart.self) else {
                Issue.record("the request behind was passed on before the append's answer was out")
                return
            }
            #expect(first.status == .created)
            _ = try await channel.finish(acceptAlreadyClosed: true)
        }
    }

    @Test func everythingElseGoesToTheRouterUntouched() async throws {
        let server = try Server()
        try await server.run { _ in
            let channel = try await Self.channel(server)
            let big = "[" + (1...120).map { event("b-\($0)") }.joined(separator: ",") + "]"
            let cases: [(String, [HTTPRequestPart])] = [
                ("no token", Self.post(event("x-1"), [:])),
                ("a read token", Self.post(event("x-2"), auth("read"))),
                ("text", Self.post(event("x-3"), auth("ingest") + [.contentType: "text/plain"])),
                ("a query", Self.post(event("x-4"), path: "/v1/events?x=1")),
                ("Expect", Self.post(event("x-5"), auth("ingest") + [.expect: "100-continue"])),
                ("Connection", Self.post(event("x-6"), auth("ingest") + [.connection: "close"])),
                ("chunked", Self.post(event("x-7"), auth("ingest") + [.transferEncoding: "chunked"])),
                ("past 16 KiB", Self.post(big)),
                ("not JSON", Self.post("{nope")),
                ("invalid", Self.post(#"{"id":"x-8"}"#)),
            ]
            for (name, parts) in cases {
                for part in parts { try await channel.writeInbound(part) }
                var passed: [String] = []
                while let part = try await channel.readInbound(as: HTTPRequestPart.self) {
                    switch part {
                    case .head: passed.append("head")
                    case .body(let chunk): passed.append("body \(chunk.readableBytes)")
                    case .end: passed.append("end")
                    }
                }
                let length = parts.compactMap { if case .body(let b) = $0 { b.readableBytes } else { nil } }.first!
                #expect(passed == ["head", "body \(length)", "end"], "\(name)")
                #expect(try await channel.readOutbound(as: HTTPResponsePart.self) == nil, "\(name)")
                // The router's answer goes out through the handlers, settling the request.
                try await channel.writeOutbound(HTTPResponsePart.head(HTTPResponse(status: .badRequest)))
                try await channel.writeOutbound(HTTPResponsePart.end(nil))
                while try await channel.readOutbound(as: HTTPResponsePart.self) != nil {}
            }
            #expect(server.log.committedHead == 0)
            _ = try await channel.finish(acceptAlreadyClosed: true)
        }
    }
}
