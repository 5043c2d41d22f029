import EventLog
import Foundation
import EventModel
import Hummingbird
import Projector
import Prometheus
import Queries
import Synchronization
import Transparency

/// The HTTP API of spec 5 over the log, the projector and the queries.
/// Reads run on the log's reader threads; appends meet in its group-commit writer.
public struct LedgerAPI: Sendable {
    public let log: EventLog
    public let queries: LedgerQueries
    public let tokens: TokenRegistry
    /// What `/metrics` shows: the registry the process's metrics factory writes to.
    public let metrics: MetricsPage
    /// The public half of the checkpoint key: served, and used by `/v1/verify` on the latest checkpoint.
    public let checkpointVerifier: NoteVerifier?
    /// `POST /v1/admin/backup` writes only below this directory; nil turns it off.
    public let backupRoot: String?
    /// Files a backup carries beside the ledger (the checkpoint key when it lives in the data directory).
    public let backupFiles: [String]
    /// Streams: the quiet time after which a heartbeat comment goes out, and how long one write may
    /// wait for a client that stopped reading before the stream is cut off.
    public var streamHeartbeat: Duration = .seconds(15)
    public var streamStalledWrite: Duration = .seconds(10)
    /// The last full verification, by whoever asked for it (the API or the console).
    public let verifications = VerificationRecord()

    public init(
        log: EventLog, queries: LedgerQueries, tokens: TokenRegistry, metrics: PrometheusCollectorRegistry,
        checkpointVerifier: NoteVerifier? = nil, backupRoot: String? = nil, backupFiles: [String] = []
    ) {
        self.log = log
        self.queries = queries
        self.tokens = tokens
        self.metrics = MetricsPage(registry: metrics)
        self.checkpointVerifier = checkpointVerifier
        self.backupRoot = backupRoot
        self.backupFiles = backupFiles
    }

