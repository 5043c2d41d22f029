import Dispatch
import Foundation
import EventLog
import EventModel
import LMDB
import Logging
import Metrics
import Synchronization

/// The projection kept current, stored in its own LMDB environment (`ProjectionStore`).
///
/// A writable projector has one owner of its state: a follower thread that the log's writer wakes
/// after every commit, which folds the new events a batch at a time and writes each batch (entities,
/// findings, watermark) in one transaction. Start-up only checks the stored watermark against the
/// log: seq and chain hash must match, else the projection is of another log (an older backup, a
/// replaced log) and is rebuilt, never trusted. Reads never fold or write: one that must include seq
/// N (every event acknowledged before it) waits, bounded, for the follower to reach N, then reads a
/// snapshot of the store.
///
/// A read-only projector (`ledgerctl --data-dir`, beside the daemon or not) reads one snapshot of the
/// stored projection, if it matches the log, and folds the events past its watermark in memory on
/// demand; it writes nothing.
public final class LiveProjector: Sendable {
    public struct Configuration: Sendable {
        /// Directory of the projection's own LMDB environment.
        public var path: String
        public var policy: Policy
        public var readOnly: Bool = false
        /// How long a read waits for the follower before it answers 503.
        public var readWaitMilliseconds: Int = 10_000
        /// Events folded per transaction in a long catch-up (a rebuild, a restart far behind); near
        /// the log's head what is read is written at once. A kill loses at most this much folding,
        /// never an event. Fewer, larger transactions rewrite each B-tree page less often.
        public var batchSize: Int = 40_000
        /// Events read and decoded at a time (at most `batchSize`), the next ones on another thread
        /// meanwhile: smaller than a transaction, so decoded events do not crowd memory (5,000 held
        /// a 1M rebuild 3 MiB lower than 10,000, at the same speed).
        public var readBatchSize: Int = 5_000
        /// Far behind, a batch is written before `batchSize` events once the process's resident
        /// anonymous memory reaches this (nil: no limit). LMDB holds every page a transaction
        /// changes in memory until the commit, and keeps those buffers for the next one; as the
        /// projection grows, a batch's changes land on ever more pages: 3 MiB a commit early in a
        /// rebuild, 31 MiB half-way through 3M events. A rebuild of 1M events peaks at 68 MiB and never
        /// reaches 80; one of 3M peaked at 83 MiB with it and 95 without, in 7.3–9.1 s against 5.6:
        /// once LMDB keeps that many buffers, batches are written early, 259–276 transactions
        /// instead of 75 (`ledger-bench --rebuild`, BENCHMARKS.md).
        public var memoryBudgetBytes: Int? = 80 << 20
        /// How long the follower lets small commits gather before it folds them, unless a read waits
        /// (0: fold each commit as it comes). Each fold is a transaction and an fsync of its own;
        /// single-event appends commit a few dozen events at a time.
        public var gatherMilliseconds: Int = 100
        /// A backlog this large is folded at once, without gathering.
        public var gatherBelowEvents: UInt64 = 1_000
        /// The projection's commits skip their sync while events keep coming (the projection can be
        /// derived again; its syncs competed with the log's for the disk: batch ingest 9–30% faster
        /// without them, BENCHMARKS.md); once no commit came for this long, and on close, it is
        /// synced. A system that stops meanwhile leaves it to be rebuilt (`Environment.skipSyncs`).
        /// 0: every batch syncs on its own.
        public var syncWhenIdleMilliseconds: Int = 1_000

        public init(path: String, policy: Policy = Policy()) {
            self.path = path
            self.policy = policy
        }
    }

