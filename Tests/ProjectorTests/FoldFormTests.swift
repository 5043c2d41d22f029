import EventLog
import EventModel
import Projector
import TestSupport
import Testing
import Workload

/// The projection's follower folds the events the writer hands it in their fold form
/// (`EventLog.takeCommitted`): the same events a rebuild decodes from the records, so both fold
/// the same state.
@Suite struct FoldFormTests {
    @Test func everyHandedEventIsWhatItsRecordDecodesTo() async throws {
        let path = Scratch.directory("fold-form")
        var configuration = LogConfiguration(path: path)
        configuration.mapSize = 64 << 20
        let log = try EventLog(configuration)
        var generator = LedgerGenerator(seed: 21)
        for batch in generator.lines(6_000, batch: 300) {
            _ = try await log.append(try EventBody.parse(batch).events)
        }
        // No follower here: the newest 8,192 wait, so all 6,000.
        let handed = try #require(log.takeCommitted(after: 0, limit: 10_000))
        let records = try log.events(afterSeq: 0, limit: 10_000)
        #expect(handed.events.count == 6_000)
        #expect(handed.events.count == records.count)
        for (event, record) in zip(handed.events, records) {
            #expect(event == (try StoredEvent.decodeForFold(record.record)), "seq \(event.seq)")
        }
        #expect(handed.lastHash == records.last!.hash)
        try await log.close()
    }

    /// A live projection, folded from what the writer handed over, equals a fold of the records.
    @Test func aProjectionFoldedFromHandedEventsEqualsAFoldOfTheRecords() async throws {
        let ledger = try TestLedger(gatherMilliseconds: 0)
        var generator = LedgerGenerator(seed: 22)
        for batch in generator.lines(6_000, batch: 100) {
            _ = try await ledger.log.append(try EventBody.parse(batch).events)
        }
        #expect(try ledger.projector.snapshot() == ledger.projector.rebuild())
        #expect(try ledger.findings().count > 0)
        // Folding every commit as it comes, the follower took events from the writer; it reads from
        // the log only what it found there before the writer handed it over.
        let folded = ledger.projector.eventsFolded
        #expect(folded.handed + folded.readFromLog == 6_000)
        #expect(folded.handed > 0, "\(folded)")
        try await ledger.close()
    }
}
