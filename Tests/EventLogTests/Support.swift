import EventModel
import Glibc
import Logging
import Testing
import TestSupport

@testable import EventLog

func temporaryDirectory() -> String {
    Scratch.directory("ledger-log")
}

func openLog(_ path: String = temporaryDirectory(), configure: (inout LogConfiguration) -> Void = { _ in }) throws -> EventLog {
    var configuration = LogConfiguration(path: path)
    configuration.mapSize = 64 << 20
    configure(&configuration)
    var logger = Logger(label: "test")
    logger.logLevel = .warning
    return try EventLog(configuration, logger: logger)
}

/// A deterministic mix of events: a few subjects, actors and fields so that every filter has
/// several matches, user.* and sales_order.* types, and times that now and then arrive late.
struct EventFactory {
    var state: UInt64
    var clock: Int64 = 1_767_574_800  // 2026-01-05T01:00:00Z

    init(seed: UInt64) { state = seed &* 6364136223846793005 &+ 1442695040888963407 }

    mutating func next(_ bound: Int) -> Int {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Int((state >> 33) % UInt64(bound))
    }

    static let types = [
        "sales_order.updated", "sales_order.updated", "sales_order.created", "user.updated", "user.created",
        "crm.exported", "role.updated",
    ]

    mutating func json(id: String) -> String {
        clock += Int64(next(5))
        let late = next(10) == 0 ? -Int64(next(30)) : 0
        let time = Instant(seconds: clock + late, nanoseconds: Int32(next(1000)) * 1_000_000).rfc3339(fractionDigits: 3)
        let type = Self.types[next(Self.types.count)]
        let subjectType = type.hasPrefix("user.") ? "user" : type.hasPrefix("role.") ? "role" : type.hasPrefix("crm.") ? "report" : "sales_order"
        let subjectId = "\(subjectType)-\(next(12))"
        let actor = "u-\(next(9))"
        let fields = ["amount", "status", "owner", "name"]
        var changes: [String] = []
        for _ in 0..<next(3) {
            let field = fields[next(fields.count)]
            changes.append(#"{"field":"\#(field)","old":\#(next(100)),"new":\#(next(100))}"#)
        }
        return #"{"id":"\#(id)","type":"\#(type)","time":"\#(time)","actor":{"id":"\#(actor)"},"subject":{"type":"\#(subjectType)","id":"\#(subjectId)"},"changes":[\#(changes.joined(separator: ","))]}"#
    }

    mutating func events(_ count: Int, idPrefix: String = "evt") -> [PreparedEvent] {
        (0..<count).map { i in prepared(json(id: "\(idPrefix)-\(i)")) }
    }
}

func prepared(_ json: String) -> PreparedEvent {
    try! EventBody.parse(Array(json.utf8)).events[0]
}

extension EventLog {
    /// Every event, decoded, for brute-force comparisons.
    func allEvents() throws -> [(LoggedEvent, StoredEvent)] {
        try events(afterSeq: 0, limit: .max).map { ($0, try $0.decode()) }
    }

    /// Every page of a query, concatenated.
    func allPages(_ query: EventQuery) throws -> [UInt64] {
        var query = query
        var seqs: [UInt64] = []
        while true {
            let page = try events(query)
            seqs += page.events.map(\.seq)
            guard let next = page.next else { return seqs }
            #expect(page.events.count == query.limit)
            query.cursor = next
        }
    }
}