    public let configuration: Configuration
    private let log: EventLog
    /// Nil only for a read-only projector of a directory with no usable projection.
    private let store: ProjectionStore?
    /// Writes the batches the follower folds (writable only).
    private let writer: BatchWriter?
    private let logger: Logger
    /// The rules findings are judged by (read-only: those the stored projection was folded under).
    public let policy: Policy
    private let live: Mutex<Live>
    /// The seq folded through, raised by the follower; reads wait on it.
    private let applied = ProgressSignal(0)
    private let stopping = Atomic<Bool>(false)
    private let follower = Mutex<pthread_t?>(nil)
    /// The highest seq a read waits for the follower to fold: a gathering follower that has not
    /// folded it yet folds at once (`gatherCommits`). A seq, not a count of reads, so a read already
    /// served by the fold under way does not cut the next gathering short.
    private let hurry = ProgressSignal(0)
    /// The log's head when the projector opened.
    private let headAtOpen: UInt64
    /// The seq folded and written through (against `ledger_head_seq`, how far the projection lags),
    /// and each write's length and events.
    private let foldedSeq = Gauge(label: "ledger_projection_seq")
    private let writeLatency = Metrics.Timer(label: "ledger_projection_write_seconds")
    private let writeEvents = Recorder(label: "ledger_projection_write_events", aggregate: true)
    /// Events folded as the writer handed them over, and read back from the log (a follower that
    /// fell behind the hand-off, a rebuild): how far behind the follower runs, and whether the
    /// hand-off works (`FoldFormTests`).
    private let foldedHanded = FoldedEvents(source: "handed")
    private let foldedFromLog = FoldedEvents(source: "log")
    private let writes = Atomic<Int>(0)
    private let unsyncedWrites = Atomic<Int>(0)

    /// The state the owner folds into. Writable: nothing in memory between batches but cached
    /// entities. Read-only: the stored prefix (through `snapshot`) with the tail folded in memory,
    /// and the tail's findings and access trail.
    private struct Live: ~Copyable {
        var state: ProjectionState
        var snapshot: StoreSnapshot?
        /// The latest time on the access trail folded and stored so far.
        var trailTime: Instant?
        /// The seq the stored projection reaches (read-only; 0 without one).
        var storedThrough: UInt64 = 0
        /// Whether the stored projection was past its bootstrap (read-only).
        var storedBootstrapped = false
        var tailFindings: [Finding] = []
        var tailTrail: [Envelope.Subject: [AccessView.TailEntry]] = [:]

        /// Read-only, after a fold that failed part-way: back to the stored prefix as opened (or to
        /// nothing without one), the snapshot kept open, so the next read folds the tail again whole.
        /// A failure the snapshot noted (a damaged entity) stays with it, and fails that fold too.
        mutating func dropTail() {
            state = snapshot.map { ProjectionState(source: $0, appliedThrough: storedThrough, bootstrapped: storedBootstrapped) } ?? ProjectionState()
            tailFindings = []
            tailTrail = [:]
        }
    }

    public init(log: EventLog, configuration: Configuration, logger: Logger = Logger(label: "ledger.projector")) throws {
        self.log = log
        self.configuration = configuration
        self.logger = logger
        headAtOpen = log.committedHead
        if configuration.readOnly {
            let usable = FileManager.default.fileExists(atPath: configuration.path + "/data.mdb")
                && !Environment.leftUnsyncedByAnotherBoot(path: configuration.path)
            let store = usable ? try ProjectionStore(path: configuration.path, readOnly: true, log: log) : nil
            let snapshot = try store.map { try StoreSnapshot($0) }
            // Whatever policy the daemon folded under: the tail is judged by the same one.
            if let snapshot, let header = try snapshot.header(policy: nil), try Self.mismatch(header.watermark, log) == nil {
                self.store = store
                writer = nil
                policy = header.policy
                live = Mutex(
                    Live(
                        state: ProjectionState(source: snapshot, appliedThrough: header.watermark.seq, bootstrapped: header.bootstrapped),
                        snapshot: snapshot, trailTime: header.trailTime, storedThrough: header.watermark.seq,
                        storedBootstrapped: header.bootstrapped))
                applied.advance(to: header.watermark.seq)
            } else {
                // No projection of this log here (a backup, an import, an older copy): fold it all in memory.
                snapshot?.close()
                self.store = nil
                writer = nil
                policy = configuration.policy
                live = Mutex(Live(state: ProjectionState()))
            }
            return
        }
        // A store a stopped system left with unsynced commits may be torn: thrown away, rebuilt.
        let torn = Environment.leftUnsyncedByAnotherBoot(path: configuration.path)
        if torn { try ProjectionStore.remove(path: configuration.path) }
        let store = try ProjectionStore(path: configuration.path, readOnly: false, log: log)
        self.store = store
        policy = configuration.policy
        var state = ProjectionState()
        var trailTime: Instant?
        let header = try store.environment.read { try store.header($0, policy: configuration.policy) }
        if let header, try Self.mismatch(header.watermark, log) == nil {
            state.appliedThrough = header.watermark.seq
            state.bootstrapped = header.bootstrapped
            trailTime = header.trailTime
            logger.info("projection opened", metadata: ["projector.applied_through": "\(header.watermark.seq)"])
        } else {
            let reason = try header.map { try Self.mismatch($0.watermark, log) ?? "" }
                ?? (torn ? "the system stopped while it was being written without syncs"
                    : try store.isNew() ? "there was none" : "it is of another format or policy")
            logger.notice("projection rebuilt from the log", metadata: ["projector.reason": "\(reason)"])
            try store.reset(policy: configuration.policy)
        }
        live = Mutex(Live(state: state, trailTime: trailTime))
        writer = BatchWriter(store: store)
        applied.advance(to: state.appliedThrough)
        foldedSeq.record(Double(state.appliedThrough))
        follower.withLock { $0 = startThread(named: "ledger-follower") { [self] in follow() } }
    }

