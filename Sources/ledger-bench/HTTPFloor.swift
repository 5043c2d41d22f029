import NIOCore
import NIOHTTP1
import NIOPosix

/// The floor of HTTP in Swift on this machine: swift-nio's HTTP/1 pipeline answering every request
/// with `/healthz`'s constant body, no router, no middleware, no concurrency hop. Measured with wrk beside
/// ledgerd's own `/healthz` and a C server, it says how much of a request's cost is the stack above NIO.
enum HTTPFloor {
    static func serve(port: Int) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap { channel.pipeline.addHandler(ConstantAnswer()) }
            }
            .bind(host: "127.0.0.1", port: port).get()
        print("answering on 127.0.0.1:\(port); stop with ^C")
        try await channel.closeFuture.get()
    }

    private final class ConstantAnswer: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        static let body = #"{"status":"ok"}"#

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard case .end = unwrapInboundIn(data) else { return }
            var head = HTTPResponseHead(version: .http1_1, status: .ok)
            head.headers.add(name: "Content-Type", value: "application/json")
            head.headers.add(name: "Content-Length", value: String(Self.body.utf8.count))
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: Self.body)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}
