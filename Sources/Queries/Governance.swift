import Crypto
import EventLog
import EventModel
import Foundation
import Projector
import Transparency

/// The auditors' other questions (issue 14): were access reviews done on time, how were requests
/// decided, and what would a change do before it is made.
extension LedgerQueries {
    // MARK: - Review report

    public enum ReviewScope: Sendable, Equatable {
        case permission(String)
        case role(String)
        case adminLevel(AdminLevel)
        case department(String)

        var json: JSONValue {
            switch self {
            case .permission(let p): .object([JSONMember("permission", .string(p))])
            case .role(let r): .object([JSONMember("role", .string(r))])
            case .adminLevel(let level): .object([JSONMember("adminLevel", .string(level.storedName))])
            case .department(let d): .object([JSONMember("department", .string(d))])
            }
        }
    }

    /// Everyone in the scope as of a moment, with their last completed review, whether it is overdue
    /// for `periodSeconds`, and their pending requests. Overdue is judged against the moment: the
    /// instant itself, the time of event N for `seq:N`, or the clock for now.
    public func reviewReport(asOf: AsOf, periodSeconds: Int64, period: String, scope: ReviewScope) throws -> ReviewReport {
        let head = try log.head().seq
        let cut = asOf == .now ? AsOf.seq(head) : asOf
        let reference: Instant
        switch asOf {
        case .now: reference = Instant.now()
        case .time(let t): reference = t
        case .seq(let n):
            // A record that does not decode is reported as everywhere else (`foldedEvents`); the
            // report then judges against the epoch, as for seq 0.
            reference = try n == 0 ? Instant(seconds: 0) : log.foldedEvents(seqs: [min(n, head)]).first?.envelope.instant ?? Instant(seconds: 0)
        }
        var users: [String]
        switch scope {
        case .permission(let permission): users = try holders(permission: permission, asOf: cut).holders.map(\.user)
        case .role(let role): users = try members(of: role, at: cut)
        case .adminLevel(let level): users = try holders(of: level, at: cut)
        case .department(let department):
            let candidates = try projector.read { $0.departmentMembersEver[department] }
            users = try candidates.sorted().filter { user in
                try projector.accessView(through: cut.lastSeq, time: cut.instant) { view in
                    let state = Replay(events: try view.trail([Envelope.Subject(type: "user", id: user)])).state.users[user]
                    return state?.department == department && state?.status == .active
                }
            }
        }
        users.sort()
        let due = Instant(seconds: reference.seconds - periodSeconds, nanoseconds: reference.nanoseconds)
        var entries: [ReviewReport.Holder] = []
        try projector.accessView(through: cut.lastSeq, time: cut.instant) { view in
            for user in users {
                let replay = Replay(events: try view.trail([Envelope.Subject(type: "user", id: user)]))
                let review = replay.state.users[user]?.lastReview.map { (lineage: replay.lineage($0.seq), decision: $0.decision) }
                entries.append(ReviewReport.Holder(user: user, lastReview: review, overdue: review.map { $0.lineage.time < due } ?? true, pending: []))
            }
        }
        // Pending requests for each holder at the moment: submitted by then, not decided by then.
        let pendingByUser = try projector.read { state -> [String: [(String, RequestState)]] in
            var out: [String: [(String, RequestState)]] = [:]
            for user in users {
                for id in state.requestsByUser[user].sorted() {
                    guard let request = state.requests[id], cut.includes(seq: request.submittedSeq, time: request.submittedTime) else { continue }
                    let decided = request.decisionSeq.map { cut.includes(seq: $0, time: request.decisionTime ?? Instant(seconds: 0)) } ?? false
                    if !decided { out[user, default: []].append((id, request)) }
                }
            }
            return out
        }
        for i in entries.indices { entries[i].pending = pendingByUser[entries[i].user] ?? [] }
        return ReviewReport(
            asOf: cut.echo(head: head), reference: reference, period: period, scope: scope, treeSize: head,
            root: try log.merkleRoot(treeSize: head), holders: entries)
    }

