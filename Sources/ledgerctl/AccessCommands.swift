import ArgumentParser
import EventModel
import Foundation
import Projector

struct State: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "A record's fields as of a moment, each with the event that set it.")
    @Argument var type: String
    @Argument var id: String
    @OptionGroup var moment: Moment
    @OptionGroup var connection: Connection
    @OptionGroup var output: Output

    func run() async throws {
        let r = try output.renderer()
        let asOf = try output.times().asOf(moment.asOf)
        try await withBackend(connection) { backend in
            let json = try await backend.get(["v1", "subjects", type, id, "state"], [("asOf", asOf)])
            if json["exists"] != .bool(true) { try await backend.requireSubject(type: type, id: id) }
            let fields = (json["fields"]?.objectMembers ?? [])
            let rows = fields.map { m in
                [m.key, r.short(m.value["value"] ?? .null), r.number(m.value["seq"]), m.value["actor"]?.stringValue ?? "", r.time(m.value["time"])]
            }
            let exists = json["exists"] == .bool(true) ? (json["deleted"] == .bool(true) ? "deleted" : "exists") : "does not exist at that point"
            let asOfText = json["asOf"]?.stringValue ?? ""
            let csvRows: [JSONValue] = fields.map { m in
                .object([
                    JSONMember("subject.type", .string(type)), JSONMember("subject.id", .string(id)), JSONMember("asOf", .string(asOfText)),
                    JSONMember("exists", json["exists"] ?? .null), JSONMember("deleted", json["deleted"] ?? .null), JSONMember("field", .string(m.key)),
                    JSONMember("value", m.value["value"] ?? .null), JSONMember("seq", m.value["seq"] ?? .null), JSONMember("actor", m.value["actor"] ?? .null),
                    JSONMember("time", m.value["time"] ?? .null),
                ])
            }
            let columns = ["subject.type", "subject.id", "asOf", "exists", "deleted", "field", "value", "seq", "actor", "time"].map { CSVColumn($0, [$0]) }
            r.emit(json: json, header: ["FIELD", "VALUE", "SEQ", "ACTOR", "TIME"], rows: rows,
                preamble: ["\(type) \(id) as of \(asOfText): \(exists)"], csv: (columns, csvRows))
        }
    }
}

