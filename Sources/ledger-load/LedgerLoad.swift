import ArgumentParser
import AsyncHTTPClient
import CLibPQ
import EventModel
import Foundation
import NIOCore
import NIOHTTP1

/// `make bench-e2e`'s client: the same workload, concurrency and timing against ledgerd over HTTP and
/// against the PostgreSQL baseline of spec 8 over libpq. Inputs are prepared before the clock starts;
/// what is timed is the request and the server's durable answer. Prints one JSON line of figures.
@main
struct LedgerLoad: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ledger-load", abstract: "The load client of make bench-e2e.")

    enum Target: String, ExpressibleByArgument { case http, postgres }
    enum Mode: String, ExpressibleByArgument { case batches, singles, history, asof }

    @Option var target: Target
    @Option var mode: Mode
    @Option(help: "NDJSON: arrays of events (batches) or single events (singles); subjects are taken from it (history).")
    var file: String
    @Option var concurrency: Int = 1
    @Option(help: "Queries (history, asof).") var count: Int = 10_000
    @Option(help: "Stop after this many seconds, whatever is left.") var maxSeconds: Double = 600
    @Option var url: String = "http://127.0.0.1:8427"
    @Option var token: String = ""
    @Option(help: "libpq connection string.") var conninfo: String = ""
    @Option(help: "asof: the head seq to pick points below.") var head: UInt64 = 1
    @Option(help: "Rewrite ids \"evt-…\" to this prefix, so one workload file can be sent twice.") var idPrefix: String?

    func run() async throws {
        var lines = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n").map(String.init)
        if let idPrefix { lines = lines.map { $0.replacingOccurrences(of: #""id":"evt-"#, with: #""id":"\#(idPrefix)"#) } }
        let deadline = ContinuousClock.now + .seconds(maxSeconds)
        let jobs: [Job]
        switch mode {
        case .batches, .singles:
            jobs = try lines.map { line in
                let events = try EventBody.parse(Array(line.utf8)).events.map(\.envelope)
                return Job(body: line, rows: events.map(Row.init))
            }
        case .history:
            var subjects: [Envelope.Subject] = []
            var seen = Set<Envelope.Subject>()
            for line in lines {
                for event in try EventBody.parse(Array(line.utf8)).events where seen.insert(event.envelope.subject).inserted {
                    subjects.append(event.envelope.subject)
                }
            }
            var generator = SystemRandomNumberGenerator()
            jobs = (0..<count).map { _ in
                let subject = subjects[Int.random(in: 0..<subjects.count, using: &generator)]
                return Job(body: "", rows: [], subject: subject)
            }
        case .asof:
            var users = Set<String>()
            for line in lines { for event in try EventBody.parse(Array(line.utf8)).events where event.envelope.subject.type == "user" { users.insert(event.envelope.subject.id) } }
            let list = users.sorted()
            jobs = (0..<count).map { _ in Job(body: "", rows: [], subject: .init(type: "user", id: list.randomElement()!), seq: UInt64.random(in: 1...head)) }
        }
        let work = WorkQueue(jobs)
        let clock = ContinuousClock.now
        let results: [[Duration]]
        let rowsSeen = Counter()
        switch target {
        case .http:
            // One connection per concurrent client, as the PostgreSQL side has (the pool's default is 8).
            let client = HTTPClient(
                eventLoopGroupProvider: .singleton,
                configuration: .init(connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: concurrency)))
            results = try await withThrowingTaskGroup(of: [Duration].self) { group in
                for _ in 0..<concurrency {
                    group.addTask { try await httpWorker(client, work, deadline, rowsSeen) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            try await client.shutdown()
        case .postgres:
            // libpq blocks: one OS thread per connection, not the cooperative pool's two.
            let collected = Collected()
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                let group = DispatchGroup()
                for _ in 0..<concurrency {
                    group.enter()
                    let thread = Thread {
                        collected.add(Result { try postgresWorker(work, deadline, rowsSeen) })
                        group.leave()
                    }
                    thread.stackSize = 1 << 20
                    thread.start()
                }
                group.notify(queue: .global()) { done.resume() }
            }
            results = try collected.results.map { try $0.get() }
        }
        let elapsed = ContinuousClock.now - clock
        let latencies = results.flatMap { $0 }.sorted()
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let units = mode == .batches || mode == .singles ? work.itemsDone : latencies.count
        func microseconds(_ d: Duration) -> Double { Double(d.components.seconds) * 1e6 + Double(d.components.attoseconds) / 1e12 }
        func percentile(_ p: Double) -> Double { latencies.isEmpty ? 0 : microseconds(latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))]) }
        let out: [String: Any] = [
            "target": target.rawValue, "mode": mode.rawValue, "requests": latencies.count, "units": units, "seconds": seconds,
            "perSecond": Double(units) / seconds, "p50us": percentile(0.5), "p99us": percentile(0.99),
            "rowsPerQuery": latencies.isEmpty ? 0 : Double(rowsSeen.value) / Double(latencies.count),
        ]
        print(String(decoding: try JSONSerialization.data(withJSONObject: out, options: [.sortedKeys]), as: UTF8.self))
    }

    struct Row: Sendable {
        var type: String, time: String, actor: String, subjectType: String, subjectId: String, body: String
        init(_ envelope: Envelope) {
            type = envelope.type
            time = envelope.time
            actor = envelope.actor.id
            subjectType = envelope.subject.type
            subjectId = envelope.subject.id
            body = String(decoding: CanonicalJSON.encode(.object(envelope.members)), as: UTF8.self)
        }
    }

    struct Job: Sendable {
        var body: String
        var rows: [Row]
        var subject: Envelope.Subject? = nil
        var seq: UInt64 = 0
    }

    func httpWorker(_ client: HTTPClient, _ work: WorkQueue, _ deadline: ContinuousClock.Instant, _ rows: Counter) async throws -> [Duration] {
        var latencies: [Duration] = []
        while ContinuousClock.now < deadline, let job = work.next() {
            var request: HTTPClientRequest
            switch mode {
            case .batches, .singles:
                request = HTTPClientRequest(url: url + "/v1/events")
                request.method = .POST
                request.body = .bytes(ByteBuffer(string: job.body))
            case .history:
                let s = job.subject!
                request = HTTPClientRequest(url: url + "/v1/subjects/\(escape(s.type))/\(escape(s.id))/history?limit=1000")
            case .asof:
                request = HTTPClientRequest(url: url + "/v1/users/\(escape(job.subject!.id))/access?asOf=seq:\(job.seq)")
            }
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
            let t = ContinuousClock.now
            let response = try await client.execute(request, timeout: .seconds(60))
            let body = try await response.body.collect(upTo: 1 << 26)
            latencies.append(ContinuousClock.now - t)
            guard response.status.code < 300 else {
                throw ValidationError("ledgerd answered \(response.status.code): \(String(buffer: body).prefix(300))")
            }
            work.done(job.rows.count)
            if mode == .history { rows.add(String(buffer: body).components(separatedBy: "\"seq\":").count - 1) }
        }
        return latencies
    }

    func postgresWorker(_ work: WorkQueue, _ deadline: ContinuousClock.Instant, _ rows: Counter) throws -> [Duration] {
        guard let connection = PQconnectdb(conninfo), PQstatus(connection) == CONNECTION_OK else {
            throw ValidationError("cannot connect to PostgreSQL: \(conninfo)")
        }
        defer { PQfinish(connection) }
        func check(_ result: OpaquePointer?, _ expected: ExecStatusType) throws {
            defer { PQclear(result) }
            guard PQresultStatus(result) == expected else {
                throw ValidationError("PostgreSQL: \(String(cString: PQerrorMessage(connection)))")
            }
        }
        try check(PQprepare(connection, "insert",
            "INSERT INTO audit_log (type, occurred_at, actor, subject_type, subject_id, body) VALUES ($1, $2, $3, $4, $5, $6)", 6, nil), PGRES_COMMAND_OK)
        try check(PQprepare(connection, "history",
            "SELECT seq, type, occurred_at, actor, body FROM audit_log WHERE subject_type = $1 AND subject_id = $2 ORDER BY seq LIMIT 1000", 2, nil), PGRES_COMMAND_OK)
        var latencies: [Duration] = []
        while ContinuousClock.now < deadline, let job = work.next() {
            let t = ContinuousClock.now
            switch mode {
            case .batches:
                try check(PQexec(connection, "COPY audit_log (type, occurred_at, actor, subject_type, subject_id, body) FROM STDIN"), PGRES_COPY_IN)
                var text = ""
                for row in job.rows {
                    text += [row.type, row.time, row.actor, row.subjectType, row.subjectId, row.body].map(copyEscape).joined(separator: "\t") + "\n"
                }
                let bytes = Array(text.utf8)
                guard bytes.withUnsafeBufferPointer({ PQputCopyData(connection, UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), Int32($0.count)) }) == 1,
                    PQputCopyEnd(connection, nil) == 1
                else { throw ValidationError("COPY failed: \(String(cString: PQerrorMessage(connection)))") }
                try check(PQgetResult(connection), PGRES_COMMAND_OK)
                while let extra = PQgetResult(connection) { PQclear(extra) }
            case .singles:
                let row = job.rows[0]
                try withParameters([row.type, row.time, row.actor, row.subjectType, row.subjectId, row.body]) { values in
                    try check(PQexecPrepared(connection, "insert", 6, values, nil, nil, 0), PGRES_COMMAND_OK)
                }
            case .history:
                let s = job.subject!
                try withParameters([s.type, s.id]) { values in
                    let result = PQexecPrepared(connection, "history", 2, values, nil, nil, 0)
                    rows.add(Int(PQntuples(result)))
                    try check(result, PGRES_TUPLES_OK)
                }
            case .asof:
                throw ValidationError("the baseline has no as-of query")
            }
            latencies.append(ContinuousClock.now - t)
            work.done(job.rows.count)
        }
        return latencies
    }

    func escape(_ s: String) -> String { s.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(["/", "?", "#"])) ?? s }
}