    /// Why a stored watermark is not a prefix of this log, or nil when it is.
    private static func mismatch(_ mark: ProjectionStore.Watermark, _ log: EventLog) throws -> String? {
        if mark.seq == 0 { return mark.hash.isEmpty ? nil : "its watermark is malformed" }
        guard let record = try log.events(afterSeq: mark.seq - 1, limit: 1).first, record.seq == mark.seq else {
            return "it reaches seq \(mark.seq) but the log ends before (a replaced or restored log)"
        }
        guard record.hash == mark.hash else {
            return "its chain hash at seq \(mark.seq) is not the log's (an older backup or a replaced log)"
        }
        return nil
    }

    /// The follower: the only thread that folds a writable projection. It sleeps until a commit,
    /// and has what it wrote synced once no commit came for `syncWhenIdleMilliseconds`.
    private func follow() {
        var first = true
        while !stopping.load(ordering: .acquiring) {
            let through = applied.value
            if !first {
                let unsynced = store!.environment.skipsSyncs
                let wait = unsynced ? configuration.syncWhenIdleMilliseconds : 5_000
                if log.waitForCommit(beyond: through, timeoutMilliseconds: wait) <= through {
                    if unsynced { syncWhenIdle() }
                    continue
                }
                gatherCommits(after: through)
            }
            first = false
            do {
                let clock = ContinuousClock()
                let start = clock.now
                try catchUp()
                let folded = applied.value - through
                if folded >= 100_000 {
                    releaseFreedMemory()
                    logger.info(
                        "projection caught up with the log",
                        metadata: ["projector.applied_through": "\(applied.value)", "projector.events": "\(folded)", "projector.seconds": "\(clock.now - start)"])
                }
            } catch {
                logger.error("projection catch-up failed; retried in a second", metadata: ["projector.error": "\(error)"])
                // A pause that `close` can cut short (it wakes every waiter on `applied`).
                applied.wait(beyond: .max, timeoutMilliseconds: 1_000)
            }
        }
    }

    /// The ledger is quiet: what the projection wrote without syncing is synced, and its marker goes.
    private func syncWhenIdle() {
        do {
            try writer!.sync()
        } catch {
            logger.error("syncing the projection failed; retried when the ledger is quiet again", metadata: ["projector.error": "\(error)"])
            applied.wait(beyond: .max, timeoutMilliseconds: 1_000)
        }
    }