struct Access: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "A user's status, admin levels, roles and effective permissions as of a moment.")
    @Argument var user: String
    @OptionGroup var moment: Moment
    @OptionGroup var connection: Connection
    @OptionGroup var output: Output

    func run() async throws {
        let r = try output.renderer()
        let asOf = try output.times().asOf(moment.asOf)
        try await withBackend(connection) { backend in
            let json = try await backend.get(["v1", "users", user, "access"], [("asOf", asOf)])
            let exists = json["exists"] == .bool(true)
            if !exists { try await backend.requireSubject(type: "user", id: user) }
            let rows = (json["permissions"] ?? .null).list.map { p in
                [p["permission"]?.stringValue ?? "", p["scope"]?.stringValue ?? "", r.paths(p["via"])]
            }
            let levels = (json["adminLevels"] ?? .null).list.map { "\($0["level"]?.stringValue ?? "")\($0["module"]?.stringValue.map { " " + $0 } ?? "") (seq \(r.number($0["seq"])) by \($0["actor"]?.stringValue ?? ""))" }
            let roles = (json["roles"] ?? .null).list.map { "\($0["role"]?.stringValue ?? "") (seq \(r.number($0["seq"])) by \($0["actor"]?.stringValue ?? ""))" }
            // CSV: one row per fact, every field: the status, each admin level and role with its lineage, each permission with its paths.
            let head = [JSONMember("user", .string(user)), JSONMember("asOf", json["asOf"] ?? .null), JSONMember("exists", json["exists"] ?? .null), JSONMember("status", json["status"] ?? .null)]
            var csvRows: [JSONValue] = [.object(head + [JSONMember("fact", .string("status")), JSONMember("name", json["status"] ?? .null)])]
            for level in (json["adminLevels"] ?? .null).list {
                csvRows.append(.object(head + [
                    JSONMember("fact", .string("admin_level")), JSONMember("name", level["level"] ?? .null), JSONMember("module", level["module"] ?? .null),
                    JSONMember("seq", level["seq"] ?? .null), JSONMember("actor", level["actor"] ?? .null), JSONMember("time", level["time"] ?? .null),
                ]))
            }
            for role in (json["roles"] ?? .null).list {
                csvRows.append(.object(head + [
                    JSONMember("fact", .string("role")), JSONMember("name", role["role"] ?? .null), JSONMember("seq", role["seq"] ?? .null),
                    JSONMember("actor", role["actor"] ?? .null), JSONMember("time", role["time"] ?? .null),
                ]))
            }
            for permission in (json["permissions"] ?? .null).list {
                csvRows.append(.object(head + [
                    JSONMember("fact", .string("permission")), JSONMember("name", permission["permission"] ?? .null),
                    JSONMember("scope", permission["scope"] ?? .null), JSONMember("via", permission["via"] ?? .null),
                ]))
            }
            let columns = ["user", "asOf", "exists", "status", "fact", "name", "module", "scope", "via", "seq", "actor", "time"].map { CSVColumn($0, [$0]) }
            r.emit(json: json, header: ["PERMISSION", "SCOPE", "VIA (paths and the events that make them)"], rows: rows, preamble: [
                "\(user) as of \(json["asOf"]?.stringValue ?? ""): \(exists ? json["status"]?.stringValue ?? "" : "does not exist at that point")",
                "admin levels: \(levels.isEmpty ? "none" : levels.joined(separator: ", "))",
                "roles: \(roles.isEmpty ? "none" : roles.joined(separator: ", "))",
            ], csv: (columns, csvRows))
        }
    }
}

struct Holders: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Who held a permission as of a moment, through which paths and events.")
    @Argument var permission: String
    @OptionGroup var moment: Moment
    @OptionGroup var connection: Connection
    @OptionGroup var output: Output

    func run() async throws {
        let r = try output.renderer()
        let asOf = try output.times().asOf(moment.asOf)
        guard Catalog.isPermission(permission) else {
            throw Mistakes.failure("\(permission) is not a permission: permissions are object.action, such as sales_order.approve")
        }
        try await withBackend(connection) { backend in
            let known = try await backend.vocabulary("permissions")
            guard known.contains(permission) else {
                throw Mistakes.failure("\(permission) is named nowhere in this ledger\(Mistakes.hint(permission, among: known))")
            }
            let json = try await backend.get(["v1", "permissions", permission, "holders"], [("asOf", asOf)])
            let holders = (json["holders"] ?? .null).list
            let rows = holders.map { h in [h["user"]?.stringValue ?? "", h["scope"]?.stringValue ?? "", r.paths(h["via"])] }
            let csvRows: [JSONValue] = holders.map { h in
                .object([JSONMember("permission", .string(permission)), JSONMember("asOf", json["asOf"] ?? .null)] + (h.objectMembers ?? []))
            }
            let columns = ["permission", "asOf", "user", "scope", "via"].map { CSVColumn($0, [$0]) }
            r.emit(json: json, header: ["USER", "SCOPE", "VIA (paths and the events that make them)"], rows: rows,
                preamble: ["\(permission) as of \(json["asOf"]?.stringValue ?? ""): \(holders.count) holder\(holders.count == 1 ? "" : "s")"],
                csv: (columns, csvRows))
        }
    }
}

