import ArgumentParser
import EventModel
import Foundation
import LedgerHTTP
import Projector

/// `ledgerctl tail [-f]`: the last events (or findings) of the ledger, and with `-f` the new ones as
/// they are committed, over the daemon's streams. A dropped connection (a daemon restart) is
/// reopened from the last one shown, so nothing is missed and nothing is shown twice.
struct Tail: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The last events (or findings, --findings); with -f, the new ones as they come, until interrupted.")
    @Flag(name: [.customShort("f"), .customLong("follow")], help: "Keep showing new ones as they are committed (needs the daemon).") var follow = false
    @Option(name: [.customShort("n"), .customLong("lines")], help: "How many of the last ones to show first.") var lines = 10
    @Flag(help: "Findings instead of events.") var findings = false
    @Option(help: "Findings of this kind only (with --findings).") var kind: String?
    @Option(name: .customLong("subject-type"), help: "Subject type (sales_order, user, role, …).") var subjectType: String?
    @Option(name: .customLong("subject-id"), help: "Subject id (with --subject-type).") var subjectId: String?
    @Option(help: "Actor id.") var actor: String?
    @Option(help: "Event type, or a prefix: user.* or user.admin_*.") var type: String?
    @Option(help: "Only events that change this field.") var field: String?
    @OptionGroup var connection: Connection
    @OptionGroup var output: Output

    func validate() throws {
        if lines < 0 || lines > 10_000 { throw ValidationError("--lines must be 0 to 10000") }
        if subjectId != nil && subjectType == nil { throw ValidationError("--subject-id needs --subject-type") }
        let eventFilters = [subjectType, subjectId, actor, type, field].contains { $0 != nil }
        if findings && eventFilters { throw ValidationError("--subject-type, --subject-id, --actor, --type and --field filter events, not --findings") }
        if kind != nil && !findings { throw ValidationError("--kind needs --findings") }
    }

    func run() async throws {
        let r = try output.renderer()
        if let type, !Catalog.isTypeFilter(type) {
            throw Mistakes.failure("--type \(type) is not an event type (object.action) or a prefix such as user.* or user.admin_*")
        }
        let kinds = Finding.Kind.allCases.map(\.rawValue)
        if let kind, !kinds.contains(kind) {
            throw Mistakes.failure("--kind \(kind) is not a finding kind\(Mistakes.hint(kind, among: kinds)); the kinds: \(kinds.joined(separator: ", "))")
        }
        try await withBackend(connection) { backend in
            let lines = findings ? FollowedLines.findings(r) : FollowedLines.events(r)
            lines.start()
            var position: String?
            if findings {
                position = try await lastFindings(backend, lines)
            } else {
                position = try await lastEvents(backend, lines)
            }
            guard follow else { return }
            // From the last one shown (or the beginning, when nothing matched yet): nothing falls in between.
            let streamPath = findings ? ["v1", "findings", "stream"] : ["v1", "stream"]
            let query: [(String, String?)] =
                findings ? [("kind", kind)] : filters + [("afterSeq", position == nil ? "0" : nil)]
            var failures = 0
            while true {
                do {
                    try await backend.follow(streamPath, query, lastEventID: position) { message in
                        guard let data = message.data, let json = try? JSONParser.parse(Array(data.utf8)) else { return }
                        lines.show(json)
                        position = message.id ?? position
                        failures = 0
                    }
                } catch let failure as CommandFailure where failure.exitCode == 2 || failure.exitCode == 3 {
                    throw failure
                } catch {
                    failures += 1
                    FileHandle.standardError.write(Data("ledgerctl: the stream broke (\(Backend.plain(error))); reconnecting\n".utf8))
                }
                try await Task.sleep(for: .seconds(min(failures, 10)))
            }
        }
    }

    private var filters: [(String, String?)] {
        [("subjectType", subjectType), ("subjectId", subjectId), ("actor", actor), ("type", type), ("field", field)]
    }

    /// Shows the last `lines` matching events, oldest first; returns the seq of the last one shown.
    private func lastEvents(_ backend: Backend, _ out: FollowedLines) async throws -> String? {
        guard lines > 0 else {
            // Nothing to show: follow from the head.
            let head = try await backend.get(["v1", "events"], [("order", "desc"), ("limit", "1")])
            return (head["events"] ?? .null).list.first.map { Renderer(format: .json).number($0["seq"]) } ?? "0"
        }
        let page = try await backend.get(["v1", "events"], filters + [("order", "desc"), ("limit", String(lines))])
        // As the stream sends them: the stored record, without the hash /v1/events adds.
        let events = (page["events"] ?? .null).list.reversed().map { event in
            guard case .object(let members) = event else { return event }
            return JSONValue.object(members.filter { $0.key != "hash" })
        }
        for event in events { out.show(event) }
        return events.last.map { Renderer(format: .json).number($0["seq"]) }
    }

    /// Shows the last `lines` findings (of `kind`); returns the stream cursor of the last one shown.
    private func lastFindings(_ backend: Backend, _ out: FollowedLines) async throws -> String? {
        var last: [JSONValue] = []
        var cursor: String?
        repeat {
            let page = try await backend.get(["v1", "findings"], [("kind", kind), ("limit", "1000"), ("cursor", cursor)])
            last = Array((last + (page["findings"] ?? .null).list).suffix(max(lines, 1)))
            cursor = page["next"]?.stringValue
        } while cursor != nil
        for finding in last.suffix(lines) { out.show(finding) }
        // The stream's id for the last finding there is (shown or not), so following starts after it.
        return last.last.flatMap { Finding(json: $0) }.map { LiveProjector.cursor(of: $0) } ?? LiveProjector.cursor(afterSeq: 0)
    }
}

