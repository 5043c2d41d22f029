import EventModel
import Foundation

/// How answers are shown: an aligned table for people, JSON or CSV for machines.
enum Format: String, CaseIterable {
    case table, json, csv
}

struct Renderer {
    var format: Format
    /// Seconds east of UTC for times shown to people (`--tz`); nil for UTC.
    var zone: TimeZone?

    /// A table: header and rows; JSON prints `json` as the API gave it.
    func emit(json: JSONValue, header: [String], rows: [[String]], preamble: [String] = []) {
        switch format {
        case .json:
            print(String(decoding: CanonicalJSON.encode(json), as: UTF8.self))
        case .csv:
            print(header.map(csvField).joined(separator: ","))
            for row in rows { print(row.map(csvField).joined(separator: ",")) }
        case .table:
            // Every value that reaches the terminal is made visible and measured in columns (TerminalText).
            for line in preamble { print(TerminalText.visible(line)) }
            if rows.isEmpty {
                print("(none)")
                return
            }
            let cells = ([header] + rows).map { row in row.map { TerminalText.cell($0) } }
            let widths = header.indices.map { c in cells.map { TerminalText.width($0[c]) }.max() ?? 0 }
            for row in cells {
                let line = row.enumerated().map { TerminalText.padded($0.element, to: widths[$0.offset]) }.joined(separator: "  ")
                print(String(line.reversed().drop(while: { $0 == " " }).reversed()))
            }
        }
    }

    /// A time from the API (RFC 3339 UTC) as people read it: `2026-03-01 17:00:00 +08:00`, or `…Z` in UTC.
    func time(_ value: JSONValue?) -> String {
        guard let text = value?.stringValue, let instant = Instant(rfc3339: text) else { return value?.stringValue ?? "" }
        guard format == .table else { return text }
        guard let zone else {
            return text.replacingOccurrences(of: "T", with: " ")
        }
        let offset = zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(instant.seconds)))
        let local = Instant(seconds: instant.seconds + Int64(offset), nanoseconds: instant.nanoseconds).utcText
        let sign = offset < 0 ? "-" : "+"
        let hours = abs(offset) / 3600
        let minutes = abs(offset) % 3600 / 60
        return local.dropLast().replacingOccurrences(of: "T", with: " ") + " \(sign)\(hours < 10 ? "0" : "")\(hours):\(minutes < 10 ? "0" : "")\(minutes)"
    }

    /// `amount: 1000 → 1200; status: → draft`
    func changes(_ value: JSONValue?) -> String {
        guard case .array(let list)? = value else { return "" }
        return list.map { change in
            let field = change["field"]?.stringValue ?? "?"
            let old = change["old"].map(short) ?? ""
            let new = change["new"].map(short) ?? "(removed)"
            return old.isEmpty ? "\(field): → \(new)" : "\(field): \(old) → \(new)"
        }.joined(separator: "; ")
    }

    func short(_ value: JSONValue) -> String {
        if case .string(let s) = value { return s }
        return String(decoding: CanonicalJSON.encode(value), as: UTF8.self)
    }

    func number(_ value: JSONValue?) -> String {
        if case .number(let n)? = value { return n }
        return value.map(short) ?? ""
    }

    private func csvField(_ text: String) -> String {
        text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }) ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
    }
}
