import EventModel
import Projector

/// Who made a fact: the event's seq, actor and time.
public struct Lineage: Sendable, Equatable {
    public var seq: UInt64
    public var actor: String
    public var time: Instant

    public init(seq: UInt64, actor: String, time: Instant) {
        self.seq = seq
        self.actor = actor
        self.time = time
    }

    /// The event that made the fact.
    init(of event: StoredEvent) { self.init(seq: event.seq, actor: event.envelope.actor.id, time: event.envelope.instant) }

    /// An event whose record could not be read: its seq alone.
    static func unknown(_ seq: UInt64) -> Lineage { Lineage(seq: seq, actor: "", time: Instant(seconds: 0)) }

    var members: [JSONMember] {
        [JSONMember("seq", .number(String(seq))), JSONMember("actor", .string(actor)), JSONMember("time", .string(time.utcText))]
    }
}

public struct FieldAnswer: Sendable, Equatable {
    public var value: JSONValue
    public var lineage: Lineage
}

/// `GET /v1/subjects/{type}/{id}/state`
public struct RecordStateAnswer: Sendable, Equatable {
    public var subject: Envelope.Subject
    public var asOf: String
    public var exists: Bool
    public var deleted: Bool
    public var fields: [(name: String, field: FieldAnswer)]

    public static func == (a: Self, b: Self) -> Bool {
        a.subject == b.subject && a.asOf == b.asOf && a.exists == b.exists && a.deleted == b.deleted
            && a.fields.map(\.name) == b.fields.map(\.name) && a.fields.map(\.field) == b.fields.map(\.field)
    }

    public var json: JSONValue {
        .object([
            JSONMember("subject", subjectJSON(subject)), JSONMember("asOf", .string(asOf)),
            JSONMember("exists", .bool(exists)), JSONMember("deleted", .bool(deleted)),
            JSONMember("fields", .object(fields.map { JSONMember($0.name, .object([JSONMember("value", $0.field.value)] + $0.field.lineage.members)) })),
        ])
    }
}

public struct PathAnswer: Sendable, Equatable {
    public var path: AccessPath

    /// Members in key order (kind, level, module, role, scope, seqs): the canonical encoder then has nothing to sort.
    var json: JSONValue {
        var members = [JSONMember("kind", .string(path.kind.rawValue))]
        if let level = path.level {
            members.append(JSONMember("level", .string(level.level)))
            if let module = level.module { members.append(JSONMember("module", .string(module))) }
        }
        if let role = path.role { members.append(JSONMember("role", .string(role))) }
        members.append(JSONMember("scope", .string(path.scope.name)))
        members.append(JSONMember("seqs", .array(path.seqs.map { .number(String($0)) })))
        return .object(members)
    }

