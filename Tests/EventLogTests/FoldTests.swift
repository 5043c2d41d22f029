import EventModel
import LMDB
import Testing

@testable import EventLog

/// A fold writes the id table and each index in a transaction of its own, with appends committed
/// between them: every read, and verification, must be exact at each of those moments, and a fold
/// cut short between them must leave nothing the next one trips over or counts twice.
@Suite struct FoldTests {
    @Test func readsAndVerificationAreExactBetweenAFoldsTransactions() async throws {
        var factory = EventFactory(seed: 21)
        // The writer waits for an append between two of a fold's transactions: each append moves it one on.
        let log = try openLog { $0.foldThreshold = 500; $0.foldIdleMilliseconds = 600_000; $0.foldStepPauseMilliseconds = 600_000 }
        for _ in 0..<3 { _ = try await log.append(factory.events(200, idPrefix: "f\(factory.next(1 << 30))")) }
        try await waitUntil { log.tail.withLock { $0.folding != nil } }
        #expect(log.indexedThrough() == 0)
        var checked = 0
        var appendedDuringTheFold: [PreparedEvent] = []
        while log.tail.withLock({ $0.folding != nil }) && checked < 20 {
            try QueryTests().checkAll(log, pageSize: 17)
            #expect(try log.verify(checkpointVerifier: nil, indexes: true).ok)
            let events = factory.events(10, idPrefix: "g\(factory.next(1 << 30))")
            appendedDuringTheFold += events
            _ = try await log.append(events)
            try await Task.sleep(for: .milliseconds(20))
            checked += 1
        }
        // The ids, then one transaction per index: as many appends as indexes move it to its end.
        try await waitUntil { log.indexedThrough() == 600 }
        #expect(checked >= IndexKind.allCases.count)
        #expect(log.tail.withLock { $0.folding == nil && $0.count == 10 * checked })
        try QueryTests().checkAll(log, pageSize: 17)
        #expect(try log.verify(checkpointVerifier: nil, indexes: true).ok)
        // Their ids, kept through the fold's steps, still make a retry a duplicate.
        #expect(try await log.append(appendedDuringTheFold).allSatisfy(\.duplicate))
        try await log.close()
    }

    @Test func entriesAFoldCutShortLeftAreKeptOnceByTheNext() async throws {
        let path = temporaryDirectory()
        var factory = EventFactory(seed: 22)
        let log = try openLog(path) { $0.foldThreshold = 1_000_000; $0.foldIdleMilliseconds = 600_000; $0.foldOnClose = false }
        for _ in 0..<3 { _ = try await log.append(factory.events(100, idPrefix: "h\(factory.next(1 << 30))")) }
        let events = try log.allEvents()
        try await log.close()

        // What folds cut short leave: entries past a watermark that never moved. Here the subject
        // index's of the first 200 events, the actor index's of the first 150 and the time index's
        // of the first 100, as folds stopped at different points would (each index is one
        // transaction: never half written).
        let store = try Store(.init(path: path, mapSize: 64 << 20))
        let environment = store.environment
        try environment.write { txn in
            for (logged, event) in events where logged.seq <= 200 {
                for (kind, key) in IndexKeys.entries(for: event.envelope) where kind == .subject || (kind == .actor && logged.seq <= 150) || (kind == .time && logged.seq <= 100) {
                    try txn.put(store.index(kind), key: key, value: bigEndianBytes(logged.seq))
                }
            }
        }
        environment.close()

        let reopened = try openLog(path) { $0.foldThreshold = 100; $0.foldIdleMilliseconds = 600_000 }
        #expect(reopened.indexedThrough() == 0)
        try QueryTests().checkAll(reopened, pageSize: 19)
        #expect(try reopened.verify(checkpointVerifier: nil, indexes: true).ok)
        _ = try await reopened.append(factory.events(50, idPrefix: "i\(factory.next(1 << 30))"))
        try await waitUntil { reopened.indexedThrough() == 350 }
        try QueryTests().checkAll(reopened, pageSize: 19)
        let report = try reopened.verify(checkpointVerifier: nil, indexes: true)
        #expect(report.ok, "\(report)")
        try await reopened.close()
    }

    private func waitUntil(_ condition: () throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(20)
        while try !condition() {
            guard ContinuousClock.now < deadline else {
                Issue.record("timed out")
                return
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }
}
