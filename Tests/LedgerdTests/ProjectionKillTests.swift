import EventLog
import EventModel
import Foundation
import Glibc
import Logging
import Projector
import Testing
import TestSupport
import Workload

/// kill -9 of ledgerd while it folds the projection: each batch commits with its watermark or not at
/// all, so every restart resumes from a prefix and the end result equals a fold from nothing.
@Suite struct ProjectionKillTests {
    /// 20k events in the fast suite (five batches of the fold); `make torture` folds 200k.
    static var eventCount: Int { ProcessInfo.processInfo.environment["LEDGER_TORTURE"] == "1" ? 200_000 : 20_000 }

    @Test func aKillDuringTheFoldResumesFromAPrefixAndEqualsAFreshFold() async throws {
        let data = Scratch.path("kill-fold")
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        // The log alone, as after `ledgerctl import`: ledgerd's first start folds all of it.
        do {
            let log = try EventLog(LogConfiguration(path: data), logger: logger)
            var generator = LedgerGenerator(seed: 21)
            for line in generator.lines(Self.eventCount, batch: 500) { _ = try await log.append(EventBody.parse(line).events) }
            try await log.close()
        }
        var opened: [UInt64] = []
        for round in 0..<3 {
            let daemon = try await LedgerctlTests.Daemon(
                dataDirectory: data, environment: ["LEDGERD_PROJECTION_BATCH_EVENTS": "\(Self.eventCount / 5)"])
            // Later rounds wait longer, so the fold gets further each time before the kill.
            try await Task.sleep(for: .microseconds(300_000 + round * 700_000 + Int.random(in: 0..<300_000)))
            kill(daemon.process.processIdentifier, SIGKILL)
            await daemon.process.exited()
            let text = (try? String(contentsOfFile: data + ".log", encoding: .utf8)) ?? ""
            let line = text.split(separator: "\n").first { $0.contains("projection opened") || $0.contains("projection rebuilt") }
            let through = line?.split(separator: " ").first { $0.hasPrefix("projector.applied_through=") }
                .flatMap { UInt64($0.split(separator: "=")[1]) } ?? 0
            #expect(line != nil, "round \(round): the daemon said nothing about its projection")
            opened.append(through)
        }
        // Every start opened a prefix no later than the next one's (a kill never loses a committed
        // batch), on a batch boundary.
        #expect(opened == opened.sorted(), "watermarks at each start: \(opened)")
        #expect(opened.allSatisfy { $0 % UInt64(Self.eventCount / 5) == 0 }, "watermarks at each start: \(opened)")

        let log = try EventLog(LogConfiguration(path: data), logger: logger)
        let projector = try LiveProjector(log: log, configuration: .init(path: data + "/projection"), logger: logger)
        // Folds of the whole ledger here, in a debug build, may take longer than a read waits (10 s).
        func caughtUp(_ projector: LiveProjector) async throws -> LiveProjector {
            let deadline = ContinuousClock.now + .seconds(300)
            while projector.appliedThrough < UInt64(Self.eventCount), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            return projector
        }
        _ = try await caughtUp(projector)
        let stored = try projector.snapshot()
        #expect(stored.appliedThrough == UInt64(Self.eventCount))
        #expect(stored == (try projector.rebuild()))
        let fresh = try await caughtUp(LiveProjector(log: log, configuration: .init(path: Scratch.directory("fresh-projection")), logger: logger))
        let all = LiveProjector.FindingQuery(limit: 10_000)
        #expect(try projector.findings(all).findings == fresh.findings(all).findings)
        #expect(try projector.findings(all).findings.count > 10)
        fresh.close()
        projector.close()
        try await log.close()
    }
}