    /// Lets small commits gather for `gatherMilliseconds` before they are folded together, unless a
    /// read waits for a seq past `through`: then the follower folds at once.
    private func gatherCommits(after through: UInt64) {
        guard configuration.gatherMilliseconds > 0 else { return }
        let deadline = ContinuousClock.now + .milliseconds(configuration.gatherMilliseconds)
        while !stopping.load(ordering: .acquiring), eventsPast(through) < configuration.gatherBelowEvents, ContinuousClock.now < deadline {
            if hurry.wait(beyond: through, until: deadline) > through { return }
        }
    }

    /// The seq the projection has folded through.
    public var appliedThrough: UInt64 { applied.value }

    /// How many batches the follower has written, and how many of them without their own sync
    /// (made durable when the ledger is quiet).
    public var batchesWritten: Int { writes.load(ordering: .relaxed) }
    public var batchesWrittenUnsynced: Int { unsyncedWrites.load(ordering: .relaxed) }

    /// How many events this projector folded as the writer handed them over, and read from the log.
    public var eventsFolded: (handed: Int, readFromLog: Int) {
        (foldedHanded.count, foldedFromLog.count)
    }

    /// Whether reads are answered without a long wait: the follower has folded what the log held
    /// when the projector opened (a first start's rebuild is over) and is less than a batch behind.
    /// A few commits gathering for the next fold do not count against it.
    public var isCurrent: Bool {
        let through = applied.value
        return through >= headAtOpen && eventsPast(through) < UInt64(configuration.batchSize)
    }

    /// How many committed events lie past `seq`. The writer announces a commit a moment after it
    /// is in LMDB, and a fold may have read it meanwhile: `seq` can be past the announced head.
    private func eventsPast(_ seq: UInt64) -> UInt64 {
        let head = log.committedHead
        return head > seq ? head - seq : 0
    }

    /// For tasks (the findings stream, alerts): suspends until the projection folds past `beyond`,
    /// the timeout, or cancellation; returns the seq folded through.
    public func nextFold(beyond: UInt64, timeout: Duration) async -> UInt64 {
        if configuration.readOnly {
            try? await Task.sleep(for: timeout)
            return applied.value
        }
        return await applied.next(beyond: beyond, timeout: timeout)
    }

    /// Waits until every event committed so far is folded (a writable projector), or folds them now
    /// (a read-only one, which owns its in-memory tail alone).
    private func includeEverythingCommitted() throws {
        if configuration.readOnly {
            try catchUp()
            return
        }
        let head = log.committedHead
        guard applied.value < head else { return }
        // A follower gathering commits folds at once.
        hurry.advance(to: head)
        let deadline = ContinuousClock.now + .milliseconds(configuration.readWaitMilliseconds)
        while case let through = applied.value, through < head {
            guard ContinuousClock.now < deadline else {
                throw LogError(.storage, "the projection is behind the log (at seq \(through) of \(head)); try again")
            }
            applied.wait(beyond: through, until: deadline)
        }
    }

