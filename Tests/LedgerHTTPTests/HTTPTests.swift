import AsyncHTTPClient
import EventLog
import EventModel
import Configuration
import Glibc
import Hummingbird
import HummingbirdTesting
import LedgerDaemon
import LedgerHTTP
import Logging
import Metrics
import Prometheus
import Projector
import Queries
import Testing
import Transparency
import TestSupport

/// A ledger behind a live server on a random port, with a token for each scope, assembled by the
/// daemon's own composition root from a configuration.
struct Server {
    static let tokens = ["ingest": "tok-ingest-1", "read": "tok-read-1", "admin": "tok-admin-1", "all": "tok-all-1"]
    let ledger: LedgerApplication
    let backupRoot: String
    var log: EventLog { ledger.runtime.log }
    var projector: LiveProjector { ledger.runtime.projector }
    var api: LedgerAPI { ledger.runtime.api }
    var verifier: NoteVerifier { ledger.runtime.verifier! }

    /// `extra`: configuration keys beside the usual ones (e.g. `ui.sessionIdleSeconds`).
    init(extra: [AbsoluteConfigKey: ConfigValue] = [:]) throws {
        let path = Scratch.directory("ledger-http")
        backupRoot = path + "/backups"
        let lines = [
            TokenStore.line(name: "crm", scopes: [.ingest], token: Self.tokens["ingest"]!),
            TokenStore.line(name: "auditor", scopes: [.read], token: Self.tokens["read"]!),
            TokenStore.line(name: "ops", scopes: [.admin], token: Self.tokens["admin"]!),
            "# everything",
            TokenStore.line(name: "root", scopes: [.ingest, .read, .admin], token: Self.tokens["all"]!),
        ]
        try lines.joined(separator: "\n").write(toFile: path + "/tokens", atomically: false, encoding: .utf8)
        let values: [AbsoluteConfigKey: ConfigValue] = [
            "storage.path": ConfigValue(.string(path + "/data"), isSecret: false),
            "auth.tokensFile": ConfigValue(.string(path + "/tokens"), isSecret: false),
            "http.port": ConfigValue(.int(0), isSecret: false),
            "checkpoint.origin": ConfigValue(.string("auditledger.test/http"), isSecret: false),
            "checkpoint.everyEvents": ConfigValue(.int(1_000), isSecret: false),
            "checkpoint.everySeconds": ConfigValue(.int(3_600), isSecret: false),
            "backup.root": ConfigValue(.string(backupRoot), isSecret: false),
        ].merging(extra) { $1 }
        let settings = DaemonConfiguration(reader: ConfigReader(provider: InMemoryProvider(values: values)))
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        ledger = try buildApplication(settings, environment: [:], metrics: Self.metrics, logger: logger)
    }

    /// One registry for the test process: the metrics system can be bootstrapped once.
    static let metrics: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }()

    func run(_ test: @Sendable @escaping (any TestClientProtocol) async throws -> Void) async throws {
        try await ledger.application.test(.live) { client in try await test(client) }
        try await ledger.runtime.close()
    }
}

func auth(_ scope: String) -> HTTPFields { [.authorization: "Bearer \(Server.tokens[scope]!)"] }

extension TestResponse {
    var text: String { String(buffer: body) }
    var json: JSONValue { (try? JSONParser.parse(Array(text.utf8))) ?? .null }
}

func event(_ id: String, type: String = "sales_order.updated", subject: String = "SO-1", actor: String = "u-li", minute: Int = 1, changes: String = #"[{"field":"amount","new":1}]"#) -> String {
    #"{"id":"\#(id)","type":"\#(type)","time":"2026-03-01T09:\#(minute < 10 ? "0" : "")\#(minute):00Z","actor":{"id":"\#(actor)"},"subject":{"type":"sales_order","id":"\#(subject)"},"changes":\#(changes)}"#
}