    /// The report's bytes and a signed note over them, with the checkpoint key: `{"report":R,"signature":N}`
    /// where R is the report's canonical JSON and N a signed note (C2SP) whose lines are
    /// `auditledger review report`, the tree size, the root and the SHA-256 of R (base64).
    public func signedReport(_ report: ReviewReport) throws -> [UInt8] {
        let bytes = CanonicalJSON.encode(report.json)
        var out = Array(#"{"report":"#.utf8) + bytes + Array(#","signature":"#.utf8)
        if let signer = log.configuration.checkpoints?.signer {
            let note = try signer.sign(ReviewReport.noteText(treeSize: report.treeSize, root: report.root, bytes: bytes))
            CanonicalJSON.writeString(note, into: &out)
        } else {
            out += Array("null".utf8)
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    // MARK: - Access requests

    public struct RequestFilter: Sendable, Equatable {
        public var status: RequestState.Outcome?
        /// Submitted more than this many seconds before now.
        public var olderThanSeconds: Int64?
        /// Decided by this user.
        public var approver: String?

        public init(status: RequestState.Outcome? = nil, olderThanSeconds: Int64? = nil, approver: String? = nil) {
            self.status = status
            self.olderThanSeconds = olderThanSeconds
            self.approver = approver
        }
    }

    /// Access requests in id order, filtered, one page.
    public func accessRequests(_ filter: RequestFilter, limit: Int, cursor: String?) throws -> RequestsPage {
        let now = Instant.now()
        let page = try projector.requests(after: cursor, limit: limit) { _, request in
            if let status = filter.status, request.outcome != status { return false }
            if let approver = filter.approver, request.decider.map({ !utf8Equal($0, approver) }) ?? true { return false }
            if let older = filter.olderThanSeconds, now.seconds - request.submittedTime.seconds <= older { return false }
            return true
        }
        return RequestsPage(now: now, requests: page.requests, next: page.next)
    }

    // MARK: - What if

    /// What a candidate event would change in who can do what, and the findings it would raise,
    /// folded over the current state in memory; nothing is appended or written.
    public func whatIf(_ candidate: PreparedEvent) throws -> WhatIfAnswer {
        let head = try log.head().seq
        let event = StoredEvent(seq: head + 1, recordedAt: Instant.now().utcText, envelope: candidate.envelope)
        // What the event itself would cause: stale access that only comes due with its time is left out.
        var policy = projector.policy
        policy.staleAccessDays = 0
        return try projector.read { current in
            var state = current
            let e = event.envelope
            var users: [String] = []
            if e.subject.type == "user" { users = [e.subject.id] }
            if e.subject.type == "role" {
                users = state.roleMembersEver[e.subject.id].filter { state.users[$0]?.roles[e.subject.id] != nil }.sorted()
            }
            func facts(_ state: ProjectionState) -> [String: [String: (scope: Scope, via: [AccessPath])]] {
                let universe = state.universe { _, _ in true }
                var out: [String: [String: (scope: Scope, via: [AccessPath])]] = [:]
                for user in users {
                    guard let u = state.users[user], u.status == .active else { out[user] = [:]; continue }
                    var held: [String: (scope: Scope, via: [AccessPath])] = [:]
                    for p in state.access(of: user, universe: universe) { held["permission " + p.permission] = (p.scope, p.via) }
                    for level in u.admin.keys { held["admin_level " + level.storedName] = (.all, []) }
                    for role in u.roles.keys { held["role " + role] = (.all, []) }
                    out[user] = held
                }
                return out
            }
            let before = facts(state)
            var findings: [Finding] = []
            state.apply(event, policy: policy, findings: &findings)
            let after = facts(state)
            var changes: [AccessChange] = []
            let cause = Lineage(of: event)
            for user in users {
                let (was, now) = (before[user] ?? [:], after[user] ?? [:])
                for fact in Set(was.keys).union(now.keys).sorted() where was[fact]?.scope != now[fact]?.scope {
                    let parts = fact.split(separator: " ", maxSplits: 1).map(String.init)
                    let kind = AccessChange.Kind(rawValue: parts[0]) ?? .permission
                    changes.append(
                        AccessChange(
                            user: user, kind: kind, name: parts[1], heldBefore: was[fact] != nil, heldAfter: now[fact] != nil,
                            scopeBefore: kind == .permission ? was[fact]?.scope : nil, scopeAfter: kind == .permission ? now[fact]?.scope : nil,
                            pathsBefore: was[fact]?.via ?? [], pathsAfter: now[fact]?.via ?? [], causes: [cause]))
                }
            }
            return WhatIfAnswer(seq: event.seq, changes: changes, findings: findings)
        }
    }
}

/// `GET /v1/reviews/report` (inside its signed envelope).
public struct ReviewReport: Sendable, Equatable {
    public struct Holder: Sendable {
        public var user: String
        public var lastReview: (lineage: Lineage, decision: String)?
        public var overdue: Bool
        public var pending: [(id: String, request: RequestState)]
    }

    public var asOf: String
    /// What overdue was judged against.
    public var reference: Instant
    public var period: String
    public var scope: LedgerQueries.ReviewScope
    /// The ledger the report was computed on: its size and Merkle root.
    public var treeSize: UInt64
    public var root: [UInt8]
    public var holders: [Holder]

    public static func == (a: Self, b: Self) -> Bool { CanonicalJSON.encode(a.json) == CanonicalJSON.encode(b.json) }

    /// The text of the signed note over a report's bytes.
    public static func noteText(treeSize: UInt64, root: [UInt8], bytes: [UInt8]) -> String {
        "auditledger review report\n\(treeSize)\n\(Data(root).base64EncodedString())\n\(Data(SHA256.hash(data: bytes)).base64EncodedString())\n"
    }

    public var json: JSONValue {
        .object([
            JSONMember("asOf", .string(asOf)),
            JSONMember("holders", .array(holders.map { holder in
                .object([
                    JSONMember("lastReview", holder.lastReview.map { .object($0.lineage.members + [JSONMember("decision", .string($0.decision))]) } ?? .null),
                    JSONMember("overdue", .bool(holder.overdue)),
                    JSONMember("pendingRequests", .array(holder.pending.map { RequestsPage.json(id: $0.id, $0.request, now: nil) })),
                    JSONMember("user", .string(holder.user)),
                ])
            })),
            JSONMember("judgedAt", .string(reference.utcText)),
            JSONMember("period", .string(period)),
            JSONMember("root", .string(hexString(root))),
            JSONMember("scope", scope.json),
            JSONMember("summary", .object([
                JSONMember("holders", .number(String(holders.count))), JSONMember("neverReviewed", .number(String(holders.filter { $0.lastReview == nil }.count))),
                JSONMember("overdue", .number(String(holders.filter(\.overdue).count))),
            ])),
            JSONMember("treeSize", .number(String(treeSize))),
        ])
    }
}

/// `GET /v1/access-requests`
public struct RequestsPage: Sendable {
    public var now: Instant
    public var requests: [(id: String, request: RequestState)]
    public var next: String?

    public var json: JSONValue {
        .object([
            JSONMember("next", next.map { .string($0) } ?? .null),
            JSONMember("requests", .array(requests.map { Self.json(id: $0.id, $0.request, now: now) })),
        ])
    }

    /// One request: who asked for whom, what, why, how long ago, and how it was decided.
    static func json(id: String, _ r: RequestState, now: Instant?) -> JSONValue {
        var members = [
            JSONMember("decidedAt", r.decisionTime.map { .string($0.utcText) } ?? .null),
            JSONMember("decidedBy", r.decider.map { .string($0) } ?? .null),
            JSONMember("decisionReason", r.decisionReason.map { .string($0) } ?? .null),
            JSONMember("decisionSeq", r.decisionSeq.map { .number(String($0)) } ?? .null),
            JSONMember("id", .string(id)),
            JSONMember("justification", r.justification.map { .string($0) } ?? .null),
            JSONMember("permission", r.permission.map { .string($0) } ?? .null),
            JSONMember("requester", .string(r.requester)),
            JSONMember("role", r.role.map { .string($0) } ?? .null),
            JSONMember("scope", r.scope.map { .string($0.name) } ?? .null),
            JSONMember("status", .string(r.outcome.rawValue)),
            JSONMember("submittedAt", .string(r.submittedTime.utcText)),
            JSONMember("submittedSeq", .number(String(r.submittedSeq))),
            JSONMember("user", .string(r.user)),
        ]
        if let now {
            members.insert(JSONMember("ageSeconds", .number(String(max(0, now.seconds - r.submittedTime.seconds)))), at: 0)
        }
        return .object(members)
    }
}

/// `POST /v1/what-if`
public struct WhatIfAnswer: Sendable {
    /// The seq the candidate would take.
    public var seq: UInt64
    public var changes: [AccessChange]
    public var findings: [Finding]

    public var json: JSONValue {
        .object([
            JSONMember("changes", AccessChangesAnswer(from: "", to: "", changes: changes).json["changes"] ?? .array([])),
            JSONMember("findings", .array(findings.map(\.json))),
            JSONMember("seq", .number(String(seq))),
        ])
    }
}
