import EventLog
import EventModel
import Projector
import Testing
import Workload

/// The follower lets small commits gather before it folds them, but never makes a read wait for that.
@Suite struct GatheringTests {
    /// No timing below is a bound this suite's load could break: the gathering time is a minute.
    @Test func smallCommitsGatherUntilAReadWaits() async throws {
        let ledger = try TestLedger(gatherMilliseconds: 60_000)
        // A first commit, folded at once by a read: the follower's start-up pass (which folds what is
        // there without gathering) is then behind it, however late its thread started.
        let first = try await ledger.post("user.created", by: "u-root", on: "user", "u-wang", changes: created([("name", #""Wang""#)]))
        #expect(try ledger.projector.snapshot().appliedThrough == first)
        let seq = try await ledger.post("user.created", by: "u-root", on: "user", "u-li", changes: created([("name", #""Li""#)]))
        try await Task.sleep(for: .milliseconds(300))
        #expect(ledger.projector.appliedThrough < seq, "folded before the gathering time was up, with no read waiting")
        #expect(ledger.projector.isCurrent, "a commit gathering for the next fold made the projection not current (/readyz)")
        #expect(try ledger.projector.snapshot().users["u-li"] != nil)
        try await ledger.close()
    }

    @Test func gatheredCommitsAreFoldedWithNoRead() async throws {
        let ledger = try TestLedger(gatherMilliseconds: 500)
        let seq = try await ledger.post("user.created", by: "u-root", on: "user", "u-li", changes: created([("name", #""Li""#)]))
        #expect(await ledger.projector.nextFold(beyond: seq - 1, timeout: .seconds(60)) >= seq)
        try await ledger.close()
    }

    /// A read that waited for the gathering time would give up first (after 10 s, with a 503).
    @Test func aReadHasTheFollowerFoldAtOnce() async throws {
        let ledger = try TestLedger(gatherMilliseconds: 60_000)
        for round in 1...3 {
            let seq = try await ledger.post(
                "user.created", by: "u-root", on: "user", "u-\(round)", changes: created([("name", "\"N\(round)\"")]))
            let state = try ledger.projector.snapshot()
            #expect(state.appliedThrough == seq)
            #expect(state.users["u-\(round)"]?.fields["name"]?.value == .string("N\(round)"))
        }
        try await ledger.close()
    }

    /// The writer announces a commit a moment after it is in LMDB, and a follower reading ahead can
    /// fold it in that moment: the projection is then past the announced head, which neither the
    /// follower's own checks nor `/readyz`'s may take for a negative distance (it trapped, once).
    /// Widened to 10 ms a commit, that moment is usually met here (how often depends on the load,
    /// so it is counted, not required); the fold must equal a fresh one whatever the order.
    @Test func aCommitFoldedBeforeItIsAnnouncedIsFoldedLikeAnyOther() async throws {
        let ledger = try TestLedger(projectionBatch: 1, gatherMilliseconds: 0, announcePauseMilliseconds: 10)
        var generator = LedgerGenerator(seed: 23)
        let lines = generator.lines(240, batch: 1)
        let appending = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for part in 0..<8 {
                    group.addTask {
                        for index in stride(from: part, to: lines.count, by: 8) {
                            _ = try await ledger.log.append(try EventBody.parse(lines[index]).events)
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        var ahead = 0
        while ledger.log.committedHead < UInt64(lines.count) {
            if ledger.projector.appliedThrough > ledger.log.committedHead { ahead += 1 }
            _ = ledger.projector.isCurrent
            try await Task.sleep(for: .microseconds(200))
        }
        try await appending.value
        #expect(try ledger.projector.snapshot() == ledger.projector.rebuild(), "folded ahead of the announced head \(ahead) times")
        try await ledger.close()
    }

    @Test func aLargeBacklogIsFoldedWithoutGathering() async throws {
        let ledger = try TestLedger(gatherMilliseconds: 60_000)
        var generator = LedgerGenerator(seed: 21)
        var last: UInt64 = 0
        for line in generator.lines(2_000, batch: 1_000) { last = try await ledger.log.append(try EventBody.parse(line).events).last!.seq }
        // Gathered, it would be folded in a minute: the wait below ends sooner.
        #expect(await ledger.projector.nextFold(beyond: last - 1, timeout: .seconds(30)) >= last)
        try await ledger.close()
    }
}