@Suite struct HTTPTests {
    /// Every route with the scope it needs.
    static let routes: [(HTTPRequest.Method, String, String)] = [
        (.post, "/v1/events", "ingest"),
        (.get, "/v1/events", "read"), (.get, "/v1/events/1", "read"),
        (.get, "/v1/subjects/sales_order/SO-1/history", "read"), (.get, "/v1/subjects/sales_order/SO-1/state", "read"),
        (.get, "/v1/actors/u-li/activity", "read"), (.get, "/v1/users/u-li/access", "read"),
        (.get, "/v1/permissions/sales_order.edit/holders", "read"), (.get, "/v1/roles/sales_rep", "read"),
        (.get, "/v1/findings", "read"), (.get, "/v1/export", "read"), (.get, "/v1/verify", "read"),
        (.get, "/v1/checkpoint", "read"), (.get, "/v1/checkpoint/key", "read"), (.get, "/v1/checkpoints", "read"),
        (.get, "/v1/proof/inclusion?seq=1&treeSize=1", "read"), (.get, "/v1/proof/consistency?from=1&to=1", "read"),
        (.get, "/metrics", "admin"),
    ]

    @Test func everyRouteWantsAValidTokenWithItsScope() async throws {
        try await Server().run { client in
            _ = try await client.execute(uri: "/v1/events", method: .post, headers: auth("ingest"), body: ByteBuffer(string: event("e-1")))
            for (method, uri, scope) in Self.routes {
                let body = method == .post ? ByteBuffer(string: event("e-2")) : nil
                for headers: HTTPFields in [[:], [.authorization: "Bearer wrong"], [.authorization: "Basic \(Server.tokens["all"]!)"]] {
                    let response = try await client.execute(uri: uri, method: method, headers: headers, body: body)
                    #expect(response.status == .unauthorized, "\(uri) \(headers)")
                    #expect(response.json["error"]?["code"] == .string("unauthorized"))
                }
                for other in ["ingest", "read", "admin"] where other != scope {
                    let response = try await client.execute(uri: uri, method: method, headers: auth(other), body: body)
                    #expect(response.status == .forbidden, "\(uri) with \(other)")
                }
                for allowed in [scope, "all"] {
                    let response = try await client.execute(uri: uri, method: method, headers: auth(allowed), body: body)
                    #expect(response.status.code < 300, "\(uri) with \(allowed): \(response.status) \(response.text.prefix(200))")
                }
            }
            let health = try await client.execute(uri: "/healthz", method: .get)
            #expect(health.status == .ok)
        }
    }

