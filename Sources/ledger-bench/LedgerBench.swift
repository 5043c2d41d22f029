import ArgumentParser
import EventLog
import EventModel
import Transparency
import Glibc
import Logging
import Projector

/// `make bench`: the ledger core on the generated workload (ledgerctl demo), next to a raw-LMDB baseline, in one run.
@main
struct LedgerBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger-bench",
        abstract: "Benchmarks the event log against raw LMDB on a generated workload (ledgerctl demo).")

    @Option(help: "NDJSON file of JSON arrays (ledgerctl demo --batch 500): the batch-ingest workload.")
    var batches: String?

    @Option(help: "NDJSON file of single events (ledgerctl demo): the 64-task single-append workload.")
    var singles: String?

    @Option(help: "Only append the --projection workload into this data directory (the log alone, as ledgerd finds it after an import), then stop.")
    var fill: String?

    @Flag(help: "With --fill: store the records as they are, without training a dictionary (to compare).")
    var uncompressed = false

    @Option(help: "Scratch directory for the ledgers (emptied first).")
    var directory: String = "/tmp/ledger-bench"

    @Option(help: "Concurrent tasks submitting batches to the log.")
    var batchTasks: Int = 4

    @Option(help: "Concurrent tasks appending single events.")
    var singleTasks: Int = 64

    @Option(help: "Random subject-history queries.")
    var histories: Int = 10_000

    @Option(help: "Single-event commits for the raw baseline (one fsync'd commit each).")
    var rawSingles: Int = 2_000

    @Option(help: "NDJSON file of JSON arrays for the projection figures (ledgerctl demo --events 1000000 --batch 500); skipped when absent.")
    var projection: String?

    @Option(help: "Random as-of access queries on the projection ledger.")
    var asOfQueries: Int = 2_000

    @Option(help: "Events per index fold, for the log and the raw baseline alike (and for --floor-log).")
    var foldEvery: Int = LogConfiguration(path: "").foldThreshold

    @Option(name: .customLong("verify-only"), help: "Only time verification of the ledger already in this data directory, then stop.")
    var verifyOnly: String?

    @Option(help: "Only time a rebuild of the projection of the ledger in this data directory (its projection is deleted first), and where the time goes, then stop.")
    var rebuild: String?

    @Option(help: "Only time, on one thread and in memory, decoding every record of the ledger in this data directory for the fold and folding them with findings, --passes times each; print the fastest pass and the median, then stop. Changes of the decoder or the fold are compared with it: the fastest of several passes holds still on a noisy machine where one rebuild does not.")
    var foldParts: String?

    @Flag(help: "Only time a dependent load in 4 MiB of memory (whether the shared L3 is ours just now), then stop.")
    var cacheProbe = false

    @Option(help: "Passes for --fold-parts.")
    var passes: Int = 5

    @Option(help: "With --fold-parts: only the first N records (a shorter run, such as one under a profiler).")
    var foldLimit: Int = .max

    @Option(help: "Events the projection folds per transaction, for --rebuild.")
    var projectionBatch: Int = LiveProjector.Configuration(path: "").batchSize

    @Option(help: "Entities of each table the projection keeps in memory between transactions (ProjectionCache.entitiesPerTable), for --rebuild.")
    var entitiesPerTable: Int?

    @Option(help: "With --rebuild: the projection's memory budget in MiB (LiveProjector.Configuration.memoryBudgetBytes; 0: none).")
    var memoryBudgetMib: Int = (LiveProjector.Configuration(path: "").memoryBudgetBytes ?? 0) >> 20

    @Option(help: "Events the projection reads and decodes at a time, for --rebuild.")
    var projectionReadBatch: Int = LiveProjector.Configuration(path: "").readBatchSize

    @Option(help: "Only answer every HTTP request on this port with a constant, through swift-nio alone (the floor of HTTP in Swift), until stopped.")
    var httpFloor: Int?

    @Option(help: "With --http-floor: store each POST's body in a new LMDB environment in this directory, fsynced, before its answer (the floor of a durable acknowledgement).")
    var floorStore: String?

    @Option(help: "With --http-floor: append each POST's events to an event log in this data directory, parsed as ledgerd parses them, with the projection following, before its answer (ledgerd's storage without its HTTP layer).")
    var floorLog: String?

    @Option(help: "With --http-floor: parse each POST as ledgerd does and write its events into a new LMDB environment in this directory as --raw-floor writes a batch (records, chain hashes, ids, index entries), one durable commit for whatever is queued, before its answer (the floor of an LMDB ledger).")
    var floorRaw: String?

    @Flag(help: "With --floor-log: no projection.")
    var floorWithoutProjection = false

    @Option(help: "With --batches: only write its events into a new LMDB environment in this directory from one thread with LMDB's C API (records, ids, index entries; a durable commit a batch), the floor under batch ingest; print the rate as JSON, then stop.")
    var rawFloor: String?

    @Flag(help: "With --batches: only time parsing, validating and canonicalizing its bodies on one thread, five rounds, then stop.")
    var parseOnly = false

    mutating func run() async throws {
        if parseOnly {
            guard let batches else { throw ValidationError("--parse-only needs --batches FILE") }
            let bodies = try readLines(batches).map { Array($0.utf8) }
            var table = Table()
            for round in 1...5 {
                let start = ContinuousClock.now
                var events = 0
                for body in bodies { events += try EventBody.parse(body).events.count }
                table.add("parse, round \(round)", "parse+validate+canonicalize, 1 thread", events, ContinuousClock.now - start, [])
            }
            table.print()
            return
        }
        if let httpFloor {
            let store: (any FloorStore)? =
                if let floorLog { try LedgerStorage(path: floorLog, projection: !floorWithoutProjection, foldEvery: foldEvery) }
                else if let floorRaw { rawLedgerStore(path: floorRaw, foldEvery: foldEvery) }
                else if let floorStore { try durableFloorStore(path: floorStore) }
                else { nil }
            try await HTTPFloor.serve(port: httpFloor, store: store)
            return
        }
        if let fill {
            guard let projection else { throw ValidationError("--fill needs --projection FILE") }
            var logger = Logger(label: "bench")
            logger.logLevel = .warning
            var configuration = LogConfiguration(path: fill)
            if uncompressed { configuration.dictionaries = nil }
            let log = try EventLog(configuration, logger: logger)
            let start = ContinuousClock.now
            try await appendAll(of: projection, to: log)
            print("filled \(fill): \(try log.head().seq) events in \(ContinuousClock.now - start)")
            try await log.close()
            return
        }
        if cacheProbe {
            print(CacheProbe.report())
            return
        }
        if let foldParts {
            try RebuildBench.foldParts(path: foldParts, passes: passes, limit: foldLimit)
            return
        }
        if let rebuild {
            if let entitiesPerTable { ProjectionCache.entitiesPerTable.store(entitiesPerTable, ordering: .relaxed) }
            try RebuildBench(path: rebuild, batchSize: projectionBatch, readBatchSize: projectionReadBatch, memoryBudgetMiB: memoryBudgetMib).run()
            return
        }
        if let rawFloor {
            guard let batches else { throw ValidationError("--raw-floor needs --batches FILE") }
            RawLedger.floor(batches: try readLines(batches).map { try EventBody.parse(Array($0.utf8)).events }, directory: rawFloor, foldEvery: foldEvery)
            return
        }
        guard let batches, let singles else { throw ValidationError("--batches and --singles are needed (or --fill)") }
        if let verifyOnly {
            var settings = LogConfiguration(path: verifyOnly)
            settings.readOnly = true
            let log = try EventLog(settings)
            let buffer = [UInt8](repeating: 7, count: 300)
            var t0 = ContinuousClock.now
            var acc: UInt8 = 0
            for _ in 0..<1_000_000 { acc ^= buffer.withUnsafeBytes { MerkleTree.leafHash($0) }[0] }
            print("1M leaf hashes of 300 bytes: \(ContinuousClock.now - t0) \(acc)")
            t0 = ContinuousClock.now
            let left = [UInt8](repeating: 1, count: 32)
            for _ in 0..<1_000_000 { acc ^= MerkleTree.nodeHash(left, left)[0] }
            print("1M node hashes: \(ContinuousClock.now - t0) \(acc)")
            for _ in 0..<3 {
                let t = ContinuousClock.now
                let report = try log.verifyChain()
                print("verifyChain: \(report.count) records, ok \(report.ok), \(ContinuousClock.now - t)")
            }
            try await log.close()
            return
        }
        _ = system("rm -rf '\(directory)' && mkdir -p '\(directory)'")
        let batchLines = try readLines(batches)
        let singleLines = try readLines(singles).map { $0.replacingFirst(#""id":"evt-"#, with: #""id":"single-"#) }
        let parseStart = ContinuousClock.now
        let prepared = try batchLines.map { try EventBody.parse(Array($0.utf8)).events }
        let parseElapsed = ContinuousClock.now - parseStart
        let eventCount = prepared.reduce(0) { $0 + $1.count }
        let singlesPrepared = try singleLines.map { try EventBody.parse(Array($0.utf8)).events[0] }
        var subjects = Set<Envelope.Subject>()
        for batch in prepared { for event in batch { subjects.insert(event.envelope.subject) } }
        let subjectList = Array(subjects)
        print("workload: \(eventCount) events in \(prepared.count) batches, \(singlesPrepared.count) single events, \(subjectList.count) subjects")
        print("machine: \(machineDescription()); fold every \(foldEvery) events")
        var table = Table()
        table.add("batch ingest, 500/commit", "parse+validate only, 1 thread", eventCount, parseElapsed, [])

        // 1. Raw LMDB: same bytes, keys and batching, C API, no validation; then the same with the
        // Merkle work, twice each, alternating, so the tree's cost is read side by side.
        let rawInputs = RawLedger.inputs(prepared)
        let stamp = Instant.now().rfc3339()
        var rawLedgers: [RawLedger] = []
        for (round, merkle) in [false, true, false, true].enumerated() {
            let raw = RawLedger(path: directory + "/raw-\(round)", merkle: merkle)
            rawLedgers.append(raw)
            var rawLatencies: [Duration] = []
            let rawStart = ContinuousClock.now
            for batch in rawInputs {
                let t = ContinuousClock.now
                raw.append(batch, recordedAt: stamp, foldEvery: foldEvery)
                rawLatencies.append(ContinuousClock.now - t)
            }
            let rawElapsed = ContinuousClock.now - rawStart
            raw.fold()
            table.add("batch ingest, 500/commit", merkle ? "raw LMDB + Merkle tree (run \(round / 2 + 1))" : "raw LMDB (C API, 1 thread, run \(round / 2 + 1))", eventCount, rawElapsed, rawLatencies)
        }
        // The first plain one goes on as the baseline for single events, histories and bytes on disk.
        let raw = rawLedgers[0]

        // 2. The log, events already validated: the log layer's cost.
        let logPrepared = try openLog("prepared")
        let (preparedElapsed, preparedLatencies) = try await ingest(prepared.count, tasks: batchTasks) { i in
            _ = try await logPrepared.append(prepared[i])
        }
        table.add("batch ingest, 500/commit", "EventLog.append, pre-validated", eventCount, preparedElapsed, preparedLatencies)
        try await logPrepared.close()

        // 3. The log from bytes: parse, validate, canonicalize, append — what a request costs in-process.
        let log = try openLog("full")
        let lineBytes = batchLines.map { Array($0.utf8) }
        let (fullElapsed, fullLatencies) = try await ingest(lineBytes.count, tasks: batchTasks) { i in
            _ = try await log.append(try EventBody.parse(lineBytes[i]).events)
        }
        table.add("batch ingest, 500/commit", "parse+validate+append", eventCount, fullElapsed, fullLatencies)

        // 4. Single events: raw commits one by one vs the log's group commit under 64 tasks.
        var rawSingleLatencies: [Duration] = []
        let rawSingleInputs = singlesPrepared.prefix(rawSingles).map {
            [($0.body, IndexKeys.eventId($0.envelope.id), IndexKeys.entries(for: $0.envelope))]
        }
        let rawSingleStart = ContinuousClock.now
        for event in rawSingleInputs {
            let t = ContinuousClock.now
            raw.append(event, recordedAt: stamp, foldEvery: foldEvery)
            rawSingleLatencies.append(ContinuousClock.now - t)
        }
        table.add("single events", "raw LMDB, 1 commit each", rawSingleInputs.count, ContinuousClock.now - rawSingleStart, rawSingleLatencies)
        let singleBytes = singleLines.map { Array($0.utf8) }
        let (singleElapsed, singleLatencies) = try await ingest(singleBytes.count, tasks: singleTasks) { i in
            _ = try await log.append(try EventBody.parse(singleBytes[i]).events)
        }
        table.add("single events", "\(singleTasks) tasks, group commit", singleBytes.count, singleElapsed, singleLatencies)

        // 5. Subject histories once the indexes are folded.
        try await Task.sleep(for: .milliseconds(800))
        var generator = SystemRandomNumberGenerator()
        let picks = (0..<histories).map { _ in subjectList[Int.random(in: 0..<subjectList.count, using: &generator)] }
        var rawHistory: [Duration] = []
        var rawRows = 0
        for subject in picks {
            let t = ContinuousClock.now
            rawRows += raw.history(IndexKeys.subject(type: subject.type, id: subject.id)).count
            rawHistory.append(ContinuousClock.now - t)
        }
        table.add("subject history", "raw LMDB cursor", histories, rawHistory.reduce(.zero, +), rawHistory, unit: "queries/s")
        var logHistory: [Duration] = []
        var logRows = 0
        for subject in picks {
            let t = ContinuousClock.now
            logRows += try log.events(EventQuery(subjectType: subject.type, subjectId: subject.id, limit: 1000)).events.count
            logHistory.append(ContinuousClock.now - t)
        }
        table.add("subject history", "EventLog.events(subject)", histories, logHistory.reduce(.zero, +), logHistory, unit: "queries/s")
        print("history rows: raw \(rawRows), log \(logRows) (\(Double(logRows) / Double(histories)) per query)")

        // 6. Verification and disk.
        let verifyStart = ContinuousClock.now
        let report = try log.verifyChain()
        let verifyElapsed = ContinuousClock.now - verifyStart
        precondition(report.ok, "the benchmark ledger does not verify: \(report)")
        table.add("chain verification", "EventLog.verifyChain", Int(report.count), verifyElapsed, [verifyElapsed])
        let total = eventCount + singleBytes.count
        let logHead = try log.head().seq
        precondition(logHead == UInt64(total), "the log holds \(logHead) events, expected \(total)")
        if let projection {
            try await ProjectionBench(path: directory + "/projection-ledger", workload: projection, queries: asOfQueries).run(table: &table)
        }
        table.print()
        let logBytes = try log.diskBytes()
        let rawBytes = raw.usedBytes()
        print("bytes on disk per event (indexes included): log \(logBytes / total) (\(logBytes) bytes, \(total) events), raw \(rawBytes / Int(raw.head)) (\(rawBytes) bytes, \(raw.head) events)")
        try await log.close()
    }

    func openLog(_ name: String) throws -> EventLog {
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        var configuration = LogConfiguration(path: directory + "/" + name)
        configuration.foldThreshold = foldEvery
        return try EventLog(configuration, logger: logger)
    }

    /// Runs `operation(0..<count)` from `tasks` concurrent tasks, each taking the next index; returns wall time and latencies.
    func ingest(_ count: Int, tasks: Int, _ operation: @escaping @Sendable (Int) async throws -> Void) async throws -> (Duration, [Duration]) {
        let next = Counter()
        let start = ContinuousClock.now
        let latencies = try await withThrowingTaskGroup(of: [Duration].self) { group in
            for _ in 0..<tasks {
                group.addTask {
                    var mine: [Duration] = []
                    while let i = next.take(below: count) {
                        let t = ContinuousClock.now
                        try await operation(i)
                        mine.append(ContinuousClock.now - t)
                    }
                    return mine
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        return (ContinuousClock.now - start, latencies)
    }

    func readLines(_ path: String) throws -> [String] {
        guard let file = fopen(path, "r") else { throw ValidationError("cannot read \(path)") }
        defer { fclose(file) }
        var lines: [String] = []
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        while getline(&line, &capacity, file) > 0 {
            let text = String(cString: line!).trimmingTrailingNewline()
            if !text.isEmpty { lines.append(text) }
        }
        free(line)
        return lines
    }

    func machineDescription() -> String {
        var info = utsname()
        uname(&info)
        let release = withUnsafeBytes(of: info.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let memory = ((try? readLines("/proc/meminfo")) ?? []).first { $0.hasPrefix("MemTotal:") }
            .flatMap { $0.split(separator: " ").dropFirst().first }.flatMap { Int($0) }.map { "\($0 >> 20) GiB" } ?? "? GiB"
        return "\(sysconf(Int32(_SC_NPROCESSORS_ONLN))) cores, \(memory), Linux \(release)"
    }
}

final class Counter: @unchecked Sendable {
    private var value = 0
    private var lock = pthread_mutex_t()
    init() { pthread_mutex_init(&lock, nil) }
    func take(below limit: Int) -> Int? {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        guard value < limit else { return nil }
        value += 1
        return value - 1
    }
}

extension Duration {
    /// In seconds, as a `Double` (rates and the table's figures).
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

struct Table {
    var rows: [[String]] = []

    mutating func add(_ stage: String, _ what: String, _ count: Int, _ elapsed: Duration, _ latencies: [Duration], unit: String = "events/s") {
        let seconds = elapsed.seconds
        let sorted = latencies.sorted()
        func percentile(_ p: Double) -> String {
            guard !sorted.isEmpty else { return "-" }
            let d = sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
            let micros = d.seconds * 1e6
            return micros >= 1000 ? String(format3(micros / 1000)) + " ms" : String(format3(micros)) + " µs"
        }
        rows.append([stage, what, "\(Int(Double(count) / seconds)) \(unit)", percentile(0.5), percentile(0.99)])
    }

    func print() {
        let header = ["stage", "what", "throughput", "p50", "p99"]
        let all = [header] + rows
        let widths = (0..<header.count).map { c in all.map { $0[c].count }.max()! }
        for (i, row) in all.enumerated() {
            Swift.print("| " + row.enumerated().map { $0.element.padding(widths[$0.offset]) }.joined(separator: " | ") + " |")
            if i == 0 { Swift.print("|" + widths.map { String(repeating: "-", count: $0 + 2) }.joined(separator: "|") + "|") }
        }
    }
}

func format3(_ x: Double) -> String {
    let scaled = (x * 10).rounded() / 10
    return scaled >= 100 ? String(Int(scaled)) : String(scaled)
}

extension String {
    func padding(_ width: Int) -> String { self + String(repeating: " ", count: max(0, width - count)) }
    func trimmingTrailingNewline() -> String {
        var s = Substring(self)
        while s.last == "\n" || s.last == "\r" { s = s.dropLast() }
        return String(s)
    }
    func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let r = firstRange(of: target) else { return self }
        return String(self[..<r.lowerBound]) + replacement + String(self[r.upperBound...])
    }
}