/// COPY's text format: backslash, tab, newline and carriage return escaped.
func copyEscape(_ s: String) -> String {
    var out = ""
    out.reserveCapacity(s.utf8.count)
    for c in s {
        switch c {
        case "\\": out += "\\\\"
        case "\t": out += "\\t"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        default: out.append(c)
        }
    }
    return out
}

func withParameters<R>(_ values: [String], _ body: ([UnsafePointer<CChar>?]) throws -> R) rethrows -> R {
    let copies = values.map { strdup($0) }
    defer { copies.forEach { free($0) } }
    return try body(copies.map { UnsafePointer($0) })
}

/// Jobs handed to workers one at a time.
final class WorkQueue: @unchecked Sendable {
    private let lock = NSLock()
    private var jobs: [LedgerLoad.Job]
    private var position = 0
    private var items = 0
    init(_ jobs: [LedgerLoad.Job]) { self.jobs = jobs }
    func next() -> LedgerLoad.Job? {
        lock.withLock {
            guard position < jobs.count else { return nil }
            defer { position += 1 }
            return jobs[position]
        }
    }
    func done(_ count: Int) { lock.withLock { items += count } }
    var itemsDone: Int { lock.withLock { items } }
}

final class Collected: @unchecked Sendable {
    private let lock = NSLock()
    private var all: [Result<[Duration], any Error>] = []
    func add(_ result: Result<[Duration], any Error>) { lock.withLock { all.append(result) } }
    var results: [Result<[Duration], any Error>] { lock.withLock { all } }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var total = 0
    func add(_ n: Int) { lock.withLock { total += n } }
    var value: Int { lock.withLock { total } }
}
