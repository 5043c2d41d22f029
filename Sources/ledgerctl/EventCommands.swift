import ArgumentParser
import EventModel
import Foundation

/// The columns of a list of events for people: what each one did, who did it, and whether it failed.
enum EventTable {
    /// A record's history (what was done to it), as a list that pages.
    static func history(
        type: String, id: String, field: String? = nil, since: String?, until: String?, _ r: Renderer, preamble: [String] = []
    ) -> PagedList {
        PagedList(
            path: ["v1", "subjects", type, id, "history"], query: [("field", field), ("since", since), ("until", until)], key: "entries",
            header: header(subject: false), row: { row($0, r, subject: false) },
            csvColumns: CSVColumn.event.filter { ["seq", "time", "type", "outcome", "actor.id", "actor", "changes", "data", "reason"].contains($0.name) },
            preamble: preamble)
    }

    static func header(subject: Bool) -> [String] {
        subject ? ["SEQ", "TIME", "ACTOR", "TYPE", "SUBJECT", "WHAT", "REASON"] : ["SEQ", "TIME", "ACTOR", "TYPE", "WHAT", "REASON"]
    }

    static func row(_ e: JSONValue, _ r: Renderer, subject: Bool) -> [String] {
        var row = [r.number(e["seq"]), r.time(e["time"]), r.actor(e), r.type(e)]
        if subject { row.append("\(e["subject"]?["type"]?.stringValue ?? "")/\(e["subject"]?["id"]?.stringValue ?? "")") }
        return row + [r.what(e), e["reason"]?.stringValue ?? ""]
    }
}

struct History: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Who changed what on one record (what was done to it), oldest first.")
    @Argument var type: String
    @Argument var id: String
    @Option(help: "Only this field, with its values.") var field: String?
    @OptionGroup var period: Period
    @OptionGroup var paging: Paging
    @OptionGroup var connection: Connection
    @OptionGroup var output: Output

    func run() async throws {
        let r = try output.renderer()
        let (since, until) = try output.times().range(since: period.since, until: period.until)
        try await withBackend(connection) { backend in
            let list = EventTable.history(type: type, id: id, field: field, since: since, until: until, r)
            try await list.run(backend, paging, r) { try await backend.requireSubject(type: type, id: id) }
        }
    }
}

struct Activity: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Everything an actor did; with --done-to, everything done to them as a user (their history).")
    @Argument var actor: String
    @Flag(name: .customLong("done-to"), help: "What was done to this user instead of what they did.") var doneTo = false
    @OptionGroup var period: Period
    @OptionGroup var paging: Paging
    @OptionGroup var connection: Connection
    @OptionGroup var output: Output

    func run() async throws {
        let r = try output.renderer()
        let (since, until) = try output.times().range(since: period.since, until: period.until)
        try await withBackend(connection) { backend in
            let list = doneTo
                ? EventTable.history(
                    type: "user", id: actor, since: since, until: until, r, preamble: ["done to \(actor) (what \(actor) did: ledgerctl activity \(actor))"])
                : PagedList(
                    path: ["v1", "actors", actor, "activity"], query: [("since", since), ("until", until)], key: "events",
                    header: EventTable.header(subject: true), row: { EventTable.row($0, r, subject: true) }, csvColumns: CSVColumn.event,
                    preamble: ["done by \(actor) (what was done to \(actor): ledgerctl activity \(actor) --done-to)"])
            try await list.run(backend, paging, r) {
                if doneTo {
                    try await backend.requireSubject(type: "user", id: actor)
                } else {
                    try await backend.requireActor(actor)
                }
            }
        }
    }
}

struct Events: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Events by any filter of GET /v1/events: \"who changed this order's amount last quarter\", \"what admin rights changed this month\".")
    @Option(name: .customLong("subject-type"), help: "Subject type (sales_order, user, role, …).") var subjectType: String?
    @Option(name: .customLong("subject-id"), help: "Subject id (with --subject-type).") var subjectId: String?
    @Option(help: "Actor id.") var actor: String?
    @Option(help: "Event type, or a prefix: user.* or user.admin_*.") var type: String?
    @Option(help: "Only events that change this field.") var field: String?
    @Option(name: .customLong("after-seq"), help: "Only events after this seq.") var afterSeq: UInt64?
    @Flag(help: "Newest first.") var newest = false
    @OptionGroup var period: Period
    @OptionGroup var paging: Paging
    @OptionGroup var connection: Connection
    @OptionGroup var output: Output

    func validate() throws {
        if subjectId != nil && subjectType == nil { throw ValidationError("--subject-id needs --subject-type") }
    }

    func run() async throws {
        let r = try output.renderer()
        let (since, until) = try output.times().range(since: period.since, until: period.until)
        if let type, !Catalog.isTypeFilter(type) {
            throw Mistakes.failure("--type \(type) is not an event type (object.action) or a prefix such as user.* or user.admin_*")
        }
        try await withBackend(connection) { backend in
            let list = PagedList(
                path: ["v1", "events"],
                query: [
                    ("subjectType", subjectType), ("subjectId", subjectId), ("actor", actor), ("type", type), ("field", field),
                    ("since", since), ("until", until), ("afterSeq", afterSeq.map(String.init)), ("order", newest ? "desc" : nil),
                ],
                key: "events", header: EventTable.header(subject: true), row: { EventTable.row($0, r, subject: true) },
                csvColumns: CSVColumn.event)
            try await list.run(backend, paging, r) {
                // Nothing: say so when a name is one the ledger has never seen.
                if let subjectType { try await backend.requireSubject(type: subjectType, id: subjectId) }
                if let actor { try await backend.requireActor(actor) }
                if let type, !type.hasSuffix("*") {
                    let known = try await backend.vocabulary("eventTypes")
                    if !known.contains(type) { throw Mistakes.failure("no event of type \(type) in this ledger\(Mistakes.hint(type, among: known))") }
                }
            }
        }
    }
}
