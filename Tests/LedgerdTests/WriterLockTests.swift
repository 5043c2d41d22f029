import AsyncHTTPClient
import CLMDB
import EventModel
import Foundation
import Glibc
import NIOCore
import NIOHTTP1
import TestSupport
import Testing

/// One writer per data directory: a second ledgerd or an import is refused, readers still work, and
/// a writer whose log moved under it stops, says why, and lets systemd restart it.
@Suite struct WriterLockTests {
    /// The process-wide client, which needs no shutdown.
    var client: HTTPClient { HTTPClient.shared }

    func send(_ method: HTTPMethod, _ url: String, token: String? = nil, body: String? = nil) async throws -> (Int, String) {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
        let response = try await client.execute(request, timeout: .seconds(10))
        let bytes = try await response.body.collect(upTo: 1 << 20)
        return (Int(response.status.code), String(buffer: bytes))
    }

    static func event(_ n: Int) -> String {
        #"{"id":"lock-\#(n)","type":"sales_order.created","time":"2026-03-01T09:00:00Z","actor":{"id":"u-1"},"subject":{"type":"sales_order","id":"SO-\#(n)"},"changes":[{"field":"amount","new":\#(n)}]}"#
    }

    @Test func aSecondLedgerdIsRefusedAndTheFirstGoesOnUntouched() async throws {
        let first = try await LedgerctlTests.Daemon()
        defer { first.end() }
        let ingest = try #require(first.tokens["ingest"])
        #expect(try await send(.POST, first.url + "/v1/events", token: ingest, body: Self.event(1)).0 == 201)
        let tokensBefore = try String(contentsOfFile: first.data + "/initial-tokens", encoding: .utf8)

        let second = Process()
        second.executableURL = URL(fileURLWithPath: NotifyTests.ledgerdPath)
        second.arguments = ["--data-dir", first.data, "--port", "0"]
        let errors = Pipe()
        second.standardError = errors
        try second.run()
        let message = String(decoding: await errors.fileHandleForReading.readToTheEnd(), as: UTF8.self)
        await second.exited()
        #expect(second.terminationStatus == 6)
        #expect(message.contains("the data directory \(first.data) is in use by another writer (pid \(first.process.processIdentifier))"), "\(message)")
        #expect(!message.contains("listening"))

        // The first daemon appends on, from the head it holds, and nothing of its directory was rewritten.
        #expect(try await send(.POST, first.url + "/v1/events", token: ingest, body: Self.event(2)).0 == 201)
        #expect(try await send(.GET, first.url + "/readyz").0 == 200)
        #expect(try String(contentsOfFile: first.data + "/initial-tokens", encoding: .utf8) == tokensBefore)
        let (code, verify) = try await LedgerctlTests().ctl(["verify", "--format", "json", "--data-dir", first.data])
        #expect(code == 0)
        #expect((try? JSONParser.parse(Array(verify.utf8)))?["headSeq"] == .number("2"))
    }

    @Test func importIsRefusedBesideARunningDaemonAndReadersStillWork() async throws {
        let daemon = try await LedgerctlTests.Daemon()
        defer { daemon.end() }
        let ingest = try #require(daemon.tokens["ingest"])
        #expect(try await send(.POST, daemon.url + "/v1/events", token: ingest, body: "[\(Self.event(1)),\(Self.event(2))]").0 == 201)
        let ctl = LedgerctlTests()
        let (exported, export) = try await ctl.ctl(["export", "--data-dir", daemon.data])
        #expect(exported == 0)
        let file = daemon.data + "-export.ndjson"
        try export.write(toFile: file, atomically: false, encoding: .utf8)

        #expect(try await ctl.ctl(["import", file, "--data-dir", daemon.data]).0 == 6)
        // Read-only opens take no lock: queries, verification and a hot backup work beside the daemon.
        #expect(try await ctl.ctl(["verify", "--data-dir", daemon.data]).0 == 0)
        #expect(try await ctl.ctl(["history", "sales_order", "SO-1", "--data-dir", daemon.data]).0 == 0)
        #expect(try await ctl.ctl(["backup", daemon.data + "-copy", "--data-dir", daemon.data]).0 == 0)
        // An import into a directory nobody writes goes through.
        #expect(try await ctl.ctl(["import", file, "--data-dir", daemon.data + "-imported"]).0 == 0)
        #expect(try await send(.POST, daemon.url + "/v1/events", token: ingest, body: Self.event(3)).0 == 201)
    }

