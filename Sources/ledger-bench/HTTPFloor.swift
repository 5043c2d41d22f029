import Dispatch
import EventLog
import Glibc
import LMDB
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// The floor of HTTP in Swift on this machine: swift-nio's HTTP/1 pipeline answering every request
/// with `/healthz`'s constant body, no router, no middleware, no concurrency hop. Measured with wrk beside
/// ledgerd (`make bench-e2e`), it says how much of a request's cost is the stack above NIO.
///
/// With a directory (`durableIn`), a POST is answered only once its body is stored: the floor of a
/// durable acknowledgement (`DurableFloorStore`). Everything else is answered at once, as without.
enum HTTPFloor {
    static func serve(port: Int, durableIn directory: String? = nil) async throws {
        let store = try directory.map { try DurableFloorStore(path: $0) }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap { channel.pipeline.addHandler(ConstantAnswer(store: store)) }
            }
            .bind(host: "127.0.0.1", port: port).get()
        print("answering on 127.0.0.1:\(port)\(directory.map { ", storing each POST's body in \($0) before its answer" } ?? ""); stop with ^C")
        try await channel.closeFuture.get()
    }

    private final class ConstantAnswer: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        static let body = #"{"status":"ok"}"#

        let store: DurableFloorStore?
        private var isPost = false
        private var requestBody: [UInt8] = []

        init(store: DurableFloorStore?) { self.store = store }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                isPost = head.method == .POST
                requestBody.removeAll(keepingCapacity: true)
            case .body(let part):
                if store != nil { requestBody += part.readableBytesView }
            case .end:
                guard let store, isPost else { return answer(context, .ok) }
                let promise = context.eventLoop.makePromise(of: Void.self)
                let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
                // A commit that failed (a full disk, say) is answered 500, as ledgerd would, so wrk counts it.
                promise.futureResult.whenComplete { [self] result in
                    let status: HTTPResponseStatus = if case .success = result { .created } else { .internalServerError }
                    answer(bound.value, status)
                }
                store.append(requestBody, then: promise)
            }
        }

        private func answer(_ context: ChannelHandlerContext, _ status: HTTPResponseStatus) {
            var head = HTTPResponseHead(version: .http1_1, status: status)
            head.headers.add(name: "Content-Type", value: "application/json")
            head.headers.add(name: "Content-Length", value: String(Self.body.utf8.count))
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: Self.body)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}

/// The least a durable acknowledgement costs with LMDB: one writer thread takes every body queued
/// since its last commit, stores each under the next big-endian seq (`MDB_APPEND`) in one
/// transaction, commits (LMDB's default: data pages and meta page fsynced, as the log's commits are),
/// then lets every request of that commit be answered. No parsing, checking, hashing, compression,
/// ids, indexes or projection: what ledgerd does on top of this is its own cost.
final class DurableFloorStore: Sendable {
    private struct Pending {
        var body: [UInt8]
        var promise: EventLoopPromise<Void>
    }

    private let queue = Mutex<[Pending]>([])
    /// Signalled when the queue stops being empty: the writer drains it whole each time.
    private let work = DispatchSemaphore(value: 0)
    private let environment: Environment
    private let records: Database

    init(path: String) throws {
        _ = path.withCString { mkdir($0, 0o750) }
        environment = try Environment(.init(path: path, maxReaders: 16, maxDatabases: 1))
        records = try environment.openDatabases([("records", [])])[0]
        _ = startThread(named: "floor-writer") { [self] in
            environment.claimWrites()
            var head: UInt64 = 0
            while true {
                work.wait()
                let batch = queue.withLock { pending in
                    defer { pending.removeAll(keepingCapacity: true) }
                    return pending
                }
                do {
                    try environment.write { txn in
                        for (offset, pending) in batch.enumerated() {
                            try txn.put(records, key: bigEndianBytes(head + UInt64(offset) + 1), value: pending.body, flags: .append)
                        }
                    }
                } catch {
                    for pending in batch { pending.promise.fail(error) }
                    continue
                }
                head += UInt64(batch.count)
                for pending in batch { pending.promise.succeed(()) }
            }
        }
    }

    func append(_ body: [UInt8], then promise: EventLoopPromise<Void>) {
        let wasEmpty = queue.withLock { pending in
            pending.append(Pending(body: body, promise: promise))
            return pending.count == 1
        }
        if wasEmpty { work.signal() }
    }
}
