import EventLog
import EventModel
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Projector
import Queries
import ServiceLifecycle
import Synchronization

/// Live streams (Server-Sent Events): the events as they are committed, and the findings as they
/// are found. Each message's `id` is where it stands (an event's seq, a finding's cursor), so a
/// client that reconnects with `Last-Event-ID` goes on exactly where it stopped. A stream reads the
/// log on its own, from its own position: a client that stops reading never slows ingest or other
/// readers; one that lets a write wait past `stalledWrite` is cut off.
extension LedgerAPI {
    static let lastEventID = HTTPField.Name("Last-Event-ID")!

    func addStreamRoutes(to read: RouterGroup<LedgerRequestContext>) {
        read.get("/stream") { request, context in try streamEvents(request, context) }
        read.get("/findings/stream") { request, context in try streamFindings(request, context) }
    }

    /// `GET /v1/stream`: the filters of `GET /v1/events`, from `afterSeq` (or `Last-Event-ID`; by
    /// default from now on).
    func streamEvents(_ request: Request, _ context: LedgerRequestContext) throws -> Response {
        let p = try QueryParameters(request, allowed: ["subjectType", "subjectId", "actor", "type", "field", "afterSeq"])
        let query = EventQuery(
            subjectType: try p.string("subjectType", maxLength: 64), subjectId: try p.string("subjectId"), actor: try p.string("actor"),
            type: try p.typeFilter(), field: try p.string("field"), limit: 500)
        if query.subjectId != nil && query.subjectType == nil {
            throw APIError(.badRequest, "invalid_parameter", "subjectId needs subjectType", field: "subjectId")
        }
        var start = try p.seq("afterSeq") ?? log.committedHead
        if let resume = request.headers[Self.lastEventID] {
            guard let seq = UInt64(resume) else {
                throw APIError(.badRequest, "invalid_parameter", "Last-Event-ID must be a seq this stream sent", field: "Last-Event-ID")
            }
            start = seq
        }
        let (api, channel, logger, first, filters) = (self, context.channel, context.logger, start, query)
        let body = ResponseBody { writer in
            let watch = StallWatch(channel: channel, limit: api.streamStalledWrite, logger: logger)
            defer { watch.stop() }
            try await watch.write(": events after seq \(first)\n\n", to: &writer)
            var after = first
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                let (events, through) = try await api.log.page(following: filters, after: after)
                if through > after {
                    if !events.isEmpty {
                        var text = ""
                        for event in events {
                            text += "id: \(event.seq)\nevent: event\ndata: "
                            text += String(decoding: event.record, as: UTF8.self)
                            text += "\n\n"
                        }
                        try await watch.write(text, to: &writer)
                    }
                    after = through
                    continue
                }
                // A graceful shutdown ends the wait and the stream: the daemon does not wait on its clients.
                let seen = await cancelWhenGracefulShutdown { [after] in await api.log.nextCommit(beyond: after, timeout: api.streamHeartbeat) }
                if seen <= after, !Task.isShuttingDownGracefully {
                    try await watch.write(": keep-alive\n\n", to: &writer)
                }
            }
            try await writer.finish(nil)
        }
        return Self.eventStream(body)
    }

    /// `GET /v1/findings/stream`: findings as they are found (of one `kind`, if given), after the
    /// finding `Last-Event-ID` names, or from now on.
    func streamFindings(_ request: Request, _ context: LedgerRequestContext) throws -> Response {
        let p = try QueryParameters(request, allowed: ["kind"])
        let kind = try p.findingKind()
        let projector = queries.projector
        // By default: after every finding of the events folded so far.
        let start = request.headers[Self.lastEventID] ?? LiveProjector.cursor(afterSeq: projector.appliedThrough)
        let (api, channel, logger, only) = (self, context.channel, context.logger, kind)
        let body = ResponseBody { writer in
            let watch = StallWatch(channel: channel, limit: api.streamStalledWrite, logger: logger)
            defer { watch.stop() }
            try await watch.write(": findings after \(start)\n\n", to: &writer)
            var cursor = start
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                let folded = projector.appliedThrough
                let page = try await api.run { [cursor] in try $0.queries.findings(.init(kind: only, limit: 500, cursor: cursor, includesEveryCommit: false)) }
                if let last = page.findings.last {
                    var text = ""
                    for finding in page.findings {
                        text += "id: \(LiveProjector.cursor(of: finding))\nevent: finding\ndata: "
                        text += String(decoding: CanonicalJSON.encode(finding.json), as: UTF8.self)
                        text += "\n\n"
                    }
                    try await watch.write(text, to: &writer)
                    cursor = LiveProjector.cursor(of: last)
                    if page.next != nil { continue }
                }
                // Every finding through `folded` was in that page: the next look starts past it.
                cursor = LiveProjector.later(cursor, LiveProjector.cursor(afterSeq: folded))
                let seen = await cancelWhenGracefulShutdown { await projector.nextFold(beyond: folded, timeout: api.streamHeartbeat) }
                if seen <= folded, !Task.isShuttingDownGracefully {
                    try await watch.write(": keep-alive\n\n", to: &writer)
                }
            }
            try await writer.finish(nil)
        }
        return Self.eventStream(body)
    }

    static func eventStream(_ body: ResponseBody) -> Response {
        Response(
            status: .ok,
            headers: [.contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-cache", HTTPField.Name("X-Accel-Buffering")!: "no"],
            body: body)
    }
}

/// Closes the connection when one write waits longer than `limit` for the client to read: NIO waits
/// for a client that stopped reading, and the stream must not hold its place for ever.
final class StallWatch: Sendable {
    /// When the write in progress began (nil between writes).
    private final class Started: Sendable {
        let value = Mutex<ContinuousClock.Instant?>(nil)
    }

    private let started = Started()
    private let timer: Task<Void, Never>

    init(channel: any Channel, limit: Duration, logger: Logger) {
        let started = self.started
        timer = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                if let since = started.value.withLock({ $0 }), ContinuousClock.now - since > limit {
                    logger.notice("stream cut off: the client stopped reading", metadata: ["stream.stalled_seconds": "\(limit.components.seconds)"])
                    channel.close(promise: nil)
                    return
                }
            }
        }
    }

    func write(_ text: String, to writer: inout any ResponseBodyWriter) async throws {
        started.value.withLock { $0 = .now }
        defer { started.value.withLock { $0 = nil } }
        try await writer.write(ByteBuffer(string: text))
    }

    func stop() { timer.cancel() }
}
