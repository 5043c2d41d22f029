import EventModel
import Foundation
import Glibc
import Testing
import TestSupport

/// ledgerctl as its users meet it: a typo fails with a suggestion instead of answering "nothing",
/// times are read as people write them, long answers page visibly, and tokens reload on SIGHUP.
@Suite struct LedgerctlUseTests {
    static func ctl(_ arguments: [String], token: String?, url: String) async throws -> (code: Int32, out: String, err: String) {
        try await LedgerctlTests.run(arguments, token: token, url: url)
    }

    @Test func mistakesExitTwoWithWhatWasMeant() async throws {
        let daemon = try await LedgerctlTests.Daemon()
        defer { daemon.end() }
        let (loaded, _, _) = try await Self.ctl(["demo", "--story"], token: daemon.tokens["ingest"], url: daemon.url)
        #expect(loaded == 0)
        let read = daemon.tokens["read"]
        let cases: [(arguments: [String], says: String)] = [
            (["histroy", "sales_order", "SO-1001"], "did you mean history?"),
            (["history", "sales_orders", "SO-1001"], "did you mean sales_order?"),
            (["history", "sales_order", "so-1001"], "did you mean SO-1001?"),
            (["holders", "sales_order.aprove"], "did you mean sales_order.approve?"),
            (["holders", "approve"], "permissions are object.action"),
            (["access", "U-LI"], "did you mean u-li?"),
            (["activity", "u-lii"], "acted in no event"),
            (["role", "sales_mangaer"], "did you mean sales_manager?"),
            (["findings", "--kind", "self_grnt"], "did you mean self_grant?"),
            (["events", "--type", "user.admin_grnted"], "did you mean user.admin_granted?"),
            (["events", "--type", "user admin"], "not an event type"),
            (["findings", "--since", "2026-03-05", "--until", "2026-03-01"], "is after --until"),
            (["history", "sales_order", "SO-1001", "--since", "yesterday"], "is not a time"),
            (["history", "sales_order", "SO-1001", "--tz", "CST"], "Asia/Shanghai or America/Chicago"),
            (["access", "u-li", "--format", "jsn"], "did you mean json?"),
        ]
        for (arguments, says) in cases {
            let (code, out, err) = try await Self.ctl(arguments, token: read, url: daemon.url)
            #expect(code == 2, "\(arguments): exit \(code)")
            #expect(err.contains(says), "\(arguments): \(err)")
            #expect(!out.contains("(none)"), "\(arguments) printed an empty answer before failing")
        }
        // The same names, right, answer.
        #expect(try await Self.ctl(["history", "sales_order", "SO-1001"], token: read, url: daemon.url).code == 0)
        #expect(try await Self.ctl(["role", "sales_manager"], token: read, url: daemon.url).out.contains("u-zhao"))
        // An empty answer that is not a typo is not an error.
        let empty = try await Self.ctl(["history", "sales_order", "SO-1001", "--since", "2027-01-01"], token: read, url: daemon.url)
        #expect(empty.code == 0 && empty.out.contains("(none)"))
    }

    @Test func timesAsPeopleWriteThemAndTheDailyQuestions() async throws {
        let daemon = try await LedgerctlTests.Daemon()
        defer { daemon.end() }
        _ = try await Self.ctl(["demo", "--story"], token: daemon.tokens["ingest"], url: daemon.url)
        let read = daemon.tokens["read"]
        // 2026-03-03 15:45 in Shanghai is 07:45 UTC: the CR-42 edit (07:45:01) is after it, the order's creation before.
        var answer = try await Self.ctl(["history", "sales_order", "SO-1001", "--since", "2026-03-03 15:45", "--tz", "Asia/Shanghai", "--format", "json"], token: read, url: daemon.url)
        #expect(answer.code == 0)
        let entries = (try JSONParser.parse(Array(answer.out.utf8))["entries"] ?? .null).list
        #expect(entries.first?["reason"] == .string("CR-42 customer renegotiated"), "\(answer.out)")
        // A date is midnight in the zone; --as-of takes the same forms.
        answer = try await Self.ctl(["access", "u-li", "--as-of", "2026-03-04 12:01", "--tz", "+08:00"], token: read, url: daemon.url)
        #expect(answer.code == 0 && answer.out.contains("sales_order.approve"), "\(answer.out)")
        answer = try await Self.ctl(["access", "u-li", "--as-of", "2026-03-04"], token: read, url: daemon.url)
        #expect(answer.code == 0 && !answer.out.contains("sales_order.approve"), "\(answer.out)")
        // What admin rights changed, with the level and module on each row.
        answer = try await Self.ctl(["events", "--type", "user.admin_*"], token: read, url: daemon.url)
        #expect(answer.out.contains("level: module_admin, module: sales_order"), "\(answer.out)")
        // Role grants show the permission and scope; what was done to a user beside what they did.
        answer = try await Self.ctl(["history", "role", "sales_manager"], token: read, url: daemon.url)
        #expect(answer.out.contains("permission: sales_order.approve, scope: department"), "\(answer.out)")
        answer = try await Self.ctl(["activity", "u-li", "--done-to"], token: read, url: daemon.url)
        #expect(answer.out.contains("user.permission_granted") && answer.out.contains("u-admin"), "\(answer.out)")
        // Holders with the events that make each path; access CSV with status, roles and levels.
        answer = try await Self.ctl(["holders", "sales_order.approve"], token: read, url: daemon.url)
        #expect(answer.out.contains("role sales_manager (department) [10,20]"), "\(answer.out)")
        answer = try await Self.ctl(["access", "u-chen", "--format", "csv"], token: read, url: daemon.url)
        let csv = answer.out.split(separator: "\n")
        #expect(csv.first == "user,asOf,exists,status,fact,name,module,scope,via,seq,actor,time")
        #expect(csv.contains { $0.contains(",status,active,") } && csv.contains { $0.contains(",admin_level,module_admin,sales_order,") }, "\(answer.out)")
    }

