import Hummingbird
import HummingbirdTesting
import LedgerHTTP
import Logging
import Synchronization
import Testing

/// Every answer carries its request id; a 500 logs its cause under that id and never shows it.
@Suite struct RequestLogTests {
    /// Log lines kept in memory, to read back what the middleware wrote.
    final class Captured: LogHandler, @unchecked Sendable {
        let lines = Mutex<[(message: String, metadata: Logger.Metadata)]>([])
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            lines.withLock { $0.append((event.message.description, metadata.merging(event.metadata ?? [:]) { $1 })) }
        }
    }

    struct Unexpected: Error, CustomStringConvertible { var description: String { "the disk caught fire" } }

    @Test func requestIdsOnEveryAnswerAndA500LogsItsCause() async throws {
        let captured = Captured()
        let router = Router(context: LedgerRequestContext.self)
        router.add(middleware: RequestLogMiddleware())
        router.get("/fine") { _, _ in "ok" }
        router.get("/bad") { _, _ -> String in throw APIError(.badRequest, "invalid_parameter", "no", field: "x") }
        router.get("/broken") { _, _ -> String in throw Unexpected() }
        let app = Application(router: router, logger: Logger(label: "test") { _ in captured })
        try await app.test(.router) { client in
            let fine = try await client.execute(uri: "/fine", method: .get)
            let id = try #require(fine.headers[RequestLogMiddleware.requestIdHeader])
            #expect(!id.isEmpty)
            let bad = try await client.execute(uri: "/bad", method: .get)
            #expect(bad.status == .badRequest)
            #expect(bad.headers[RequestLogMiddleware.requestIdHeader] != nil)
            #expect(String(buffer: bad.body).contains(#""field":"x""#))

            let broken = try await client.execute(uri: "/broken", method: .get)
            #expect(broken.status == .internalServerError)
            let brokenId = try #require(broken.headers[RequestLogMiddleware.requestIdHeader])
            let body = String(buffer: broken.body)
            #expect(body.contains(#""code":"internal""#) && body.contains(brokenId), "\(body)")
            #expect(!body.contains("fire"))
            let logged = captured.lines.withLock { $0 }.first { $0.message == "internal error" }
            #expect(logged?.metadata["error.cause"]?.description == "the disk caught fire")
            #expect(logged?.metadata["hb.request.id"]?.description == brokenId)
        }
    }
}