struct Role: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "A role's fields, grants and members as of a moment, each with the event that made it.")
    @Argument var role: String
    @OptionGroup var moment: Moment
    @OptionGroup var connection: Connection
    @OptionGroup var output: Output

    func run() async throws {
        let r = try output.renderer()
        let asOf = try output.times().asOf(moment.asOf)
        try await withBackend(connection) { backend in
            let known = try await backend.vocabulary("roles")
            guard known.contains(role) else {
                throw Mistakes.failure("no role \(role) in this ledger\(Mistakes.hint(role, among: known))")
            }
            let json = try await backend.get(["v1", "roles", role], [("asOf", asOf)])
            var facts: [JSONValue] = []
            for m in json["fields"]?.objectMembers ?? [] {
                facts.append(.object([JSONMember("fact", .string("field")), JSONMember("name", .string(m.key))] + (m.value.objectMembers ?? [])))
            }
            for grant in (json["grants"] ?? .null).list {
                facts.append(.object([JSONMember("fact", .string("grant")), JSONMember("name", grant["permission"] ?? .null)] + (grant.objectMembers ?? [])))
            }
            for member in (json["members"] ?? .null).list {
                facts.append(.object([JSONMember("fact", .string("member")), JSONMember("name", member["user"] ?? .null)] + (member.objectMembers ?? [])))
            }
            let rows = facts.map { f in
                [f["fact"]?.stringValue ?? "", f["name"]?.stringValue ?? "", f["value"].map(r.short) ?? f["scope"]?.stringValue ?? "",
                 r.number(f["seq"]), f["actor"]?.stringValue ?? "", r.time(f["time"])]
            }
            let head = [JSONMember("role", .string(role)), JSONMember("asOf", json["asOf"] ?? .null), JSONMember("exists", json["exists"] ?? .null)]
            let columns = ["role", "asOf", "exists", "fact", "name", "value", "scope", "seq", "actor", "time"].map { CSVColumn($0, [$0]) }
            let exists = json["exists"] == .bool(true) ? "exists" : "does not exist at that point"
            r.emit(json: json, header: ["FACT", "NAME", "VALUE/SCOPE", "SEQ", "ACTOR", "TIME"], rows: rows,
                preamble: ["role \(role) as of \(json["asOf"]?.stringValue ?? ""): \(exists)"],
                csv: (columns, facts.map { .object(head + ($0.objectMembers ?? [])) }))
        }
    }
}

struct Findings: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Policy violations, in seq order, each in a sentence with its evidence.")
    @Option(help: "Only this kind (e.g. unauthorized_change).") var kind: String?
    @OptionGroup var period: Period
    @OptionGroup var paging: Paging
    @OptionGroup var connection: Connection
    @OptionGroup var output: Output

    func run() async throws {
        let r = try output.renderer()
        let (since, until) = try output.times().range(since: period.since, until: period.until)
        let kinds = Finding.Kind.allCases.map(\.rawValue)
        if let kind, !kinds.contains(kind) {
            throw Mistakes.failure("--kind \(kind) is not a finding kind\(Mistakes.hint(kind, among: kinds)); the kinds: \(kinds.joined(separator: ", "))")
        }
        try await withBackend(connection) { backend in
            try await PagedList(
                path: ["v1", "findings"], query: [("kind", kind), ("since", since), ("until", until)], key: "findings",
                header: ["SEQ", "TIME", "KIND", "ACTOR", "MESSAGE", "EVIDENCE"],
                row: { f in
                    [r.number(f["seq"]), r.time(f["time"]), f["kind"]?.stringValue ?? "", f["actor"]?.stringValue ?? "", f["message"]?.stringValue ?? "",
                     (f["evidence"] ?? .null).list.map { r.number($0) }.joined(separator: ",")]
                },
                csvColumns: CSVColumn.finding
            ).run(backend, paging, r)
        }
    }
}

