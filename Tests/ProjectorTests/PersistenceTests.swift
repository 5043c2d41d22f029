import EventLog
import EventModel
import Foundation
import LMDB
import Projector
import Testing
import TestSupport
import Workload

/// The projection is stored: a restart resumes from its watermark, and one that is not a prefix of
/// the log (an older backup of the log, another ledger's projection) is rebuilt, never trusted.
@Suite struct PersistenceTests {
    static func post(_ ledger: TestLedger, _ lines: ArraySlice<[UInt8]>) async throws {
        for line in lines { _ = try await ledger.log.append(try EventBody.parse(line).events) }
    }

    /// What a fold from nothing of the same log stores: the state, and every finding.
    static func expectFreshFold(_ ledger: TestLedger, _ comment: Comment) async throws {
        let stored = try ledger.projector.snapshot()
        #expect(stored == (try ledger.projector.rebuild()), comment)
        let fresh = try LiveProjector(log: ledger.log, configuration: .init(path: Scratch.directory("fresh-projection")))
        #expect(try ledger.findings() == fresh.findings(.init(limit: 10_000)).findings, comment)
        #expect(try fresh.snapshot() == stored, comment)
        fresh.close()
    }

    /// A second projector of the same log under `configuration`, once it has folded through
    /// `head`: its state and findings equal the ledger's own. The caller closes it.
    static func foldAgain(
        _ ledger: TestLedger, _ configuration: LiveProjector.Configuration, through head: UInt64, expected: ProjectionState
    ) async throws -> LiveProjector {
        let folded = try LiveProjector(log: ledger.log, configuration: configuration)
        let deadline = ContinuousClock.now + .seconds(60)
        while folded.appliedThrough < head, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(try folded.snapshot() == expected)
        #expect(try folded.findings(.init(limit: 10_000)).findings == ledger.findings())
        return folded
    }

