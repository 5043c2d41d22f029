import ArgumentParser
import EventModel
import Foundation

/// `--limit`, `--cursor`, `--all` for the answers that come in pages.
struct Paging: ParsableArguments {
    @Option(help: "At most this many rows (pages are fetched as needed).") var limit: Int = 100
    @Option(help: "Go on where an earlier answer stopped: the cursor it printed.") var cursor: String?
    @Flag(help: "Every row, page after page (with --format csv or json: CSV rows or NDJSON, streamed).") var all = false

    func validate() throws {
        guard limit >= 1 else { throw ValidationError("--limit must be at least 1") }
    }
}

/// A list the API answers in pages (`key` holds the items, `next` the cursor), shown whole: the
/// table says when there is more and how to get it; `--cursor` goes on; `--all` fetches every page.
struct PagedList {
    var path: [String]
    var query: [(String, String?)]
    /// The member holding the items: `events`, `entries`, `findings`.
    var key: String
    var header: [String]
    var row: (JSONValue) -> [String]
    var csvColumns: [CSVColumn]
    var preamble: [String] = []

    static let pageSize = 1000

    /// Shows the list; returns how many items it showed. `whenEmpty` runs before an empty first
    /// page is shown: it throws when the answer is empty because of a typo.
    @discardableResult
    func run(_ backend: Backend, _ paging: Paging, _ r: Renderer, whenEmpty: (() async throws -> Void)? = nil) async throws -> Int {
        var cursor = paging.cursor
        var remaining = paging.all ? Int.max : paging.limit
        var items: [JSONValue] = []
        var first: JSONValue?
        var next: String?
        var shown = 0
        // --all with a machine format streams; everything else is gathered, then shown at once.
        let streaming = paging.all && r.format != .table
        repeat {
            let json = try await backend.get(path, query + [("limit", String(min(Self.pageSize, remaining))), ("cursor", cursor)])
            let page = (json[key] ?? .null).list
            next = json["next"]?.stringValue
            if first == nil, page.isEmpty, paging.cursor == nil, let whenEmpty { try await whenEmpty() }
            if first == nil { first = json }
            if streaming {
                if r.format == .csv {
                    r.csv(page, columns: csvColumns, header: shown == 0)
                } else {
                    for item in page { print(String(decoding: CanonicalJSON.encode(item), as: UTF8.self)) }
                }
            } else {
                items += page
            }
            shown += page.count
            remaining -= page.count
            cursor = next
        } while next != nil && remaining > 0
        guard !streaming else { return shown }
        switch r.format {
        case .json:
            // The first page's answer, holding every item gathered and the last cursor.
            var members = first?.objectMembers ?? []
            for i in members.indices {
                if members[i].key == key { members[i].value = .array(items) }
                if members[i].key == "next" { members[i].value = next.map { .string($0) } ?? .null }
            }
            print(String(decoding: CanonicalJSON.encode(.object(members)), as: UTF8.self))
        case .csv:
            r.csv(items, columns: csvColumns)
            if let next { FileHandle.standardError.write(Data("ledgerctl: more rows: \(Self.commandGoingOn(from: next)), or --all\n".utf8)) }
        case .table:
            r.table(header: header, rows: items.map(row), preamble: preamble)
            if let next {
                print(TerminalText.visible("… more after these \(items.count): \(Self.commandGoingOn(from: next))   (or --all for every row)"))
            }
        }
        return shown
    }

    /// This very command line with `--cursor next` in place of any cursor it had, quoted for a shell.
    static func commandGoingOn(from next: String) -> String {
        var words: [String] = ["ledgerctl"]
        var arguments = Array(CommandLine.arguments.dropFirst())[...]
        while let word = arguments.popFirst() {
            if word == "--cursor" {
                _ = arguments.popFirst()
            } else if !word.hasPrefix("--cursor=") {
                words.append(word)
            }
        }
        return (words + ["--cursor", next]).map(shellQuoted).joined(separator: " ")
    }

    static func shellQuoted(_ word: String) -> String {
        let plain = word.allSatisfy { $0.isLetter || $0.isNumber || "-_./:=@,+%*".contains($0) } && !word.contains("*")
        return plain && !word.isEmpty ? word : "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