struct AccessChanges: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "access-changes",
        abstract: "Every permission, admin level and role membership gained or lost between two moments, and the events that caused it.")
    @Option(help: "From this moment: seq:N, a date, a local time in --tz, or RFC 3339.") var from: String
    @Option(help: "To this moment (default now).") var to: String?
    @Option(help: "Only this user.") var user: String?
    @Option(help: "Only this permission.") var permission: String?
    @Option(help: "Only this role's members and membership.") var role: String?
    @Option(help: "Only users in this department at either moment.") var department: String?
    @OptionGroup var connection: Connection
    @OptionGroup var output: Output

    func run() async throws {
        let r = try output.renderer()
        let times = try output.times()
        let (fromCut, toCut) = (try times.asOf(from), try times.asOf(to))
        if let permission, !Catalog.isPermission(permission) {
            throw Mistakes.failure("\(permission) is not a permission: permissions are object.action, such as sales_order.approve")
        }
        try await withBackend(connection) { backend in
            if let role {
                let known = try await backend.vocabulary("roles")
                if !known.contains(role) { throw Mistakes.failure("no role \(role) in this ledger\(Mistakes.hint(role, among: known))") }
            }
            if let user { try await backend.requireSubject(type: "user", id: user) }
            let json = try await backend.get(
                ["v1", "access", "changes"],
                [("from", fromCut), ("to", toCut), ("user", user), ("permission", permission), ("role", role), ("department", department)])
            let changes = (json["changes"] ?? .null).list
            let rows = changes.map { c in
                let scope = c["kind"] == .string("permission")
                    ? "\(c["scopeBefore"]?.stringValue ?? "-") → \(c["scopeAfter"]?.stringValue ?? "-")" : ""
                return [c["user"]?.stringValue ?? "", c["change"]?.stringValue ?? "", c["kind"]?.stringValue ?? "", c["name"]?.stringValue ?? "", scope,
                        (c["causes"] ?? .null).list.map { "\(r.number($0["seq"])) by \($0["actor"]?.stringValue ?? "")" }.joined(separator: ", ")]
            }
            let head = [JSONMember("from", json["from"] ?? .null), JSONMember("to", json["to"] ?? .null)]
            let columns = ["from", "to", "user", "change", "kind", "name", "scopeBefore", "scopeAfter", "pathsBefore", "pathsAfter", "causes"].map { CSVColumn($0, [$0]) }
            r.emit(json: json, header: ["USER", "CHANGE", "KIND", "NAME", "SCOPE", "CAUSED BY"], rows: rows,
                preamble: ["from \(json["from"]?.stringValue ?? "") to \(json["to"]?.stringValue ?? ""): \(changes.count) change\(changes.count == 1 ? "" : "s")"],
                csv: (columns, changes.map { .object(head + ($0.objectMembers ?? [])) }))
        }
    }
}

