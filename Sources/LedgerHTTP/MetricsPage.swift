import Foundation
import Hummingbird
import Metrics
import Projector
import Prometheus
import Synchronization

/// What `/metrics` shows: the registry the process's metrics write to, with the process's own
/// figures and the findings by kind brought up to date at each scrape, and HELP text for every
/// metric (swift-metrics has no place for it, so it is added here, from one table).
public final class MetricsPage: Sendable {
    let registry: PrometheusCollectorRegistry
    private let residentMemory: Prometheus.Gauge
    private let virtualMemory: Prometheus.Gauge
    private let openDescriptors: Prometheus.Gauge
    private let maxDescriptors: Prometheus.Gauge
    private let startTime: Prometheus.Gauge
    private let cpuSeconds: Prometheus.Counter
    /// CPU seconds already added to `cpuSeconds` (a counter only goes up by increments).
    private let cpuCounted = Mutex<Double>(0)
    private let findings: [Finding.Kind: Prometheus.Gauge]

    public init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
        residentMemory = registry.makeGauge(descriptor: Self.named("process_resident_memory_bytes", "Resident memory size in bytes."))
        virtualMemory = registry.makeGauge(descriptor: Self.named("process_virtual_memory_bytes", "Virtual memory size in bytes."))
        openDescriptors = registry.makeGauge(descriptor: Self.named("process_open_fds", "Number of open file descriptors."))
        maxDescriptors = registry.makeGauge(descriptor: Self.named("process_max_fds", "Maximum number of open file descriptors."))
        startTime = registry.makeGauge(descriptor: Self.named("process_start_time_seconds", "Start time of the process since unix epoch in seconds."))
        cpuSeconds = registry.makeCounter(descriptor: Self.named("process_cpu_seconds_total", "Total user and system CPU time spent in seconds."))
        var findings: [Finding.Kind: Prometheus.Gauge] = [:]
        for kind in Finding.Kind.allCases {
            findings[kind] = registry.makeGauge(
                descriptor: Self.named("ledger_findings", "Findings in the projection, by kind."), labels: [("kind", kind.rawValue)])
        }
        self.findings = findings
    }

    /// A metric's full name (the unit is already in it) and its help line.
    private static func named(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }

    /// The exposition text, after refreshing the process figures (blocking: reads `/proc`).
    public func render(findingCounts: [Finding.Kind: Int]) -> [UInt8] {
        for (kind, count) in findingCounts { findings[kind]?.set(Double(count)) }
        refreshProcessFigures()
        return Self.addingHelp(to: registry.emitToBuffer())
    }

    private func refreshProcessFigures() {
        if let stat = ProcessStat.read() {
            residentMemory.set(Double(stat.residentBytes))
            virtualMemory.set(Double(stat.virtualBytes))
            startTime.set(stat.startTime)
            let added = cpuCounted.withLock { counted -> Double in
                let delta = max(0, stat.cpuSeconds - counted)
                counted += delta
                return delta
            }
            if added > 0 { cpuSeconds.increment(by: added) }
        }
        if let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") {
            openDescriptors.set(Double(max(0, entries.count - 1)))  // less the descriptor that lists them
        }
        var limit = rlimit()
        if getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 { maxDescriptors.set(Double(limit.rlim_cur)) }
    }

    /// Puts `# HELP` before each `# TYPE` line whose metric has none, from `help`.
    static func addingHelp(to exposition: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(exposition.count + 4096)
        var described: Set<Substring> = []
        for line in String(decoding: exposition, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false) {
            let words = line.split(separator: " ", maxSplits: 3)
            if words.count >= 3, words[0] == "#" {
                if words[1] == "HELP" {
                    described.insert(words[2])
                } else if words[1] == "TYPE", !described.contains(words[2]), let text = help[String(words[2])] {
                    out.append(contentsOf: "# HELP \(words[2]) \(text)\n".utf8)
                }
            }
            out.append(contentsOf: line.utf8)
            out.append(UInt8(ascii: "\n"))
        }
        if out.last == UInt8(ascii: "\n"), exposition.last != UInt8(ascii: "\n") { out.removeLast() }
        return out
    }

    /// Every metric the modules record through swift-metrics, and what it counts.
    static let help: [String: String] = [
        "ledger_events_appended_total": "Events appended to the log (acknowledged with 201).",
        "ledger_append_request_events": "Events per append request.",
        "ledger_commit_events": "Events per group commit of the writer.",
        "ledger_commit_seconds": "Time of one group commit (LMDB write and fsync), in seconds.",
        "ledger_head_seq": "The last committed seq.",
        "ledger_index_fold_seconds": "Time the writer spent folding the in-memory tail into the LMDB indexes (appends wait meanwhile), in seconds.",
        "ledger_projection_seq": "The seq the projection has folded and written through (ledger_head_seq minus this is its lag).",
        "ledger_projection_write_seconds": "Time of one write of the projection (changed entities, findings, intervals, watermark), in seconds.",
        "ledger_projection_write_events": "Events folded into one write of the projection.",
        "ledger_projection_events_total": "Events the projection folded, by source: handed over by the writer as it committed them, or read back from the log (a follower behind, a rebuild).",
        "ledger_http_requests_total": "HTTP requests answered, by route, method and status.",
        "ledger_http_request_duration_seconds": "Time from request to the end of the response body, in seconds.",
        "ledger_http_requests_in_flight": "HTTP requests being answered now (open streams included).",
        "ledger_delivery_delivered_total": "Events or findings a sink accepted, by sink and route (events, alerts).",
        "ledger_delivery_failures_total": "Failed attempts to read for or deliver to a sink (each is retried).",
        "ledger_delivery_lag_seqs": "Events committed past what the route has delivered.",
        "ledger_delivery_lag_seconds": "Age of the oldest event the route has not delivered yet (0 when caught up), in seconds.",
    ]
}

