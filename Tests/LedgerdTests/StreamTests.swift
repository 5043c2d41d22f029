import EventModel
import Foundation
import Glibc
import Testing
import TestSupport

/// A Server-Sent Events client on a plain socket: it reads what the daemon sends, as it comes, and
/// can stop reading altogether (a slow client). Its waits run on a thread of their own
/// (`offThePool`); one test uses it at a time.
final class SSEClient: @unchecked Sendable {
    let fd: Int32
    private var buffer: [UInt8] = []

    init(port: Int, path: String, token: String, lastEventID: String? = nil) throws {
        // A small receive buffer, so a client that stops reading is felt soon.
        guard let fd = connectToLoopback(port: port, receiveBuffer: 4096) else { throw POSIXError(.ECONNREFUSED) }
        self.fd = fd
        var request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\nAccept: text/event-stream\r\n"
        if let lastEventID { request += "Last-Event-ID: \(lastEventID)\r\n" }
        request += "\r\n"
        _ = request.withCString { send(fd, $0, strlen($0), 0) }
    }

    deinit { close(fd) }

    /// The `id:` of every message that comes within `seconds`, until `count` of them (nil on a closed connection).
    func ids(_ count: Int, within seconds: Double = 10) async -> [String]? {
        await offThePool { self.idsWaiting(count, within: seconds) }
    }

    private func idsWaiting(_ count: Int, within seconds: Double) -> [String]? {
        var out: [String] = []
        let deadline = Date().addingTimeInterval(seconds)
        while out.count < count, Date() < deadline {
            guard let line = readLine(until: deadline) else { return out.isEmpty ? nil : out }
            if line.hasPrefix("id: ") { out.append(String(line.dropFirst(4))) }
        }
        return out
    }

    /// The next line (HTTP chunk framing lines included; they never start with "id: " or "data: ").
    func readLine(until deadline: Date) -> String? {
        while true {
            if let newline = buffer.firstIndex(of: 0x0A) {
                let line = String(decoding: buffer[..<newline], as: UTF8.self).trimmingCharacters(in: ["\r"])
                buffer.removeSubrange(...newline)
                return line
            }
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { return nil }
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, Int32(left * 1000)) > 0 else { return nil }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = recv(fd, &chunk, chunk.count, 0)
            guard n > 0 else { return nil }
            buffer += chunk[0..<n]
        }
    }

    /// Whether the server closed the connection within `seconds` (whatever it sent before is drained),
    /// after reading nothing for `idle` seconds.
    func closedByServer(within seconds: Double, afterIdling idle: Double) async throws -> Bool {
        try await Task.sleep(for: .seconds(idle))
        return await offThePool { self.closes(within: seconds) }
    }

    private func closes(within seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while Date() < deadline {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 200) > 0 else { continue }
            let n = recv(fd, &chunk, chunk.count, 0)
            if n <= 0 { return true }
        }
        return false
    }
}

@Suite struct StreamTests {
    static func port(_ daemon: LedgerctlTests.Daemon) -> Int { Int(daemon.url.split(separator: ":").last!)! }

    static func events(_ range: Range<Int>, type: String = "sales_order.updated") -> String {
        range.map { i in
            #"{"id":"s-\#(i)","type":"\#(type)","time":"2026-03-01T09:00:00Z","actor":{"id":"u-\#(i % 3)"},"subject":{"type":"sales_order","id":"SO-\#(i % 7)"},"changes":[{"field":"amount","new":\#(i)}]}"#
        }.joined(separator: "\n")
    }

    static func append(_ daemon: LedgerctlTests.Daemon, _ lines: String) async throws {
        let (code, _) = try await LedgerctlTests().ctl(["append", "-"], token: daemon.tokens["ingest"], url: daemon.url, stdin: lines)
        #expect(code == 0)
    }