/// Lines shown one at a time, as they come: a table's columns cannot be measured in advance, so
/// the header is printed once and each row follows with two spaces between its cells.
struct FollowedLines {
    var header: [String]
    var row: (JSONValue) -> [String]
    var csvColumns: [CSVColumn]
    var renderer: Renderer

    static func events(_ r: Renderer) -> FollowedLines {
        FollowedLines(header: EventTable.header(subject: true), row: { EventTable.row($0, r, subject: true) }, csvColumns: CSVColumn.event, renderer: r)
    }

    static func findings(_ r: Renderer) -> FollowedLines {
        FollowedLines(
            header: ["SEQ", "TIME", "KIND", "ACTOR", "MESSAGE", "EVIDENCE"],
            row: { f in
                [r.number(f["seq"]), r.time(f["time"]), f["kind"]?.stringValue ?? "", f["actor"]?.stringValue ?? "", f["message"]?.stringValue ?? "",
                 (f["evidence"] ?? .null).list.map { r.number($0) }.joined(separator: ",")]
            },
            csvColumns: CSVColumn.finding, renderer: r)
    }

    func start() {
        switch renderer.format {
        case .table: printLine(header.map { TerminalText.cell($0) }.joined(separator: "  "))
        case .csv: printLine(csvColumns.map { CSV.cell($0.name) }.joined(separator: ","))
        case .json: break
        }
    }

    /// One item: a table row, a CSV row, or its JSON on a line of its own (NDJSON).
    func show(_ item: JSONValue) {
        switch renderer.format {
        case .table: printLine(row(item).map { TerminalText.cell($0) }.joined(separator: "  "))
        case .csv: printLine(csvColumns.map { CSV.cell($0.value(item)) }.joined(separator: ","))
        case .json: printLine(String(decoding: CanonicalJSON.encode(item), as: UTF8.self))
        }
    }

    /// Printed and flushed at once: a pipe (`| grep`) sees each line as it comes.
    private func printLine(_ line: String) {
        print(line)
        fflush(nil)  // all streams: Swift 6 refuses the global `stdout`
    }
}

/// One message of a Server-Sent Events stream.
struct ServerSentEvent {
    var id: String?
    var event: String?
    var data: String?

    /// Splits the bytes of a stream into messages (a blank line ends each); comments are skipped.
    struct Parser {
        private var pending: [UInt8] = []

        mutating func feed(_ bytes: some Collection<UInt8>) -> [ServerSentEvent] {
            pending.append(contentsOf: bytes)
            var messages: [ServerSentEvent] = []
            while let end = pending.firstRange(of: [0x0A, 0x0A]) {
                let block = String(decoding: pending[..<end.lowerBound], as: UTF8.self)
                pending.removeSubrange(..<end.upperBound)
                var message = ServerSentEvent()
                for line in block.split(separator: "\n") where !line.hasPrefix(":") {
                    let (name, value) = line.firstIndex(of: ":").map { (line[..<$0], line[line.index(after: $0)...]) } ?? (line[...], ""[...])
                    let text = String(value.hasPrefix(" ") ? value.dropFirst() : value)
                    switch name {
                    case "id": message.id = text
                    case "event": message.event = text
                    case "data": message.data = message.data.map { $0 + "\n" + text } ?? text
                    default: break
                    }
                }
                if message.data != nil { messages.append(message) }
            }
            return messages
        }
    }
}
