import EventModel
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import TestSupport
import Workload

/// Access governance over HTTP on the demo story: changes between two moments, the signed review
/// report (checked by the independent Python verifier), requests, what-if.
@Suite struct GovernanceHTTPTests {
    static var story: ByteBuffer { ByteBuffer(bytes: CanonicalJSON.encode(.array(DemoStory.events))) }
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func accessChangesBetweenTwoMoments() async throws {
        try await Server().run { client in
            #expect(try await client.execute(uri: "/v1/events", method: .post, headers: auth("ingest"), body: Self.story).status == .created)
            // Between the story's request approval and the end: u-li gains sales_order.approve directly (demo-27).
            var answer = try await client.execute(uri: "/v1/access/changes?from=seq:25&to=seq:33", method: .get, headers: auth("read")).json
            let changes = (answer["changes"] ?? .null).list
            let approve = changes.first { $0["user"] == .string("u-li") && $0["name"] == .string("sales_order.approve") }
            #expect(approve?["change"] == .string("gained") && approve?["scopeAfter"] == .string("department"), "\(answer)")
            #expect(approve?["causes"]?.list.map { $0["seq"] } == [.number("27")])
            // u-wang's module admin level came and went in between: no net change, so not listed.
            #expect(!changes.contains { $0["user"] == .string("u-wang") && $0["kind"] == .string("admin_level") })
            // ...but between 31 and 32 it was there.
            answer = try await client.execute(uri: "/v1/access/changes?from=seq:30&to=seq:31&user=u-wang", method: .get, headers: auth("read")).json
            #expect((answer["changes"] ?? .null).list.contains { $0["kind"] == .string("admin_level") && $0["name"] == .string("module_admin:sales_order") && $0["change"] == .string("gained") })
            for bad in ["/v1/access/changes", "/v1/access/changes?from=yesterday", "/v1/access/changes?from=seq:1&user=a&role=b", "/v1/access/changes?from=seq:1&permission=nope"] {
                #expect(try await client.execute(uri: bad, method: .get, headers: auth("read")).status == .badRequest, "\(bad)")
            }
        }
    }

    @Test func theReviewReportIsSignedAndTheIndependentVerifierAcceptsIt() async throws {
        let server = try Server()
        let verifierKey = server.verifier.verifierKey
        try await server.run { client in
            #expect(try await client.execute(uri: "/v1/events", method: .post, headers: auth("ingest"), body: Self.story).status == .created)
            // u-zhao's access is reviewed; u-li's is not.
            let review = #"{"id":"rv-1","type":"access_review.completed","time":"2026-03-07T02:00:00Z","actor":{"id":"u-admin"},"subject":{"type":"user","id":"u-zhao"},"data":{"decision":"kept"}}"#
            #expect(try await client.execute(uri: "/v1/events", method: .post, headers: auth("ingest"), body: ByteBuffer(string: review)).status == .created)
            let response = try await client.execute(uri: "/v1/reviews/report?permission=sales_order.approve&period=30d&asOf=2026-03-08T00:00:00Z", method: .get, headers: auth("read"))
            #expect(response.status == .ok)
            let report = response.json["report"] ?? .null
            let holders = (report["holders"] ?? .null).list
            #expect(holders.map { $0["user"]?.stringValue ?? "" } == ["u-chen", "u-li", "u-root", "u-zhao"], "\(report)")
            let zhao = holders.first { $0["user"] == .string("u-zhao") }
            #expect(zhao?["lastReview"]?["decision"] == .string("kept") && zhao?["lastReview"]?["actor"] == .string("u-admin") && zhao?["overdue"] == .bool(false))
            #expect(holders.first { $0["user"] == .string("u-li") }?["overdue"] == .bool(true))
            #expect(report["treeSize"] == .number("34") && report["summary"]?["holders"] == .number("4"))
            // As of seq 34 (the review itself), overdue is judged at that event's time, not the clock's.
            let atSeq = try await client.execute(uri: "/v1/reviews/report?permission=sales_order.approve&period=30d&asOf=seq:34", method: .get, headers: auth("read"))
            let atSeqHolders = (atSeq.json["report"]?["holders"] ?? .null).list
            #expect(atSeqHolders.map { $0["user"]?.stringValue ?? "" } == ["u-chen", "u-li", "u-root", "u-zhao"])
            #expect(atSeqHolders.first { $0["user"] == .string("u-zhao") }?["overdue"] == .bool(false), "\(atSeq.json)")

            // The independent verifier (Python, the verifier key alone) accepts the bytes as served, and refuses them altered.
            let file = NSTemporaryDirectory() + "report-\(UUID().uuidString).json"
            try Data(response.body.readableBytesView).write(to: URL(fileURLWithPath: file))
            #expect(try await Self.verify(file, verifierKey).0 == 0)
            var altered = Array(response.body.readableBytesView)
            let index = altered.firstIndex(of: UInt8(ascii: "z"))!  // in "u-zhao"
            altered[index] = UInt8(ascii: "y")
            try Data(altered).write(to: URL(fileURLWithPath: file))
            let (code, message) = try await Self.verify(file, verifierKey)
            #expect(code == 1 && message.contains("not the ones signed"), "\(message)")
            try? FileManager.default.removeItem(atPath: file)

            // The access answer carries the last review; CSV for spreadsheets; scopes are checked.
            #expect(try await client.execute(uri: "/v1/users/u-zhao/access", method: .get, headers: auth("read")).json["lastReview"]?["seq"] == .number("34"))
            let csv = try await client.execute(uri: "/v1/reviews/report?role=sales_manager&format=csv&asOf=2026-03-08T00:00:00Z", method: .get, headers: auth("read"))
            #expect(csv.text.hasPrefix("user,overdue,last_review_seq") && csv.text.contains("u-zhao,no,34,u-admin"), "\(csv.text)")
            for bad in ["/v1/reviews/report", "/v1/reviews/report?role=a&department=b", "/v1/reviews/report?role=a&period=soon", "/v1/reviews/report?adminLevel=chief"] {
                #expect(try await client.execute(uri: bad, method: .get, headers: auth("read")).status == .badRequest, "\(bad)")
            }
        }
    }