    @Test func aClientThatReconnectsWithLastEventIDMissesNothingAndSeesNothingTwice() async throws {
        let daemon = try await LedgerctlTests.Daemon()
        defer { daemon.end() }
        try await Self.append(daemon, Self.events(0..<10))
        let read = daemon.tokens["read"]!
        // From the start: the ten there are, then five more as they are committed.
        var client: SSEClient? = try SSEClient(port: Self.port(daemon), path: "/v1/stream?afterSeq=0", token: read)
        #expect(await client?.ids(10) == (1...10).map(String.init))
        try await Self.append(daemon, Self.events(10..<15))
        #expect(await client?.ids(2) == ["11", "12"])
        client = nil  // gone after 12, with 13–15 sent or not
        try await Self.append(daemon, Self.events(15..<18))
        client = try SSEClient(port: Self.port(daemon), path: "/v1/stream", token: read, lastEventID: "12")
        #expect(await client?.ids(6) == (13...18).map(String.init))
        // Filters as GET /v1/events has them; the data is the stored record.
        let filtered = try SSEClient(port: Self.port(daemon), path: "/v1/stream?afterSeq=0&actor=u-1&type=sales_order.*", token: read)
        #expect(await filtered.ids(6) == ["2", "5", "8", "11", "14", "17"])
        // Without a read token: no stream.
        let refused = try SSEClient(port: Self.port(daemon), path: "/v1/stream", token: daemon.tokens["ingest"]!)
        #expect(refused.readLine(until: Date().addingTimeInterval(5))?.contains("403") == true)
    }

    @Test func findingsStreamAsTheyAreFound() async throws {
        let daemon = try await LedgerctlTests.Daemon()
        defer { daemon.end() }
        try await Self.append(daemon, [
            #"{"id":"b1","type":"user.created","time":"2026-03-01T09:00:00Z","actor":{"id":"system"},"subject":{"type":"user","id":"u-root"}}"#,
            #"{"id":"b2","type":"user.admin_granted","time":"2026-03-01T09:00:01Z","actor":{"id":"system"},"subject":{"type":"user","id":"u-root"},"data":{"level":"super_admin"}}"#,
        ].joined(separator: "\n"))
        let client = try SSEClient(port: Self.port(daemon), path: "/v1/findings/stream?kind=self_grant", token: daemon.tokens["read"]!)
        // An unauthorized edit (another kind) and then a self-grant: only the self-grant comes.
        try await Self.append(daemon, Self.events(0..<1))
        try await Self.append(daemon, #"{"id":"g1","type":"user.role_assigned","time":"2026-03-01T09:05:00Z","actor":{"id":"u-root"},"subject":{"type":"user","id":"u-root"},"data":{"role":"r"}}"#)
        let ids = await client.ids(1)
        #expect(ids == ["f4.\(2).0"], "\(String(describing: ids))")
    }

    /// A client that stops reading is cut off once one write has waited `stream.stalledWriteSeconds`;
    /// ingest goes on meanwhile.
    @Test func aClientThatStopsReadingIsCutOffAndIngestGoesOn() async throws {
        let daemon = try await LedgerctlTests.Daemon(environment: ["LEDGERD_STREAM_STALLED_WRITE_SECONDS": "2"])
        defer { daemon.end() }
        // Enough that the stream's writes fill the socket buffers of a client that reads nothing.
        for chunk in 0..<20 { try await Self.append(daemon, Self.events((chunk * 2_000)..<((chunk + 1) * 2_000))) }
        let stalled = try SSEClient(port: Self.port(daemon), path: "/v1/stream?afterSeq=0", token: daemon.tokens["read"]!)
        let (appended, _, took) = try await LedgerctlTests.timedRun(
            ["append", "-"], token: daemon.tokens["ingest"], url: daemon.url, stdin: Self.events(40_000..<41_000))
        #expect(appended == 0)
        #expect(took < .seconds(5), "ingest waited on a stalled stream")
        #expect(try await stalled.closedByServer(within: 15, afterIdling: 5))
        let (code, out) = try await LedgerctlTests().ctl(["verify", "--format", "json"], token: daemon.tokens["read"], url: daemon.url)
        #expect(code == 0 && out.contains(#""count":41000"#))
    }
}
