import EventModel
import Foundation
import HTTPTypes
import Hummingbird
import LedgerHTTP
import Projector
import Queries

/// One request for a page: who asks, in which language and time zone, and its form fields, checked.
struct PageContext: Sendable {
    let session: SessionStore.Session
    let language: Language
    let zone: DisplayZone
    let path: String
    /// The query's fields with a value (an empty form box is no filter), without `lang` and `tz`.
    let fields: [String: String]
    /// Whether `lang` or `tz` was chosen on this request, to be remembered in a cookie.
    private let chosenLanguage: Language?
    private let chosenZone: DisplayZone?

    init(request: Request, session: SessionStore.Session) throws {
        let query = FormFields(query: request.uri.query)
        if let repeated = query.repeated {
            throw APIError(.badRequest, "invalid_parameter", "query parameter \(repeated) is given twice", field: repeated)
        }
        self.session = session
        path = request.uri.path
        chosenLanguage = query["lang"].flatMap(Language.init(rawValue:))
        language = chosenLanguage ?? Language.of(request, choice: nil)
        if let name = query["tz"] {
            guard let zone = DisplayZone(identifier: name), DisplayZone.offered.contains(zone) else {
                throw APIError(.badRequest, "invalid_parameter", "tz must be one of \(DisplayZone.offered.map(\.identifier).joined(separator: ", "))", field: "tz")
            }
            chosenZone = zone
        } else {
            chosenZone = nil
        }
        zone = chosenZone ?? request.cookies["ledger_tz"].flatMap { DisplayZone(identifier: $0.value) } ?? .utc
        var fields: [String: String] = [:]
        for (name, value) in query.pairs where name != "lang" && name != "tz" && !value.trimmingCharacters(in: .whitespaces).isEmpty {
            fields[name] = value.trimmingCharacters(in: .whitespaces)
        }
        self.fields = fields
    }

    /// Refuses fields this page does not take: a mistyped filter must not silently widen an answer.
    func allow(_ names: Set<String>) throws {
        for name in fields.keys.sorted() where !names.contains(name) && !["format", "table", "offset"].contains(name) {
            throw APIError(.badRequest, "unknown_parameter", "this page does not take \"\(name.prefix(64))\"", field: name)
        }
        if let offset = fields["offset"], Int(offset).map({ $0 < 0 }) ?? true {
            throw APIError(.badRequest, "invalid_parameter", "offset must be a row number, 0 or more", field: "offset")
        }
    }

    /// Where the reader paged a long table to: `offset` when `table` names it, else its first row.
    func rowsFrom(_ table: String) -> Int {
        fields["table"] == table ? fields["offset"].flatMap { Int($0) }.map { max(0, $0) } ?? 0 : 0
    }

    subscript(_ name: String) -> String? { fields[name] }

    func t(_ key: Text) -> String { language.text(key) }

    /// A time in the reader's zone, its UTC ISO 8601 form on hover and in the markup.
    func time(_ instant: Instant) -> HTML {
        let utc = instant.utcText
        return "<time datetime=\"\(utc)\" title=\"\(utc)\">\(zone.format(instant))</time>"
    }

    /// The moment a field names (`asOf`, `from`, `to`), in the reader's zone.
    func moment(_ name: String) throws -> AsOf { try zone.parseMoment(fields[name], field: name) }

    /// A whole number field, 1 ≤ n.
    func seq(_ name: String) throws -> UInt64? {
        guard let text = fields[name] else { return nil }
        guard let n = UInt64(text), n > 0 else {
            throw APIError(.badRequest, "invalid_parameter", "\(name) must be a whole number ≥ 1", field: name)
        }
        return n
    }

    /// This page's URL with some fields replaced (nil removes one): for paging and downloads.
    func url(replacing changes: [String: String?]) -> String {
        var merged = fields
        for (name, value) in changes { merged[name] = value ?? nil }
        let query = merged.sorted { $0.key < $1.key }.map { URLPath.encode($0.key) + "=" + URLPath.encode($0.value) }
        return path + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
    }

    /// Cookies that remember a language or zone picked on this request.
    func preferenceCookies(secure: Bool) -> [Cookie] {
        var out: [Cookie] = []
        let year = 365 * 86400
        if let chosenLanguage {
            out.append(Cookie(name: "ledger_lang", value: chosenLanguage.rawValue, maxAge: year, path: "/ui", secure: secure, httpOnly: true, sameSite: .strict))
        }
        if let chosenZone {
            out.append(Cookie(name: "ledger_tz", value: chosenZone.identifier, maxAge: year, path: "/ui", secure: secure, httpOnly: true, sameSite: .strict))
        }
        return out
    }

    /// The page in the console's layout.
    func respond(title: String, _ body: HTML, status: HTTPResponse.Status = .ok) -> Response {
        Layout.page(self, title: title, body: body, status: status)
    }

    /// A table as a download.
    func csv(_ name: String, _ table: CSV) -> Response {
        csvResponse(table.text, filename: name.unicodeScalars.allSatisfy { $0.isASCII && $0 != "\"" } ? name + ".csv" : "ledger.csv")
    }

    /// Whether this request asks for a download of one of the page's tables or its evidence.
    var wantsCSV: Bool { fields["format"] == "csv" }
    var wantsBundle: Bool { fields["format"] == "bundle" }

    /// The table the request names, as CSV.
    func download(_ tables: [String: CSVRows]) throws -> Response {
        guard fields["format"] == "csv" else {
            throw APIError(.badRequest, "invalid_parameter", "format must be csv or bundle", field: "format")
        }
        guard let name = fields["table"], let rows = tables[name] else {
            throw APIError(.badRequest, "invalid_parameter", "table must be one of \(tables.keys.sorted().joined(separator: ", "))", field: "table")
        }
        var table = CSV(header: rows.header)
        for row in rows.rows { table.append(row) }
        return csv(name, table)
    }
}

/// `application/x-www-form-urlencoded` fields, as browsers send them in a query or a POST body
/// (`+` is a space).
struct FormFields {
    private(set) var pairs: [(String, String)] = []
    /// A name given twice, which a page refuses.
    private(set) var repeated: String?

    init(query: String?) {
        guard let query else { return }
        var seen = Set<String>()
        for part in query.split(separator: "&", omittingEmptySubsequences: true) {
            let halves = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = Self.decode(halves[0])
            let value = halves.count > 1 ? Self.decode(halves[1]) : ""
            if !seen.insert(name).inserted, repeated == nil { repeated = name }
            pairs.append((name, value))
        }
    }

    static func body(of request: Request) async throws -> FormFields {
        let buffer = try await request.body.collect(upTo: 16 * 1024)
        return FormFields(query: String(buffer: buffer))
    }

    subscript(_ name: String) -> String? { pairs.first { $0.0 == name }?.1 }

    private static func decode(_ text: Substring) -> String {
        let spaced = text.replacingOccurrences(of: "+", with: " ")
        return spaced.removingPercentEncoding ?? spaced
    }
}
