import EventLog
import EventModel
import Foundation
import Glibc
import LMDB
import Logging
import Testing
import TestSupport

/// ledgerctl against a live ledgerd, and against its data directory while it runs.
@Suite struct LedgerctlTests {
    static var ledgerctlPath: String {
        URL(fileURLWithPath: NotifyTests.ledgerdPath).deletingLastPathComponent().appendingPathComponent("ledgerctl").path
    }

    /// A running ledgerd on a free port, with its first-start tokens. Starting and stopping it wait
    /// without holding a thread of Swift's (`offThePool`), as does running ledgerctl.
    final class Daemon {
        let process = Process()
        let data: String
        let url: String
        let tokens: [String: String]

        /// A daemon on `dataDirectory`, or on a new one, with `environment` added to the test's.
        init(dataDirectory: String? = nil, environment: [String: String] = [:]) async throws {
            data = dataDirectory ?? Scratch.path("data")
            let errors = data + ".log"
            _ = FileManager.default.createFile(atPath: errors, contents: nil)
            process.executableURL = URL(fileURLWithPath: NotifyTests.ledgerdPath)
            process.arguments = ["--data-dir", data, "--port", "0"]
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, added in added }
            process.standardError = FileHandle(forWritingAtPath: errors)
            // Not the test process's own output: a daemon left running would hold that pipe open and
            // keep `swift test` waiting for its end after the tests are done.
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            var port: String?
            for _ in 0..<600 where port == nil {
                try await Task.sleep(for: .milliseconds(100))
                let text = (try? String(contentsOfFile: errors, encoding: .utf8)) ?? ""
                if let line = text.split(separator: "\n").first(where: { $0.contains("http.address=") }),
                    let last = line.split(separator: " ").first(where: { $0.hasPrefix("http.address=") })?.split(separator: ":").last
                {
                    port = String(last)
                }
            }
            url = "http://127.0.0.1:\(port ?? "0")"
            var tokens: [String: String] = [:]
            for line in ((try? String(contentsOfFile: data + "/initial-tokens", encoding: .utf8)) ?? "").split(separator: "\n") where !line.hasPrefix("#") {
                let parts = line.split(separator: " ")
                if parts.count == 2 { tokens[String(parts[0])] = String(parts[1]) }
            }
            self.tokens = tokens
        }

        func stop() async {
            kill(process.processIdentifier, SIGTERM)
            await process.exited()
        }

        /// For `defer`: ends the daemon at once (SIGKILL), which takes no time to wait for.
        func end() {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }

        /// A test that fails before `stop()` leaves no daemon behind.
        deinit {
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
        }
    }

    /// Runs ledgerctl; returns exit code and standard output.
    func ctl(_ arguments: [String], token: String? = nil, url: String? = nil, stdin: String? = nil) async throws -> (Int32, String) {
        let run = try await Self.run(arguments, token: token, url: url, stdin: stdin)
        return (run.code, run.out)
    }

    /// Runs ledgerctl with LEDGER_TOKEN and LEDGER_URL set; returns the exit code, standard output and standard error.
    static func run(_ arguments: [String], token: String? = nil, url: String? = nil, stdin: String? = nil) async throws -> (code: Int32, out: String, err: String) {
        try await offThePool { try runWaiting(arguments, token: token, url: url, stdin: stdin) }
    }

    /// The same, with how long ledgerctl took, timed on the thread that waits for it: timed across an
    /// `await`, the figure would include the test's own resumption, which a busy machine delays.
    static func timedRun(_ arguments: [String], token: String?, url: String?, stdin: String? = nil) async throws -> (code: Int32, err: String, took: Duration) {
        try await offThePool {
            let start = ContinuousClock.now
            let run = try runWaiting(arguments, token: token, url: url, stdin: stdin)
            return (run.code, run.err, ContinuousClock.now - start)
        }
    }

    private static func runWaiting(_ arguments: [String], token: String?, url: String?, stdin: String?) throws -> (code: Int32, out: String, err: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.ledgerctlPath)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["LEDGER_TOKEN"] = token
        environment["LEDGER_URL"] = url
        process.environment = environment
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        let input = Pipe()
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        // Standard error is read on another thread, so neither pipe can fill up and stall the process.
        let err = Box()
        let read = DispatchSemaphore(value: 0)
        Thread {
            err.data = errors.fileHandleForReading.readDataToEndOfFile()
            read.signal()
        }.start()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        read.wait()
        return (process.terminationStatus, text, String(decoding: err.data, as: UTF8.self))
    }

    /// Written by one thread, read after waiting for it.
    private final class Box: @unchecked Sendable { var data = Data() }

    static let events = [
        #"{"id":"e1","type":"user.created","time":"2026-03-01T09:00:00Z","actor":{"id":"system"},"subject":{"type":"user","id":"u-root"},"changes":[{"field":"department","new":"it"}]}"#,
        #"{"id":"e2","type":"user.admin_granted","time":"2026-03-01T09:01:00Z","actor":{"id":"system"},"subject":{"type":"user","id":"u-root"},"data":{"level":"super_admin"}}"#,
        #"{"type":"sales_order.created","time":"2026-03-01T09:02:00Z","actor":{"id":"u-li"},"subject":{"type":"sales_order","id":"SO-1"},"changes":[{"field":"amount","new":1000}]}"#,
        #"{"type":"sales_order.updated","time":"2026-03-01T09:03:00Z","actor":{"id":"u-root"},"subject":{"type":"sales_order","id":"SO-1"},"changes":[{"field":"amount","old":1000,"new":1200}]}"#,
    ].joined(separator: "\n")

    @Test func everyCommandAgainstALiveDaemonAndItsDataDirectory() async throws {
        let daemon = try await Daemon()
        defer { daemon.end() }
        let ingest = daemon.tokens["ingest"]
        let read = daemon.tokens["read"]

        // Append from standard input, twice: the second run appends nothing (ids derived from content).
        var (code, out) = try await ctl(["append", "-", "--batch", "3"], token: ingest, url: daemon.url, stdin: Self.events)
        #expect(code == 0)
        #expect(out.contains("4 events: 4 appended, 0 already in the ledger"), "\(out)")
        (code, out) = try await ctl(["append", "-"], token: ingest, url: daemon.url, stdin: Self.events)
        #expect(out.contains("4 events: 0 appended, 4 already in the ledger"), "\(out)")

        (code, out) = try await ctl(["history", "sales_order", "SO-1", "--field", "amount", "--tz", "+08:00"], token: read, url: daemon.url)
        #expect(code == 0)
        #expect(out.contains("amount: 1000 → 1200"), "\(out)")
        #expect(out.contains("2026-03-01 17:03:00 +08:00"), "\(out)")
        (code, out) = try await ctl(["state", "sales_order", "SO-1", "--as-of", "seq:3", "--format", "csv"], token: read, url: daemon.url)
        // CSV carries every field of the answer: the subject, the point, and each field's value and lineage.
        #expect(out.hasPrefix("subject.type,subject.id,asOf,exists,deleted,field,value,seq,actor,time\nsales_order,SO-1,seq:3,true,false,amount,1000,3,u-li,2026-03-01T09:02:00Z"), "\(out)")
        (code, out) = try await ctl(["access", "u-root", "--format", "json"], token: read, url: daemon.url)
        #expect((try? JSONParser.parse(Array(out.utf8)))?["status"] == .string("active"))
        (code, out) = try await ctl(["holders", "sales_order.approve"], token: read, url: daemon.url)
        #expect(out.contains("u-root") && out.contains("admin super_admin"), "\(out)")
        (code, out) = try await ctl(["activity", "u-li"], token: read, url: daemon.url)
        #expect(out.contains("sales_order/SO-1"), "\(out)")
        (code, out) = try await ctl(["findings", "--kind", "unauthorized_change"], token: read, url: daemon.url)
        #expect(code == 0 && out.contains("u-li made sales_order.created"), "\(out)")
        (code, out) = try await ctl(["export"], token: read, url: daemon.url)
        #expect(out.split(separator: "\n").count == 4)
        (code, out) = try await ctl(["verify"], token: read, url: daemon.url)
        #expect(code == 0 && out.contains("yes"))

        // The same answers from the data directory while the daemon runs.
        (code, out) = try await ctl(["state", "sales_order", "SO-1", "--as-of", "seq:3", "--format", "csv", "--data-dir", daemon.data])
        #expect(code == 0)
        // CSV carries every field of the answer: the subject, the point, and each field's value and lineage.
        #expect(out.hasPrefix("subject.type,subject.id,asOf,exists,deleted,field,value,seq,actor,time\nsales_order,SO-1,seq:3,true,false,amount,1000,3,u-li,2026-03-01T09:02:00Z"), "\(out)")
        (code, out) = try await ctl(["verify", "--format", "json", "--data-dir", daemon.data])
        #expect((try? JSONParser.parse(Array(out.utf8)))?["count"] == .number("4"))
        (code, out) = try await ctl(["export", "--data-dir", daemon.data])
        #expect(out.split(separator: "\n").count == 4)

        // A hot backup while the daemon runs: the copy opens and verifies with the same head.
        let copy = daemon.data + "-backup"
        (code, out) = try await ctl(["backup", copy, "--data-dir", daemon.data])
        #expect(code == 0 && out.contains("copied 4 events"), "\(out)")
        (code, out) = try await ctl(["verify", "--format", "json", "--data-dir", copy])
        #expect((try? JSONParser.parse(Array(out.utf8)))?["headSeq"] == .number("4"))
        #expect(try await ctl(["backup", copy, "--data-dir", daemon.data]).0 == 2)  // not empty

        // Exit codes scripts rely on.
        #expect(try await ctl(["access", "u-root", "--as-of", "yesterday"], token: read, url: daemon.url).0 == 2)
        #expect(try await ctl(["verify"], token: "wrong", url: daemon.url).0 == 3)
        #expect(try await ctl(["verify"], token: ingest, url: daemon.url).0 == 3)
        #expect(try await ctl(["verify"], token: read, url: "http://127.0.0.1:1").0 == 5)
        #expect(try await ctl(["append", "-"], token: ingest, url: daemon.url, stdin: "{not json").0 == 2)
        #expect(try await ctl(["history"], token: read, url: daemon.url).0 == 2)
        let (helpCode, help) = try await ctl(["access", "--help"])
        #expect(helpCode == 0 && help.contains("--as-of"), "\(help)")
        let (tokenCode, tokenOut) = try await ctl(["token", "new", "--name", "crm", "--scope", "ingest,read"])
        #expect(tokenCode == 0 && tokenOut.contains("crm ingest,read "))
    }

    @Test func verifyExitsFourAtAForgedRecord() async throws {
        let path = Scratch.path("forged")
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        let log = try EventLog(LogConfiguration(path: path), logger: logger)
        for line in Self.events.split(separator: "\n") { _ = try await log.append(try EventBody.parse(Array(line.utf8)).events) }
        try await log.close()
        let environment = try Environment(.init(path: path))
        let records = try environment.openDatabases([("records", [])])[0]
        try environment.write { txn in
            var value = Array(try txn.get(records, bigEndianBytes(3))!)
            value[50] ^= 1
            try txn.put(records, key: bigEndianBytes(3), value: value)
        }
        environment.close()
        let (code, out) = try await ctl(["verify", "--data-dir", path])
        #expect(code == 4)
        #expect(out.contains("NO") && out.contains("3"), "\(out)")
    }
}
