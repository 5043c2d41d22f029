import Foundation
import HTTPTypes
import Hummingbird
import LedgerHTTP
import Logging
import NIOCore
import NIOEmbedded
import Synchronization

/// The daemon's router, answering requests in this process without a socket: how `ledgerctl
/// --data-dir` asks a data directory, with the same parameter checks, errors and bytes as over HTTP.
public struct InProcessClient: Sendable {
    let responder: RouterResponder<LedgerRequestContext>
    let token: String
    let logger: Logger

    public init(runtime: LedgerRuntime, token: String, logger: Logger) {
        self.responder = runtime.router().buildResponder()
        self.token = token
        self.logger = logger
    }

    /// GET `pathAndQuery` (already percent-encoded) with this process's token: status and body.
    public func get(_ pathAndQuery: String) async throws -> (status: Int, body: [UInt8]) {
        let head = HTTPRequest(
            method: .get, scheme: "http", authority: "ledgerctl", path: pathAndQuery,
            headerFields: [.authorization: "Bearer \(token)"])
        var requestLogger = logger
        requestLogger[metadataKey: "hb.request.id"] = "\(UUID().uuidString)"
        let context = LedgerRequestContext(source: .init(channel: EmbeddedChannel(), logger: requestLogger))
        let response = try await responder.respond(to: Request(head: head, body: RequestBody(buffer: ByteBuffer())), context: context)
        let collected = Collected()
        try await response.body.write(CollectingWriter(into: collected))
        return (Int(response.status.code), collected.bytes.withLock { $0 })
    }

    private final class Collected: Sendable {
        let bytes = Mutex<[UInt8]>([])
    }

    private struct CollectingWriter: ResponseBodyWriter {
        let into: Collected
        mutating func write(_ buffer: ByteBuffer) async throws { into.bytes.withLock { $0.append(contentsOf: buffer.readableBytesView) } }
        consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
    }
}
