import EventLog
import EventModel
import Foundation
import Projector
import Testing
import Workload

/// The projection rebuilt from nothing equals the live one, on a realistic stream from the project's generator.
@Suite struct RebuildTests {
    /// 20k in the fast suite; `make torture` (LEDGER_TORTURE=1) runs 100k, `make bench` checks 1M in release.
    static var eventCount: Int {
        let env = ProcessInfo.processInfo.environment
        if let n = env["LEDGER_REBUILD_EVENTS"].flatMap(Int.init) { return n }
        return env["LEDGER_TORTURE"] == "1" ? 100_000 : 20_000
    }

    @Test func rebuiltEqualsLiveOnGeneratedEvents() async throws {
        var generator = LedgerGenerator(seed: 5)
        let batches = generator.lines(Self.eventCount, batch: 500)

        let ledger = try TestLedger()
        // The projector follows while the batches arrive, as under a live daemon.
        for line in batches {
            let events = try EventBody.parse(line).events
            _ = try await ledger.log.append(events)
        }
        let live = try ledger.projector.snapshot()
        #expect(live.appliedThrough == UInt64(Self.eventCount))
        let rebuilt = try ledger.projector.rebuild()
        #expect(rebuilt == live)
        // As-of answers fold only the entities asked about; at the head they must agree with the global fold.
        let universe = live.universe { _, _ in true }
        var withPermissions = 0
        for user in live.users.all.keys.sorted() {
            let answer = try ledger.queries.access(user: user)
            let expected = live.access(of: user, universe: universe)
            #expect(answer.permissions.map(\.permission) == expected.map(\.permission), "\(user)")
            #expect(answer.permissions.map(\.via) == expected.map(\.via), "\(user)")
            #expect(answer.status == live.users[user]?.status, "\(user)")
            withPermissions += answer.permissions.isEmpty ? 0 : 1
        }
        #expect(withPermissions > live.users.all.count / 10)
        let holders = try ledger.queries.holders(permission: "sales_order.edit").holders.map(\.user)
        let expectedHolders = live.users.all.keys.sorted().filter { !live.paths(of: $0, to: "sales_order.edit", universe: universe).isEmpty }
        #expect(holders == expectedHolders)
        // The generator breaks every rule now and then. The default policy judges every kind but
        // grant_without_approval and sod_conflict (no duties named); stale access needs 30 days, more
        // than 20k events span.
        let kinds = Set(try ledger.findings().map(\.kind))
        #expect(kinds == Set(Finding.Kind.allCases).subtracting([.grantWithoutApproval, .sodConflict, .staleAccess]))
        try await ledger.close()
    }
}
