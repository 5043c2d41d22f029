import Dispatch
import EventLog
import EventModel
import Glibc
import LMDB
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Projector
import Synchronization

/// The floor of HTTP in Swift on this machine: swift-nio's HTTP/1 pipeline answering every request
/// with `/healthz`'s constant body, no router, no middleware, no concurrency hop. Measured with wrk beside
/// ledgerd (`make bench-e2e`), it says how much of a request's cost is the stack above NIO.
///
/// With a store, a POST is answered only once the store has it: its body committed to LMDB, the floor of
/// a durable acknowledgement (`DurableFloorStore`); or its events parsed as ledgerd parses them and
/// appended to ledgerd's event log, ledgerd's storage without ledgerd's HTTP layer (`LedgerStorage`).
/// Everything else is answered at once, as without.
enum HTTPFloor {
    static func serve(port: Int, store: (any FloorStore)?) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap { channel.pipeline.addHandler(ConstantAnswer(store: store)) }
            }
            .bind(host: "127.0.0.1", port: port).get()
        print("answering on 127.0.0.1:\(port)\(store.map { ", " + $0.purpose } ?? ""); stop with ^C")
        try await channel.closeFuture.get()
    }

    private final class ConstantAnswer: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        static let body = #"{"status":"ok"}"#

        let store: (any FloorStore)?
        private var isPost = false
        private var isReadiness = false
        private var requestBody: [UInt8] = []

        init(store: (any FloorStore)?) { self.store = store }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                isPost = head.method == .POST
                isReadiness = head.method == .GET && head.uri == "/readyz"
                requestBody.removeAll(keepingCapacity: true)
            case .body(let part):
                if store != nil { requestBody += part.readableBytesView }
            case .end:
                if isReadiness, let store, !store.isCaughtUp { return answer(context, .serviceUnavailable) }
                guard let store, isPost else { return answer(context, .ok) }
                let promise = context.eventLoop.makePromise(of: Void.self)
                let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
                // A commit that failed (a full disk, say) is answered 500, as ledgerd would, so wrk counts it;
                // a body that does not parse, 400.
                promise.futureResult.whenComplete { [self] result in
                    let status: HTTPResponseStatus =
                        switch result {
                        case .success: .created
                        case .failure(let error): error is EventModel.ValidationError ? .badRequest : .internalServerError
                        }
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

/// Where a floor keeps each POST's body before answering it.
protocol FloorStore: Sendable {
    /// Called on the event loop; `promise` is completed once the body is durable (or refused).
    func append(_ body: [UInt8], then promise: EventLoopPromise<Void>)
    /// Whether work behind the answers is done (`GET /readyz` says 503 until it is), so that a
    /// benchmark's next phase does not share the cores with it.
    var isCaughtUp: Bool { get }
    /// What happens to a POST before its answer, for the start-up line.
    var purpose: String { get }
}

extension FloorStore {
    var isCaughtUp: Bool { true }
}

/// ledgerd's storage behind the floor's HTTP: the event log (parsing and validating on the event loop,
/// canonical records, chain hashes, Merkle nodes, compression, ids and index folds, fsynced commits)
/// and, unless left out, the projection's follower folding behind it, as ledgerd runs them. What a
/// single event costs here beyond `DurableFloorStore` is the storage's own; what ledgerd costs beyond
/// this is its HTTP layer (Hummingbird's channel, the token, the request id, the log line, the metrics).
final class LedgerStorage: FloorStore {
    let log: EventLog
    let projector: LiveProjector?
    let purpose: String

    init(path: String, projection: Bool, foldEvery: Int) throws {
        var logger = Logger(label: "floor")
        logger.logLevel = .warning
        var configuration = LogConfiguration(path: path)
        configuration.foldThreshold = foldEvery
        log = try EventLog(configuration, logger: logger)
        projector = projection ? try LiveProjector(log: log, configuration: .init(path: path + "/projection"), logger: logger) : nil
        purpose = "appending each POST's events to the event log in \(path)\(projection ? " with the projection following" : "") before its answer"
    }

    var isCaughtUp: Bool {
        guard let projector else { return true }
        guard let head = try? log.head().seq else { return false }
        return projector.appliedThrough == head
    }

    func append(_ body: [UInt8], then promise: EventLoopPromise<Void>) {
        let events: [PreparedEvent]
        do {
            events = try EventBody.parse(body).events
        } catch {
            return promise.fail(error)
        }
        log.append(events) { result in
            switch result {
            case .success: promise.succeed(())
            case .failure(let error): promise.fail(error)
            }
        }
    }
}

/// One writer thread that takes every POST queued since its last commit and commits them together
/// (group commit), then lets each of them be answered. `prepare` runs on the event loop, before the
/// POST is queued (a body it refuses is answered at once); `commit` on the writer thread, one call a
/// group, and must be durable when it returns.
final class GroupCommitStore<Item: Sendable>: FloorStore {
    private struct Pending {
        var item: Item
        var promise: EventLoopPromise<Void>
    }

    let purpose: String
    private let prepare: @Sendable ([UInt8]) throws -> Item
    private let queue = Mutex<[Pending]>([])
    /// Signalled when the queue stops being empty: the writer drains it whole each time.
    private let work = DispatchSemaphore(value: 0)

    init(purpose: String, prepare: @escaping @Sendable ([UInt8]) throws -> Item, onWriterThread setUp: @escaping @Sendable () -> Void = {},
         commit: @escaping @Sendable ([Item]) throws -> Void) {
        self.purpose = purpose
        self.prepare = prepare
        _ = startThread(named: "floor-writer") { [self] in
            setUp()
            while true {
                work.wait()
                let group = queue.withLock { pending in
                    defer { pending.removeAll(keepingCapacity: true) }
                    return pending
                }
                do {
                    try commit(group.map(\.item))
                } catch {
                    for pending in group { pending.promise.fail(error) }
                    continue
                }
                for pending in group { pending.promise.succeed(()) }
            }
        }
    }

    func append(_ body: [UInt8], then promise: EventLoopPromise<Void>) {
        let item: Item
        do {
            item = try prepare(body)
        } catch {
            return promise.fail(error)
        }
        let wasEmpty = queue.withLock { pending in
            pending.append(Pending(item: item, promise: promise))
            return pending.count == 1
        }
        if wasEmpty { work.signal() }
    }
}

/// The least a durable acknowledgement costs with LMDB: each group's bodies stored under the next
/// big-endian seqs (`MDB_APPEND`) in one transaction, committed (LMDB's default: data pages and meta
/// page fsynced, as the log's commits are). No parsing, checking, hashing, compression, ids, indexes
/// or projection: what ledgerd does on top of this is its own cost.
func durableFloorStore(path: String) throws -> GroupCommitStore<[UInt8]> {
    _ = path.withCString { mkdir($0, 0o750) }
    let environment = try Environment(.init(path: path, maxReaders: 16, maxDatabases: 1))
    let records = try environment.openDatabases([("records", [])])[0]
    let head = Mutex<UInt64>(0)  // the writer thread's alone; in a mutex so that its closure may hold it
    return GroupCommitStore(
        purpose: "storing each POST's body in \(path) before its answer", prepare: { $0 },
        onWriterThread: { environment.claimWrites() },
        commit: { bodies in
            try head.withLock { head in
                try environment.write { txn in
                    for (offset, body) in bodies.enumerated() {
                        try txn.put(records, key: bigEndianBytes(head + UInt64(offset) + 1), value: body, flags: .append)
                    }
                }
                head += UInt64(bodies.count)
            }
        })
}

/// The least an LMDB ledger costs a single event here: each POST parsed and validated as ledgerd
/// parses it (on the event loop), then each group written as `--raw-floor` writes a batch (`RawLedger`:
/// records with their chain hashes, `MDB_APPEND`, a durable commit; ids and index entries folded
/// every `foldEvery` events). No Merkle nodes, compression, projection, duplicate check, token, log
/// line or metrics: ledgerd does all of those besides, so it cannot take less CPU an event than this.
func rawLedgerStore(path: String, foldEvery: Int) -> GroupCommitStore<[RawLedger.Input]> {
    _ = system("rm -rf '\(path)'")
    let raw = RawLedger(path: path)
    return GroupCommitStore(
        purpose: "parsing each POST and writing its events into \(path) with LMDB's C API (records, chain hashes, ids, index entries) before its answer",
        prepare: { body in RawLedger.inputs([try EventBody.parse(body).events])[0] },
        commit: { groups in raw.append(Array(groups.joined()), recordedAt: Instant.now().rfc3339(), foldEvery: foldEvery) })
}