    /// Waits (at most 10 s) until a file is gone: the projection's marker goes when the ledger is quiet.
    static func waitUntilGone(_ path: String) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while FileManager.default.fileExists(atPath: path), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
    }

    static func copyProjection(of ledger: TestLedger) throws -> String {
        let copy = Scratch.directory("projection-copy")
        try FileManager.default.copyItem(atPath: ledger.path + "/projection/data.mdb", toPath: copy + "/data.mdb")
        return copy
    }

    static func replaceProjection(in path: String, with copy: String) throws {
        try FileManager.default.removeItem(atPath: path + "/projection")
        try FileManager.default.createDirectory(atPath: path + "/projection", withIntermediateDirectories: false)
        try FileManager.default.copyItem(atPath: copy + "/data.mdb", toPath: path + "/projection/data.mdb")
    }

    @Test func aRestartResumesFromTheWatermarkAndEqualsAFreshFold() async throws {
        var generator = LedgerGenerator(seed: 11)
        let lines = generator.lines(6_000, batch: 200)
        var ledger = try TestLedger()
        try await Self.post(ledger, lines[0..<15])
        #expect(try ledger.projector.snapshot().appliedThrough == 3_000)
        let path = ledger.path
        try await ledger.close()

        ledger = try TestLedger(path: path)
        // The stored projection is used as it is: nothing to fold on open.
        #expect(ledger.projector.appliedThrough == 3_000)
        try await Self.post(ledger, lines[15...])
        #expect(try ledger.projector.snapshot().appliedThrough == 6_000)
        try await Self.expectFreshFold(ledger, "after a restart")
        try await ledger.close()
    }

    /// Far behind, each batch is written while the next is folded (`BatchWriter`), and the cache
    /// evicts at every hand-off but what the writer may still be writing: the projection folded so
    /// equals a fold from nothing, findings included.
    @Test func aProjectionFoldedFarBehindInSmallBatchesEqualsAFreshFold() async throws {
        var generator = LedgerGenerator(seed: 13)
        let ledger = try TestLedger()
        try await Self.post(ledger, generator.lines(8_000, batch: 400)[...])
        let expected = try ledger.projector.snapshot()
        #expect(expected.appliedThrough == 8_000)
        #expect(expected == (try ledger.projector.rebuild()))

        var configuration = LiveProjector.Configuration(path: Scratch.directory("small-batches"))
        configuration.batchSize = 250
        configuration.readBatchSize = 50
        let cached = ProjectionCache.entitiesPerTable.exchange(40, ordering: .relaxed)
        defer { ProjectionCache.entitiesPerTable.store(cached, ordering: .relaxed) }
        let folded = try await Self.foldAgain(ledger, configuration, through: 8_000, expected: expected)
        #expect(folded.eventsFolded.readFromLog == 8_000)
        folded.close()
        try await ledger.close()
    }

    /// Far behind, a batch is written early once the process holds the memory budget: with a budget
    /// of one byte, every read batch is a write of its own; without, the whole catch-up is one.
    @Test(arguments: [(budget: 1, writes: 16), (budget: nil, writes: 1)] as [(budget: Int?, writes: Int)])
    func aMemoryBudgetWritesSoonerAndFoldsTheSame(budget: Int?, writes: Int) async throws {
        var generator = LedgerGenerator(seed: 14)
        let ledger = try TestLedger()
        try await Self.post(ledger, generator.lines(8_000, batch: 400)[...])
        let expected = try ledger.projector.snapshot()

        var configuration = LiveProjector.Configuration(path: Scratch.directory("memory-budget"))
        configuration.batchSize = 1_000_000
        configuration.readBatchSize = 500
        configuration.memoryBudgetBytes = budget
        let folded = try await Self.foldAgain(ledger, configuration, through: 8_000, expected: expected)
        #expect(folded.batchesWritten == writes)
        folded.close()
        try await ledger.close()
    }

    /// A projection a stopped system left with unsynced commits (a marker of another boot) may be
    /// torn: it is thrown away and folded again. One this boot left so (a killed process) is
    /// whole in the page cache: used as it is.
    @Test(arguments: [true, false])
    func aProjectionLeftUnsyncedIsRebuiltOnlyAfterAnotherBoot(anotherBoot: Bool) async throws {
        var generator = LedgerGenerator(seed: 15)
        var ledger = try TestLedger()
        try await Self.post(ledger, generator.lines(3_000, batch: 300)[...])
        #expect(try ledger.projector.snapshot().appliedThrough == 3_000)
        let path = ledger.path
        try await ledger.close()
        let thisBoot = try String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8)
        let marker = path + "/projection/" + Environment.unsyncedMarkerName
        try (anotherBoot ? "00000000-0000-0000-0000-000000000000\n" : thisBoot).write(toFile: marker, atomically: false, encoding: .utf8)

        // A read-only projector (`ledgerctl --data-dir`) trusts it as little, and changes nothing.
        var settings = LogConfiguration(path: path)
        settings.readOnly = true
        let readOnlyLog = try EventLog(settings)
        var readOnly = LiveProjector.Configuration(path: path + "/projection")
        readOnly.readOnly = true
        let reader = try LiveProjector(log: readOnlyLog, configuration: readOnly)
        #expect(try reader.snapshot().appliedThrough == 3_000)
        #expect(reader.eventsFolded.readFromLog == (anotherBoot ? 3_000 : 0))
        reader.close()
        try await readOnlyLog.close()
        #expect(FileManager.default.fileExists(atPath: marker))

        ledger = try TestLedger(path: path)
        #expect(try ledger.projector.snapshot().appliedThrough == 3_000)
        #expect(ledger.projector.eventsFolded.readFromLog == (anotherBoot ? 3_000 : 0))
        // This boot's marker is adopted, and goes once the ledger is quiet (1 s).
        try await Self.waitUntilGone(marker)
        #expect(!FileManager.default.fileExists(atPath: marker))
        try await Self.expectFreshFold(ledger, "a projection left unsynced, another boot: \(anotherBoot)")
        try await ledger.close()
    }

    /// The projection's batches skip their sync while events come; once none came for
    /// `syncWhenIdleMilliseconds` it is synced and the marker goes. With 0, every batch syncs.
    @Test(arguments: [50, 0])
    func theProjectionIsSyncedWhenTheLedgerIsQuiet(syncWhenIdleMilliseconds: Int) async throws {
        var generator = LedgerGenerator(seed: 16)
        let ledger = try TestLedger()
        let lines = generator.lines(3_000, batch: 300)
        try await Self.post(ledger, lines[0..<5])
        let expected = try ledger.projector.snapshot()

        var configuration = LiveProjector.Configuration(path: Scratch.directory("idle-sync"))
        configuration.batchSize = 500
        configuration.syncWhenIdleMilliseconds = syncWhenIdleMilliseconds
        let folded = try await Self.foldAgain(ledger, configuration, through: 1_500, expected: expected)
        let marker = configuration.path + "/" + Environment.unsyncedMarkerName
        if syncWhenIdleMilliseconds == 0 {
            #expect(folded.batchesWrittenUnsynced == 0)
            #expect(!FileManager.default.fileExists(atPath: marker))
        } else {
            #expect(folded.batchesWrittenUnsynced == folded.batchesWritten)
            #expect(folded.batchesWritten > 1)
            try await Self.waitUntilGone(marker)
            #expect(!FileManager.default.fileExists(atPath: marker), "synced once the ledger was quiet")
            // New events skip their sync again, until the next quiet moment.
            let before = folded.batchesWrittenUnsynced
            try await Self.post(ledger, lines[5...])
            _ = try folded.snapshot()
            #expect(folded.batchesWrittenUnsynced > before)
        }
        folded.close()
        #expect(!FileManager.default.fileExists(atPath: marker), "synced on close")
        try await ledger.close()
    }

    @Test func aProjectionOfAnOlderPrefixCatchesUp() async throws {
        var generator = LedgerGenerator(seed: 12)
        let lines = generator.lines(4_000, batch: 200)
        var ledger = try TestLedger()
        try await Self.post(ledger, lines[0..<5])
        _ = try ledger.projector.snapshot()
        let path = ledger.path
        try await ledger.close()
        let older = try Self.copyProjection(of: ledger)

        ledger = try TestLedger(path: path)
        try await Self.post(ledger, lines[5...])
        try await ledger.close()
        try Self.replaceProjection(in: path, with: older)

        ledger = try TestLedger(path: path)
        #expect(try ledger.projector.snapshot().appliedThrough == 4_000)
        try await Self.expectFreshFold(ledger, "an older projection of the same log")
        try await ledger.close()
    }

    @Test func aProjectionAheadOfARestoredLogIsRebuilt() async throws {
        var generator = LedgerGenerator(seed: 13)
        let lines = generator.lines(3_000, batch: 200)
        // The log restored from an older backup: 1,000 events; the projection saw 3,000.
        let restored = try TestLedger()
        try await Self.post(restored, lines[0..<5])
        let full = try TestLedger()
        try await Self.post(full, lines[...])
        _ = try full.projector.snapshot()
        try await full.close()
        _ = try restored.projector.snapshot()
        let restoredPath = restored.path
        try await restored.close()
        try Self.replaceProjection(in: restoredPath, with: try Self.copyProjection(of: full))

        let ledger = try TestLedger(path: restoredPath)
        #expect(try ledger.projector.snapshot().appliedThrough == 1_000)
        try await Self.expectFreshFold(ledger, "a projection ahead of its log")
        try await ledger.close()
    }

    @Test func aProjectionOfAnotherLogOfTheSameLengthIsRebuilt() async throws {
        var one = LedgerGenerator(seed: 14)
        var other = LedgerGenerator(seed: 15)
        let a = try TestLedger()
        try await Self.post(a, one.lines(2_000, batch: 200)[...])
        let b = try TestLedger()
        try await Self.post(b, other.lines(2_000, batch: 200)[...])
        _ = try a.projector.snapshot()
        _ = try b.projector.snapshot()
        let bFindings = try b.findings()
        try await a.close()
        try await b.close()
        // Same seq, another chain hash: a's projection is no projection of b's log.
        try Self.replaceProjection(in: b.path, with: try Self.copyProjection(of: a))

        let ledger = try TestLedger(path: b.path)
        #expect(try ledger.findings() == bFindings)
        try await Self.expectFreshFold(ledger, "another ledger's projection")
        try await ledger.close()
    }
    /// A read-only projector (`ledgerctl --data-dir`) whose fold of the tail meets a damaged stored
    /// entity fails that read, and every later one, with the damage: it neither answers from a
    /// half-folded tail nor from a state that lost the stored prefix, and it does not crash.
    @Test func aReadOnlyFoldThatFailsKeepsFailingInsteadOfAnsweringWrongly() async throws {
        let ledger = try TestLedger()
        try await ledger.setUpTenant()
        try await ledger.post("sales_order.created", by: "u-li", on: "sales_order", "SO-9", changes: created([("owner", #""u-li""#), ("amount", "100")]))
        let stored = try ledger.projector.snapshot()
        ledger.projector.close()
        // A tail the daemon has not folded, which needs the stored order.
        try await ledger.post("user.updated", by: "u-root", on: "user", "u-wu", changes: #"[{"field":"title","new":"lead"}]"#)
        try await ledger.post("sales_order.updated", by: "u-li", on: "sales_order", "SO-9", changes: #"[{"field":"amount","old":100,"new":200}]"#)

        let environment = try Environment(.init(path: ledger.path + "/projection"))
        let orders = try environment.openDatabases([("orders", [])])[0]
        try environment.write { txn in
            #expect(try txn.get(orders, Array("SO-9".utf8)) != nil)
            try txn.put(orders, key: Array("SO-9".utf8), value: [0xFF, 0xFF, 0xFF, 0xFF])
        }
        environment.close()

        var configuration = LiveProjector.Configuration(path: ledger.path + "/projection")
        configuration.readOnly = true
        let reader = try LiveProjector(log: ledger.log, configuration: configuration)
        for _ in 0..<3 {
            #expect(throws: (any Error).self) { try reader.findings(.init(limit: 100)) }
            #expect(throws: (any Error).self) { try reader.read { $0.users["u-root"] } }
            #expect(throws: (any Error).self) { try reader.snapshot() }
        }
        #expect(stored.users["u-root"] != nil)
        reader.close()
        try await ledger.log.close()
    }
}
