import EventLog
import EventModel
import Projector
import Queries
import Testing
import Workload

/// The history route serves bytes spliced from the stored records; they must be exactly the bytes
/// of the decoded answer (`CanonicalJSON.encode(history(…).json)`), which is what it served before.
@Suite struct HistoryBytesTests {
    @Test func splicedHistoryEqualsTheDecodedAnswerOnAGeneratedLedger() async throws {
        let ledger = try TestLedger()
        var generator = LedgerGenerator(seed: 21)
        var subjects = Set<Envelope.Subject>()
        var fields = Set<String>()
        for batch in generator.lines(6_000, batch: 500) {
            let events = try EventBody.parse(batch).events
            for event in events {
                subjects.insert(event.envelope.subject)
                for change in event.envelope.changes { fields.insert(change.field) }
            }
            _ = try await ledger.log.append(events)
        }
        #expect(subjects.count > 300 && fields.count > 5)
        for subject in subjects.sorted(by: { ($0.type, $0.id) < ($1.type, $1.id) }) {
            try expectSameBytes(ledger.queries, subject, field: nil, limit: 100)
            try expectSameBytes(ledger.queries, subject, field: nil, limit: 2)
        }
        for subject in subjects.sorted(by: { ($0.type, $0.id) < ($1.type, $1.id) }).prefix(200) {
            for field in fields.sorted() { try expectSameBytes(ledger.queries, subject, field: field, limit: 100) }
        }
        try await ledger.close()
    }

    /// Times with an offset or a fraction that UTC writes otherwise, no changes, escapes in keys and
    /// values, a failure with a reason, data, a field filter that matches some changes.
    @Test func splicedHistoryEqualsTheDecodedAnswerOnOddRecords() async throws {
        let ledger = try TestLedger()
        let bodies = [
            #"{"id":"o-1","type":"sales_order.created","time":"2026-03-13T15:45:01.5+08:00","actor":{"id":"u-\"q\"","via":"web","ip":"10.0.0.1"},"subject":{"type":"sales_order","id":"SO-odd"},"changes":[{"field":"amount","new":12.50},{"field":"owner","new":"u-\u00e9"},{"field":"notes","new":{"b":[1,2,{"z":null,"a":true}],"a":"\u2028"}}]}"#,
            #"{"id":"o-2","type":"sales_order.updated","time":"2026-03-13T07:45:02.000Z","actor":{"id":"u-1"},"subject":{"type":"sales_order","id":"SO-odd"},"changes":[{"field":"amount","old":12.50,"new":13},{"field":"状态","old":"草稿","new":"已提交"}],"outcome":"failure","reason":"line\nbreak \"quoted\""}"#,
            #"{"id":"o-3","type":"sales_order.viewed","time":"2026-03-13T07:45:03.123456Z","actor":{"id":"u-2"},"subject":{"type":"sales_order","id":"SO-odd"},"data":{"export":"csv","rows":3}}"#,
            #"{"id":"o-4","type":"sales_order.updated","time":"2026-03-12T23:59:59.999999999-00:30","actor":{"id":"u-3"},"subject":{"type":"sales_order","id":"SO-odd"},"changes":[{"field":"amount","old":13,"new":null}],"reason":""}"#,
        ]
        for body in bodies { _ = try await ledger.log.append(try EventBody.parse(Array(body.utf8)).events) }
        let subject = Envelope.Subject(type: "sales_order", id: "SO-odd")
        for field in [nil, "amount", "状态", "notes", "absent"] {
            for limit in [1, 3, 100] { try expectSameBytes(ledger.queries, subject, field: field, limit: limit) }
        }
        let all = try ledger.queries.history(subject)
        #expect(all.entries.count == 4)
        #expect(all.entries[0].time.utcText == "2026-03-13T07:45:01.500Z")
        try await ledger.close()
    }

    private func expectSameBytes(_ queries: LedgerQueries, _ subject: Envelope.Subject, field: String?, limit: Int) throws {
        var cursor: String?
        repeat {
            let decoded = try queries.history(subject, field: field, limit: limit, cursor: cursor)
            let spliced = try queries.historyJSON(subject, field: field, limit: limit, cursor: cursor)
            #expect(
                spliced == CanonicalJSON.encode(decoded.json),
                "\(subject) field \(field ?? "-"): \(String(decoding: spliced, as: UTF8.self))")
            cursor = decoded.next
        } while cursor != nil
    }
}