    /// Folds every event the log holds beyond what was applied, a batch at a time, the next batch
    /// read and decoded meanwhile on another thread. Writable: over a snapshot of the store (entities
    /// read or written by earlier batches stay cached), written in one transaction once the fold is
    /// near the log's head, `batchSize` events have gathered or the process holds
    /// `memoryBudgetBytes` (the follower, never a read): a long
    /// catch-up rewrites each B-tree page it changes once a transaction, not once a read. The
    /// store's writer (`BatchWriter`) writes a batch while the next is folded; near the head, the
    /// follower waits for it. Read-only: into the in-memory tail.
    private func catchUp() throws {
        try live.withLock { live in
            let readSize = min(configuration.readBatchSize, configuration.batchSize)
            let reader = BatchReader(log: log, after: live.state.appliedThrough, size: readSize)
            defer { reader.finish() }
            var folded = 0
            /// Writable: the store as last written (through `applied`), and what was folded over it since.
            var snapshot: StoreSnapshot?
            var output = ProjectionStore.BatchOutput(times: .init(latest: live.trailTime))
            var unwritten: (events: Int, through: ProjectionStore.Watermark)?
            defer { if !configuration.readOnly { snapshot?.close() } }

            /// Hands what was folded since the last write to the store's writer; `waiting`: and waits
            /// until it is written. The write before is finished first, and the next batch reads a
            /// snapshot taken after that: the state keeps only the batch in hand (`handedOff`).
            /// Each write skips its sync, unless `syncWhenIdleMilliseconds` is 0 (`follow` syncs
            /// once the ledger is quiet).
            func write(waiting: Bool) throws {
                guard let (events, watermark) = unwritten else {
                    // Nothing new, but the batch in hand (if any) is written before the fold ends.
                    if waiting { try writer?.finish() }
                    return
                }
                try writer!.finish()
                snapshot?.close()
                snapshot = nil
                let started = ContinuousClock.now
                let batch = store!.batchWrites(&live.state, output, watermark: watermark, syncs: configuration.syncWhenIdleMilliseconds == 0)
                live.trailTime = output.times.latest
                output = ProjectionStore.BatchOutput(times: .init(latest: live.trailTime))
                unwritten = nil
                writer!.start(batch) { [self] in
                    writeLatency.recordElapsed(since: started)
                    writeEvents.record(events)
                    foldedSeq.record(Double(watermark.seq))
                    writes.add(1, ordering: .relaxed)
                    if !batch.syncs { unsyncedWrites.add(1, ordering: .relaxed) }
                    applied.advance(to: watermark.seq)
                }
                if waiting { try writer!.finish() }
            }

            /// Far behind, a batch is also written once the process holds `memoryBudgetBytes`.
            func overBudget() -> Bool {
                guard let budget = configuration.memoryBudgetBytes else { return false }
                return (ResidentMemory.anonymousBytes() ?? 0) >= budget
            }

            /// One event folded, with what it adds to the access trail and its intervals. Given `live`
            /// and `output` as parameters, not captured: reached through a capture, the state was
            /// copied for every event.
            func fold(_ event: borrowing StoredEvent, _ live: inout Live, _ output: inout ProjectionStore.BatchOutput) {
                guard let entry = AccessTrail.entry(event) else {
                    live.state.apply(event, policy: policy, findings: &output.findings)
                    return
                }
                if configuration.readOnly {
                    live.state.apply(event, policy: policy, findings: &output.findings)
                    live.tailTrail[event.envelope.subject, default: []].append(
                        AccessView.TailEntry(seq: event.seq, time: event.envelope.instant, value: entry))
                    return
                }
                // What the event changes in who may do what, as intervals (`AccessIntervals`).
                let (users, roles) = AccessIntervals.touched(by: event, in: live.state)
                let before = AccessIntervals.Touched(users: users, roles: roles, in: live.state)
                live.state.apply(event, policy: policy, findings: &output.findings)
                let after = AccessIntervals.Touched(users: users, roles: roles, in: live.state)
                output.intervals.append(AccessIntervals.Moment(seq: event.seq, before: before, after: after))
                output.trail.append((event.seq, entry))
                output.times.note(event)
            }

            do {
                var spent: [StoredEvent] = []
                while !stopping.load(ordering: .relaxed), var batch = try reader.next(releasing: &spent) {
                    for seq in batch.undecodable { log.reportUndecodable(seq: seq) }
                    (batch.handedOver ? foldedHanded : foldedFromLog).add(batch.events.count)
                    if configuration.readOnly {
                        snapshot = live.snapshot
                    } else if snapshot == nil, let store {
                        snapshot = try StoreSnapshot(store)
                        live.state.rebind(snapshot!)
                    }
                    // Each event moved out of the batch and back, not copied: a copy retained the
                    // event's arrays, just made on the read-ahead's core, and released them again
                    // (5% of the follower's samples in a rebuild, BENCHMARKS.md).
                    batch.events.withUnsafeMutableBufferPointer { events in
                        guard let first = events.baseAddress else { return }
                        for place in first..<first + events.count {
                            let event = place.move()
                            fold(event, &live, &output)
                            place.initialize(to: consume event)
                        }
                    }
                    // An undecodable record is passed over, not retried for ever: the fold moves past it.
                    live.state.appliedThrough = batch.lastSeq
                    if let failure = snapshot?.failure { throw failure }
                    if configuration.readOnly {
                        live.tailFindings += output.findings
                        output.findings.removeAll()
                        applied.advance(to: batch.lastSeq)
                    } else {
                        let events = (unwritten?.events ?? 0) + batch.events.count
                        unwritten = (events, .init(seq: batch.lastSeq, hash: batch.lastHash))
                        let nearHead = eventsPast(batch.lastSeq) < UInt64(readSize)
                        if nearHead || events >= configuration.batchSize || overBudget() { try write(waiting: nearHead) }
                    }
                    folded += batch.events.count
                    spent = batch.events
                }
                // Stopping (or the head moved back within reach after the check): write what was folded.
                try write(waiting: true)
            } catch {
                // Nothing folded since the last write (writable) or of the tail (read-only) is kept:
                // the next attempt folds it again from the store. Read-only, the snapshot is shared
                // with the reads and stays open.
                if configuration.readOnly {
                    live.dropTail()
                } else {
                    try? writer!.finish()  // its failure, if any, is this one's cause or follows from it
                    snapshot?.close()
                    snapshot = nil
                    live.state.attach(nil)
                    live.state.appliedThrough = applied.value
                    // The trail's latest time as the store holds it, as read at start-up.
                    if case .success(let header) = Result(catching: { try store!.environment.read { try store!.header($0, policy: nil) } }) {
                        live.trailTime = header?.trailTime
                    }
                }
                throw error
            }
            // A long catch-up cached many entities: give that memory back (small ones keep theirs).
            if !configuration.readOnly, folded >= 100_000 { live.state.attach(nil) }
        }
    }