    static func verify(_ file: String, _ key: String) async throws -> (Int32, String) {
        try await offThePool { try verifyWaiting(file, key) }
    }

    private static func verifyWaiting(_ file: String, _ key: String) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", repository.appendingPathComponent("scripts/verify_report.py").path, file, key]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, text)
    }

    @Test func requestsAndWhatIf() async throws {
        try await Server().run { client in
            #expect(try await client.execute(uri: "/v1/events", method: .post, headers: auth("ingest"), body: Self.story).status == .created)
            var answer = try await client.execute(uri: "/v1/access-requests", method: .get, headers: auth("read")).json
            let requests = (answer["requests"] ?? .null).list
            #expect(requests.map { $0["id"]?.stringValue ?? "" } == ["ar-1", "ar-2"])
            #expect(requests[0]["status"] == .string("rejected") && requests[0]["decidedBy"] == .string("u-admin"))
            #expect(requests[0]["decisionReason"] == .string("the whole manager role is more than the cover needs"))
            #expect(requests[1]["justification"] == .string("approve sales-east orders while 赵丽 is away") && requests[1]["permission"] == .string("sales_order.approve"))
            answer = try await client.execute(uri: "/v1/access-requests?status=approved&approver=u-admin&olderThan=1d", method: .get, headers: auth("read")).json
            #expect((answer["requests"] ?? .null).list.map { $0["id"] } == [.string("ar-2")])
            answer = try await client.execute(uri: "/v1/access-requests?limit=1", method: .get, headers: auth("read")).json
            let next = try #require(answer["next"]?.stringValue)
            answer = try await client.execute(uri: "/v1/access-requests?limit=1&cursor=\(next)", method: .get, headers: auth("read")).json
            #expect((answer["requests"] ?? .null).list.map { $0["id"] } == [.string("ar-2")])
            #expect(try await client.execute(uri: "/v1/access-requests?status=maybe", method: .get, headers: auth("read")).status == .badRequest)

            // What if u-admin made u-wang a sales manager? u-wang gains approve in the department; u-admin is an admin: no finding.
            let candidate = #"{"type":"user.role_assigned","time":"2026-03-08T00:00:00Z","actor":{"id":"u-admin"},"subject":{"type":"user","id":"u-wang"},"data":{"role":"sales_manager"}}"#
            let head = try await client.execute(uri: "/v1/events?order=desc&limit=1", method: .get, headers: auth("read")).json
            let whatIf = try await client.execute(uri: "/v1/what-if", method: .post, headers: auth("read"), body: ByteBuffer(string: candidate))
            #expect(whatIf.status == .ok)
            let changes = (whatIf.json["changes"] ?? .null).list
            #expect(changes.contains { $0["name"] == .string("sales_order.approve") && $0["change"] == .string("gained") && $0["scopeAfter"] == .string("department") }, "\(whatIf.text)")
            #expect(changes.contains { $0["kind"] == .string("role") && $0["name"] == .string("sales_manager") })
            #expect((whatIf.json["findings"] ?? .null).list.isEmpty)
            // Nothing was appended.
            #expect(try await client.execute(uri: "/v1/events?order=desc&limit=1", method: .get, headers: auth("read")).json == head)
            // What if u-admin gave themself admin rights? Two findings: not a super admin, and a self-grant.
            let selfGrant = #"{"type":"user.admin_granted","time":"2026-03-08T00:00:00Z","actor":{"id":"u-admin"},"subject":{"type":"user","id":"u-admin"},"data":{"level":"super_admin"}}"#
            let kinds = (try await client.execute(uri: "/v1/what-if", method: .post, headers: auth("read"), body: ByteBuffer(string: selfGrant)).json["findings"] ?? .null).list.compactMap { $0["kind"]?.stringValue }
            #expect(Set(kinds) == ["admin_granted_by_non_super_admin", "self_grant"])
            // A bad candidate is a 400 naming the problem; the scope is read, not ingest.
            let bad = try await client.execute(uri: "/v1/what-if", method: .post, headers: auth("read"), body: ByteBuffer(string: #"{"type":"user.role_assigned"}"#))
            #expect(bad.status == .badRequest)
            #expect(try await client.execute(uri: "/v1/what-if", method: .post, headers: auth("ingest"), body: ByteBuffer(string: candidate)).status == .forbidden)
        }
    }
}
