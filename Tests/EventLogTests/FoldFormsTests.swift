import EventModel
import LMDB
import Testing

@testable import EventLog

/// The log keeps each record's fold form in blocks (`FoldForms`), and a rebuild reads them instead of
/// decoding the records: what it reads must be what the records decode to, wherever the blocks start
/// and end, across restarts, and when a block is damaged or lies.
@Suite struct FoldFormsTests {
    static func open(_ path: String, block: Int = 16, readOnly: Bool = false) throws -> EventLog {
        try openLog(path) {
            $0.foldFormBlock = block
            $0.readOnly = readOnly
        }
    }

    /// A closed ledger of `count` generated events, and the generator to go on with.
    static func closedLedger(_ count: Int, seed: UInt64, block: Int = 16) async throws -> (path: String, factory: EventFactory) {
        let path = temporaryDirectory()
        var factory = EventFactory(seed: seed)
        let log = try open(path, block: block)
        _ = try await log.append(factory.events(count, idPrefix: "first"))
        try await log.close()
        return (path, factory)
    }

    /// Every batch, of any size and start, equals the records decoded one by one.
    static func expectBatchesAgreeWithTheRecords(_ log: EventLog, sizes: [Int] = [1, 7, 16, 37, 1_000]) throws {
        let records = try log.events(afterSeq: 0, limit: .max)
        let decoded = try records.map { try StoredEvent.decodeForFold($0.record) }
        for size in sizes {
            var after: UInt64 = 0
            var events: [StoredEvent] = []
            while let batch = try log.foldBatch(afterSeq: after, limit: size) {
                #expect(batch.undecodable.isEmpty)
                #expect(batch.lastSeq == min(after + UInt64(size), UInt64(records.count)))
                #expect(batch.lastHash == records[Int(batch.lastSeq) - 1].hash)
                events += batch.events
                after = batch.lastSeq
            }
            #expect(events == decoded, "batches of \(size)")
        }
    }

    /// The events a fold reads from the forms: all of those of whole blocks, none of the unfinished one.
    static func formsChecked(_ log: EventLog) throws -> Int? {
        let report = try log.verify(checkpointVerifier: nil, indexes: true)
        #expect(report.ok, "\(report.problem ?? "")")
        return report.foldForms
    }

    @Test func batchesReadFromFormsAgreeWithTheRecords() async throws {
        var factory = EventFactory(seed: 61)
        let log = try Self.open(temporaryDirectory())
        // Commits of 1, 5 and 50 events: blocks end inside commits and at their edges.
        for (round, size) in [1, 5, 50, 1, 50, 5, 50, 50, 3].enumerated() {
            _ = try await log.append(factory.events(size, idPrefix: "r\(round)"))
        }
        #expect(try Self.formsChecked(log) == 208)  // 215 events: 13 whole blocks of 16
        try Self.expectBatchesAgreeWithTheRecords(log)
        try await log.close()
    }

