import EventModel
import Testing

@testable import EventLog

@Suite struct QueryTests {
    /// Filters over the factory's vocabulary, alone and combined.
    static let queries: [EventQuery] = {
        let since = Instant(seconds: 1_767_574_800 + 300)
        let until = Instant(seconds: 1_767_574_800 + 900)
        var out: [EventQuery] = [
            EventQuery(),
            EventQuery(subjectType: "sales_order", subjectId: "sales_order-3"),
            EventQuery(subjectType: "sales_order", subjectId: "sales_order-3", field: "amount"),
            EventQuery(subjectType: "user", subjectId: "user-1", actor: "u-2"),
            EventQuery(subjectId: "sales_order-5"),
            EventQuery(subjectType: "report"),
            EventQuery(actor: "u-4"),
            EventQuery(actor: "u-4", type: "sales_order.*"),
            EventQuery(type: "user.*"),
            EventQuery(type: "sales_order.up*"),
            EventQuery(type: "sales_order.updated"),
            EventQuery(type: "sales_order.updated", field: "status"),
            EventQuery(type: "user"),
            EventQuery(field: "owner"),
            EventQuery(since: since),
            EventQuery(until: until),
            EventQuery(since: since, until: until),
            EventQuery(subjectType: "sales_order", subjectId: "sales_order-3", since: since, until: until),
            EventQuery(actor: "u-1", since: since),
            EventQuery(afterSeq: 700),
            EventQuery(type: "user.*", afterSeq: 400),
            EventQuery(actor: "nobody"),
        ]
        out += out.map { var q = $0; q.order = .desc; return q }
        return out
    }()

    func expected(_ query: EventQuery, _ all: [(LoggedEvent, StoredEvent)]) -> [UInt64] {
        let seqs = all.filter { query.matches($0.1.envelope) && $0.0.seq > (query.afterSeq ?? 0) }.map(\.0.seq)
        return query.order == .asc ? seqs : seqs.reversed()
    }

    func checkAll(_ log: EventLog, pageSize: Int) throws {
        let all = try log.allEvents()
        for var query in Self.queries {
            query.limit = pageSize
            let got = try log.allPages(query)
            #expect(got == expected(query, all), "\(query)")
        }
        // A subject's seqs (`subjectSeqs`, how the projection finds a subject's access trail), whole
        // and in windows, from the index, the tail or both.
        let head = all.last?.0.seq ?? 0
        for subject in Set(all.map(\.1.envelope.subject)) {
            let seqs = all.filter { $0.1.envelope.subject == subject }.map(\.0.seq)
            for (after, through) in [(UInt64(0), UInt64.max), (head / 3, 2 * head / 3), (head / 2, head / 2)] {
                let got = try log.subjectSeqs(subject, after: after, through: through)
                #expect(got == seqs.filter { $0 > after && $0 <= through }, "\(subject) (\(after), \(through)]")
            }
        }
    }

    @Test func everyFilterAndOrderMatchesBruteForceWhereverTheEventsAre() async throws {
        var factory = EventFactory(seed: 11)
        // Nothing folded: every read comes from the tail.
        let log = try openLog { $0.foldThreshold = 1_000_000; $0.foldIdleMilliseconds = 600_000 }
        for _ in 0..<6 { _ = try await log.append(factory.events(200, idPrefix: "a\(factory.next(1 << 30))")) }
        #expect(log.indexedThrough() == 0)
        try checkAll(log, pageSize: 7)
        try await log.close()

        // Half folded, half in the tail.
        let mixed = try openLog { $0.foldThreshold = 600; $0.foldIdleMilliseconds = 600_000 }
        for _ in 0..<5 { _ = try await mixed.append(factory.events(200, idPrefix: "b\(factory.next(1 << 30))")) }
        #expect(mixed.indexedThrough() > 0)
        #expect(mixed.indexedThrough() < 1_000)
        try checkAll(mixed, pageSize: 13)
        try checkAll(mixed, pageSize: 1000)
        try await mixed.close()
    }

