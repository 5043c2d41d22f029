import EventLog
import EventModel
import Testing
import TestSupport

/// The log hands the events it committed to the projection's follower in their fold form: a run of
/// consecutive seqs not yet taken, at most `handOffEvents` of them, each with its record's chain hash.
@Suite struct HandOffTests {
    static func hash(_ log: EventLog, _ seq: UInt64) throws -> [UInt8] {
        try log.events(afterSeq: seq - 1, limit: 1).first!.hash
    }

    @Test func committedEventsAreHandedOverOnceWithTheirChainHashes() async throws {
        var factory = EventFactory(seed: 3)
        let log = try openLog { $0.handOffEvents = 10 }
        #expect(log.takeCommitted(after: 0, limit: 100) == nil)
        let first = factory.events(3, idPrefix: "a")
        _ = try await log.append(first)

        let two = try #require(log.takeCommitted(after: 0, limit: 2))
        #expect(two.events == (try log.events(afterSeq: 0, limit: 2).map { try StoredEvent.decodeForFold($0.record) }))
        #expect(two.lastHash == (try Self.hash(log, 2)))
        let rest = try #require(log.takeCommitted(after: 2, limit: 100))
        #expect(rest.events.map(\.seq) == [3])
        #expect(rest.lastHash == (try Self.hash(log, 3)))
        #expect(log.takeCommitted(after: 3, limit: 100) == nil)
        #expect(log.takeCommitted(after: 0, limit: 100) == nil)

        // Past ten waiting the oldest go: a follower that far behind reads the log.
        _ = try await log.append(factory.events(12, idPrefix: "b"))
        #expect(log.takeCommitted(after: 3, limit: 100) == nil)
        // One that is past some of them (it read them from the log) takes the rest.
        let newest = try #require(log.takeCommitted(after: 7, limit: 100))
        #expect(newest.events.map(\.seq) == Array(8...15))
        #expect(newest.lastHash == (try Self.hash(log, 15)))

        // A retry appends nothing and hands nothing over; the next append follows on.
        _ = try await log.append(Array(first.prefix(1)))
        #expect(log.takeCommitted(after: 15, limit: 100) == nil)
        _ = try await log.append(factory.events(2, idPrefix: "c"))
        #expect(log.takeCommitted(after: 15, limit: 100)?.events.map(\.seq) == [16, 17])
        try await log.close()
    }

    @Test func noneAreKeptWhenTurnedOffOrReadOnly() async throws {
        var factory = EventFactory(seed: 4)
        let path = temporaryDirectory()
        let off = try openLog(path) { $0.handOffEvents = 0 }
        _ = try await off.append(factory.events(3))
        #expect(off.takeCommitted(after: 0, limit: 100) == nil)
        let reader = try openLog(path) { $0.readOnly = true }
        #expect(reader.takeCommitted(after: 0, limit: 100) == nil)
        try await reader.close()
        try await off.close()
    }
}
