import EventLog
import EventModel
import Glibc
import Logging
import Projector
import Queries
import Testing
import TestSupport

/// A ledger in a temporary directory with its projector and queries, and a terse way to post events.
final class TestLedger: @unchecked Sendable {
    let log: EventLog
    let projector: LiveProjector
    let queries: LedgerQueries
    let path: String
    private var count = 0
    /// 2026-03-01T09:00:00Z
    static let start: Int64 = 1_772_355_600

    init(
        policy: Policy = Policy(), path: String? = nil, projectionBatch: Int = 20_000, gatherMilliseconds: Int? = nil,
        dictionaries: DictionarySchedule? = DictionarySchedule(), announcePauseMilliseconds: Int = 0
    ) throws {
        self.path = path ?? Scratch.directory("ledger-projector")
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        var configuration = LogConfiguration(path: self.path)
        configuration.mapSize = 64 << 20
        configuration.dictionaries = dictionaries
        configuration.announcePauseMilliseconds = announcePauseMilliseconds
        log = try EventLog(configuration, logger: logger)
        var projection = LiveProjector.Configuration(path: self.path + "/projection", policy: policy)
        projection.batchSize = projectionBatch
        if let gatherMilliseconds { projection.gatherMilliseconds = gatherMilliseconds }
        projector = try LiveProjector(log: log, configuration: projection, logger: logger)
        queries = LedgerQueries(log: log, projector: projector)
    }

    /// The time of minute `m` of the scenario.
    static func time(_ minute: Int, seconds: Int = 0) -> Instant { Instant(seconds: start + Int64(minute * 60 + seconds)) }

    /// Posts one event at `minute` (or the next minute) and returns its seq.
    @discardableResult
    func post(
        _ type: String, by actor: String, on subjectType: String, _ subjectId: String, changes: String? = nil, data: String? = nil,
        minute: Int? = nil, seconds: Int = 0, outcome: String? = nil
    ) async throws -> UInt64 {
        count += 1
        let time = Self.time(minute ?? count, seconds: seconds).rfc3339(fractionDigits: 3)
        var json = #"{"id":"e-\#(count)","type":"\#(type)","time":"\#(time)","actor":{"id":"\#(actor)"},"subject":{"type":"\#(subjectType)","id":"\#(subjectId)"}"#
        if let changes { json += #","changes":\#(changes)"# }
        if let data { json += #","data":\#(data)"# }
        if let outcome { json += #","outcome":"\#(outcome)""# }
        json += "}"
        let events = try EventBody.parse(Array(json.utf8)).events
        return try await log.append(events)[0].seq
    }

    func findings(_ kind: Finding.Kind? = nil) throws -> [Finding] {
        try queries.findings(.init(kind: kind, limit: 10_000)).findings
    }

    func close() async throws {
        projector.close()
        try await log.close()
    }
}

/// `[{"field":"name","new":"x"}, …]` from pairs.
func created(_ fields: [(String, String)]) -> String {
    "[" + fields.map { #"{"field":"\#($0.0)","new":\#($0.1)}"# }.joined(separator: ",") + "]"
}

extension TestLedger {
    /// A tenant: a super admin (u-root), roles sales_rep (edit/create own, view own) and sales_manager
    /// (approve and edit department), and users in departments east and west. Returns nothing; seqs 1…
    func setUpTenant() async throws {
        try await post("user.created", by: "system", on: "user", "u-root", changes: created([("name", #""root""#), ("department", #""it""#)]))
        try await post("user.admin_granted", by: "system", on: "user", "u-root", data: #"{"level":"super_admin"}"#)
        try await post("role.created", by: "u-root", on: "role", "sales_rep", changes: created([("name", #""销售代表""#)]))
        for p in ["sales_order.edit", "sales_order.create", "sales_order.view"] {
            try await post("role.permission_granted", by: "u-root", on: "role", "sales_rep", data: #"{"permission":"\#(p)","scope":"own"}"#)
        }
        try await post("role.created", by: "u-root", on: "role", "sales_manager", changes: created([("name", #""销售经理""#)]))
        for p in ["sales_order.approve", "sales_order.edit"] {
            try await post("role.permission_granted", by: "u-root", on: "role", "sales_manager", data: #"{"permission":"\#(p)","scope":"department"}"#)
        }
        for (user, department, role) in [("u-li", "east", "sales_rep"), ("u-wu", "east", "sales_rep"), ("u-xu", "west", "sales_rep"), ("u-ma", "east", "sales_manager")] {
            try await post("user.created", by: "u-root", on: "user", user, changes: created([("department", #""\#(department)""#)]))
            try await post("user.role_assigned", by: "u-root", on: "user", user, data: #"{"role":"\#(role)"}"#)
        }
    }

    /// u-li creates an order they own.
    @discardableResult
    func createOrder(_ id: String, owner: String = "u-li", amount: String = "1000") async throws -> UInt64 {
        try await post("sales_order.created", by: owner, on: "sales_order", id,
            changes: created([("owner", #""\#(owner)""#), ("amount", amount), ("status", #""draft""#)]))
    }
}
