import EventLog
import EventModel
import Glibc
import Logging
import Projector
import Queries
import Transparency

/// Issue 3's figures on a long ledger: rebuild time, as-of access latency at random past points,
/// and the live projection's memory.
struct ProjectionBench {
    var path: String
    var workload: String
    var queries: Int

    func run(table: inout Table) async throws {
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        var settings = LogConfiguration(path: path)
        let signer = try NoteSigner.generate(name: "auditledger.bench/log")
        settings.checkpoints = CheckpointPolicy(signer: signer, everyEvents: 10_000, everySeconds: 60)
        let log = try EventLog(settings, logger: logger)
        let ingestStart = ContinuousClock.now
        try await appendAll(of: workload, to: log)
        let head = try log.head().seq
        table.add("1M-event ledger", "ingest from bytes (setup)", Int(head), ContinuousClock.now - ingestStart, [])
        try await verificationAndProofs(log, head: head, verifier: signer.verifier, table: &table)

        let anonBefore = rssAnonKiB()
        let liveStart = ContinuousClock.now
        let projector = try LiveProjector(log: log, configuration: .init(path: path + "/projection"), logger: logger)
        let liveElapsed = ContinuousClock.now - liveStart
        let anonAfter = rssAnonKiB()
        table.add("projection", "first start: fold + store findings", Int(head), liveElapsed, [liveElapsed])

        let rebuildStart = ContinuousClock.now
        let rebuilt = try projector.rebuild()
        let rebuildElapsed = ContinuousClock.now - rebuildStart
        table.add("projection", "rebuild from the log", Int(head), rebuildElapsed, [rebuildElapsed])
        let live = try projector.snapshot()
        precondition(rebuilt == live, "the rebuilt projection differs from the live one")

        let (read, decode, fold, _) = try RebuildBench.breakdown(log)
        table.add("projection", "rebuild, 1 thread: read records", Int(head), read, [])
        table.add("projection", "rebuild, 1 thread: decode records", Int(head), decode, [])
        table.add("projection", "rebuild, 1 thread: fold with findings", Int(head), fold, [])

        let service = LedgerQueries(log: log, projector: projector)
        let users = live.users.entries.keys.sorted()
        var generator = SystemRandomNumberGenerator()
        var latencies: [Duration] = []
        var permissionsSeen = 0
        var existing = 0
        for i in 0..<queries {
            let user = users[Int.random(in: 0..<users.count, using: &generator)]
            let seq = UInt64.random(in: 1...head, using: &generator)
            let asOf: AsOf
            if i % 2 == 0 {
                asOf = .seq(seq)
            } else {
                asOf = .time(try log.event(seq: seq)!.decode().envelope.instant)
            }
            let t = ContinuousClock.now
            let answer = try service.access(user: user, asOf: asOf)
            permissionsSeen += answer.permissions.count
            existing += answer.exists ? 1 : 0
            latencies.append(ContinuousClock.now - t)
        }
        table.add("projection", "as-of access, random user and point", queries, latencies.reduce(.zero, +), latencies, unit: "queries/s")
        var holderLatencies: [Duration] = []
        for _ in 0..<20 {
            let seq = UInt64.random(in: 1...head, using: &generator)
            let t = ContinuousClock.now
            _ = try service.holders(permission: "sales_order.approve", asOf: .seq(seq))
            holderLatencies.append(ContinuousClock.now - t)
        }
        table.add("projection", "as-of holders of sales_order.approve", 20, holderLatencies.reduce(.zero, +), holderLatencies, unit: "queries/s")
        let findings = try projector.findings(.init(limit: 10_000)).findings.count
        print("projection: \(live.users.entries.count) users, \(live.roles.entries.count) roles, \(live.orders.entries.count) orders, \(live.requests.entries.count) requests; \(findings) findings on the first page of 10k; access answers: \(existing) of \(queries) for a user who existed at that point, \(Double(permissionsSeen) / Double(max(existing, 1))) permissions each on average")
        print("live projection memory: RssAnon \(anonBefore / 1024) MiB before the projector, \(anonAfter / 1024) MiB after: \((anonAfter - anonBefore) / 1024) MiB for \(head) events")
        projector.close()
        try await log.close()
    }
}

