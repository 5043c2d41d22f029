import EventModel
import Foundation
import Glibc
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import LedgerHTTP
import Logging
import NIOCore
import NIOEmbedded
import NIOHTTPTypes
import Testing
import TestSupport

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

    /// An ingest token's fields with `name` given twice.
    static func twice(_ name: HTTPField.Name, _ value: String) -> HTTPFields {
        var fields = auth("ingest")
        if name == .authorization { fields[.authorization] = nil }
        fields.append(HTTPField(name: name, value: value))
        fields.append(HTTPField(name: name, value: value))
        return fields
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
                // A field given twice: the router reads the values joined, as it always has.
                ("two Content-Types", Self.post(event("x-9"), Self.twice(.contentType, "application/json"))),
                ("two tokens", Self.post(event("x-10"), Self.twice(.authorization, auth("ingest")[.authorization]!))),
                ("two lengths", Self.post(event("x-11"), Self.twice(.contentLength, String(event("x-11").utf8.count)))),
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

/// Over a real socket, through the whole pipeline: requests sent in one write, some answered on the
/// event loop and some by the router, come back in the order they were sent.
@Suite struct PipelinedRequestsTests {
    @Test func answersLeaveInTheOrderTheRequestsCame() async throws {
        let server = try Server()
        try await server.run { client in
            let port = try #require(client.port)
            let token = Server.tokens["all"]!
            func request(_ method: String, _ path: String, _ body: String = "") -> String {
                "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\n"
                    + (body.isEmpty ? "" : "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n") + "\r\n" + body
            }
            let history = "/v1/subjects/sales_order/SO-1/history"
            let requests = [
                request("POST", "/v1/events", event("q-1")), request("GET", history), request("GET", "/v1/events?limit=5"),
                request("POST", "/v1/events", "{nope"), request("GET", history), request("POST", "/v1/events", event("q-2", minute: 2)),
                request("POST", "/v1/events", event("q-3", minute: 3)), request("GET", history),
            ]
            // On a thread of its own: blocking reads on the cooperative pool would starve the server.
            let bytes = requests.joined()
            let answers = try await offThePool { try RawHTTP.exchange(port: port, bytes, answers: requests.count) }
            #expect(answers.map(\.status) == [201, 200, 200, 400, 200, 201, 201, 200])
            func entries(_ body: String) -> Int {
                if case .array(let list)? = try? JSONParser.parse(Array(body.utf8))["entries"] { list.count } else { -1 }
            }
            #expect(entries(answers[1].body) == 1 && entries(answers[4].body) == 1 && entries(answers[7].body) == 3)
            #expect(answers[3].body.hasPrefix(#"{"error":{"code":"#), "\(answers[3].body)")
        }
    }

    /// A client that ends its side of the connection after its requests still gets every answer: the
    /// end of its input waits while an append is with the writer (reading goes on meanwhile).
    @Test func aClientThatHalfClosesAfterItsRequestsGetsEveryAnswer() async throws {
        let server = try Server()
        try await server.run { client in
            let port = try #require(client.port)
            let token = Server.tokens["all"]!
            func post(_ body: String) -> String {
                "POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\n"
                    + "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body
            }
            let history = "GET /v1/subjects/sales_order/SO-1/history HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\n\r\n"
            for requests in [[post(event("h-1"))], [post(event("h-2", minute: 2)), history, post(event("h-3", minute: 3))]] {
                let bytes = requests.joined()
                let answers = try await offThePool { try RawHTTP.exchange(port: port, bytes, answers: requests.count, halfClose: true) }
                #expect(answers.map(\.status) == (requests.count == 1 ? [201] : [201, 200, 201]))
            }
        }
    }
}

/// A bare HTTP/1.1 client: sends bytes as they are and reads whole answers (Content-Length framed).
enum RawHTTP {
    struct Unanswered: Error, CustomStringConvertible { let description: String }

    /// `halfClose`: the client's side is shut down once the bytes are sent, as some clients do.
    static func exchange(port: Int, _ bytes: String, answers count: Int, halfClose: Bool = false) throws -> [(status: Int, body: String)] {
        guard let fd = connectToLoopback(port: port) else { throw POSIXError(.ECONNREFUSED) }
        defer { close(fd) }
        let out = Array(bytes.utf8)
        var sent = 0
        while sent < out.count {
            let n = out[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { throw POSIXError(.EPIPE) }
            sent += n
        }
        if halfClose { shutdown(fd, Int32(SHUT_WR)) }
        var buffer: [UInt8] = []
        var answers: [(status: Int, body: String)] = []
        let deadline = ContinuousClock.now + .seconds(20)
        while answers.count < count {
            if let (answer, used) = parse(buffer) {
                answers.append(answer)
                buffer.removeFirst(used)
                continue
            }
            guard ContinuousClock.now < deadline else {
                throw Unanswered(description: "\(answers.count) of \(count) answers in 20 s: \(answers.map(\.status)), then \(buffer.count) bytes")
            }
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 1000) > 0 else { continue }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = recv(fd, &chunk, chunk.count, 0)
            guard n > 0 else { throw POSIXError(.ECONNRESET) }
            buffer += chunk[0..<n]
        }
        return answers
    }

    /// One whole answer at the start of `buffer`, and how many bytes it took.
    private static func parse(_ buffer: [UInt8]) -> ((status: Int, body: String), Int)? {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let end = (0..<max(0, buffer.count - 3)).first(where: { Array(buffer[$0..<$0 + 4]) == separator }) else { return nil }
        let head = String(decoding: buffer[..<end], as: UTF8.self).split(separator: "\r\n")
        guard let statusLine = head.first, let status = Int(statusLine.split(separator: " ")[1]) else { return nil }
        let length = head.dropFirst().compactMap { line -> Int? in
            let parts = line.split(separator: ":", maxSplits: 1)
            return parts.count == 2 && parts[0].lowercased() == "content-length" ? Int(parts[1].trimmingCharacters(in: .whitespaces)) : nil
        }.first ?? 0
        let bodyStart = end + 4
        guard buffer.count >= bodyStart + length else { return nil }
        return ((status, String(decoding: buffer[bodyStart..<bodyStart + length], as: UTF8.self)), bodyStart + length)
    }
}
