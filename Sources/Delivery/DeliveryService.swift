import EventLog
import EventModel
import Logging
import Metrics
import Projector
import ServiceLifecycle

/// Delivers the log to the sinks of the sinks file, and new findings to the sinks alert rules
/// name. Each route (a sink's events, an alert rule's findings) reads from its own cursor on its
/// own task: a sink that is down or slow falls behind alone and never holds up ingest; its cursor
/// moves only past what the sink accepted, so delivery is at least once, in order, across restarts.
///
/// Listed after the ledger in the service group, so it stops before the log closes.
public struct DeliveryService: Service {
    let routes: [Route]
    let cursors: CursorStore
    let logger: Logger

    /// Opens the cursor store under `directory` and a sink for each route. Throws when a TLS CA
    /// file cannot be read or the store cannot be opened: the daemon must not start half-delivering.
    public init(_ file: SinksFile, log: EventLog, projector: LiveProjector, directory: String, logger: Logger) throws {
        cursors = try CursorStore(path: directory)
        self.logger = logger
        var routes: [Route] = []
        func sink(_ configured: SinksFile.Sink) throws -> any Sink {
            switch configured.kind {
            case .syslog: try SyslogSink(configured)
            case .webhook: WebhookSink(configured)
            }
        }
        for configured in file.sinks {
            routes.append(
                Route(name: configured.name, sinkName: configured.name, label: "events", sink: try sink(configured),
                    source: .events(configured.filter, batch: configured.batch, fromBeginning: configured.startAtBeginning),
                    log: log, projector: projector, cursors: cursors, logger: logger))
        }
        for alert in file.alerts {
            let configured = file.sinks.first { $0.name == alert.sink }!
            routes.append(
                Route(name: alert.name, sinkName: alert.sink, label: "alerts", sink: try sink(configured),
                    source: .findings(Set(alert.kinds), batch: configured.batch),
                    log: log, projector: projector, cursors: cursors, logger: logger))
        }
        self.routes = routes
    }

    public func run() async throws {
        logger.info("delivering", metadata: ["delivery.routes": "\(routes.map(\.name))"])
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                for route in routes { group.addTask { await route.run() } }
            }
        }
        for route in routes { await route.sink.close() }
        await cursors.close()
        logger.info("delivery stopped")
    }
}

/// One way from the ledger to a sink: its source, its cursor and its metrics.
struct Route: Sendable {
    enum Source: Sendable {
        case events(EventQuery, batch: Int, fromBeginning: Bool)
        case findings(Set<Finding.Kind>, batch: Int)
    }

    let name: String
    let sinkName: String
    let sink: any Sink
    let source: Source
    let log: EventLog
    let projector: LiveProjector
    let cursors: CursorStore
    let logger: Logger
    let delivered: Counter
    let failures: Counter
    let lagSeqs: Gauge
    let lagSeconds: Gauge

    /// Retries wait 0.5 s, then twice as long each time, up to this.
    static let longestRetryWait: Duration = .seconds(30)
    /// How long a route waits for a commit before it looks again (and refreshes its lag).
    static let idleWait: Duration = .seconds(5)
    /// A cursor moved only past events the filter left out is saved at most this often.
    static let skippedSaveInterval: Duration = .seconds(5)

    init(
        name: String, sinkName: String, label: String, sink: any Sink, source: Source, log: EventLog, projector: LiveProjector,
        cursors: CursorStore, logger: Logger
    ) {
        (self.name, self.sinkName, self.sink, self.source, self.log, self.projector, self.cursors) =
            (name, sinkName, sink, source, log, projector, cursors)
        var logger = logger
        logger[metadataKey: "delivery.sink"] = "\(sinkName)"
        logger[metadataKey: "delivery.route"] = "\(name)"
        self.logger = logger
        let dimensions = [("sink", sinkName), ("route", label)]
        delivered = Counter(label: "ledger_delivery_delivered_total", dimensions: dimensions)
        failures = Counter(label: "ledger_delivery_failures_total", dimensions: dimensions)
        lagSeqs = Gauge(label: "ledger_delivery_lag_seqs", dimensions: dimensions)
        lagSeconds = Gauge(label: "ledger_delivery_lag_seconds", dimensions: dimensions)
    }

    func run() async {
        do {
            switch source {
            case .events(let filter, let batch, let fromBeginning): try await deliverEvents(filter, batch: batch, fromBeginning: fromBeginning)
            case .findings(let kinds, let batch): try await deliverFindings(kinds, batch: batch)
            }
        } catch is CancellationError {
        } catch {
            // Only the cursor store can end a route (a sink's failures are retried): say so loudly.
            logger.error("delivery route stopped: its cursor cannot be kept", metadata: ["delivery.error": "\(error)"])
        }
    }

    // MARK: - Events

