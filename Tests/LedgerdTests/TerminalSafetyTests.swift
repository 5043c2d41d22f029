import EventModel
import Foundation
import Testing

/// Values from the CRM reach an auditor's terminal as text: no control byte, escape sequence or bidi
/// override gets through a table, rows cannot be forged, and columns line up by display width.
@Suite struct TerminalSafetyTests {
    static let hostile = [
        "1\nFAKE  2026-01-05 09:00:00Z  u-9999  sales_order.updated  amount: 1 → 2",
        "\u{1b}[8mhidden\u{1b}[0m\r", "\u{202e}gnp.exe", "tab\there", "bell\u{7}", "c1\u{9b}31m", "zero\u{200b}width",
        String(repeating: "长", count: 300), "华为", "系统管理员", "🙂 emoji",
    ]

    @Test func hostileValuesAreShownAsTextInEveryTable() async throws {
        let daemon = try await LedgerctlTests.Daemon()
        defer { daemon.end() }
        let ctl = LedgerctlTests()
        var lines = [
            #"{"id":"t0","type":"user.created","time":"2026-03-01T09:00:00Z","actor":{"id":"system"},"subject":{"type":"user","id":"u-root"},"changes":[{"field":"department","new":"it"}]}"#
        ]
        for (i, value) in Self.hostile.enumerated() {
            let json = String(decoding: CanonicalJSON.encode(.string(value)), as: UTF8.self)
            lines.append(#"{"id":"t\#(i + 1)","type":"sales_order.updated","time":"2026-03-01T09:0\#(i % 10):00Z","actor":{"id":"u-root"},"subject":{"type":"sales_order","id":"SO-1"},"changes":[{"field":"customer","new":\#(json)}],"reason":\#(json)}"#)
        }
        // A role whose name, and a user whose department, come from the CRM too.
        let evil = String(decoding: CanonicalJSON.encode(.string(Self.hostile[0] + Self.hostile[1])), as: UTF8.self)
        lines.append(#"{"id":"r1","type":"role.created","time":"2026-03-01T10:00:00Z","actor":{"id":"u-root"},"subject":{"type":"role","id":"r-hostile"},"changes":[{"field":"name","new":\#(evil)}]}"#)
        lines.append(#"{"id":"r2","type":"user.admin_granted","time":"2026-03-01T10:01:00Z","actor":{"id":"system"},"subject":{"type":"user","id":"u-root"},"data":{"level":"super_admin"}}"#)
        lines.append(#"{"id":"r3","type":"user.updated","time":"2026-03-01T10:02:00Z","actor":{"id":"u-root"},"subject":{"type":"user","id":"u-root"},"changes":[{"field":"department","new":\#(evil)}]}"#)
        #expect(try await ctl.ctl(["append", "-"], token: daemon.tokens["ingest"], url: daemon.url, stdin: lines.joined(separator: "\n")).0 == 0)
        let read = daemon.tokens["read"]
        for command in [
            ["history", "sales_order", "SO-1"], ["activity", "u-root"], ["state", "sales_order", "SO-1"], ["findings"],
            ["history", "sales_order", "SO-1", "--data-dir", daemon.data], ["events", "--subject-type", "sales_order"],
            ["events", "--actor", "u-root", "--all"], ["activity", "u-root", "--done-to"], ["access", "u-root"], ["holders", "user.manage"],
            ["role", "r-hostile"], ["state", "user", "u-root"],
        ] {
            let (code, out) = try await ctl.ctl(command, token: read, url: daemon.url)
            #expect(code == 0, "\(command)")
            let bytes = Array(out.utf8)
            #expect(!bytes.contains { ($0 < 0x20 && $0 != 0x0A) || $0 == 0x7F }, "\(command): a control byte reached standard output")
            #expect(!out.unicodeScalars.contains { $0.properties.generalCategory == .format || (0x80...0x9F).contains($0.value) }, "\(command)")
            #expect(!out.contains("\nFAKE"), "\(command): a forged row")
        }
        let (_, history) = try await ctl.ctl(["history", "sales_order", "SO-1"], token: read, url: daemon.url)
        let rows = history.split(separator: "\n")
        #expect(rows.count == 1 + Self.hostile.count)
        #expect(history.contains(#"1\nFAKE"#) && history.contains(#"\x1b[8mhidden"#) && history.contains(#"\u{202e}gnp.exe"#), "\(history)")
        // Wide characters count two columns: every row's REASON column starts at the same display column.
        let header = String(rows[0])
        let reasonColumn = TerminalWidth.columns(String(header[..<header.range(of: "REASON")!.lowerBound]))
        for row in rows.dropFirst() {
            let text = String(row)
            // The REASON cell starts exactly at the header's column, and with the row's value.
            var used = 0
            var index = text.startIndex
            while index < text.endIndex, used < reasonColumn {
                used += TerminalWidth.columns(String(text[index]))
                index = text.index(after: index)
            }
            #expect(used == reasonColumn, "\(text)")
            for marker in ["华为", "系统管理员", "长长"] where text.contains(marker) {
                #expect(text[index...].hasPrefix(marker), "\(text)")
            }
            #expect(TerminalWidth.columns(text) <= reasonColumn + 60, "a long value is cut: \(text.count)")
        }
        // CSV and JSON keep the values byte for byte.
        let (_, json) = try await ctl.ctl(["history", "sales_order", "SO-1", "--format", "json"], token: read, url: daemon.url)
        #expect(json.contains(String(decoding: CanonicalJSON.encode(.string(Self.hostile[1])), as: UTF8.self)))
        // A value a spreadsheet would run as a formula is inert in CSV, as in the console's downloads.
        let formula = #"{"id":"f1","type":"sales_order.updated","time":"2026-03-01T11:00:00Z","actor":{"id":"u-root"},"subject":{"type":"sales_order","id":"SO-F"},"changes":[{"field":"customer","new":"=HYPERLINK(\"http://evil\")"}]}"#
        #expect(try await ctl.ctl(["append", "-"], token: daemon.tokens["ingest"], url: daemon.url, stdin: formula).0 == 0)
        let (_, csv) = try await ctl.ctl(["state", "sales_order", "SO-F", "--format", "csv"], token: read, url: daemon.url)
        #expect(csv.contains(#""'=HYPERLINK(""http://evil"")""#) && !csv.contains(#","=HYPERLINK"#), "\(csv)")
    }
}

/// Display columns, computed independently of ledgerctl's own code: wide CJK and emoji count two.
enum TerminalWidth {
    static func columns(_ text: String) -> Int {
        text.unicodeScalars.reduce(0) { total, scalar in
            let v = scalar.value
            let wide = (0x1100...0x115F).contains(v) || (0x2E80...0xA4CF).contains(v) || (0xAC00...0xD7A3).contains(v)
                || (0xF900...0xFAFF).contains(v) || (0xFF00...0xFF60).contains(v) || (0x1F300...0x1F64F).contains(v)
            return total + (wide ? 2 : 1)
        }
    }
}
