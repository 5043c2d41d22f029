import AsyncHTTPClient
import EventModel
import Foundation
import Glibc
import NIOCore
import NIOHTTP1
import Testing
import TestSupport

/// Spec 9: a full disk gives a clear error, keeps what was acknowledged, and recovers when space
/// returns. ledgerd runs on a small tmpfs (mounting it needs root, as CI has) that ingest fills.
@Suite(.serialized) struct DiskFullTests {
    /// mount and umount: they take milliseconds, and the one in a `defer` cannot be awaited.
    func sh(_ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Batches whose reasons are 1,000 pseudo-random characters each: records compress (RecordForms),
    /// and repeated text would take almost no room, so the disk would not fill.
    static func batch(_ first: Int, _ count: Int) -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
        return "[" + (first..<first + count).map { i in
            var state = UInt64(i) &* 6364136223846793005 &+ 1442695040888963407
            let reason = String((0..<1000).map { _ in
                state = state &* 6364136223846793005 &+ 1442695040888963407
                return alphabet[Int(state >> 58)]
            })
            return #"{"id":"full-\#(i)","type":"sales_order.updated","time":"2026-03-03T08:00:00Z","actor":{"id":"u-\#(i % 11)"},"subject":{"type":"sales_order","id":"SO-\#(i % 97)"},"changes":[{"field":"amount","new":\#(i)}],"reason":"\#(reason)"}"#
        }.joined(separator: ",") + "]"
    }

    @Test func aFullDiskAnswers507KeepsWhatWasAcknowledgedAndRecovers() async throws {
        let mount = Scratch.path("full")
        try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: true)
        try #require(try sh(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", mount]) == 0, "mounting a tmpfs needs root")
        defer { _ = try? sh(["umount", "-l", mount]) }
        // Space to give back later: 6 MiB held by a file on the same filesystem.
        try Data(repeating: 1, count: 6 << 20).write(to: URL(fileURLWithPath: mount + "/ballast"))

        let daemon = try await LedgerctlTests.Daemon(dataDirectory: mount + "/data")
        let client = HTTPClient.shared
        let ingest = try #require(daemon.tokens["ingest"])
        let read = try #require(daemon.tokens["read"])
        func send(_ method: HTTPMethod, _ path: String, token: String, body: String? = nil) async throws -> (UInt, JSONValue) {
            var request = HTTPClientRequest(url: daemon.url + path)
            request.method = method
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
            if let body { request.body = .bytes(ByteBuffer(string: body)) }
            let response = try await client.execute(request, timeout: .seconds(60))
            let bytes = Array(try await response.body.collect(upTo: 1 << 28).readableBytesView)
            return (response.status.code, (try? JSONParser.parse(bytes)) ?? .null)
        }

        var acknowledged: [String: String] = [:]
        var next = 0
        var refusal: JSONValue?
        while next < 40_000, refusal == nil {
            let (status, json) = try await send(.POST, "/v1/events", token: ingest, body: Self.batch(next, 100))
            if status == 201 {
                for result in json["results"]?.list ?? [] { acknowledged[result["id"]!.stringValue!] = result["hash"]!.stringValue! }
                next += 100
            } else {
                #expect(status == 507, "\(status) \(json)")
                refusal = json
            }
        }
        let error = try #require(refusal?["error"], "the disk never filled")
        #expect(error["code"] == .string("disk_full"))
        #expect(error["message"]?.stringValue?.contains("no space left") == true, "\(error)")
        #expect(acknowledged.count > 1_000)

        // Full, the daemon still answers reads, and nothing half-written shows.
        let (status, verify) = try await send(.GET, "/v1/verify?indexes=false", token: read)
        #expect(status == 200 && verify["ok"] == .bool(true), "\(verify)")
        #expect(verify["count"] == .number(String(acknowledged.count)))

        // Space comes back: ingest resumes.
        try FileManager.default.removeItem(atPath: mount + "/ballast")
        let (resumed, answer) = try await send(.POST, "/v1/events", token: ingest, body: Self.batch(next, 100))
        #expect(resumed == 201, "\(answer)")
        for result in answer["results"]?.list ?? [] { acknowledged[result["id"]!.stringValue!] = result["hash"]!.stringValue! }

        // After a clean stop and a start, every acknowledged event is there with its hash.
        await daemon.stop()
        #expect(daemon.process.terminationStatus == 0)
        let restarted = try await LedgerctlTests.Daemon(dataDirectory: mount + "/data")
        defer { restarted.end() }
        let (code, out) = try await LedgerctlTests().ctl(["export"], token: restarted.tokens["read"], url: restarted.url)
        #expect(code == 0)
        let found = try chainedEvents(inExport: Array(out.utf8))
        #expect(found.count == acknowledged.count)
        for (id, hash) in acknowledged { #expect(found[id]?.hash == hash, "\(id)") }
        let (verifyCode, verifyOut) = try await LedgerctlTests().ctl(["verify", "--format", "json"], token: restarted.tokens["read"], url: restarted.url)
        #expect(verifyCode == 0, "\(verifyOut)")
    }
}
