import AsyncHTTPClient
import EventLog
import EventModel
import Foundation
import Glibc
import LedgerDaemon
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

/// Where answers come from: the daemon over HTTP, or the data directory opened read-only and asked
/// through the daemon's own router in this process (LMDB lets readers in beside the running daemon).
/// Both give the API's bytes, and the same errors.
enum Backend {
    case http(url: String, token: String)
    case local(LedgerRuntime, InProcessClient)

    /// One client with a short connect timeout: an unreachable ledger is reported at once, not retried for minutes.
    static let client = HTTPClient(
        eventLoopGroupProvider: .singleton,
        configuration: .init(timeout: .init(connect: .seconds(2), read: .seconds(300))))

    static func make(url: String?, token: String?, dataDirectory: String?) throws -> Backend {
        if let dataDirectory {
            var logger = Logger(label: "ledgerctl")
            logger.logLevel = .error
            guard FileManager.default.fileExists(atPath: dataDirectory + "/data.mdb") else {
                throw CommandFailure(exitCode: 2, description: "\(dataDirectory) holds no ledger (no data.mdb there): check --data-dir")
            }
            let (runtime, token) = try LedgerRuntime.openReadOnly(dataDirectory: dataDirectory, logger: logger)
            return .local(runtime, InProcessClient(runtime: runtime, token: token, logger: logger))
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

    static func pathAndQuery(_ path: [String], _ query: [(String, String?)]) -> String {
        var components = URLComponents()
        components.percentEncodedPath = "/" + path.map { $0.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(["/"])) ?? $0 }.joined(separator: "/")
        let items = query.compactMap { name, value in value.map { URLQueryItem(name: name, value: $0) } }
        if !items.isEmpty { components.queryItems = items }
        return components.string ?? "/"
    }

    func getBytes(_ path: [String], _ query: [(String, String?)]) async throws -> [UInt8] {
        let pathAndQuery = Self.pathAndQuery(path, query)
        switch self {
        case .http(let url, let token):
            var request = HTTPClientRequest(url: url + pathAndQuery)
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
            return try await Self.send(request)
        case .local(_, let client):
            let (status, body) = try await client.get(pathAndQuery)
            guard (200..<300).contains(status) else { throw CommandFailure.from(status: status, body: body) }
            return body
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

    /// Follows a Server-Sent Events stream of the daemon, handing each message to `handle`, until
    /// the stream ends or fails (the caller reconnects from the last id it saw).
    func follow(_ path: [String], _ query: [(String, String?)], lastEventID: String?, _ handle: (ServerSentEvent) throws -> Void) async throws {
        guard case .http(let url, let token) = self else {
            throw CommandFailure(exitCode: 2, description: "following needs the daemon (--url): a data directory opened read-only does not see new commits")
        }
        var request = HTTPClientRequest(url: url + Self.pathAndQuery(path, query))
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Accept", value: "text/event-stream")
        if let lastEventID { request.headers.add(name: "Last-Event-ID", value: lastEventID) }
        try Self.refuseIfNobodyListens(request.url)
        let response = try await Self.client.execute(request, deadline: .distantFuture)
        guard response.status.code == 200 else {
            let body = Array((try await response.body.collect(upTo: 1 << 20)).readableBytesView)
            throw CommandFailure.from(status: Int(response.status.code), body: body)
        }
        var parser = ServerSentEvent.Parser()
        for try await chunk in response.body {
            for message in parser.feed(chunk.readableBytesView) { try handle(message) }
        }
    }

    private static func send(_ request: HTTPClientRequest) async throws -> [UInt8] {
        try refuseIfNobodyListens(request.url)
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: .seconds(300))
        } catch {
            throw CommandFailure(exitCode: 5, description: "cannot reach the ledger at \(request.url): \(Self.plain(error))")
        }
        let body = Array((try await response.body.collect(upTo: 1 << 30)).readableBytesView)
        guard (200..<300).contains(Int(response.status.code)) else {
            throw CommandFailure.from(status: Int(response.status.code), body: body)
        }
        return body
    }

    /// A refused connection fails at once, in one sentence: the HTTP client would retry until its
    /// connect timeout. Only plain http on a literal or local address is checked this way.
    static func refuseIfNobodyListens(_ url: String) throws {
        guard let components = URLComponents(string: url), components.scheme == "http", let host = components.host else { return }
        let port = components.port ?? 80
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        let literal = host == "localhost" ? "127.0.0.1" : host
        guard inet_pton(AF_INET, literal, &address.sin_addr) == 1 else { return }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return }
        defer { Glibc.close(fd) }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if result != 0 && errno == ECONNREFUSED {
            throw CommandFailure(exitCode: 5, description: "cannot reach the ledger at \(host):\(port): connection refused (is ledgerd running there?)")
        }
    }

    /// One plain sentence for a connection failure, instead of the client library's nested description.
    static func plain(_ error: any Error) -> String {
        let text = "\(error)"
        if text.contains("Connection refused") || text.contains("errno: 111") { return "connection refused (is ledgerd running there?)" }
        if text.contains("connectTimeout") || text.contains("deadlineExceeded") { return "no answer in time" }
        if text.contains("dnsFailure") || text.contains("No such host") { return "the host name does not resolve" }
        return text
    }

    // MARK: - Names the ledger knows

    /// One list of `GET /v1/vocabulary`: `eventTypes`, `subjectTypes`, `permissions`, `roles`, `findingKinds`.
    func vocabulary(_ list: String) async throws -> [String] {
        (try await get(["v1", "vocabulary"], [])[list] ?? .null).list.compactMap(\.stringValue)
    }

    /// Whether any event has this subject type (and id).
    func hasEvents(subjectType: String, subjectId: String?) async throws -> Bool {
        let json = try await get(["v1", "events"], [("subjectType", subjectType), ("subjectId", subjectId), ("limit", "1")])
        return !(json["events"] ?? .null).list.isEmpty
    }

    /// Fails (exit 2) when no event of the ledger has this subject: the answer would be empty because
    /// of a typo, not because nothing happened. Names the closest subject type, or the id spelt in
    /// another case.
    func requireSubject(type: String, id: String?) async throws {
        if try await hasEvents(subjectType: type, subjectId: id) { return }
        guard let id, try await hasEvents(subjectType: type, subjectId: nil) else {
            let known = try await vocabulary("subjectTypes")
            throw Mistakes.failure("no subject of type \(type) in this ledger\(Mistakes.hint(type, among: known))")
        }
        for variant in Set([id.lowercased(), id.uppercased()]) where variant != id {
            if try await hasEvents(subjectType: type, subjectId: variant) {
                throw Mistakes.failure("\(type) \(id) is in no event of this ledger; did you mean \(variant)?")
            }
        }
        throw Mistakes.failure("\(type) \(id) is in no event of this ledger")
    }

    /// Fails (exit 2) when no event of the ledger has this actor.
    func requireActor(_ actor: String) async throws {
        func acted(_ id: String) async throws -> Bool {
            !(try await get(["v1", "events"], [("actor", id), ("limit", "1")])["events"] ?? .null).list.isEmpty
        }
        if try await acted(actor) { return }
        for variant in Set([actor.lowercased(), actor.uppercased()]) where variant != actor {
            if try await acted(variant) { throw Mistakes.failure("\(actor) acted in no event of this ledger; did you mean \(variant)?") }
        }
        throw Mistakes.failure("\(actor) acted in no event of this ledger")
    }

    func close() async throws {
        switch self {
        case .local(let runtime, _):
            try await runtime.close()
        case .http:
            try await Self.client.shutdown()
        }
    }
}
