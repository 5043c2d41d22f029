import EventModel
import Foundation
import LedgerHTTP

/// How answers are shown: an aligned table for people, JSON or CSV for machines.
enum Format: String, CaseIterable {
    case table, json, csv
}

struct Renderer {
    var format: Format
    /// The zone times are shown in (`--tz`); nil for UTC.
    var zone: TimeZone?

    /// A table for people: preamble lines, the header and rows. Every value that reaches the
    /// terminal is made visible and measured in columns (`TerminalText`).
    func table(header: [String], rows: [[String]], preamble: [String] = []) {
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

    /// An answer that is one object: JSON as the API gave it, the table, or CSV: `csv` rows with
    /// their columns (every field of the answer), or else the answer's fields flattened.
    func emit(json: JSONValue, header: [String], rows: [[String]], preamble: [String] = [], csv: (columns: [CSVColumn], rows: [JSONValue])? = nil) {
        switch format {
        case .json: print(String(decoding: CanonicalJSON.encode(json), as: UTF8.self))
        case .csv:
            if let csv { self.csv(csv.rows, columns: csv.columns) } else { flatCSV(json) }
        case .table: table(header: header, rows: rows, preamble: preamble)
        }
    }

    /// CSV rows, values byte for byte (no terminal escaping).
    func csv(_ items: [JSONValue], columns: [CSVColumn], header: Bool = true) {
        if header { print(columns.map { CSV.cell($0.name) }.joined(separator: ",")) }
        for item in items { print(columns.map { CSV.cell($0.value(item)) }.joined(separator: ",")) }
    }

    /// One object as one CSV row: nested objects flattened with dotted names, lists as JSON.
    func flatCSV(_ value: JSONValue) {
        var fields: [(String, String)] = []
        func walk(_ value: JSONValue, _ prefix: String) {
            switch value {
            case .object(let members): for member in members { walk(member.value, prefix.isEmpty ? member.key : prefix + "." + member.key) }
            case .string(let s): fields.append((prefix, s))
            case .null: fields.append((prefix, ""))
            default: fields.append((prefix, String(decoding: CanonicalJSON.encode(value), as: UTF8.self)))
            }
        }
        walk(value, "")
        print(fields.map { CSV.cell($0.0) }.joined(separator: ","))
        print(fields.map { CSV.cell($0.1) }.joined(separator: ","))
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

    /// What an event did, in one cell: its changes (`amount: 1000 → 1200`), then its data
    /// (`permission: sales_order.edit, scope: own` — the permission, level, role or request).
    func what(_ event: JSONValue) -> String {
        var parts: [String] = []
        for change in (event["changes"] ?? .null).list {
            let field = change["field"]?.stringValue ?? "?"
            let old = change["old"].map(short) ?? ""
            let new = change["new"].map(short) ?? "(removed)"
            parts.append(old.isEmpty ? "\(field): → \(new)" : "\(field): \(old) → \(new)")
        }
        let data = (event["data"]?.objectMembers ?? []).map { "\($0.key): \(short($0.value))" }
        if !data.isEmpty { parts.append(data.joined(separator: ", ")) }
        return parts.joined(separator: "; ")
    }

    /// An event's type, with a failed outcome standing out in front of it.
    func type(_ event: JSONValue) -> String {
        let type = event["type"]?.stringValue ?? ""
        return event["outcome"]?.stringValue == "failure" ? "FAILED " + type : type
    }

    /// The actor, and on whose behalf or through what when the CRM said.
    func actor(_ event: JSONValue) -> String {
        let actor = event["actor"]
        var text = actor?["id"]?.stringValue ?? ""
        if let onBehalf = actor?["onBehalfOf"]?.stringValue { text += " for \(onBehalf)" }
        if let via = actor?["via"]?.stringValue { text += " (\(via))" }
        return text
    }

    /// Paths of access: `role sales_manager [4,11]; admin module_admin sales_order [8]; direct [12]`.
    func paths(_ value: JSONValue?) -> String {
        (value ?? .null).list.map { p in
            let what = p["role"]?.stringValue.map { "role \($0)" }
                ?? p["level"]?.stringValue.map { "admin \($0)\(p["module"]?.stringValue.map { " " + $0 } ?? "")" } ?? "direct"
            return "\(what) \(p["scope"]?.stringValue.map { "(\($0)) " } ?? "")[\((p["seqs"] ?? .null).list.map { number($0) }.joined(separator: ","))]"
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
}

/// A CSV column: its name and how an item's value is written (text as it is, other JSON compact).
struct CSVColumn: Sendable {
    var name: String
    var value: @Sendable (JSONValue) -> String

    /// The value at a path of member names (`actor.id`).
    init(_ name: String, _ path: [String]? = nil) {
        self.name = name
        let path = path ?? name.split(separator: ".").map(String.init)
        value = { item in
            var current: JSONValue? = item
            for key in path { current = current?[key] }
            return CSVColumn.text(current)
        }
    }

    init(_ name: String, value: @escaping @Sendable (JSONValue) -> String) {
        self.name = name
        self.value = value
    }

    static func text(_ value: JSONValue?) -> String {
        switch value {
        case nil, .null?: ""
        case .string(let s)?: s
        case let other?: String(decoding: CanonicalJSON.encode(other), as: UTF8.self)
        }
    }

    /// Every field of an event as the API gives it; the actor whole too, since the CRM may add any attribute.
    static let event: [CSVColumn] = [
        CSVColumn("seq"), CSVColumn("time"), CSVColumn("recordedAt"), CSVColumn("type"), CSVColumn("outcome"), CSVColumn("actor.id"),
        CSVColumn("actor", ["actor"]), CSVColumn("subject.type"), CSVColumn("subject.id"), CSVColumn("changes"), CSVColumn("data"),
        CSVColumn("reason"), CSVColumn("requestId"), CSVColumn("source"), CSVColumn("id"), CSVColumn("hash"),
    ]

    static let finding: [CSVColumn] = [
        CSVColumn("seq"), CSVColumn("time"), CSVColumn("kind"), CSVColumn("actor"), CSVColumn("subject.type"), CSVColumn("subject.id"),
        CSVColumn("message"), CSVColumn("evidence"), CSVColumn("id"),
    ]
}