/// Appends every batch of an NDJSON workload in file order (the generator's story depends on it:
/// batches committed out of order would turn into state mismatches), parsing the next batch while
/// the last one commits, and reading the file a line at a time so the workload is never all in memory.
func appendAll(of workload: String, to log: EventLog) async throws {
    let file = try LineReader(path: workload)
    var pending: Task<[AppendResult], any Error>?
    while let line = file.next() {
        let events = try EventBody.parse(line).events
        _ = try await pending?.value
        pending = Task { try await log.append(events) }
    }
    _ = try await pending?.value
}

/// Issue 5's figures: verifying the whole ledger, and proof latency at random sizes.
func verificationAndProofs(_ log: EventLog, head: UInt64, verifier: NoteVerifier, table: inout Table) async throws {
    _ = try await log.signCheckpoint()
    // Let the tail fold so the index check sees every entry on disk.
    while log.indexedThrough() < head { try await Task.sleep(for: .milliseconds(100)) }
    var t = ContinuousClock.now
    let chain = try log.verifyChain()
    let chainElapsed = ContinuousClock.now - t
    precondition(chain.ok, "the bench ledger does not verify: \(chain)")
    table.add("verification", "chain + Merkle tree + \(chain.checkpointsChecked) checkpoints", Int(chain.count), chainElapsed, [chainElapsed])
    t = ContinuousClock.now
    let full = try log.verify(checkpointVerifier: verifier, indexes: true)
    let fullElapsed = ContinuousClock.now - t
    precondition(full.ok && full.latestCheckpointSignatureChecked, "full verification failed: \(full)")
    table.add("verification", "all of it + \(full.indexEntries ?? 0) index entries", Int(full.count), fullElapsed, [fullElapsed])

    var generator = SystemRandomNumberGenerator()
    var inclusion: [Duration] = []
    var consistency: [Duration] = []
    for _ in 0..<2_000 {
        let size = UInt64.random(in: 1...head, using: &generator)
        let seq = UInt64.random(in: 1...size, using: &generator)
        t = ContinuousClock.now
        let proof = try log.inclusionProof(seq: seq, treeSize: size)
        inclusion.append(ContinuousClock.now - t)
        precondition(MerkleProofs.verifyInclusion(index: seq - 1, size: size, leafHash: proof.leafHash, proof: proof.path, root: proof.rootHash))
        let from = UInt64.random(in: 1...size, using: &generator)
        t = ContinuousClock.now
        let path = try log.consistencyProof(from: from, to: size)
        consistency.append(ContinuousClock.now - t)
        precondition(MerkleProofs.verifyConsistency(from: from, to: size, fromRoot: path.fromRoot, toRoot: path.toRoot, proof: path.path))
    }
    table.add("proofs", "inclusion, random (seq, tree size)", inclusion.count, inclusion.reduce(.zero, +), inclusion, unit: "proofs/s")
    table.add("proofs", "consistency, random (from, to)", consistency.count, consistency.reduce(.zero, +), consistency, unit: "proofs/s")
}

/// RssAnon of this process in KiB, as the projection's memory budget reads it.
func rssAnonKiB() -> Int { (ResidentMemory.anonymousBytes() ?? 0) / 1024 }

/// CPU seconds (user and system) this process's live threads have used, by thread name: where a
/// rebuild's time goes between the fold, the projection's writer and the read-ahead.
func threadCPUSeconds() -> [String: Double] {
    var out: [String: Double] = [:]
    guard let tasks = opendir("/proc/self/task") else { return out }
    defer { closedir(tasks) }
    let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
    while let entry = readdir(tasks) {
        let tid = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
        guard tid.first?.isNumber == true, let stat = try? String(contentsOfFile: "/proc/self/task/\(tid)/stat", encoding: .utf8),
            let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")")
        else { continue }
        let name = String(stat[stat.index(after: open)..<close])
        // After the name: state, then fields 4…; utime and stime are fields 14 and 15.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { continue }
        out[name, default: 0] += (user + system) / ticks
    }
    return out
}

/// Lines of a file, handed out to concurrent readers one at a time.
final class LineReader: @unchecked Sendable {
    private let file: UnsafeMutablePointer<FILE>
    private var lock = pthread_mutex_t()

    init(path: String) throws {
        guard let file = fopen(path, "r") else { throw BenchError(description: "cannot read \(path)") }
        self.file = file
        pthread_mutex_init(&lock, nil)
    }

    deinit { fclose(file) }

    func next() -> [UInt8]? {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(line) }
        let n = getline(&line, &capacity, file)
        guard n > 0 else { return nil }
        return Array(UnsafeRawBufferPointer(start: line, count: n)).filter { $0 != 0x0A }
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
}