    @Test func aLogMovedUnderTheWriterHaltsItAndStopsReadinessAndTheWatchdog() async throws {
        let notify = NotifyTests.NotifySocket()
        let daemon = try await LedgerctlTests.Daemon(environment: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "400000"])
        defer { daemon.end() }
        #expect(await notify.wait(for: "READY=1", seconds: 60).last == "READY=1")
        #expect(await notify.wait(for: "WATCHDOG=1", seconds: 5).last == "WATCHDOG=1")
        let (url, data, errors) = (daemon.url, daemon.data, daemon.data + ".log")
        let ingest = try #require(daemon.tokens["ingest"])
        #expect(try await send(.POST, url + "/v1/events", token: ingest, body: Self.event(1)).0 == 201)

        // Another process appends record 2 behind the daemon's back, straight through LMDB's C API.
        try Self.appendRawRecord(seq: 2, in: data)

        var ready = (200, "")
        for _ in 0..<50 where ready.0 == 200 {
            try await Task.sleep(for: .microseconds(100_000))
            ready = try await send(.GET, url + "/readyz")
        }
        #expect(ready.0 == 503)
        #expect(ready.1.contains("the log moved under this writer"), "\(ready.1)")
        let (status, answer) = try await send(.POST, url + "/v1/events", token: ingest, body: Self.event(2))
        #expect(status == 503)
        #expect(answer.contains(#""code":"halted""#), "\(answer)")
        // Pings stop, so systemd's watchdog restarts the unit. Once the watchdog loop has said so (a ping
        // it decided on before the halt may still be queued), none comes for 2 s, five intervals.
        for _ in 0..<100 where !(try String(contentsOfFile: errors, encoding: .utf8)).contains("watchdog pings stop") { try await Task.sleep(for: .microseconds(100_000)) }
        let daemonLog = try String(contentsOfFile: errors, encoding: .utf8)
        #expect(daemonLog.contains("watchdog pings stop"), "\(daemonLog.suffix(3000))")
        _ = Self.drain(notify)
        try await Task.sleep(for: .microseconds(2_000_000))
        #expect(!Self.drain(notify).contains("WATCHDOG=1"))
        #expect(try String(contentsOfFile: errors, encoding: .utf8).components(separatedBy: "writer halted: no more appends").count == 2)
    }

    /// The messages waiting on the socket, without blocking.
    static func drain(_ notify: NotifyTests.NotifySocket) -> [String] {
        var messages: [String] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(notify.fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            guard n > 0 else { return messages }
            messages.append(String(decoding: buffer[0..<n], as: UTF8.self))
        }
    }

    /// What a stray writer would do: open the environment and append a record after the head.
    static func appendRawRecord(seq: UInt64, in path: String) throws {
        var env: OpaquePointer?
        try #require(mdb_env_create(&env) == 0)
        defer { mdb_env_close(env) }
        mdb_env_set_maxdbs(env, 16)
        try #require(mdb_env_open(env, path, UInt32(MDB_NOTLS), 0o640) == 0)
        var txn: OpaquePointer?
        try #require(mdb_txn_begin(env, nil, 0, &txn) == 0)
        var dbi: MDB_dbi = 0
        try #require(mdb_dbi_open(txn, "records", 0, &dbi) == 0)
        var key = seq.bigEndian
        var value = [UInt8](repeating: 0xAB, count: 32) + Array(#"{"seq":\#(seq),"forged":true}"#.utf8)
        let rc = withUnsafeMutableBytes(of: &key) { k in
            value.withUnsafeMutableBytes { v in
                var mk = MDB_val(mv_size: k.count, mv_data: k.baseAddress)
                var mv = MDB_val(mv_size: v.count, mv_data: v.baseAddress)
                return mdb_put(txn, dbi, &mk, &mv, UInt32(MDB_APPEND))
            }
        }
        try #require(rc == 0)
        try #require(mdb_txn_commit(txn) == 0)
    }
}