    /// Reads the projection, caught up with every event acknowledged before the call. The state
    /// reads the store through one snapshot (and, read-only, the tail in memory); it writes nothing.
    public func read<R>(_ body: (borrowing ProjectionState) throws -> R) throws -> R {
        try includeEverythingCommitted()
        if configuration.readOnly { return try live.withLock { try body($0.state) } }
        let snapshot = try StoreSnapshot(store!)
        defer { snapshot.close() }
        let header = try snapshot.header(policy: nil)
        let state = ProjectionState(source: snapshot, appliedThrough: header?.watermark.seq ?? 0, bootstrapped: header?.bootstrapped ?? false)
        let result = try body(state)
        if let failure = snapshot.failure { throw failure }
        return result
    }

    /// Reads what an as-of question about access needs through one snapshot (`AccessView`): the
    /// stored intervals up to the point where they answer exactly, and the trails of the users and
    /// roles to replay past it. `through`: the cut's last seq; `time`: the cut's instant, if any.
    public func accessView<R>(through: UInt64, time: Instant?, _ body: (AccessView) throws -> R) throws -> R {
        try includeEverythingCommitted()
        if configuration.readOnly {
            return try live.withLock { live in
                let view = try AccessView(
                    snapshot: live.snapshot, state: live.state, storedThrough: live.storedThrough, tail: live.tailTrail,
                    through: through, time: time)
                return try body(view)
            }
        }
        let snapshot = try StoreSnapshot(store!)
        defer { snapshot.close() }
        let storedThrough = try snapshot.header(policy: nil)?.watermark.seq ?? 0
        let state = ProjectionState(source: snapshot, appliedThrough: storedThrough, bootstrapped: false)
        let view = try AccessView(snapshot: snapshot, state: state, storedThrough: storedThrough, tail: [:], through: through, time: time)
        let result = try body(view)
        if let failure = snapshot.failure { throw failure }
        return result
    }

    /// Events of several subjects in seq order, each once, ordering seqs rather than moving the
    /// (large) events around while sorting.
    public static func mergedInSeqOrder(_ events: [StoredEvent]) -> [StoredEvent] {
        var order = events.indices.map { (events[$0].seq, $0) }
        order.sort { $0.0 < $1.0 }
        var out: [StoredEvent] = []
        out.reserveCapacity(order.count)
        var last: UInt64?
        for (seq, index) in order where seq != last {
            out.append(events[index])
            last = seq
        }
        return out
    }

