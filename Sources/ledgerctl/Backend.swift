import AsyncHTTPClient
import EventLog
import EventModel
import Foundation
import LedgerHTTP
import Logging
import NIOCore
import Projector
import Queries
import Transparency

/// Why a command failed, and the exit code a script can rely on.
struct CommandFailure: Error, CustomStringConvertible {
    /// 2 bad input or request (4xx), 3 not authorized (401/403), 4 verification failed, 5 the ledger cannot be reached or failed (5xx).
    var exitCode: Int32
    var description: String

    static func from(status: Int, body: [UInt8]) -> CommandFailure {
        let error = (try? JSONParser.parse(body))?["error"]
        let code = error?["code"]?.stringValue ?? "http_\(status)"
        var message = error?["message"]?.stringValue ?? String(decoding: body.prefix(300), as: UTF8.self)
        if let field = error?["field"]?.stringValue { message += " (field \(field))" }
        if case .number(let index)? = error?["index"] { message += " (event \(index))" }
        let exit: Int32 = status == 401 || status == 403 ? 3 : (400..<500).contains(status) ? 2 : 5
        return CommandFailure(exitCode: exit, description: "\(code): \(message)")
    }
}

/// A ledger opened read-only: LMDB lets this reader in beside a running ledgerd.
func openReadOnly(_ path: String) throws -> (EventLog, Logger) {
    var logger = Logger(label: "ledgerctl")
    logger.logLevel = .error
    var configuration = LogConfiguration(path: path)
    configuration.readOnly = true
    configuration.readerThreads = 1
    return (try EventLog(configuration, logger: logger), logger)
}

/// Where answers come from: the daemon over HTTP, or the data directory opened read-only
/// (LMDB lets readers in beside the running daemon). Both give the API's JSON.
enum Backend {
    case http(url: String, token: String)
    /// The log, and the queries once a command needs the projection (verify and export do not).
    case local(EventLog, LazyQueries)

    final class LazyQueries: @unchecked Sendable {
        let log: EventLog
        let dataDirectory: String
        let logger: Logger
        private(set) var made: LedgerQueries?

        init(log: EventLog, dataDirectory: String, logger: Logger) {
            self.log = log
            self.dataDirectory = dataDirectory
            self.logger = logger
        }

        func get() throws -> LedgerQueries {
            if let made { return made }
            var projection = LiveProjector.Configuration(path: dataDirectory + "/projection")
            projection.readOnly = true
            let queries = LedgerQueries(log: log, projector: try LiveProjector(log: log, configuration: projection, logger: logger))
            made = queries
            return queries
        }
    }

    /// One client with a short connect timeout: an unreachable ledger is reported at once, not retried for minutes.
    static let client = HTTPClient(
        eventLoopGroupProvider: .singleton,
        configuration: .init(timeout: .init(connect: .seconds(5), read: .seconds(300))))

    static func make(url: String?, token: String?, dataDirectory: String?) throws -> Backend {
        if let dataDirectory {
            let (log, logger) = try openReadOnly(dataDirectory)
            return .local(log, LazyQueries(log: log, dataDirectory: dataDirectory, logger: logger))
        }
        let environment = ProcessInfo.processInfo.environment
        guard let token = token ?? environment["LEDGER_TOKEN"] else {
            throw CommandFailure(exitCode: 3, description: "no token: pass --token or set LEDGER_TOKEN (or read a data directory with --data-dir)")
        }
        let base = url ?? environment["LEDGER_URL"] ?? "http://127.0.0.1:8427"
        return .http(url: base.hasSuffix("/") ? String(base.dropLast()) : base, token: token)
    }

    /// GET `path` with `query`, as JSON.
    func get(_ path: [String], _ query: [(String, String?)]) async throws -> JSONValue {
        let bytes = try await getBytes(path, query)
        do {
            return try JSONParser.parse(bytes)
        } catch {
            throw CommandFailure(exitCode: 5, description: "the ledger answered something that is not JSON")
        }
    }

    func getBytes(_ path: [String], _ query: [(String, String?)]) async throws -> [UInt8] {
        switch self {
        case .http(let url, let token):
            var components = URLComponents()
            components.percentEncodedPath = "/" + path.map { $0.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(["/"])) ?? $0 }.joined(separator: "/")
            let items = query.compactMap { name, value in value.map { URLQueryItem(name: name, value: $0) } }
            if !items.isEmpty { components.queryItems = items }
            var request = HTTPClientRequest(url: url + (components.string ?? ""))
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
            return try await Self.send(request)
        case .local(let log, let queries):
            return try LocalAPI(log: log, queries: queries).answer(path, Dictionary(query.compactMap { k, v in v.map { (k, $0) } }, uniquingKeysWith: { a, _ in a }))
        }
    }

    /// POST a body of events; returns the JSON answer.
    func post(_ body: [UInt8]) async throws -> JSONValue {
        guard case .http(let url, let token) = self else {
            throw CommandFailure(exitCode: 2, description: "append needs the daemon (--url): the data directory is opened read-only")
        }
        var request = HTTPClientRequest(url: url + "/v1/events")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: body))
        return try JSONParser.parse(try await Self.send(request))
    }

    private static func send(_ request: HTTPClientRequest) async throws -> [UInt8] {
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: .seconds(300))
        } catch {
            throw CommandFailure(exitCode: 5, description: "cannot reach the ledger at \(request.url): \(error)")
        }
        let body = Array((try await response.body.collect(upTo: 1 << 30)).readableBytesView)
        guard (200..<300).contains(Int(response.status.code)) else {
            throw CommandFailure.from(status: Int(response.status.code), body: body)
        }
        return body
    }

    func close() async throws {
        switch self {
        case .local(let log, let queries):
            queries.made?.projector.close()
            try await log.close()
        case .http:
            try await Self.client.shutdown()
        }
    }
}

