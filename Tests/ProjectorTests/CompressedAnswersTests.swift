import EventLog
import EventModel
import Projector
import Queries
import Testing
import Workload

/// Records compressed on disk answer exactly what the same records stored as they are answer: the
/// export, the event queries, histories and record states, byte for byte (issue 11: the canonical bytes,
/// their hashes, the export and the proofs do not change).
@Suite struct CompressedAnswersTests {
    @Test func theSameRecordsCompressedOrNotAnswerTheSameBytes() async throws {
        let plain = try TestLedger(dictionaries: nil)
        var generator = LedgerGenerator(seed: 23)
        for batch in generator.lines(3_000, batch: 500) { _ = try await plain.log.append(try EventBody.parse(batch).events) }
        let exported = try plain.log.events(afterSeq: 0, limit: .max)

        // The same records, imported at their own seq and recordedAt into a ledger that compresses after 500.
        var schedule = DictionarySchedule()
        schedule.firstAfter = 500
        schedule.samples = 500
        schedule.capacity = 8 * 1024
        let compressed = try TestLedger(dictionaries: schedule)
        for start in stride(from: 0, to: exported.count, by: 250) {
            _ = try await compressed.log.importRecords(exported[start..<min(start + 250, exported.count)].map(\.record))
            try await Task.sleep(for: .milliseconds(30))  // training runs beside the writer: let it finish early on
        }
        #expect(try compressed.log.diskBytes() * 10 < plain.log.diskBytes() * 8, "nothing was compressed")

        #expect(try compressed.log.events(afterSeq: 0, limit: .max) == exported)
        #expect(try compressed.log.head() == plain.log.head())
        #expect(try compressed.log.merkleRoot(treeSize: UInt64(exported.count)) == plain.log.merkleRoot(treeSize: UInt64(exported.count)))
        #expect(try compressed.log.verifyChain().ok)

        let stored = try exported.map { try $0.decode() }
        let subjects = Set(stored.map(\.envelope.subject)).sorted { ($0.type, $0.id) < ($1.type, $1.id) }
        let actors = Set(stored.map(\.envelope.actor.id)).sorted()
        for subject in subjects {
            #expect(try compressed.queries.historyJSON(subject) == plain.queries.historyJSON(subject), "\(subject)")
        }
        for actor in actors.prefix(50) {
            let query = EventQuery(actor: actor, limit: 1000)
            #expect(try compressed.log.events(query) == plain.log.events(query), "\(actor)")
        }
        let typeQuery = EventQuery(type: stored[2_000].envelope.type, order: .desc, limit: 1000)
        #expect(try compressed.log.events(typeQuery) == plain.log.events(typeQuery))

        let head = UInt64(exported.count)
        #expect(await plain.projector.nextFold(beyond: head - 1, timeout: .seconds(60)) == head)
        #expect(await compressed.projector.nextFold(beyond: head - 1, timeout: .seconds(60)) == head)
        for subject in subjects.prefix(200) {
            for asOf in [AsOf.now, .seq(head / 2)] {
                let answer = try compressed.queries.state(subject, asOf: asOf).json
                #expect(CanonicalJSON.encode(answer) == CanonicalJSON.encode(try plain.queries.state(subject, asOf: asOf).json), "\(subject)")
            }
        }
        try await compressed.close()
        try await plain.close()
    }
}