    /// 2,500 findings: a page shows the hint to go on, the cursor goes on, and --all returns every one.
    @Test func pagesAreVisibleAndAllReturnsEveryRow() async throws {
        let daemon = try await LedgerctlTests.Daemon()
        defer { daemon.end() }
        var lines = [
            #"{"id":"p0","type":"user.created","time":"2026-03-01T09:00:00Z","actor":{"id":"system"},"subject":{"type":"user","id":"u-root"}}"#,
            #"{"id":"p1","type":"user.admin_granted","time":"2026-03-01T09:00:01Z","actor":{"id":"system"},"subject":{"type":"user","id":"u-root"},"data":{"level":"super_admin"}}"#,
        ]
        // Each order created by someone who holds nothing is one unauthorized_change.
        for i in 0..<2_500 {
            lines.append(#"{"id":"p-\#(i)","type":"sales_order.created","time":"2026-03-01T10:00:00Z","actor":{"id":"u-nobody"},"subject":{"type":"sales_order","id":"SO-\#(i)"},"changes":[{"field":"owner","new":"u-nobody"}]}"#)
        }
        let append = Process()
        append.executableURL = URL(fileURLWithPath: LedgerctlTests.ledgerctlPath)
        append.arguments = ["append", "-", "--url", daemon.url, "--token", daemon.tokens["ingest"]!]
        let input = Pipe()
        append.standardInput = input
        append.standardOutput = FileHandle.nullDevice
        try append.run()
        input.fileHandleForWriting.write(Data(lines.joined(separator: "\n").utf8))
        try input.fileHandleForWriting.close()
        await append.exited()
        #expect(append.terminationStatus == 0)
        let read = daemon.tokens["read"]

        let page = try await Self.ctl(["findings", "--limit", "5"], token: read, url: daemon.url)
        #expect(page.out.split(separator: "\n").count == 1 + 5 + 1, "\(page.out)")
        let hint = try #require(page.out.split(separator: "\n").last.map(String.init))
        #expect(hint.contains("--cursor") && hint.contains("--all"), "\(hint)")
        let cursor = try #require(hint.split(separator: " ").drop { $0 != "--cursor" }.dropFirst().first.map(String.init))
        let next = try await Self.ctl(["findings", "--limit", "5", "--cursor", cursor, "--format", "json"], token: read, url: daemon.url)
        #expect((try JSONParser.parse(Array(next.out.utf8))["findings"] ?? .null).list.first?["seq"] == .number("8"), "\(next.out)")

        let all = try await Self.ctl(["findings", "--all", "--format", "json"], token: read, url: daemon.url)
        let rows = all.out.split(separator: "\n")
        #expect(rows.count == 2_500)
        #expect(Set(rows.compactMap { (try? JSONParser.parse(Array($0.utf8)))?["seq"].map { "\($0)" } }).count == 2_500)
        let csv = try await Self.ctl(["findings", "--all", "--format", "csv"], token: read, url: daemon.url)
        #expect(csv.out.split(separator: "\n").count == 1 + 2_500)
        let table = try await Self.ctl(["findings", "--all"], token: read, url: daemon.url)
        #expect(table.out.split(separator: "\n").count == 1 + 2_500 && !table.out.contains("more after"))
        let many = try await Self.ctl(["findings", "--limit", "1500", "--format", "csv"], token: read, url: daemon.url)
        #expect(many.out.split(separator: "\n").count == 1 + 1_500 && many.err.contains("--cursor"))
    }

    @Test func governanceQuestions() async throws {
        let daemon = try await LedgerctlTests.Daemon()
        defer { daemon.end() }
        _ = try await Self.ctl(["demo", "--story"], token: daemon.tokens["ingest"], url: daemon.url)
        let read = daemon.tokens["read"]
        var answer = try await Self.ctl(["access-changes", "--from", "seq:25", "--to", "seq:33"], token: read, url: daemon.url)
        #expect(answer.code == 0)
        let gained = answer.out.split(separator: "\n").first { $0.hasPrefix("u-li ") && $0.contains("sales_order.approve") }
        #expect(gained?.contains("gained") == true && gained?.contains("- → department") == true && gained?.contains("27 by u-admin") == true, "\(answer.out)")
        answer = try await Self.ctl(["access-changes", "--from", "2026-03-01", "--role", "sales_mangaer"], token: read, url: daemon.url)
        #expect(answer.code == 2 && answer.err.contains("did you mean sales_manager?"))
        answer = try await Self.ctl(["requests", "--status", "approved"], token: read, url: daemon.url)
        #expect(answer.out.contains("ar-2") && answer.out.contains("u-admin at 2026-03-04 04:00:00Z") && !answer.out.contains("ar-1"), "\(answer.out)")
        answer = try await Self.ctl(["review-report", "--permission", "sales_order.approve", "--as-of", "2026-03-08", "--period", "30d"], token: read, url: daemon.url)
        #expect(answer.out.contains("4 holders, 4 overdue, 4 never reviewed") && answer.out.contains("OVERDUE"), "\(answer.out)")
        // The signed report as served, checked by the independent verifier with the verifier key alone.
        answer = try await Self.ctl(["review-report", "--role", "sales_manager", "--format", "json"], token: read, url: daemon.url)
        let file = daemon.data + "-report.json"
        try answer.out.write(toFile: file, atomically: false, encoding: .utf8)
        let key = try String(contentsOfFile: daemon.data + "/checkpoint.vkey", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let verify = Process()
        verify.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        verify.arguments = ["python3", ReadmeTourTests.repository.appendingPathComponent("scripts/verify_report.py").path, file, key]
        verify.standardOutput = FileHandle.nullDevice
        try verify.run()
        await verify.exited()
        #expect(verify.terminationStatus == 0)
    }

    @Test func aRefusedConnectionFailsAtOnceInOneSentence() async throws {
        let (code, err, took) = try await LedgerctlTests.timedRun(["findings"], token: "x", url: "http://127.0.0.1:1")
        #expect(code == 5)
        #expect(err.contains("connection refused (is ledgerd running there?)"), "\(err)")
        #expect(took < .seconds(1))
    }

    /// A token added to the tokens file works after SIGHUP, without a restart; one removed stops working.
    @Test func sighupReadsTheTokensFileAgain() async throws {
        let daemon = try await LedgerctlTests.Daemon()
        defer { daemon.end() }
        let tokensFile = daemon.data + "/tokens"
        let original = try String(contentsOfFile: tokensFile, encoding: .utf8)
        let newToken = "ldg_test_reloaded_token_0123456789"
        let newLine = "auditor-2 read " + sha256Hex(newToken)
        #expect(try await Self.ctl(["findings"], token: newToken, url: daemon.url).code == 3)
        // Without the first-start read token, with the new one.
        let kept = original.split(separator: "\n").filter { !$0.hasPrefix("initial-read ") }.joined(separator: "\n")
        try (kept + "\n" + newLine + "\n").write(toFile: tokensFile, atomically: false, encoding: .utf8)
        kill(daemon.process.processIdentifier, SIGHUP)
        var answered: Int32 = -1
        for _ in 0..<50 where answered != 0 {
            try await Task.sleep(for: .milliseconds(100))
            answered = try await Self.ctl(["findings"], token: newToken, url: daemon.url).code
        }
        #expect(answered == 0)
        #expect(try await Self.ctl(["findings"], token: daemon.tokens["read"], url: daemon.url).code == 3)
        // A file that does not parse changes nothing.
        try "garbage line\n".write(toFile: tokensFile, atomically: false, encoding: .utf8)
        kill(daemon.process.processIdentifier, SIGHUP)
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await Self.ctl(["findings"], token: newToken, url: daemon.url).code == 0)
        #expect(daemon.process.isRunning)
    }
}

import Crypto

func sha256Hex(_ text: String) -> String {
    SHA256.hash(data: Array(text.utf8)).map { String(format: "%02x", $0) }.joined()
}