    /// The whole projection in memory, caught up: for checking it against a fold from nothing.
    public func snapshot() throws -> ProjectionState {
        try includeEverythingCommitted()
        return try live.withLock { live in
            guard let store else { return live.state }
            let snapshot = configuration.readOnly ? live.snapshot! : try StoreSnapshot(store)
            defer { if !configuration.readOnly { snapshot.close() } }
            let header = try snapshot.header(policy: nil)
            var state = try snapshot.loadAll(appliedThrough: header?.watermark.seq ?? 0, bootstrapped: header?.bootstrapped ?? false)
            if configuration.readOnly { state.overlay(live.state) }
            return state
        }
    }

    /// The state folded from nothing, in memory, judged by the same policy (the findings are
    /// dropped; what judging keeps in the state, such as the stale-access watch, is not).
    public func rebuild() throws -> ProjectionState {
        var state = ProjectionState()
        var after: UInt64 = 0
        var findings: [Finding] = []
        while true {
            guard let batch = try BatchReader.read(log, after: after, size: configuration.batchSize) else { return state }
            for event in batch.events {
                state.apply(event, policy: policy, findings: &findings)
                findings.removeAll(keepingCapacity: true)
            }
            state.appliedThrough = batch.lastSeq
            after = batch.lastSeq
        }
    }

    // MARK: - Access requests

    /// Access requests in id order after the request `after`, those `include` keeps, at most
    /// `limit`; `next` names the last one when there may be more.
    public func requests(
        after: String?, limit: Int, where include: (String, RequestState) -> Bool
    ) throws -> (requests: [(id: String, request: RequestState)], next: String?) {
        try includeEverythingCommitted()
        var out: [(id: String, request: RequestState)] = []
        var more = false
        func take(_ id: String, _ request: RequestState) -> Bool {
            guard include(id, request) else { return true }
            if out.count == limit {
                more = true
                return false
            }
            out.append((id, request))
            return true
        }
        if configuration.readOnly {
            // ledgerctl: the stored requests overlaid with the tail's, in id order.
            live.withLock { live in
                for (id, request) in live.state.requests.all.sorted(by: { utf8Compare($0.key, $1.key) < 0 })
                where after.map({ utf8Compare(id, $0) > 0 }) ?? true {
                    if !take(id, request) { break }
                }
            }
        } else {
            let snapshot = try StoreSnapshot(store!)
            defer { snapshot.close() }
            try snapshot.entities(RequestState.self, .requests, after: after, take)
        }
        return (out, more ? out.last?.id : nil)
    }

    // MARK: - Findings

    public struct FindingQuery: Sendable {
        public var kind: Finding.Kind?
        public var since: Instant?
        public var until: Instant?
        public var limit: Int
        public var cursor: String?
        /// False for a reader that follows the fold (a findings stream, an alert rule): it reads
        /// what is folded so far and waits for the next fold, rather than have the follower fold
        /// every commit at once for it. A read-only projector folds its tail either way.
        public var includesEveryCommit: Bool

        public init(
            kind: Finding.Kind? = nil, since: Instant? = nil, until: Instant? = nil, limit: Int = 100, cursor: String? = nil,
            includesEveryCommit: Bool = true
        ) {
            self.kind = kind
            self.since = since
            self.until = until
            self.limit = limit
            self.cursor = cursor
            self.includesEveryCommit = includesEveryCommit
        }
    }

    public struct FindingPage: Sendable {
        public var findings: [Finding]
        public var next: String?
    }