    @Test func ingestThenReadYourWritesAndRetryIdempotently() async throws {
        try await Server().run { client in
            let batch = "[" + [event("e-1", minute: 1), event("e-2", subject: "SO-2", minute: 2), event("e-3", actor: "u-wu", minute: 3)].joined(separator: ",") + "]"
            let created = try await client.execute(uri: "/v1/events", method: .post, headers: auth("ingest"), body: ByteBuffer(string: batch))
            #expect(created.status == .created)
            guard case .array(let results)? = created.json["results"] else { Issue.record("no results"); return }
            #expect(results.map { $0["seq"] } == [.number("1"), .number("2"), .number("3")])
            #expect(results.allSatisfy { $0["duplicate"] == .bool(false) && $0["hash"]?.stringValue?.count == 64 })

            // At once, the history has them (e-1 and e-3 are on SO-1).
            let history = try await client.execute(uri: "/v1/subjects/sales_order/SO-1/history", method: .get, headers: auth("read"))
            #expect(history.json["entries"].map { if case .array(let e) = $0 { e.count } else { 0 } } == 2)

            // The same batch again: nothing appended, 200, the original seqs.
            let retry = try await client.execute(uri: "/v1/events", method: .post, headers: auth("ingest"), body: ByteBuffer(string: batch))
            #expect(retry.status == .ok)
            #expect(retry.json["results"] == .array(results.map { r in
                .object((r.objectMembers ?? []).map { $0.key == "duplicate" ? JSONMember("duplicate", .bool(true)) : $0 })
            }))
            // The same id with other content: 409, nothing appended.
            let conflict = try await client.execute(uri: "/v1/events", method: .post, headers: auth("ingest"),
                body: ByteBuffer(string: event("e-2", subject: "SO-9")))
            #expect(conflict.status == .conflict)
            #expect(conflict.json["error"]?["code"] == .string("conflict"))
            let verify = try await client.execute(uri: "/v1/verify", method: .get, headers: auth("read"))
            #expect(verify.json["count"] == .number("3"))
            #expect(verify.json["ok"] == .bool(true))

            // The appends and the requests show in /metrics (admin only).
            let metrics = try await client.execute(uri: "/metrics", method: .get, headers: auth("admin"))
            #expect(metrics.status == .ok)
            for name in ["ledger_events_appended_total", "ledger_commit_seconds", "ledger_append_request_events", "ledger_head_seq", "ledger_projection_seq", "ledger_projection_write_seconds", "ledger_projection_write_events", "ledger_projection_events_total", "ledger_http_request_duration_seconds", "ledger_http_requests_total", "process_resident_memory_bytes"] {
                #expect(metrics.text.contains(name), "\(name) missing from /metrics")
            }
        }
    }

    static let badInputs: [(String, [UInt8], Int, String)] = [
        ("malformed JSON", Array(#"{"id":"#.utf8), 400, "invalid_json"),
        ("wrong type", Array(event("x").replacingOccurrences(of: #""actor":{"id":"u-li"}"#, with: #""actor":"u-li""#).utf8), 400, "invalid_field"),
        ("unknown field", Array((event("x").dropLast() + #","colour":"red"}"#).utf8), 400, "unknown_field"),
        ("oversized event", Array(event("x", changes: #"[{"field":"blob","new":""# + String(repeating: "x", count: 70_000) + #""}]"#).utf8), 413, "event_too_large"),
        ("invalid UTF-8", Array(event("x").utf8).map { $0 == UInt8(ascii: "u") ? 0xFF : $0 }, 400, "invalid_json"),
        ("deep nesting", [UInt8](repeating: UInt8(ascii: "["), count: 100_000), 400, "invalid_json"),
        ("empty batch", Array("[]".utf8), 400, "empty_batch"),
        // 12 MB of one object's keys: refused once the parser passes 64 KiB, in milliseconds, not hours.
        ("a million keys in one event", Array(event("x", changes: "[]").dropLast().utf8) + Array(#","data":{"#.utf8)
            + Array((0..<1_000_000).map { #""k\#($0)":1"# }.joined(separator: ",").utf8) + Array("}}".utf8), 413, "event_too_large"),
        ("bad event in a batch", Array(("[" + event("a") + "," + event("b", type: "Bad") + "]").utf8), 400, "invalid_field"),
    ]

    /// Posts events with the ingest token. A body of megabytes goes through a client of its own with a
    /// generous deadline: the test client gives up after 20 s without an answer, and a debug build
    /// taking in 12 MB beside the whole suite on two cores has come close to that.
    static func post(_ body: [UInt8], to client: any TestClientProtocol) async throws -> (status: Int, text: String) {
        guard body.count > 1 << 20, let port = client.port else {
            let response = try await client.execute(uri: "/v1/events", method: .post, headers: auth("ingest"), body: ByteBuffer(bytes: body))
            return (Int(response.status.code), response.text)
        }
        var request = HTTPClientRequest(url: "http://localhost:\(port)/v1/events")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(Server.tokens["ingest"]!)")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(180))
        return (Int(response.status.code), String(buffer: try await response.body.collect(upTo: 1 << 20)))
    }

    @Test func badInputGetsA4xxNamingTheProblemAndAppendsNothing() async throws {
        try await Server().run { client in
            for (name, body, status, code) in Self.badInputs {
                let (answered, text) = try await Self.post(body, to: client)
                let json = (try? JSONParser.parse(Array(text.utf8))) ?? .null
                #expect(answered == status, "\(name): \(answered)")
                #expect(json["error"]?["code"] == .string(code), "\(name): \(text.prefix(300))")
                #expect(json["error"]?["message"]?.stringValue?.isEmpty == false)
            }
            let batchError = try await client.execute(uri: "/v1/events", method: .post, headers: auth("ingest"),
                body: ByteBuffer(string: "[" + event("a") + "," + event("b", type: "Bad") + "]"))
            #expect(batchError.json["error"]?["index"] == .number("1"))
            #expect(batchError.json["error"]?["field"] == .string("type"))
            // A body over 16 MiB is refused without being read whole.
            let huge = ByteBuffer(repeating: UInt8(ascii: " "), count: 16 * 1024 * 1024 + 1)
            let tooBig = try await client.execute(uri: "/v1/events", method: .post, headers: auth("ingest"), body: huge)
            #expect(tooBig.status == .contentTooLarge)
            for (uri, field) in [
                ("/v1/users/u-li/access?asOf=yesterday", "asOf"), ("/v1/events?limit=1001", "limit"), ("/v1/events?order=up", "order"),
                ("/v1/events?sbjectId=SO-1", "sbjectId"), ("/v1/events?since=2026-03-01", "since"), ("/v1/events?cursor=zzz", "cursor"),
                ("/v1/findings?kind=nope", "kind"), ("/v1/permissions/edit/holders", "permission"),
            ] {
                let response = try await client.execute(uri: uri, method: .get, headers: auth("read"))
                #expect(response.status == .badRequest, "\(uri)")
                #expect(response.json["error"]?["field"] == .string(field), "\(uri): \(response.text)")
            }
            let verify = try await client.execute(uri: "/v1/verify", method: .get, headers: auth("read"))
            #expect(verify.json["count"] == .number("0"))
        }
    }

    /// How long and how much the projection gathers, and when it syncs, comes from the
    /// configuration; a backlog threshold above a batch is a batch.
    @Test func theProjectionGathersAsConfigured() async throws {
        let cases: [(keys: [AbsoluteConfigKey: Int], milliseconds: Int, events: UInt64, sync: Int)] = [
            ([:], 100, 1_000, 1_000),
            (["projection.gatherMilliseconds": 250, "projection.gatherEvents": 300, "projection.syncWhenIdleMilliseconds": 0], 250, 300, 0),
            (["projection.batchEvents": 5_000, "projection.gatherEvents": 50_000, "projection.syncWhenIdleMilliseconds": -5], 100, 5_000, 0),
        ]
        for (keys, milliseconds, events, sync) in cases {
            let server = try Server(extra: keys.mapValues { ConfigValue(.int($0), isSecret: false) })
            #expect(server.projector.configuration.gatherMilliseconds == milliseconds, "\(keys)")
            #expect(server.projector.configuration.gatherBelowEvents == events, "\(keys)")
            #expect(server.projector.configuration.syncWhenIdleMilliseconds == sync, "\(keys)")
            try await server.run { _ in }
        }
    }

    /// RFC 7235 and 9110 as clients expect them: the auth scheme in any case, JSON errors for unknown
    /// routes, 405 with `Allow` for a wrong method, 415 for a body that is not JSON.
    @Test func httpConventions() async throws {
        try await Server().run { client in
            let lower = try await client.execute(
                uri: "/v1/events", method: .post, headers: [.authorization: "bearer \(Server.tokens["ingest"]!)"], body: ByteBuffer(string: event("lc")))
            #expect(lower.status == .created)
            let shouting = try await client.execute(uri: "/v1/verify", method: .get, headers: [.authorization: "BEARER \(Server.tokens["read"]!)"])
            #expect(shouting.status == .ok)
            #expect(try await client.execute(uri: "/v1/verify", method: .get, headers: [.authorization: "Basic \(Server.tokens["read"]!)"]).status == .unauthorized)

            let unknown = try await client.execute(uri: "/v1/nothing-here", method: .get, headers: auth("read"))
            #expect(unknown.status == .notFound)
            #expect(unknown.json["error"]?["code"] == .string("not_found"), "\(unknown.text)")
            let wrongMethod = try await client.execute(uri: "/v1/events", method: .delete, headers: auth("all"))
            #expect(wrongMethod.status == .methodNotAllowed)
            #expect(wrongMethod.headers[.allow] == "GET, POST")
            #expect(wrongMethod.json["error"]?["code"] == .string("method_not_allowed"))
            let onePath = try await client.execute(uri: "/v1/events/3", method: .post, headers: auth("all"))
            #expect(onePath.status == .methodNotAllowed && onePath.headers[.allow] == "GET")

            for contentType in ["text/plain", "application/x-www-form-urlencoded", "application/jsonx", "application/ json", "", "+json"] {
                let refused = try await client.execute(
                    uri: "/v1/events", method: .post, headers: auth("ingest") + [.contentType: contentType], body: ByteBuffer(string: event("ct")))
                #expect(refused.status == .unsupportedMediaType, "\(contentType)")
                #expect(refused.json["error"]?["code"] == .string("unsupported_media_type"))
            }
            for contentType in ["application/json", "application/json; charset=utf-8", "Application/JSON", "\tapplication/json ;charset=utf-8", "application/vnd.ledger+json"] {
                let accepted = try await client.execute(
                    uri: "/v1/events", method: .post, headers: auth("ingest") + [.contentType: contentType], body: ByteBuffer(string: event("ok")))
                #expect(accepted.status.code < 300, "\(contentType)")
            }
            let verify = try await client.execute(uri: "/v1/verify", method: .get, headers: auth("read"))
            #expect(verify.json["count"] == .number("2"))
        }
    }

    @Test func readEndpointsFilterAndPage() async throws {
        try await Server().run { client in
            var events: [String] = [
                #"{"id":"s1","type":"user.created","time":"2026-03-01T08:00:00Z","actor":{"id":"system"},"subject":{"type":"user","id":"u-root"}}"#,
                #"{"id":"s2","type":"user.admin_granted","time":"2026-03-01T08:01:00Z","actor":{"id":"system"},"subject":{"type":"user","id":"u-root"},"data":{"level":"super_admin"}}"#,
            ]
            for i in 1...25 { events.append(event("e-\(i)", subject: "SO-\(i % 3)", actor: i % 2 == 0 ? "u-li" : "u-wu", minute: i % 60)) }
            let posted = try await client.execute(uri: "/v1/events", method: .post, headers: auth("ingest"), body: ByteBuffer(string: "[" + events.joined(separator: ",") + "]"))
            #expect(posted.status == .created)

            var seqs: [String] = []
            var uri = "/v1/events?subjectType=sales_order&subjectId=SO-1&order=desc&limit=4"
            while true {
                let page = try await client.execute(uri: uri, method: .get, headers: auth("read"))
                guard case .array(let list)? = page.json["events"] else { Issue.record("no events: \(page.text)"); return }
                seqs += list.compactMap { if case .number(let n)? = $0["seq"] { n } else { nil } }
                #expect(list.allSatisfy { $0["hash"]?.stringValue?.count == 64 && $0["recordedAt"] != nil })
                guard let next = page.json["next"]?.stringValue else { break }
                uri = "/v1/events?subjectType=sales_order&subjectId=SO-1&order=desc&limit=4&cursor=\(next)"
            }
            #expect(seqs == ["27", "24", "21", "18", "15", "12", "9", "6", "3"])

            let one = try await client.execute(uri: "/v1/events/3", method: .get, headers: auth("read"))
            #expect(one.json["id"] == .string("e-1"))
            #expect(try await client.execute(uri: "/v1/events/999", method: .get, headers: auth("read")).status == .notFound)

            let activity = try await client.execute(uri: "/v1/actors/u-li/activity?limit=100", method: .get, headers: auth("read"))
            #expect(activity.json["actor"] == .string("u-li"))
            let state = try await client.execute(uri: "/v1/subjects/sales_order/SO-1/state?asOf=seq:5", method: .get, headers: auth("read"))
            #expect(state.json["asOf"] == .string("seq:5"))
            #expect(state.json["exists"] == .bool(true))
            let access = try await client.execute(uri: "/v1/users/u-root/access", method: .get, headers: auth("read"))
            #expect(access.json["adminLevels"]?.json.contains("super_admin") == true)
            let holders = try await client.execute(uri: "/v1/permissions/sales_order.edit/holders", method: .get, headers: auth("read"))
            #expect(holders.json["holders"]?.json.contains("u-root") == true)
            let findings = try await client.execute(uri: "/v1/findings?kind=unauthorized_change&limit=5", method: .get, headers: auth("read"))
            #expect(findings.json["findings"].map { if case .array(let f) = $0 { f.count } else { 0 } } == 5)
            #expect(findings.json["next"]?.stringValue != nil)

            let export = try await client.execute(uri: "/v1/export?afterSeq=25", method: .get, headers: auth("read"))
            let lines = export.text.split(separator: "\n")
            #expect(lines.count == 2)
            #expect(lines.first?.hasPrefix(#"{"seq":26,"#) == true)
        }
    }
}

extension JSONValue {
    var json: String { String(decoding: CanonicalJSON.encode(self), as: UTF8.self) }
}

extension String {
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