    /// Events the form cannot hold by number or literal: unknown types, failures, nested and escaped
    /// values, `data` strings, and a change too large for a block, which sends the fold to its record.
    @Test func everyShapeOfEventReadsBackFromItsForm() async throws {
        let large = String(repeating: "x", count: FoldForm.largestForm + 10)
        let bodies = [
            #"{"id":"a","type":"vendor.custom_thing","time":"2026-01-05T01:00:00Z","actor":{"id":"u-1","name":"Ann"},"subject":{"type":"widget","id":"w\u00e9"},"outcome":"failure"}"#,
            #"{"id":"b","type":"sales_order.updated","time":"2026-01-05T01:00:01.5Z","actor":{"id":"u-2"},"subject":{"type":"sales_order","id":"so-1"},"changes":[{"field":"lines","old":[1,2.5,{"b":null,"a":true}],"new":{"z":[],"a":{"q":"\"quoted\"\n"}}},{"field":"note","new":"\u4e2d\u6587"},{"field":"gone","old":false}]}"#,
            #"{"id":"c","type":"crm.note_added","time":"2026-01-05T01:00:02Z","actor":{"id":"u-3"},"subject":{"type":"note","id":"n-4"},"data":{"role":"sales","reason":"hired","extra":{"n":1},"user":7}}"#,
            #"{"id":"d","type":"sales_order.updated","time":"2026-01-05T01:00:03Z","actor":{"id":"u-2"},"subject":{"type":"sales_order","id":"so-1"},"changes":[{"field":"notes","old":"","new":"\#(large)"}]}"#,
        ]
        let log = try Self.open(temporaryDirectory(), block: 4)
        for body in bodies { _ = try await log.append([prepared(body)]) }
        #expect(try Self.formsChecked(log) == 4)
        try Self.expectBatchesAgreeWithTheRecords(log, sizes: [1, 2, 4])
        let forms = try #require(try log.store.environment.read { txn in
            try FoldFormBlockReader(database: log.store.foldForms!).read(from: 1, through: 4, txn, reported: { _ in }).forms
        })
        #expect(forms.last == .inRecord)
        try await log.close()
    }

    /// The unfinished block is only in the writer's memory: a restart reads its records back, and the
    /// next block holds them.
    @Test func aRestartGoesOnWithTheUnfinishedBlock() async throws {
        var (path, factory) = try await Self.closedLedger(20, seed: 62)
        let log = try Self.open(path)
        _ = try await log.append(factory.events(30, idPrefix: "b"))
        #expect(try Self.formsChecked(log) == 48)
        try Self.expectBatchesAgreeWithTheRecords(log)
        try await log.close()
    }

    /// A ledger written before the log kept forms (here: with blocks too large to fill) has none for
    /// its records: they are decoded, forms start with the next block, and the writer makes the
    /// missing ones while it is idle, a block at a time, without holding up appends.
    @Test func recordsWrittenBeforeFormsGetThemWhileTheWriterIsIdle() async throws {
        var (path, factory) = try await Self.closedLedger(100, seed: 63, block: 4_096)
        #expect(try Self.formsChecked(try Self.open(path, block: 4_096, readOnly: true)) == 0)
        var log = try Self.open(path)
        _ = try await log.append(factory.events(40, idPrefix: "new"))
        try Self.expectBatchesAgreeWithTheRecords(log)
        // 101...132 at once; 1...100 once the writer had time, in blocks of 16 from the top down (1...4
        // last); 133...140 unfinished.
        var checked = try Self.formsChecked(log)
        for _ in 0..<200 where checked != 132 {
            try await Task.sleep(for: .milliseconds(10))
            checked = try Self.formsChecked(log)
        }
        #expect(checked == 132)
        try Self.expectBatchesAgreeWithTheRecords(log)
        try await log.close()
        // Reopened, nothing is missing any more.
        log = try Self.open(path)
        #expect(try Self.formsChecked(log) == 132)
        try await log.close()
    }

    /// A block cut short is read around (its records are decoded) and verify names it. A block that
    /// reads back but holds other events' forms is read as it is, like an index entry put where it does
    /// not belong: verify is what finds it.
    @Test func aDamagedOrWrongBlockIsNamedByVerify() async throws {
        let (path, _) = try await Self.closedLedger(64, seed: 64)
        try CompressionTests.alter(path, [FoldForms.databaseName]) { dbs, txn in
            let second = Array(try txn.get(dbs[0], bigEndianBytes(32))!)
            try txn.put(dbs[0], key: bigEndianBytes(32), value: Array(second.prefix(second.count / 2)))
        }
        var log = try Self.open(path)
        try Self.expectBatchesAgreeWithTheRecords(log, sizes: [10, 64])
        var report = try log.verify(checkpointVerifier: nil, indexes: true)
        #expect(!report.ok && report.firstBadSeq == 17)
        #expect(report.problem == "the block of fold forms ending at record 32 does not read back")
        #expect(try log.verifyChain().ok)
        try await log.close()
        try CompressionTests.alter(path, [FoldForms.databaseName]) { dbs, txn in
            let first = Array(try txn.get(dbs[0], bigEndianBytes(16))!)
            try txn.put(dbs[0], key: bigEndianBytes(32), value: first)
        }
        log = try Self.open(path)
        // The rebuild trusts the forms as it trusts the indexes: it reads the first block's events at 17...32.
        let firstEvents = try log.events(afterSeq: 0, limit: 16).map { try StoredEvent.decodeForFold($0.record).envelope }
        let batch = try #require(try log.foldBatch(afterSeq: 16, limit: 16))
        #expect(batch.events.map(\.envelope) == firstEvents && batch.events.map(\.seq) == Array(17...32))
        report = try log.verify(checkpointVerifier: nil, indexes: true)
        #expect(!report.ok && report.firstBadSeq == 17)
        #expect(report.problem == "the fold form of record 17 differs from the record")
        try await log.close()
    }
    /// A block whose first forms read and a later one does not: the forms already put in the batch are
    /// taken out again, and the block's records decoded instead, each event once.
    @Test func aBlockThatFailsPartWayLeavesNothingOfItInTheBatch() async throws {
        let (path, _) = try await Self.closedLedger(40, seed: 65)
        var log = try Self.open(path)
        let records = try log.events(afterSeq: 16, limit: 16).map { try StoredEvent.decodeForFold($0.record) }
        try await log.close()
        // The block of 17...32 made again: the first eight forms as they were, the ninth a tag no form has.
        var forms = ByteWriter(capacity: 4096)
        for (index, event) in records.enumerated() {
            let form = index == 8 ? [UInt8(9)] : FoldForm.bytes(of: event.envelope)
            forms.write(form.count)
            forms.append(form)
        }
        try CompressionTests.alter(path, [FoldForms.databaseName]) { dbs, txn in
            try FoldFormBlockWriter(database: dbs[0]).store(last: 32, count: 16, [forms.bytes], append: false, txn)
        }
        log = try Self.open(path)
        let batch = try #require(try log.foldBatch(afterSeq: 16, limit: 16))
        #expect(batch.events == records && batch.undecodable.isEmpty && batch.lastSeq == 32)
        try Self.expectBatchesAgreeWithTheRecords(log, sizes: [5, 16, 40])
        #expect(try log.verify(checkpointVerifier: nil, indexes: true).problem == "the block of fold forms ending at record 32 does not read back")
        try await log.close()
    }
}