/// The read endpoints answered in-process from a read-only data directory, in the API's shapes.
struct LocalAPI {
    let log: EventLog
    let lazy: Backend.LazyQueries
    var queries: LedgerQueries { get throws { try lazy.get() } }

    init(log: EventLog, queries: Backend.LazyQueries) {
        self.log = log
        self.lazy = queries
    }

    func answer(_ path: [String], _ q: [String: String]) throws -> [UInt8] {
        do {
            let asOf = try AsOf.parse(q["asOf"])
            let limit = Int(q["limit"] ?? "") ?? 100
            switch path {
            case let p where p.count == 5 && p[1] == "subjects" && p[4] == "history":
                return encode(try queries.history(.init(type: p[2], id: p[3]), field: q["field"], limit: limit, cursor: q["cursor"]).json)
            case let p where p.count == 5 && p[1] == "subjects" && p[4] == "state":
                return encode(try queries.state(.init(type: p[2], id: p[3]), asOf: asOf).json)
            case let p where p.count == 4 && p[1] == "actors":
                let page = try queries.activity(actor: p[2], since: q["since"].flatMap(Instant.init(rfc3339:)), until: q["until"].flatMap(Instant.init(rfc3339:)), limit: limit, cursor: q["cursor"])
                return eventsPageBytes(page, extra: [JSONMember("actor", .string(p[2]))])
            case let p where p.count == 4 && p[1] == "users":
                return encode(try queries.access(user: p[2], asOf: asOf).json)
            case let p where p.count == 4 && p[1] == "permissions":
                return encode(try queries.holders(permission: p[2], asOf: asOf).json)
            case let p where p.count == 2 && p[1] == "findings":
                let page = try queries.findings(.init(kind: q["kind"].flatMap(Finding.Kind.init(rawValue:)), limit: limit, cursor: q["cursor"]))
                return encode(page.json)
            case let p where p.count == 2 && p[1] == "verify":
                return encode(try log.verify(checkpointVerifier: localVerifier(), indexes: q["indexes"] != "false").json)
            case let p where p.count == 2 && p[1] == "export":
                var out: [UInt8] = []
                var after = UInt64(q["afterSeq"] ?? "") ?? 0
                var remaining = Int(q["limit"] ?? "") ?? .max
                while remaining > 0 {
                    let page = try log.events(afterSeq: after, limit: min(10_000, remaining))
                    guard let last = page.last else { return out }
                    for e in page { out += e.record + [0x0A] }
                    after = last.seq
                    remaining -= page.count
                }
                return out
            case let p where p.count == 2 && p[1] == "checkpoint":
                guard let latest = try log.latestCheckpoint() else {
                    throw CommandFailure(exitCode: 2, description: "the data directory holds no checkpoint yet (ledgerd signs them)")
                }
                return Array(latest.note.utf8)
            case let p where p.count == 3 && p[1] == "checkpoint" && p[2] == "key":
                guard let verifier = try localVerifier() else {
                    throw CommandFailure(exitCode: 2, description: "no checkpoint.vkey in the data directory")
                }
                return encode(verifier.json)
            case let p where p.count == 3 && p[1] == "proof" && p[2] == "inclusion":
                return encode(try log.inclusionProof(seq: UInt64(q["seq"] ?? "") ?? 0, treeSize: UInt64(q["treeSize"] ?? "") ?? 0).json)
            case let p where p.count == 3 && p[1] == "proof" && p[2] == "consistency":
                return encode(try log.consistencyProof(from: UInt64(q["from"] ?? "") ?? 0, to: UInt64(q["to"] ?? "") ?? 0).json)
            default:
                throw CommandFailure(exitCode: 2, description: "no such query: /\(path.joined(separator: "/"))")
            }
        } catch let error as AsOf.ParseError {
            throw CommandFailure(exitCode: 2, description: "invalid_as_of: \(error)")
        } catch let error as LogError where error.code == .invalid {
            throw CommandFailure(exitCode: 2, description: "invalid: \(error.message)")
        }
    }

    /// The verifier key ledgerd writes into its data directory.
    private func localVerifier() throws -> NoteVerifier? {
        let path = lazy.dataDirectory + "/checkpoint.vkey"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return try NoteVerifier(verifierKey: text)
    }

    private func encode(_ value: JSONValue) -> [UInt8] { CanonicalJSON.encode(value) }
}