/// `/proc/self/stat` and the boot time: what the process figures come from.
struct ProcessStat {
    var residentBytes: Int
    var virtualBytes: Int
    var cpuSeconds: Double
    var startTime: Double

    static func read() -> ProcessStat? {
        guard let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        // Fields after the command name, from field 3 (state) on.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        func field(_ number: Int) -> Double? { fields.count > number - 3 ? Double(fields[number - 3]) : nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let page = Double(sysconf(Int32(_SC_PAGESIZE)))
        guard let user = field(14), let system = field(15), let started = field(22), let virtual = field(23), let resident = field(24) else {
            return nil
        }
        let bootTime = (try? String(contentsOfFile: "/proc/stat", encoding: .utf8))?
            .split(separator: "\n").first { $0.hasPrefix("btime ") }
            .flatMap { Double($0.dropFirst(6)) } ?? 0
        return ProcessStat(
            residentBytes: Int(resident * page), virtualBytes: Int(virtual), cpuSeconds: (user + system) / ticks,
            startTime: bootTime + started / ticks)
    }
}

/// Counts requests and their durations by route, method and status, under names Prometheus
/// accepts (counters end in `_total`, durations in `_seconds`).
/// The handles are made once per route, method and status and kept: making one goes through the
/// metrics factory's registry (a lock, the label set built and looked up), too much for every request.
public struct RequestMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    private let handles: RequestMetricHandles

    /// `handles`: shared with `EventLoopAnswers`, so both count into the same series.
    public init(handles: RequestMetricHandles = RequestMetricHandles()) { self.handles = handles }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let handles = self.handles
        handles.inFlight.increment()
        let route = context.endpointPath ?? "unmatched"
        @Sendable func record(_ status: HTTPResponse.Status) {
            handles.record(route: route, method: request.method, status: status, since: start)
            handles.inFlight.decrement()
        }
        do {
            var response = try await next(request, context)
            let status = response.status
            let body = response.body
            // Recorded once the body is written: a stream's duration is how long it stayed open.
            response.body = ResponseBody(contentLength: body.contentLength) { writer in
                defer { record(status) }
                try await body.write(writer)
            }
            return response
        } catch {
            record((error as? any HTTPResponseError)?.status ?? .internalServerError)
            throw error
        }
    }
}

/// The request metrics' handles, made on first use of each route, method and status.
public final class RequestMetricHandles: Sendable {
    struct Key: Hashable {
        let route: String
        let method: String
        let status: Int
    }

    let inFlight = Meter(label: "ledger_http_requests_in_flight")
    private let made = Mutex<[Key: (Metrics.Counter, Metrics.Timer)]>([:])

    public init() {}

    /// One request answered: its count and its duration.
    func record(route: String, method: HTTPRequest.Method, status: HTTPResponse.Status, since start: ContinuousClock.Instant) {
        let (count, duration) = handles(route: route, method: method.rawValue, status: Int(status.code))
        count.increment()
        duration.recordElapsed(since: start)
    }

    func handles(route: String, method: String, status: Int) -> (Metrics.Counter, Metrics.Timer) {
        made.withLock { made in
            let key = Key(route: route, method: method, status: status)
            if let found = made[key] { return found }
            let dimensions = [("route", route), ("method", method), ("status", String(status))]
            let handles = (
                Metrics.Counter(label: "ledger_http_requests_total", dimensions: dimensions),
                Metrics.Timer(label: "ledger_http_request_duration_seconds", dimensions: dimensions)
            )
            made[key] = handles
            return handles
        }
    }
}