    private func deliverEvents(_ filter: EventQuery, batch: Int, fromBeginning: Bool) async throws {
        var cursor: UInt64
        if let saved = try cursors.load(name), let seq = UInt64(saved) {
            cursor = seq
        } else {
            cursor = fromBeginning ? 0 : log.committedHead
            try await cursors.save(name, String(cursor))
            logger.notice("new sink: delivering from seq \(cursor + 1)")
        }
        var saved = (seq: cursor, at: ContinuousClock.now)
        var query = filter
        query.limit = batch
        while !Task.isCancelled {
            let head = log.committedHead
            await updateLag(deliveredThrough: cursor, head: head)
            guard head > cursor else {
                _ = await log.nextCommit(beyond: cursor, timeout: Self.idleWait)
                continue
            }
            let page = try await retrying("read the log") { [cursor] in try await log.page(following: query, after: cursor) }
            if let last = page.events.last {
                try await retrying("deliver seqs \(page.events[0].seq)…\(last.seq)", lagFrom: cursor) { try await sink.send(events: page.events) }
                delivered.increment(by: Int64(page.events.count))
            }
            cursor = page.through
            if !page.events.isEmpty || ContinuousClock.now - saved.at > Self.skippedSaveInterval {
                try await cursors.save(name, String(cursor))
                saved = (cursor, .now)
            }
        }
    }

    // MARK: - Findings

    private func deliverFindings(_ kinds: Set<Finding.Kind>, batch: Int) async throws {
        var cursor: String
        if let saved = try cursors.load(name) {
            cursor = saved
        } else {
            // An alert rule hears of findings from now on, not of the ledger's past.
            cursor = LiveProjector.cursor(afterSeq: projector.appliedThrough)
            try await cursors.save(name, cursor)
            logger.notice("new alert rule: findings from now on")
        }
        var saved = (cursor: cursor, at: ContinuousClock.now)
        var deliveredThrough = projector.appliedThrough
        while !Task.isCancelled {
            let folded = projector.appliedThrough
            let page = try await retrying("read the findings") { [cursor, projector] in
                try await log.read { _ in try projector.findings(.init(limit: batch, cursor: cursor, includesEveryCommit: false)) }
            }
            let matching = page.findings.filter { kinds.contains($0.kind) }
            if let first = matching.first {
                try await retrying("deliver findings of seqs \(first.seq)…\(matching.last!.seq)", lagFrom: first.seq - 1) {
                    try await sink.send(findings: matching)
                }
                delivered.increment(by: Int64(matching.count))
            }
            if let last = page.findings.last { cursor = LiveProjector.cursor(of: last) }
            if page.next == nil {
                // Every finding of the events folded so far was in that page.
                cursor = LiveProjector.later(cursor, LiveProjector.cursor(afterSeq: folded))
                deliveredThrough = folded
            } else if let last = page.findings.last {
                deliveredThrough = last.seq - 1
            }
            if !matching.isEmpty || (cursor != saved.cursor && ContinuousClock.now - saved.at > Self.skippedSaveInterval) {
                try await cursors.save(name, cursor)
                saved = (cursor, .now)
            }
            await updateLag(deliveredThrough: deliveredThrough, head: log.committedHead)
            if page.next == nil { _ = await projector.nextFold(beyond: folded, timeout: Self.idleWait) }
        }
    }

    // MARK: - Retries and lag

    /// Runs `attempt` until it succeeds or the route is cancelled, waiting longer after each failure.
    private func retrying<R>(_ what: String, lagFrom: UInt64? = nil, _ attempt: () async throws -> R) async throws -> R {
        var wait: Duration = .milliseconds(500)
        var failed = 0
        while true {
            try Task.checkCancellation()
            do {
                let result = try await attempt()
                if failed > 0 { logger.notice("delivery recovered", metadata: ["delivery.failed_attempts": "\(failed)"]) }
                return result
            } catch {
                try Task.checkCancellation()
                failed += 1
                failures.increment()
                logger.warning(
                    "cannot \(what); trying again",
                    metadata: ["delivery.error": "\(error)", "delivery.retry_seconds": "\(Double(wait.components.seconds) + Double(wait.components.attoseconds) / 1e18)"])
                if let lagFrom { await updateLag(deliveredThrough: lagFrom, head: log.committedHead) }
                try await Task.sleep(for: wait)
                wait = min(wait * 2, Self.longestRetryWait)
            }
        }
    }

    /// Lag: the events committed past what was delivered, and how long ago the first of them was recorded.
    private func updateLag(deliveredThrough: UInt64, head: UInt64) async {
        lagSeqs.record(Int64(head > deliveredThrough ? head - deliveredThrough : 0))
        guard head > deliveredThrough else {
            lagSeconds.record(0)
            return
        }
        let oldest = try? await log.read { try $0.event(seq: deliveredThrough + 1)?.recordedAt }
        if let oldest, let recorded = Instant(rfc3339: oldest) {
            let now = Instant.now()
            lagSeconds.record(max(0, Double(now.seconds - recorded.seconds) + Double(now.nanoseconds - recorded.nanoseconds) / 1e9))
        }
    }
}
