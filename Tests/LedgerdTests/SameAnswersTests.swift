import AsyncHTTPClient
import EventModel
import Foundation
import Glibc
import LedgerDaemon
import Logging
import NIOCore
import NIOHTTP1
import Testing
import Workload

/// `ledgerctl --data-dir` answers through the daemon's own router: for every request of one table, the
/// same status and the same bytes as the running daemon over HTTP, mistakes included.
@Suite struct SameAnswersTests {
    static let requests = [
        "/healthz", "/v1/events", "/v1/events?type=user.*&order=desc&limit=5", "/v1/events?subjectType=sales_order&subjectId=SO-1001&field=amount",
        "/v1/events/3", "/v1/events/999", "/v1/subjects/sales_order/SO-1001/history?field=amount",
        // Histories are answered on the event loop when they can be (EventLoopAnswers), else by the router.
        "/v1/subjects/sales_order/SO-1001/history", "/v1/subjects/sales_order/SO-1001/history?limit=2",
        "/v1/subjects/sales_order/SO-1001/history?since=2026-03-02T00%3A00%3A00Z&until=2026-03-09T00:00:00Z",
        "/v1/subjects/user/u-li/history?limit=1&cursor=garbage", "/v1/subjects/sales_order/SO-%31001/history",
        "/v1/subjects/sales_order/no-such-order/history", "/v1/subjects/sales_order/SO-1001/history?limit=0",
        "/v1/subjects/sales_order/SO-1001/history?lmit=2", "/v1/subjects/sales_order/SO-1001/history/",
        "/v1/subjects/sales_order/SO-1001/state?asOf=seq:22", "/v1/actors/u-wang/activity?since=2026-03-03T00:00:00Z",
        "/v1/users/u-li/access", "/v1/users/u-li/access?asOf=2026-03-04T00:00:00Z", "/v1/permissions/sales_order.approve/holders",
        "/v1/roles/sales_manager", "/v1/findings", "/v1/findings?kind=state_mismatch", "/v1/export", "/v1/export?afterSeq=30",
        "/v1/verify", "/v1/checkpoint", "/v1/checkpoint/key", "/v1/checkpoints", "/v1/proof/inclusion?seq=3&treeSize=33",
        "/v1/proof/consistency?from=10&to=33",
        // Mistakes answer the same errors: a typo never widens a compliance query.
        "/v1/findings?kind=typo", "/v1/actors/u-wang/activity?since=garbage", "/v1/events?limit=5000", "/v1/events?sbjectId=SO-1",
        "/v1/users/u-li/access?asOf=yesterday", "/v1/permissions/approve/holders", "/v1/events/abc", "/v1/proof/inclusion?seq=99&treeSize=33",
    ]

    @Test func everyRouteAnswersTheSameBytesInProcessAsOverHTTP() async throws {
        let daemon = try await LedgerctlTests.Daemon()
        defer { daemon.end() }
        let ingest = try #require(daemon.tokens["ingest"])
        let read = try #require(daemon.tokens["read"])
        func fetch(_ method: HTTPMethod, _ path: String, token: String, body: [UInt8]? = nil) async throws -> (Int, [UInt8]) {
            var request = HTTPClientRequest(url: daemon.url + path)
            request.method = method
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
            if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
            return (Int(response.status.code), Array(try await response.body.collect(upTo: 1 << 24).readableBytesView))
        }
        #expect(try await fetch(.POST, "/v1/events", token: ingest, body: CanonicalJSON.encode(.array(DemoStory.events))).0 == 201)
        // Signed once over HTTP, so both sides know the same latest checkpoint.
        #expect(try await fetch(.GET, "/v1/checkpoint", token: read).0 == 200)

        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let (runtime, token) = try LedgerRuntime.openReadOnly(dataDirectory: daemon.data, logger: logger)
        let local = InProcessClient(runtime: runtime, token: token, logger: logger)
        for path in Self.requests {
            let (httpStatus, httpBody) = try await fetch(.GET, path, token: read)
            let (localStatus, localBody) = try await local.get(path)
            #expect(localStatus == httpStatus, "\(path)")
            #expect(localBody == httpBody, "\(path): \(String(decoding: localBody.prefix(200), as: UTF8.self)) vs \(String(decoding: httpBody.prefix(200), as: UTF8.self))")
        }
        // The second page of a history, through the cursor the first page gave.
        let firstPage = try JSONParser.parse(try await fetch(.GET, "/v1/subjects/sales_order/SO-1001/history?limit=2", token: read).1)
        guard case .string(let next)? = firstPage["next"] else { Issue.record("no next cursor: \(firstPage)"); return }
        let secondPage = "/v1/subjects/sales_order/SO-1001/history?limit=2&cursor="
            + next.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        let (httpStatus, httpBody) = try await fetch(.GET, secondPage, token: read)
        #expect(httpStatus == 200)
        #expect(try await local.get(secondPage).body == httpBody)
        // A process-local token is the only way in: no other token opens the in-process router.
        let anonymous = InProcessClient(runtime: runtime, token: "not-a-token", logger: logger)
        #expect(try await anonymous.get("/v1/events").status == 401)
        try await runtime.close()

        // And so ledgerctl refuses the typos the issue found, exactly as over HTTP.
        let ctl = LedgerctlTests()
        #expect(try await ctl.ctl(["findings", "--kind", "typo", "--data-dir", daemon.data]).0 == 2)
        #expect(try await ctl.ctl(["activity", "u-wang", "--since", "garbage", "--data-dir", daemon.data]).0 == 2)
        #expect(try await ctl.ctl(["findings", "--kind", "typo"], token: read, url: daemon.url).0 == 2)
    }
}