    @Test func foldedIndexesAndTheReindexedTailAgreeAfterReopen() async throws {
        let path = temporaryDirectory()
        var factory = EventFactory(seed: 12)
        // 300, 600, 900 → fold (the ids, then one transaction per index), then 300 more that stay in the tail.
        let log = try openLog(path) { $0.foldThreshold = 700; $0.foldOnClose = false; $0.foldIdleMilliseconds = 600_000 }
        for _ in 0..<3 { _ = try await log.append(factory.events(300, idPrefix: "c\(factory.next(1 << 30))")) }
        let deadline = ContinuousClock.now + .seconds(10)
        while log.indexedThrough() < 900, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        _ = try await log.append(factory.events(300, idPrefix: "c\(factory.next(1 << 30))"))
        #expect(log.indexedThrough() == 900)
        try await log.close()
        let reopened = try openLog(path) { $0.foldIdleMilliseconds = 600_000 }
        #expect(reopened.indexedThrough() == 900)
        #expect(reopened.tail.withLock { $0.count } == 300)
        try checkAll(reopened, pageSize: 11)
        try await reopened.close()
    }

    @Test func longKeysStayUnderLMDBsLimitAndAreFound() async throws {
        let log = try openLog()
        let longId = String(repeating: "𝄞", count: 128)  // 512 bytes of UTF-8
        let json = validJSON.replacingOccurrences("\"SO-1\"", "\"\(longId)\"").replacingOccurrences("u-1001", longId)
            .replacingOccurrences("evt-1", longId).replacingOccurrences("\"amount\"", "\"\(longId)\"")
        let results = try await log.append([prepared(json)])
        let other = try await log.append([prepared(validJSON)])
        for query in [
            EventQuery(subjectType: "sales_order", subjectId: longId),
            EventQuery(subjectType: "sales_order", subjectId: longId, field: longId),
            EventQuery(actor: longId),
        ] {
            #expect(try log.events(query).events.map(\.seq) == [results[0].seq], "\(query)")
        }
        #expect(try log.events(EventQuery(actor: "u-1001")).events.map(\.seq) == [other[0].seq])
        let again = try await log.append([prepared(json)])
        #expect(again[0].duplicate)
        try await log.close()
    }

    @Test func aClientReadsItsOwnWriteAtOnce() async throws {
        let log = try openLog { $0.foldThreshold = 50 }
        var factory = EventFactory(seed: 13)
        for i in 0..<200 {
            let event = prepared(factory.json(id: "rw-\(i)"))
            let result = try await log.append([event])
            let page = try log.events(
                EventQuery(subjectType: event.envelope.subject.type, subjectId: event.envelope.subject.id, order: .desc, limit: 1))
            #expect(page.events.first?.seq == result[0].seq)
        }
        try await log.close()
    }

    @Test func badCursorsAreRefused() throws {
        let log = try openLog()
        #expect(throws: LogError.self) { try log.events(EventQuery(cursor: "not-a-cursor!")) }
        let descCursor = PageCursor.encode(order: .desc, lastSeq: 5)
        #expect(throws: LogError.self) { try log.events(EventQuery(order: .asc, cursor: descCursor)) }
    }
}

/// A field changed more than once in one event is filed once, however many changes the event has.
@Suite struct IndexEntryTests {
    @Test func repeatedFieldsAreFiledOnceBeforeAndPastTheHashingThreshold() {
        for count in [3, 16, 17, 40, 2_000] {
            let changes = (0..<count).map { i in #"{"field":"\#(i % 3 == 0 ? "a" : "f" + String(i))","new":\#(i)}"# }.joined(separator: ",")
            let event = prepared(#"{"id":"x","type":"sales_order.updated","time":"2026-03-01T09:00:00Z","actor":{"id":"u"},"subject":{"type":"sales_order","id":"S"},"changes":[\#(changes)]}"#)
            let fields = IndexKeys.entries(for: event.envelope).filter { $0.0 == .field }.map(\.1)
            #expect(fields.count == Set(fields).count, "\(count)")
            #expect(fields.count == count - (count - 1) / 3, "\(count)")
        }
    }
}