struct ReviewReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "review-report",
        abstract: "Everyone in a scope as of a moment, their last access review, and who is overdue; signed by the ledger (json).",
        discussion: "--format json prints the signed answer byte for byte: scripts/verify_report.py FILE KEY checks it with the verifier key alone.")
    @Option(help: "Holders of this permission.") var permission: String?
    @Option(help: "Members of this role.") var role: String?
    @Option(name: .customLong("admin-level"), help: "Holders of this admin level: super_admin, admin, module_admin:MODULE.") var adminLevel: String?
    @Option(help: "Users in this department.") var department: String?
    @Option(help: "How often reviews are due: 90d, 12w, 24h.") var period: String = "90d"
    @OptionGroup var moment: Moment
    @OptionGroup var connection: Connection
    @OptionGroup var output: Output

    func run() async throws {
        let r = try output.renderer()
        let asOf = try output.times().asOf(moment.asOf)
        let scopes = [permission, role, adminLevel, department].compactMap { $0 }
        guard scopes.count == 1 else { throw Mistakes.failure("give one of --permission, --role, --admin-level, --department") }
        try await withBackend(connection) { backend in
            let query = [("permission", permission), ("role", role), ("adminLevel", adminLevel), ("department", department), ("period", period), ("asOf", asOf)]
            if r.format == .csv {
                FileHandle.standardOutput.write(Data(try await backend.getBytes(["v1", "reviews", "report"], query + [("format", "csv")])))
                return
            }
            let bytes = try await backend.getBytes(["v1", "reviews", "report"], query)
            if r.format == .json {
                // The signed bytes, as served: a verifier checks exactly these.
                FileHandle.standardOutput.write(Data(bytes))
                return
            }
            let report = (try JSONParser.parse(bytes))["report"] ?? .null
            let holders = (report["holders"] ?? .null).list
            let rows = holders.map { h in
                let review = h["lastReview"]
                return [h["user"]?.stringValue ?? "", h["overdue"] == .bool(true) ? "OVERDUE" : "ok",
                        review.flatMap { $0 == .null ? nil : "\(r.time($0["time"])) by \($0["actor"]?.stringValue ?? "") (\($0["decision"]?.stringValue ?? ""))" } ?? "never",
                        (h["pendingRequests"] ?? .null).list.compactMap { $0["id"]?.stringValue }.joined(separator: ", ")]
            }
            let summary = report["summary"]
            r.table(header: ["USER", "REVIEW", "LAST REVIEW", "PENDING REQUESTS"], rows: rows, preamble: [
                "as of \(report["asOf"]?.stringValue ?? ""), reviews due every \(period): \(r.number(summary?["holders"])) holders, \(r.number(summary?["overdue"])) overdue, \(r.number(summary?["neverReviewed"])) never reviewed",
                "computed at tree size \(r.number(report["treeSize"])), root \(report["root"]?.stringValue ?? "") (signed: --format json)",
            ])
        }
    }
}

struct Requests: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Access requests: who asked, for what, why, how long ago, and who decided, when.")
    @Option(help: "pending, approved or rejected.") var status: String?
    @Option(name: .customLong("older-than"), help: "Submitted more than this long ago: 7d, 12h.") var olderThan: String?
    @Option(help: "Decided by this user.") var approver: String?
    @OptionGroup var paging: Paging
    @OptionGroup var connection: Connection
    @OptionGroup var output: Output

    func run() async throws {
        let r = try output.renderer()
        let statuses = ["pending", "approved", "rejected"]
        if let status, !statuses.contains(status) {
            throw Mistakes.failure("--status \(status) is not a status\(Mistakes.hint(status, among: statuses)): pending, approved or rejected")
        }
        try await withBackend(connection) { backend in
            let columns = ["id", "status", "user", "requester", "role", "permission", "scope", "justification", "submittedAt", "submittedSeq",
                           "ageSeconds", "decidedBy", "decidedAt", "decisionSeq", "decisionReason"].map { CSVColumn($0, [$0]) }
            try await PagedList(
                path: ["v1", "access-requests"], query: [("status", status), ("olderThan", olderThan), ("approver", approver)], key: "requests",
                header: ["ID", "STATUS", "FOR", "BY", "ASKED", "JUSTIFICATION", "SUBMITTED", "AGE", "DECIDED"],
                row: { q in
                    let asked = q["role"]?.stringValue.map { "role \($0)" } ?? q["permission"]?.stringValue.map { "\($0)\(q["scope"]?.stringValue.map { " (\($0))" } ?? "")" } ?? ""
                    let age = Int(r.number(q["ageSeconds"])).map { "\($0 / 86_400)d" } ?? ""
                    let decided = q["decidedBy"]?.stringValue.map { "\($0) at \(r.time(q["decidedAt"]))\(q["decisionReason"]?.stringValue.map { ": " + $0 } ?? "")" } ?? ""
                    return [q["id"]?.stringValue ?? "", q["status"]?.stringValue ?? "", q["user"]?.stringValue ?? "", q["requester"]?.stringValue ?? "", asked,
                            q["justification"]?.stringValue ?? "", r.time(q["submittedAt"]), age, decided]
                },
                csvColumns: columns
            ).run(backend, paging, r)
        }
    }
}