    /// Findings in seq order, filtered, one page; includes every acknowledged event's (unless the
    /// query follows the fold).
    public func findings(_ query: FindingQuery) throws -> FindingPage {
        if query.includesEveryCommit || configuration.readOnly { try includeEverythingCommitted() }
        let limit = min(max(query.limit, 1), 10_000)
        var start = Finding.Position(seq: 0, code: 0, ordinal: 0)
        if let cursor = query.cursor {
            guard let last = Self.decodeCursor(cursor) else {
                throw LogError(.badCursor, "cursor is not one this server made")
            }
            start = last.next
        }
        var out: [Finding] = []
        var more = false
        /// Takes one finding at or after the start; false once the page is full.
        func take(_ finding: Finding) -> Bool {
            if let kind = query.kind, finding.kind != kind { return true }
            if let since = query.since, finding.time < since { return true }
            if let until = query.until, until < finding.time { return true }
            if out.count == limit {
                more = true
                return false
            }
            out.append(finding)
            return true
        }
        let scanStored = { (snapshot: StoreSnapshot) throws in
            try snapshot.findings(from: ProjectionStore.findingKey(start), take)
        }
        if configuration.readOnly {
            try live.withLock { live in
                if let snapshot = live.snapshot { try scanStored(snapshot) }
                guard !more else { return }
                for finding in live.tailFindings where finding.position >= start {
                    if !take(finding) { break }
                }
            }
        } else {
            let snapshot = try StoreSnapshot(store!)
            defer { snapshot.close() }
            try scanStored(snapshot)
        }
        return FindingPage(findings: out, next: more ? Self.cursor(of: out[limit - 1]) : nil)
    }

    /// How many findings there are of each kind (for `/metrics`): counted from keys, none decoded.
    public func findingCounts() throws -> [Finding.Kind: Int] {
        try includeEverythingCommitted()
        var counts = [Int](repeating: 0, count: Finding.Kind.allCases.count)
        if configuration.readOnly {
            try live.withLock { live in
                try live.snapshot?.findingCodeCounts(into: &counts)
                for finding in live.tailFindings { counts[Int(finding.kind.code)] += 1 }
            }
        } else {
            let snapshot = try StoreSnapshot(store!)
            defer { snapshot.close() }
            try snapshot.findingCodeCounts(into: &counts)
        }
        return Dictionary(uniqueKeysWithValues: zip(Finding.Kind.allCases, counts))
    }

    /// The cursor of a finding: the findings after it follow.
    public static func cursor(of f: Finding) -> String { "f\(f.seq).\(f.kind.code).\(f.ordinal)" }

    /// Of two cursors, the one further on (an unreadable one loses).
    public static func later(_ a: String, _ b: String) -> String {
        guard let x = decodeCursor(a) else { return b }
        guard let y = decodeCursor(b) else { return a }
        return x < y ? b : a
    }

    /// A cursor after every finding of the events up to `seq`.
    public static func cursor(afterSeq seq: UInt64) -> String { "f\(seq).\(UInt8.max).\(UInt16.max)" }

    /// The position a cursor stops at (an older two-part cursor stops after every ordinal of its kind).
    static func decodeCursor(_ text: String) -> Finding.Position? {
        guard text.hasPrefix("f") else { return nil }
        let parts = text.dropFirst().split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2 || parts.count == 3, let seq = UInt64(parts[0]), let code = UInt8(parts[1]) else { return nil }
        let ordinal = parts.count == 3 ? UInt16(parts[2]) : .max
        return ordinal.map { Finding.Position(seq: seq, code: code, ordinal: $0) }
    }

    // MARK: - Closing

    /// Stops the follower (it finishes the batch it is in) and closes the store.
    public func close() {
        stopping.store(true, ordering: .releasing)
        log.wakeCommitWaiters()
        hurry.wakeAll()
        applied.wakeAll()
        if let thread = follower.withLock({ $0.take() }) { pthread_join(thread, nil) }
        writer?.close()
        live.withLock { $0.snapshot?.close() }
        store?.environment.close()
    }
}

/// Events a projector folded from one source: a count it can answer, and the same on `/metrics`.
private final class FoldedEvents: Sendable {
    private let total = Atomic<Int>(0)
    private let metric: Counter

    init(source: String) { metric = Counter(label: "ledger_projection_events_total", dimensions: [("source", source)]) }

    var count: Int { total.load(ordering: .relaxed) }

    func add(_ events: Int) {
        total.add(events, ordering: .relaxed)
        metric.increment(by: Int64(events))
    }
}