    /// Every route, each behind the scope spec 5 gives it.
    public func addRoutes(to router: Router<LedgerRequestContext>) {
        router.get("/healthz") { _, _ in jsonResponse(.object([JSONMember("status", .string("ok"))])) }
        router.get("/readyz") { _, _ in try await ready() }
        router.group().add(middleware: AuthMiddleware(tokens: tokens, scope: .admin)).get("/metrics") { _, _ in
            let text = try await run { api in api.metrics.render(findingCounts: try api.queries.projector.findingCounts()) }
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(bytes: text)))
        }

        router.group("/v1").add(middleware: AuthMiddleware(tokens: tokens, scope: .ingest))
            .post("/events") { request, _ in try await ingest(request) }

        let read = router.group("/v1").add(middleware: AuthMiddleware(tokens: tokens, scope: .read))
        read.get("/events") { request, _ in try await events(request) }
        read.get("/events/:seq") { request, context in try await event(request, context) }
        read.get("/subjects/:type/:id/history") { request, context in try await history(request, context) }
        read.get("/subjects/:type/:id/state") { request, context in try await state(request, context) }
        read.get("/actors/:id/activity") { request, context in try await activity(request, context) }
        read.get("/users/:id/access") { request, context in try await access(request, context) }
        read.get("/permissions/:permission/holders") { request, context in try await holders(request, context) }
        read.get("/roles/:id") { request, context in try await role(request, context) }
        read.get("/findings") { request, _ in try await findings(request) }
        addGovernanceRoutes(to: read)
        addStreamRoutes(to: read)
        read.get("/vocabulary") { _, _ in jsonResponse(canonical: try await run { CanonicalJSON.encode(try $0.queries.vocabulary().json) }) }
        read.get("/export") { request, _ in try export(request) }
        read.get("/verify") { request, context in try await verify(request, caller: context.caller) }
        read.get("/checkpoint") { request, _ in try await checkpoint(request) }
        read.get("/checkpoint/key") { request, _ in try checkpointKey(request) }
        read.get("/checkpoints") { request, _ in try await checkpoints(request) }
        read.get("/proof/inclusion") { request, _ in try await inclusionProof(request) }
        read.get("/proof/consistency") { request, _ in try await consistencyProof(request) }

        router.group("/v1/admin").add(middleware: AuthMiddleware(tokens: tokens, scope: .admin))
            .post("/backup") { request, _ in try await backup(request) }
    }

    // MARK: - Ingest

    func ingest(_ request: Request) async throws -> Response {
        try requireJSON(request)
        let body = try await collect(request.body, limit: EventBody.maxBodyBytes)
        let results: [AppendResult]
        do {
            let (events, _) = try body.withUnsafeBytes { try EventBody.parse($0) }
            results = try await log.append(events)
        } catch {
            throw APIError.from(error)
        }
        let (status, answer) = Self.ingestAnswer(results)
        return jsonResponse(canonical: answer, status: status)
    }

    /// The answer to an append: 201 when any event is new, 200 when every one was already there.
    /// Canonical JSON written straight into bytes, each result's members in key order (`duplicate`,
    /// `hash`, `id`, `seq`): as a tree of values to sort and encode, a 500-event batch's answer took
    /// 6% of the daemon's CPU under batch ingest.
    static func ingestAnswer(_ results: [AppendResult]) -> (HTTPResponse.Status, [UInt8]) {
        var out: [UInt8] = []
        out.reserveCapacity(16 + results.count * (120 + (results.first?.id.utf8.count ?? 0)))
        out.append(contentsOf: #"{"results":["#.utf8)
        for (index, result) in results.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: result.duplicate ? #"{"duplicate":true,"hash":""#.utf8 : #"{"duplicate":false,"hash":""#.utf8)
            writeHex(result.hash, into: &out)
            out.append(contentsOf: #"","id":"#.utf8)
            CanonicalJSON.writeString(result.id, into: &out)
            out.append(contentsOf: #","seq":"#.utf8)
            CanonicalJSON.writeInteger(result.seq, into: &out)
            out.append(UInt8(ascii: "}"))
        }
        out.append(contentsOf: "]}".utf8)
        return (results.allSatisfy(\.duplicate) ? .ok : .created, out)
    }

    /// A body must be JSON: `application/json` (or `…+json`), or no Content-Type at all. Anything else
    /// is a 415, so a form or a text file is never taken for events.
    func requireJSON(_ request: Request) throws {
        guard let declared = request.headers[.contentType], !Self.isJSON(contentType: declared) else { return }
        throw APIError(.unsupportedMediaType, "unsupported_media_type", "the body must be application/json, not \(declared)")
    }

    /// Whether a Content-Type names JSON: `application/json` or `application/…+json`, in any case,
    /// before its parameters, without the blanks around it. On the string's bytes in place, making
    /// no copy: every single-event ingest asks. An ASCII media type compares the same as bytes as it
    /// does as characters; another is compared as characters, as it always was.
    static func isJSON(contentType declared: String) -> Bool {
        var declared = declared
        return declared.withUTF8 { bytes in
            let blank = { (byte: UInt8) in byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
            let lowered = { (byte: UInt8) in byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte }
            var start = 0, end = bytes.firstIndex(of: UInt8(ascii: ";")) ?? bytes.count
            while start < end, blank(bytes[start]) { start += 1 }
            while end > start, blank(bytes[end - 1]) { end -= 1 }
            let media = UnsafeBufferPointer(rebasing: bytes[start..<end])
            guard media.allSatisfy({ $0 < 0x80 }) else {
                let text = String(decoding: media.lazy.map(lowered), as: UTF8.self)
                return text == "application/json" || (text.hasPrefix("application/") && text.hasSuffix("+json"))
            }
            /// Whether `text` (lower case) is at `offset`, letters compared in either case.
            func holds(_ text: StaticString, at offset: Int) -> Bool {
                let count = text.utf8CodeUnitCount
                guard offset >= 0, offset + count <= media.count else { return false }
                return (0..<count).allSatisfy { lowered(media[offset + $0]) == text.utf8Start[$0] }
            }
            return (media.count == 16 && holds("application/json", at: 0)) || (holds("application/", at: 0) && holds("+json", at: media.count - 5))
        }
    }

    /// The body, refused with 413 as soon as it passes `limit`, before it is all in memory.
    func collect(_ body: RequestBody, limit: Int) async throws -> [UInt8] {
        var bytes: [UInt8] = []
        for try await buffer in body {
            guard bytes.count + buffer.readableBytes <= limit else {
                throw APIError(.contentTooLarge, "body_too_large", "the body is larger than \(limit) bytes")
            }
            bytes.append(contentsOf: buffer.readableBytesView)
        }
        return bytes
    }

    // MARK: - Events

    func events(_ request: Request) async throws -> Response {
        let p = try QueryParameters(request, allowed: ["subjectType", "subjectId", "actor", "type", "field", "since", "until", "afterSeq", "order", "limit", "cursor"])
        let (since, until) = try p.timeRange()
        let query = EventQuery(
            subjectType: try p.string("subjectType", maxLength: 64), subjectId: try p.string("subjectId"), actor: try p.string("actor"),
            type: try p.typeFilter(), field: try p.string("field"), since: since, until: until, afterSeq: try p.seq("afterSeq"), order: try p.order(), limit: try p.limit(),
            cursor: try p.string("cursor", maxLength: 256))
        let page = try await run { try $0.log.events(query) }
        return eventsResponse(page, extra: [])
    }

    func event(_ request: Request, _ context: some RequestContext) async throws -> Response {
        _ = try QueryParameters(request, allowed: [])
        guard let seq = context.parameters.get("seq").flatMap(UInt64.init) else {
            throw APIError(.badRequest, "invalid_parameter", "seq must be a whole number", field: "seq")
        }
        guard let logged = try await run({ try $0.log.event(seq: seq) }) else {
            throw APIError(.notFound, "not_found", "there is no event \(seq)")
        }
        return rawJSONResponse(eventBytes(logged))
    }

    func activity(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let p = try QueryParameters(request, allowed: ["since", "until", "limit", "cursor"])
        let actor = try pathString(context, "id")
        let (since, until) = try p.timeRange()
        let (limit, cursor) = (try p.limit(), try p.string("cursor", maxLength: 256))
        let page = try await run { try $0.queries.activity(actor: actor, since: since, until: until, limit: limit, cursor: cursor) }
        return eventsResponse(page, extra: [JSONMember("actor", .string(actor))])
    }

    private func eventsResponse(_ page: EventPage, extra: [JSONMember]) -> Response {
        rawJSONResponse(eventsPageBytes(page, extra: extra))
    }

    // MARK: - Records and access

    func history(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let question = try HistoryQuestion(request, type: context.parameters.get("type"), id: context.parameters.get("id"))
        return jsonResponse(canonical: try await run { try question.answer($0.queries) })
    }

    /// A history request, checked: the route and `EventLoopAnswers` ask the same question.
    struct HistoryQuestion: Sendable {
        let subject: Envelope.Subject
        let field: String?
        let since: Instant?
        let until: Instant?
        let limit: Int
        let cursor: String?

        static let parameters: Set<String> = ["field", "since", "until", "limit", "cursor"]

        init(_ request: Request, type: String?, id: String?) throws {
            try self.init(QueryParameters(request, allowed: Self.parameters), type: type, id: id)
        }

        init(_ p: QueryParameters, type: String?, id: String?) throws {
            subject = Envelope.Subject(type: try pathString(type, "type", maxLength: 64), id: try pathString(id, "id"))
            field = try p.string("field")
            (since, until) = try p.timeRange()
            (limit, cursor) = (try p.limit(), try p.string("cursor", maxLength: 256))
        }

        func answer(_ queries: LedgerQueries) throws -> [UInt8] {
            try queries.historyJSON(subject, field: field, since: since, until: until, limit: limit, cursor: cursor)
        }
    }

    func state(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let p = try QueryParameters(request, allowed: ["asOf"])
        let subject = Envelope.Subject(type: try pathString(context, "type", maxLength: 64), id: try pathString(context, "id"))
        let asOf = try p.asOf()
        return jsonResponse(try await run { try $0.queries.state(subject, asOf: asOf).json })
    }

    func access(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let p = try QueryParameters(request, allowed: ["asOf"])
        let user = try pathString(context, "id")
        let asOf = try p.asOf()
        return jsonResponse(try await run { try $0.queries.access(user: user, asOf: asOf).json })
    }

    func holders(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let p = try QueryParameters(request, allowed: ["asOf"])
        let permission = try pathString(context, "permission")
        guard Catalog.isPermission(permission) else {
            throw APIError(.badRequest, "invalid_parameter", "permission must be object.action, e.g. sales_order.approve", field: "permission")
        }
        let asOf = try p.asOf()
        return jsonResponse(canonical: try await run { try $0.queries.holders(permission: permission, asOf: asOf).canonicalJSON })
    }

    func role(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let p = try QueryParameters(request, allowed: ["asOf"])
        let id = try pathString(context, "id")
        let asOf = try p.asOf()
        return jsonResponse(try await run { try $0.queries.role(id, asOf: asOf).json })
    }

    func findings(_ request: Request) async throws -> Response {
        let p = try QueryParameters(request, allowed: ["kind", "since", "until", "limit", "cursor"])
        let kind = try p.findingKind()
        let (since, until) = try p.timeRange()
        let query = LiveProjector.FindingQuery(kind: kind, since: since, until: until, limit: try p.limit(), cursor: try p.string("cursor", maxLength: 64))
        let page = try await run { try $0.queries.findings(query) }
        return jsonResponse(page.json)
    }

    // MARK: - Export, verification, readiness

    /// The records, byte for byte, one a line; streamed a page at a time, never the ledger in memory.
    func export(_ request: Request) throws -> Response {
        let p = try QueryParameters(request, allowed: ["afterSeq", "limit"])
        let start = try p.seq("afterSeq") ?? 0
        let limit = try p.limit(default: .max, max: .max)
        let api = self
        let body = ResponseBody { writer in
            var after = start
            var remaining = limit
            while remaining > 0 {
                let (from, pageSize) = (after, min(1000, remaining))
                let page = try await api.run { try $0.log.events(afterSeq: from, limit: pageSize) }
                remaining -= page.count
                guard let last = page.last else { break }
                var buffer = ByteBuffer()
                for logged in page {
                    buffer.writeBytes(logged.record)
                    buffer.writeInteger(UInt8(ascii: "\n"))
                }
                try await writer.write(buffer)
                after = last.seq
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "application/x-ndjson"], body: body)
    }

    /// Chain, Merkle tree, checkpoints (the latest one's signature with this daemon's key) and, unless
    /// `indexes=false`, every index entry and fold form.
    func verify(_ request: Request, caller: LedgerRequestContext.Caller) async throws -> Response {
        let p = try QueryParameters(request, allowed: ["indexes"])
        return jsonResponse(try await verifyLedger(indexes: try p.bool("indexes") ?? true, by: caller.tokenName ?? "-").json)
    }

    /// Chain, tree, checkpoints and (unless told not to) indexes, remembered as the last verification.
    public func verifyLedger(indexes: Bool, by tokenName: String) async throws -> ChainReport {
        let report = try await run { try $0.log.verify(checkpointVerifier: $0.checkpointVerifier, indexes: indexes) }
        verifications.record(.init(at: .now(), by: tokenName, report: report))
        return report
    }

    /// Ready when the writer is not halted and the projection is current (`LiveProjector.isCurrent`:
    /// caught up since start-up; a few commits gathering for the next fold do not make it unready).
    func ready() async throws -> Response {
        let (applied, head) = (queries.projector.appliedThrough, log.committedHead)
        let halted = log.writerHalted
        let ready = queries.projector.isCurrent && halted == nil
        var members = [
            JSONMember("ready", .bool(ready)), JSONMember("headSeq", .number(String(head))),
            JSONMember("projectedThrough", .number(String(applied))),
        ]
        if let halted { members.append(JSONMember("reason", .string(halted.message))) }
        return jsonResponse(.object(members), status: ready ? .ok : .serviceUnavailable)
    }

    // MARK: - Helpers

    /// Runs blocking work on the log's reader threads, turning lower-layer errors into API errors.
    public func run<R: Sendable>(_ body: @escaping @Sendable (LedgerAPI) throws -> R) async throws -> R {
        let api = self
        do {
            return try await log.read { _ in
                let start = ContinuousClock.now
                defer {
                    // A long read (thousands of holders, a full verification) built and freed a lot: give it back.
                    if ContinuousClock.now - start > .milliseconds(50) { releaseFreedMemory() }
                }
                return try body(api)
            }
        } catch {
            throw APIError.from(error)
        }
    }
}

/// `{…extra, "events": [records with their hash], "next": …}`, written from the record bytes.
public func eventsPageBytes(_ page: EventPage, extra: [JSONMember]) -> [UInt8] {
    var out: [UInt8] = [UInt8(ascii: "{")]
    for member in extra {
        CanonicalJSON.writeString(member.key, into: &out)
        out.append(UInt8(ascii: ":"))
        CanonicalJSON.write(member.value, into: &out)
        out.append(UInt8(ascii: ","))
    }
    out.append(contentsOf: Array(#""events":["#.utf8))
    for (i, logged) in page.events.enumerated() {
        if i > 0 { out.append(UInt8(ascii: ",")) }
        out.append(contentsOf: eventBytes(logged))
    }
    out.append(contentsOf: Array(#"],"next":"#.utf8))
    CanonicalJSON.write(page.next.map { .string($0) } ?? .null, into: &out)
    out.append(UInt8(ascii: "}"))
    return out
}

extension ChainReport {
    /// The shape of `GET /v1/verify`.
    public var json: JSONValue {
        .object([
            JSONMember("ok", .bool(ok)), JSONMember("count", .number(String(count))),
            JSONMember("headSeq", .number(String(headSeq))), JSONMember("headHash", .string(hexString(headHash))),
            JSONMember("firstBadSeq", firstBadSeq.map { .number(String($0)) } ?? .null),
            JSONMember("problem", problem.map { .string($0) } ?? .null),
            JSONMember("merkleRoot", .string(hexString(merkleRoot))),
            JSONMember("checkpointsChecked", .number(String(checkpointsChecked))),
            JSONMember("latestCheckpointSize", latestCheckpointSize.map { .number(String($0)) } ?? .null),
            JSONMember("latestCheckpointSignatureChecked", .bool(latestCheckpointSignatureChecked)),
            JSONMember("indexEntries", indexEntries.map { .number(String($0)) } ?? .null),
            JSONMember("foldForms", foldForms.map { .number(String($0)) } ?? .null),
        ])
    }
}

/// A stored record with its chain hash: the record's members, then `"hash"`.
func eventBytes(_ logged: LoggedEvent) -> [UInt8] {
    var out = Array(logged.record.dropLast())
    out.append(contentsOf: #","hash":""#.utf8)
    writeHex(logged.hash, into: &out)
    out.append(contentsOf: "\"}".utf8)
    return out
}

func rawJSONResponse(_ bytes: [UInt8]) -> Response {
    Response(status: .ok, headers: jsonHeaders, body: .init(byteBuffer: ByteBuffer(bytes: bytes + [0x0A])))
}

/// The last verification of the whole ledger and who asked for it, shown by the console.
public final class VerificationRecord: Sendable {
    public struct Outcome: Sendable {
        public let at: Instant
        public let by: String
        public let report: ChainReport
    }

    private let latest = Mutex<Outcome?>(nil)

    public init() {}

    public var last: Outcome? { latest.withLock { $0 } }

    public func record(_ outcome: Outcome) { latest.withLock { $0 = outcome } }
}
