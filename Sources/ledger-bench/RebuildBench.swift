import EventLog
import EventModel
import Glibc
import Logging
import Projector

/// `ledger-bench --rebuild DIR`: the projection of an existing ledger rebuilt from its log, as
/// ledgerd does on a first start (its projection directory is deleted first), then where a
/// rebuild's time goes, on one thread: reading the records, decoding them for the fold, folding.
struct RebuildBench {
    var path: String
    var batchSize: Int
    var readBatchSize: Int
    var memoryBudgetMiB: Int

    func run() throws {
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        let log = try EventLog(LogConfiguration(path: path), logger: logger)
        let head = try log.head().seq
        _ = system("rm -rf '\(path)/projection'")
        var configuration = LiveProjector.Configuration(path: path + "/projection")
        configuration.batchSize = batchSize
        configuration.readBatchSize = readBatchSize
        configuration.memoryBudgetBytes = memoryBudgetMiB > 0 ? memoryBudgetMiB << 20 : nil
        let cpuBefore = threadCPUSeconds()
        let processBefore = processCPUSeconds()
        let start = ContinuousClock.now
        let projector = try LiveProjector(log: log, configuration: configuration, logger: logger)
        var peak = 0
        while projector.appliedThrough < head {
            peak = max(peak, rssAnonKiB())
            usleep(10_000)
        }
        let elapsed = ContinuousClock.now - start
        let cpu = threadCPUSeconds().map { ($0.key, $0.value - (cpuBefore[$0.key] ?? 0)) }.filter { $0.1 >= 0.05 }.sorted { $0.1 > $1.1 }
        let process = processCPUSeconds() - processBefore
        print("rebuild of \(head) events into the stored projection (\(batchSize) a transaction, read \(readBatchSize) at a time): \(elapsed), RssAnon at most \(max(peak, rssAnonKiB()) / 1024) MiB, \(projector.batchesWritten) transactions")
        // The read-ahead's threads (one a batch) have ended by now: theirs is what the process used besides.
        print("CPU seconds by thread: " + cpu.map { "\($0.0) \(String(format: "%.2f", $0.1))" }.joined(separator: ", ")
            + String(format: ", threads ended (ledger-readahead) %.2f; %.2f in all", process - cpu.reduce(0) { $0 + $1.1 }, process))
        projector.close()

        let (read, decode, fold, findings) = try Self.breakdown(log)
        let perEvent = { (d: Duration) in "\(Int((d / Int(head)).components.attoseconds / 1_000_000_000)) ns/event" }
        print("one thread, in memory: read \(read) (\(perEvent(read))), decode \(decode) (\(perEvent(decode))), fold with findings \(fold) (\(perEvent(fold))); \(findings) findings")
    }

    /// Where a rebuild's time goes, on one thread and in memory: reading, decoding, folding.
    static func breakdown(_ log: EventLog) throws -> (read: Duration, decode: Duration, fold: Duration, findings: Int) {
        var read = Duration.zero, decode = Duration.zero, fold = Duration.zero
        var state = ProjectionState()
        var findings: [Finding] = []
        var after: UInt64 = 0
        while true {
            var t = ContinuousClock.now
            let batch = try log.events(afterSeq: after, limit: 20_000)
            read += ContinuousClock.now - t
            guard let last = batch.last else { break }
            t = ContinuousClock.now
            var decoder = StoredEvent.FoldDecoder()
            let events = try batch.map { try decoder.decode($0.record) }
            decode += ContinuousClock.now - t
            t = ContinuousClock.now
            for event in events { state.apply(event, policy: Policy(), findings: &findings) }
            fold += ContinuousClock.now - t
            after = last.seq
        }
        return (read, decode, fold, findings.count)
    }
}

extension RebuildBench {
    /// `ledger-bench --fold-parts DIR`: the records read once, then decoded for the fold and folded
    /// with findings `passes` times each, on one thread; the fastest pass and the median of each.
    /// Not `breakdown`, which reads, decodes and folds a batch at a time and lets each go: this
    /// holds every record and event so that each pass does the same work, and its first pass pays
    /// for touching that memory (`breakdown` run over it took about twice as long an event).
    static func foldParts(path: String, passes: Int, limit: Int) throws {
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        let log = try EventLog(LogConfiguration(path: path), logger: logger)
        var records: [[UInt8]] = []
        var after: UInt64 = 0
        while records.count < limit {
            let batch = try log.events(afterSeq: after, limit: min(20_000, limit - records.count))
            guard let last = batch.last else { break }
            records += batch.map(\.record)
            after = last.seq
        }
        var decodeTimes: [Duration] = [], foldTimes: [Duration] = []
        var events: [StoredEvent] = []
        var findings = 0
        for _ in 0..<max(1, passes) {
            events = []
            events.reserveCapacity(records.count)
            var t = ContinuousClock.now
            var decoder = StoredEvent.FoldDecoder()
            for record in records { events.append(try decoder.decode(record)) }
            decodeTimes.append(ContinuousClock.now - t)
            var state = ProjectionState()
            var found: [Finding] = []
            t = ContinuousClock.now
            for event in events { state.apply(event, policy: Policy(), findings: &found) }
            foldTimes.append(ContinuousClock.now - t)
            findings = found.count
        }
        func perEvent(_ times: [Duration]) -> String {
            let sorted = times.sorted().map { Int(($0 / records.count).components.attoseconds / 1_000_000_000) }
            return "fastest \(sorted[0]) ns/event, median \(sorted[sorted.count / 2])"
        }
        print("\(records.count) records, \(passes) passes on one thread: decode for the fold \(perEvent(decodeTimes)); fold with findings \(perEvent(foldTimes)); \(findings) findings")
        print(try FoldFormFigures.measure(events, passes: passes))
    }
}

/// The CPU the whole process has used, its ended threads included.
func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}