    /// `CanonicalJSON.encode(json)`, written straight out.
    func write(into out: inout [UInt8]) {
        out.append(contentsOf: #"{"kind":""#.utf8)
        out.append(contentsOf: path.kind.rawValue.utf8)
        out.append(UInt8(ascii: "\""))
        if let level = path.level {
            out.append(contentsOf: #","level":"#.utf8)
            CanonicalJSON.writeString(level.level, into: &out)
            if let module = level.module {
                out.append(contentsOf: #","module":"#.utf8)
                CanonicalJSON.writeString(module, into: &out)
            }
        }
        if let role = path.role {
            out.append(contentsOf: #","role":"#.utf8)
            CanonicalJSON.writeString(role, into: &out)
        }
        out.append(contentsOf: #","scope":""#.utf8)
        out.append(contentsOf: path.scope.name.utf8)
        out.append(contentsOf: #"","seqs":["#.utf8)
        for (i, seq) in path.seqs.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            CanonicalJSON.writeInteger(seq, into: &out)
        }
        out.append(contentsOf: "]}".utf8)
    }
}

/// `GET /v1/users/{id}/access`
public struct AccessAnswer: Sendable, Equatable {
    public struct Level: Sendable, Equatable { public var level: AdminLevel; public var lineage: Lineage }
    public struct Role: Sendable, Equatable { public var role: String; public var lineage: Lineage }
    public struct Permission: Sendable, Equatable { public var permission: String; public var scope: Scope; public var via: [AccessPath] }
    public struct Review: Sendable, Equatable { public var decision: String; public var lineage: Lineage }

    public var user: String
    public var asOf: String
    public var exists: Bool
    public var status: UserStatus?
    public var adminLevels: [Level]
    public var roles: [Role]
    public var permissions: [Permission]
    /// The last access review completed by then.
    public var lastReview: Review? = nil

    public func permission(_ name: String) -> Permission? { permissions.first { $0.permission == name } }

    public var json: JSONValue {
        .object([
            JSONMember("user", .string(user)), JSONMember("asOf", .string(asOf)), JSONMember("exists", .bool(exists)),
            JSONMember("status", status.map { .string($0.rawValue) } ?? .null),
            JSONMember("adminLevels", .array(adminLevels.map {
                .object([JSONMember("level", .string($0.level.level)), JSONMember("module", $0.level.module.map { .string($0) } ?? .null)] + $0.lineage.members)
            })),
            JSONMember("roles", .array(roles.map { .object([JSONMember("role", .string($0.role))] + $0.lineage.members) })),
            JSONMember("lastReview", lastReview.map { .object([JSONMember("decision", .string($0.decision))] + $0.lineage.members) } ?? .null),
            JSONMember("permissions", .array(permissions.map {
                .object([
                    JSONMember("permission", .string($0.permission)), JSONMember("scope", .string($0.scope.name)),
                    JSONMember("via", .array($0.via.map { PathAnswer(path: $0).json })),
                ])
            })),
        ])
    }
}

/// `GET /v1/permissions/{permission}/holders`
public struct HoldersAnswer: Sendable, Equatable {
    public struct Holder: Sendable, Equatable { public var user: String; public var scope: Scope; public var via: [AccessPath] }
    public var permission: String
    public var asOf: String
    public var holders: [Holder]

    public var json: JSONValue {
        .object([
            JSONMember("asOf", .string(asOf)),
            JSONMember("holders", .array(holders.map {
                .object([
                    JSONMember("scope", .string($0.scope.name)), JSONMember("user", .string($0.user)),
                    JSONMember("via", .array($0.via.map { PathAnswer(path: $0).json })),
                ])
            })),
            JSONMember("permission", .string(permission)),
        ])
    }

    /// The bytes `CanonicalJSON.encode(json)` gives, written straight out: an answer can hold
    /// thousands of holders, and a tree of them costs more than the query.
    public var canonicalJSON: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(64 + holders.count * 110)
        out.append(contentsOf: #"{"asOf":"#.utf8)
        CanonicalJSON.writeString(asOf, into: &out)
        out.append(contentsOf: #","holders":["#.utf8)
        for (i, holder) in holders.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: #"{"scope":""#.utf8)
            out.append(contentsOf: holder.scope.name.utf8)
            out.append(contentsOf: #"","user":"#.utf8)
            CanonicalJSON.writeString(holder.user, into: &out)
            out.append(contentsOf: #","via":["#.utf8)
            for (j, path) in holder.via.enumerated() {
                if j > 0 { out.append(UInt8(ascii: ",")) }
                PathAnswer(path: path).write(into: &out)
            }
            out.append(contentsOf: "]}".utf8)
        }
        out.append(contentsOf: #"],"permission":"#.utf8)
        CanonicalJSON.writeString(permission, into: &out)
        out.append(UInt8(ascii: "}"))
        return out
    }
}

/// `GET /v1/roles/{id}`
public struct RoleAnswer: Sendable, Equatable {
    public struct GrantAnswer: Sendable, Equatable { public var permission: String; public var scope: Scope; public var lineage: Lineage }
    public struct Member: Sendable, Equatable { public var user: String; public var lineage: Lineage }
    public var role: String
    public var asOf: String
    public var exists: Bool
    public var fields: [(name: String, field: FieldAnswer)]
    public var grants: [GrantAnswer]
    /// The members asked for (all of them unless a window was given), in user order.
    public var members: [Member]
    /// How many members the role has, and where `members` starts among them.
    public var memberCount: Int
    public var membersOffset: Int

    public static func == (a: Self, b: Self) -> Bool {
        a.role == b.role && a.asOf == b.asOf && a.exists == b.exists && a.fields.map(\.name) == b.fields.map(\.name)
            && a.fields.map(\.field) == b.fields.map(\.field) && a.grants == b.grants && a.members == b.members
            && a.memberCount == b.memberCount && a.membersOffset == b.membersOffset
    }

    public var json: JSONValue {
        .object([
            JSONMember("role", .string(role)), JSONMember("asOf", .string(asOf)), JSONMember("exists", .bool(exists)),
            JSONMember("fields", .object(fields.map { JSONMember($0.name, .object([JSONMember("value", $0.field.value)] + $0.field.lineage.members)) })),
            JSONMember("grants", .array(grants.map {
                .object([JSONMember("permission", .string($0.permission)), JSONMember("scope", .string($0.scope.name))] + $0.lineage.members)
            })),
            JSONMember("members", .array(members.map { .object([JSONMember("user", .string($0.user))] + $0.lineage.members) })),
        ])
    }
}

/// One entry of `GET /v1/subjects/{type}/{id}/history`.
public struct HistoryEntry: Sendable, Equatable {
    public var seq: UInt64
    public var time: Instant
    public var type: String
    public var actor: Envelope.Actor
    public var changes: [Envelope.Change]
    /// What the event did beyond field changes: the permission and scope, role, level, request.
    public var data: [JSONMember]?
    public var outcome: Envelope.Outcome
    public var reason: String?

    public var json: JSONValue {
        var members = [
            JSONMember("seq", .number(String(seq))), JSONMember("time", .string(time.utcText)), JSONMember("type", .string(type)),
            JSONMember("actor", .object([JSONMember("id", .string(actor.id))] + actor.attributes)),
            JSONMember("changes", .array(changes.map { change in
                var m = [JSONMember("field", .string(change.field))]
                if let old = change.old { m.append(JSONMember("old", old)) }
                if let new = change.new { m.append(JSONMember("new", new)) }
                return .object(m)
            })),
        ]
        if let data { members.append(JSONMember("data", .object(data))) }
        members.append(JSONMember("outcome", .string(outcome.rawValue)))
        if let reason { members.append(JSONMember("reason", .string(reason))) }
        return .object(members)
    }

    /// Writes the entry of a stored record (canonical bytes) as `CanonicalJSON.encode(json)` would,
    /// copying its members as they are stored: the sorted keys of an entry are those of the record,
    /// less some, so only `time` (as UTC) and a missing `changes` are written anew. `field` is the
    /// JSON string of the field to keep, quotes included. False when the record is not shaped as
    /// expected; then nothing useful was written and the caller decodes instead.
    static func splice(record: [UInt8], field: [UInt8]?, into out: inout [UInt8]) -> Bool {
        record.withUnsafeBytes { b in
            guard let members = CanonicalScan.members(b, in: 0..<b.count) else { return false }
            var actor, changes, data, outcome, reason, seq, time, type: Range<Int>?
            for member in members {
                switch b[member.key.lowerBound] {
                case UInt8(ascii: "a") where CanonicalScan.equals(b, member.key, "actor"): actor = member.value
                case UInt8(ascii: "c") where CanonicalScan.equals(b, member.key, "changes"): changes = member.value
                case UInt8(ascii: "d") where CanonicalScan.equals(b, member.key, "data"): data = member.value
                case UInt8(ascii: "o") where CanonicalScan.equals(b, member.key, "outcome"): outcome = member.value
                case UInt8(ascii: "r") where CanonicalScan.equals(b, member.key, "reason"): reason = member.value
                case UInt8(ascii: "s") where CanonicalScan.equals(b, member.key, "seq"): seq = member.value
                case UInt8(ascii: "t") where CanonicalScan.equals(b, member.key, "time"): time = member.value
                case UInt8(ascii: "t") where CanonicalScan.equals(b, member.key, "type"): type = member.value
                default: break
                }
            }
            guard let actor, b[actor.lowerBound] == UInt8(ascii: "{"), let seq, let time, let type, b[time.lowerBound] == UInt8(ascii: "\""),
                let instant = Instant(rfc3339: UnsafeRawBufferPointer(rebasing: b[(time.lowerBound + 1)..<(time.upperBound - 1)]))
            else { return false }
            out.append(contentsOf: #"{"actor":"#.utf8)
            out.append(contentsOf: b[actor])
            out.append(contentsOf: #","changes":"#.utf8)
            if let changes {
                if let field {
                    guard let elements = CanonicalScan.elements(b, in: changes) else { return false }
                    out.append(UInt8(ascii: "["))
                    var kept = 0
                    for element in elements {
                        guard let parts = CanonicalScan.members(b, in: element),
                            let name = parts.first(where: { CanonicalScan.equals(b, $0.key, "field") })
                        else { return false }
                        guard b[name.value].elementsEqual(field) else { continue }
                        if kept > 0 { out.append(UInt8(ascii: ",")) }
                        out.append(contentsOf: b[element])
                        kept += 1
                    }
                    out.append(UInt8(ascii: "]"))
                } else {
                    out.append(contentsOf: b[changes])
                }
            } else {
                out.append(contentsOf: "[]".utf8)
            }
            if let data {
                out.append(contentsOf: #","data":"#.utf8)
                out.append(contentsOf: b[data])
            }
            out.append(contentsOf: #","outcome":"#.utf8)
            if let outcome { out.append(contentsOf: b[outcome]) } else { out.append(contentsOf: "\"success\"".utf8) }
            if let reason {
                out.append(contentsOf: #","reason":"#.utf8)
                out.append(contentsOf: b[reason])
            }
            out.append(contentsOf: #","seq":"#.utf8)
            out.append(contentsOf: b[seq])
            // The time's text is ASCII letters, digits and punctuation: as a JSON string it needs no escape.
            out.append(contentsOf: #","time":""#.utf8)
            instant.appendUTCText(to: &out)
            out.append(UInt8(ascii: "\""))
            out.append(contentsOf: #","type":"#.utf8)
            out.append(contentsOf: b[type])
            out.append(UInt8(ascii: "}"))
            return true
        }
    }
}

public struct HistoryPage: Sendable, Equatable {
    public var subject: Envelope.Subject
    public var entries: [HistoryEntry]
    public var next: String?

    public var json: JSONValue {
        .object([
            JSONMember("subject", subjectJSON(subject)), JSONMember("entries", .array(entries.map(\.json))),
            JSONMember("next", next.map { .string($0) } ?? .null),
        ])
    }
}

func subjectJSON(_ s: Envelope.Subject) -> JSONValue {
    .object([JSONMember("type", .string(s.type)), JSONMember("id", .string(s.id))])
}

/// `GET /v1/vocabulary`
public struct VocabularyAnswer: Sendable, Equatable {
    public var eventTypes: [String]
    public var subjectTypes: [String]
    public var permissions: [String]
    public var roles: [String]
    public var findingKinds: [String]

    public var json: JSONValue {
        func list(_ names: [String]) -> JSONValue { .array(names.map { .string($0) }) }
        return .object([
            JSONMember("eventTypes", list(eventTypes)), JSONMember("findingKinds", list(findingKinds)),
            JSONMember("permissions", list(permissions)), JSONMember("roles", list(roles)), JSONMember("subjectTypes", list(subjectTypes)),
        ])
    }
}
