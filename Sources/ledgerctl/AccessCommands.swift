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
