import Crypto
import EventModel
import LMDB
import Logging
import Metrics
import Synchronization
import Transparency
#if canImport(Glibc)
import Glibc
#endif

/// What an append's caller hears once: the events' results, or why none was appended.
public typealias AppendCompletion = @Sendable (Result<[AppendResult], LogError>) -> Void

/// What the ledger answers for one appended event.
public struct AppendResult: Sendable, Equatable {
    public var seq: UInt64
    public var id: String
    /// The chain hash after this event (32 bytes).
    public var hash: [UInt8]
    /// True when an event with this id and content was already in the ledger: nothing was appended.
    public var duplicate: Bool
}

/// An exported record on its way back in: its place and time as exported, and its validated content.
struct ImportedEvent: Sendable {
    var seq: UInt64
    var recordedAt: Instant
    var event: QueuedEvent
}

/// An event as the writer takes it: what its commit needs besides the chain, worked out on the
/// caller's thread as it is queued (the id's key, the index entries, the fold form and its bytes). The one writer
/// thread then does only the commit's own part, and the caller's thread, not the writer's, lets go
/// of the event's tree of values.
struct QueuedEvent: Sendable {
    let id: String
    let idKey: [UInt8]
    /// The canonical envelope (`PreparedEvent.body`).
    let body: [UInt8]
    let entries: [(IndexKind, [UInt8])]
    /// What the projection's follower folds (`RecentCommits`); nil when nothing takes the hand-off.
    let foldForm: Envelope?
    /// The fold form as the log keeps it (`FoldForms`).
    let form: [UInt8]

    init(_ event: PreparedEvent, handOff: Bool) {
        id = event.envelope.id
        idKey = IndexKeys.eventId(event.envelope.id)
        body = event.body
        entries = IndexKeys.entries(for: event.envelope)
        let foldForm = event.envelope.foldForm
        form = FoldForm.bytes(of: foldForm)
        self.foldForm = handOff ? foldForm : nil
    }
}

/// The ledger's single writer. One dedicated thread takes every queued append, writes them all in
/// one transaction (records, chain hashes, the Merkle nodes they complete — the small, synchronous
/// part), commits and syncs, and only then resumes the callers. Between appends it folds the
/// in-memory tail into the LMDB indexes and the id table in large transactions and advances the
/// watermark: an id put at commit would dirty one random page of the id table per event.
/// Checkpoints are signed here too, so a signed root only ever covers committed records.
final class Writer: @unchecked Sendable {
    enum Pending {
        case append([QueuedEvent], AppendCompletion)
        /// Records of an export, kept byte for byte: only into an empty ledger, in order.
        case importing([ImportedEvent], CheckedContinuation<[AppendResult], any Error>)
        case checkpoint(CheckedContinuation<StoredCheckpoint, any Error>)
    }

    struct Settings {
        /// Fold the tail into the indexes once it holds this many events.
        var foldThreshold: Int
        /// …or once no append came for this long.
        var foldIdleMilliseconds: Int
        /// How often to free reader slots of dead processes.
        var staleReaderCheckSeconds: Int64
        var foldOnClose: Bool
        var checkpoints: CheckpointPolicy?
        /// When to train compression dictionaries; nil stores every record as it is.
        var dictionaries: DictionarySchedule?
        /// Records a block of fold forms holds (`FoldForms`).
        var foldFormBlock: Int
        /// Tests only: widens the moment between a commit and its announcement.
        var announcePauseMilliseconds: Int = 0
        /// Tests only: how long to wait for appends between a fold's transactions.
        var foldStepPauseMilliseconds: Int = 0
    }

    private let store: Store
    private let tail: SharedTail
    private let recent: RecentCommits
    private let queue = AppendQueue<Pending>()
    private let settings: Settings
    private let logger: Logger
    /// Compresses records and trains their dictionaries.
    private let compressor: RecordCompressor
    /// Head and hash as committed; touched only by the writer thread after start-up.
    private var head: UInt64
    private var headHash: [UInt8]
    private var lastRecordedAt: Instant
    private var frontier: MerkleFrontier
    /// The ids of the events past the indexes' watermark, which the next fold writes into the id
    /// table (rebuilt from the records on open, like the tail).
    private var unfoldedIds: [IndexKey: UInt64]
    /// The fold under way, between its transactions (nil: none).
    private var foldInProgress: FoldInProgress?
    /// The fold forms since the last stored block, and what stores the next (`FoldForms`).
    private var formRun: FoldFormRun
    private let formBlocks: FoldFormBlockWriter
    /// Records below every block that no block holds, filled in while the writer is idle (`fillFormGap`).
    private var formGap: ClosedRange<UInt64>?
    /// Set when the log opened over damaged records: every write is refused rather than extend a tree it cannot trust.
    private let damaged: LogError?
    private var lastCheckpoint: StoredCheckpoint?
    /// When this writer started: the clock of the first time-based checkpoint.
    private let started = Instant.now()
    private var thread: pthread_t?
    /// The moment the writer last went round its loop; a watchdog reads it.
    let heartbeat = Atomic<Int64>(0)
    /// Set once the writer found the log moved under it; read by readiness and the watchdog.
    let halted = Mutex<LogError?>(nil)
    /// The head as committed, raised after every commit: the projection's follower waits on it.
    let committed: ProgressSignal
    /// When the writer last compared the stored head with its own while idle.
    private var lastHeadCheck = ContinuousClock.now
    private let eventsAppended = Counter(label: "ledger_events_appended_total")
    private let requestSizes = Recorder(label: "ledger_append_request_events", aggregate: true)
    private let commitEvents = Recorder(label: "ledger_commit_events", aggregate: true)
    private let commitLatency = Metrics.Timer(label: "ledger_commit_seconds")
    private let headSeq = Gauge(label: "ledger_head_seq")
    /// How long each transaction of a fold (the ids, then the index entries) held the writer
    /// (appends wait meanwhile).
    private let foldLatency = Metrics.Timer(label: "ledger_index_fold_seconds")

    struct Start {
        var head: UInt64
        var headHash: [UInt8]
        /// The head record's recordedAt, so the clock the ledger shows never runs back across restarts.
        var lastRecordedAt: Instant
        /// A failure when records the tree needs are missing or altered on disk.
        var frontier: Result<MerkleFrontier, LogError>
        var lastCheckpoint: StoredCheckpoint?
        /// The fold forms of the records of the unfinished block.
        var formRun: FoldFormRun
        var formGap: ClosedRange<UInt64>?
    }

    init(
        store: Store, tail: SharedTail, recent: RecentCommits, unfoldedIds: [IndexKey: UInt64], start: Start, settings: Settings, logger: Logger
    ) throws {
        self.store = store
        self.tail = tail
        self.recent = recent
        self.unfoldedIds = unfoldedIds
        self.head = start.head
        self.committed = ProgressSignal(start.head)
        self.headHash = start.headHash
        self.lastRecordedAt = start.lastRecordedAt
        switch start.frontier {
        case .success(let frontier):
            self.frontier = frontier
            self.damaged = nil
        case .failure(let error):
            self.frontier = MerkleFrontier()
            self.damaged = LogError(.corrupt, "the ledger's Merkle tree cannot be rebuilt (\(error.message)); nothing is appended until it is repaired; run verify")
            logger.critical("stored records are missing or altered; appends are refused", metadata: ["ledger.error": "\(error)"])
        }
        self.lastCheckpoint = start.lastCheckpoint
        self.formRun = start.formRun
        self.formGap = start.formGap
        self.formBlocks = FoldFormBlockWriter(database: store.foldForms!)
        self.settings = settings
        self.logger = logger
        self.compressor = try RecordCompressor(store: store, schedule: settings.dictionaries, logger: logger)
        headSeq.record(Double(start.head))
    }

    func start() {
        thread = startThread(named: "ledger-writer") { [self] in run() }
    }

    /// Queues events for the next commit; `completion` runs on the writer's thread once they are
    /// durable (or refused).
    func append(_ events: [PreparedEvent], completion: @escaping AppendCompletion) {
        let handOff = handsOff
        enqueue(.append(events.map { QueuedEvent($0, handOff: handOff) }, completion)) { completion(.failure($0)) }
    }

    /// Whether committed events go to the projection's follower in their fold form.
    var handsOff: Bool { recent.capacity > 0 }

    func importRecords(_ events: [ImportedEvent]) async throws -> [AppendResult] {
        try await withCheckedThrowingContinuation { continuation in
            enqueue(.importing(events, continuation)) { continuation.resume(throwing: $0) }
        }
    }

    /// A checkpoint of the head as of the next commit.
    func checkpoint() async throws -> StoredCheckpoint {
        try await withCheckedThrowingContinuation { continuation in
            enqueue(.checkpoint(continuation)) { continuation.resume(throwing: $0) }
        }
    }

    private func enqueue(_ job: Pending, refused: (LogError) -> Void) {
        if !queue.enqueue(job) { refused(LogError(.closed, "the ledger is shutting down")) }
    }

    /// Refuses new appends, finishes those queued, folds the tail and stops the thread.
    func stop() {
        queue.close()
        if let thread { pthread_join(thread, nil) }
        thread = nil
        compressor.stop()
    }

    // MARK: - The loop

    private func run() {
        store.environment.claimWrites()
        var lastReaderCheck = Instant.now().seconds
        var foldGoesOn = false
        var gapFillGoesOn = false
        if let formGap {
            logger.notice("records written before the log kept fold forms get them while the writer is idle", metadata: ["ledger.records": "\(formGap.count)"])
        }
        while true {
            // One transaction of a fold (or one block of a gap in the fold forms) just done: commit what
            // is queued, without waiting, then the next.
            let wait = foldGoesOn || gapFillGoesOn
                ? settings.foldStepPauseMilliseconds : tail.withLock { $0.isEmpty } ? 1000 : settings.foldIdleMilliseconds
            foldGoesOn = false
            gapFillGoesOn = false
            let (group, closed) = queue.takeAll(timeoutMilliseconds: wait)
            heartbeat.store(Instant.now().seconds, ordering: .relaxed)
            if !group.isEmpty || checkpointIsDue() {
                commit(group)
            } else if ContinuousClock.now - lastHeadCheck >= .seconds(1) {
                checkHeadWhileIdle()
            }
            let tailCount = tail.withLock { $0.count }
            let idle = group.isEmpty && !closed
            let folding = foldInProgress != nil || tailCount >= settings.foldThreshold
                || (tailCount > 0 && (idle || (closed && settings.foldOnClose)))
            if folding && halted.withLock({ $0 == nil }) {
                foldGoesOn = fold(toTheEnd: closed)
            } else if idle, formGap != nil, damaged == nil, halted.withLock({ $0 == nil }) {
                gapFillGoesOn = fillFormGap()
            }
            if closed { break }
            let now = Instant.now().seconds
            if now - lastReaderCheck >= settings.staleReaderCheckSeconds {
                lastReaderCheck = now
                if let freed = try? store.environment.clearStaleReaders(), freed > 0 {
                    logger.warning("freed stale LMDB reader slots", metadata: ["lmdb.readers.freed": "\(freed)"])
                }
            }
        }
    }

    // MARK: - Group commit

    private enum Planned {
        case new
        case duplicate(seq: UInt64)
        /// The same id earlier in this request, with the same content.
        case repeatOf(position: Int)
    }

    private struct GroupOutcome {
        var results: [Result<[AppendResult], LogError>]
        var head: UInt64
        var headHash: [UInt8]
        var lastRecordedAt: Instant
        var frontier: MerkleFrontier
        var checkpoint: StoredCheckpoint?
        var appended: [(seq: UInt64, entries: [(IndexKind, [UInt8])])]
        /// The new records' events in their fold form, for the projection's follower (`RecentCommits`).
        var handOff: [RecentCommits.Kept] = []
        /// The ids this transaction appended, for the unfolded ids once it commits.
        var newIds: [IndexKey: UInt64] = [:]
        /// A newly trained dictionary stored by this transaction, which compresses its records.
        var installed: RecordCompressor.Installed?
        /// The fold forms of this transaction's records since the last block it stored, and whether it
        /// stored one (then the writer's run went into it).
        var forms: FoldFormRun
        var formRunStored = false
    }

    /// True when the time-based checkpoint is due: new records and a full `everySeconds` since the last
    /// one (to the nanosecond: whole seconds would let one come up to a second early).
    private func checkpointIsDue() -> Bool {
        guard let policy = settings.checkpoints, damaged == nil, head > (lastCheckpoint?.treeSize ?? 0) else { return false }
        let last = lastCheckpoint?.signedAt ?? started
        let now = Instant.now()
        let elapsed = (now.seconds - last.seconds) * 1_000_000_000 + Int64(now.nanoseconds - last.nanoseconds)
        return elapsed >= policy.everySeconds * 1_000_000_000
    }

    // MARK: - A log moved under the writer

    /// The stored head must be the one this writer committed last. If another process appended (the
    /// writer lock keeps ledgerd and ledgerctl out, not a raw LMDB client), every append from here would
    /// extend a chain and a tree this writer no longer holds: it stops instead, once, loudly.
    private func verifyHead(_ stored: (seq: UInt64, hash: [UInt8])) throws {
        guard stored.seq != head || stored.hash != headHash else { return }
        throw LogError(
            .halted,
            "the log moved under this writer (it committed seq \(head), the store now ends at seq \(stored.seq)): "
                + "another process wrote the data directory; appends stop until ledgerd is restarted")
    }

    private func halt(_ error: LogError) {
        let first = halted.withLock { state -> Bool in
            guard state == nil else { return false }
            state = error
            return true
        }
        if first {
            logger.critical("writer halted: no more appends, readiness and watchdog off", metadata: ["ledger.error": "\(error.message)"])
        }
    }

    private func checkHeadWhileIdle() {
        lastHeadCheck = .now
        guard halted.withLock({ $0 == nil }) else { return }
        do {
            let stored = try store.environment.read { txn in try Store.head(txn, store.records) }
            try verifyHead(stored)
        } catch let error as LogError where error.code == .halted {
            halt(error)
        } catch {
            logger.warning("could not read the stored head", metadata: ["ledger.error": "\(error)"])
        }
    }

    private func commit(_ group: [Pending]) {
        if let refusal = damaged ?? halted.withLock({ $0 }) {
            for pending in group { pending.fail(refusal) }
            return
        }
        let started = ContinuousClock.now
        let now = Instant.now()
        let outcome: GroupOutcome
        do {
            outcome = try store.environment.write { txn in try write(group, recordedAt: now, txn) }
        } catch let error as LogError where error.code == .halted {
            halt(error)
            for pending in group { pending.fail(error) }
            return
        } catch {
            let failure = LogError.storage(error, available: store.environment.availableFilesystemBytes())
            logger.error("append failed; nothing of it was stored", metadata: ["ledger.error": "\(failure)"])
            for pending in group { pending.fail(failure) }
            return
        }
        commitLatency.recordElapsed(since: started)
        commitEvents.record(Int(outcome.head - head))
        eventsAppended.increment(by: Int64(outcome.head - head))
        head = outcome.head
        headHash = outcome.headHash
        lastRecordedAt = outcome.lastRecordedAt
        frontier = outcome.frontier
        if let installed = outcome.installed { compressor.adopt(installed) }
        compressor.trainIfDue(head: head)
        if let checkpoint = outcome.checkpoint {
            lastCheckpoint = checkpoint
            logger.debug("checkpoint signed", metadata: ["ledger.checkpoint.size": "\(checkpoint.treeSize)"])
        }
        headSeq.record(Double(head))
        if outcome.formRunStored { formRun = outcome.forms } else { formRun.append(outcome.forms) }
        tail.withLock { tail in
            for item in outcome.appended { tail.add(seq: item.seq, entries: item.entries) }
        }
        recent.add(outcome.handOff)
        unfoldedIds.merge(outcome.newIds) { _, new in new }
        if settings.announcePauseMilliseconds > 0 { usleep(UInt32(settings.announcePauseMilliseconds) * 1_000) }
        committed.advance(to: head)
        var results = outcome.results.makeIterator()
        for pending in group {
            switch pending {
            case .append(let events, let completion):
                requestSizes.record(events.count)
                completion(results.next()!)
            case .importing(_, let continuation):
                continuation.resume(with: results.next()!.mapError { $0 as any Error })
            case .checkpoint(let continuation):
                if let checkpoint = lastCheckpoint {
                    continuation.resume(returning: checkpoint)
                } else {
                    continuation.resume(throwing: LogError(.unsigned, "no checkpoint signing key is configured"))
                }
            }
        }
    }

    /// Writes the group. Everything it changes is local, so LMDB may run it again after growing the map.
    private func write(_ group: [Pending], recordedAt now: Instant, _ txn: borrowing WriteTransaction) throws -> GroupOutcome {
        try verifyHead(try Store.head(txn, store.records))
        var outcome = GroupOutcome(
            results: [], head: head, headHash: headHash, lastRecordedAt: lastRecordedAt, frontier: frontier, checkpoint: nil, appended: [],
            installed: compressor.waiting(), forms: FoldFormRun(first: head + 1))
        if let installed = outcome.installed {
            try txn.put(
                store.meta, key: RecordForms.dictionaryKey(installed.number),
                value: RecordForms.dictionaryValue(trainedThrough: installed.trainedThrough, installed.dictionary.bytes))
        }
        var stamp: (at: Instant, text: String)?
        var checkpointRequested = false
        for pending in group {
            switch pending {
            case .checkpoint:
                checkpointRequested = true
            case .importing(let events, _):
                outcome.results.append(try importRecords(events, &outcome, txn))
            case .append(let events, _):
                let plan: [Planned]
                do {
                    plan = try self.plan(events, outcome.newIds, txn)
                } catch let conflict as LogError {
                    outcome.results.append(.failure(conflict))
                    continue
                }
                // recordedAt never decreases, even after imported records stamped later than this clock.
                if stamp == nil || stamp!.at < outcome.lastRecordedAt {
                    let at = max(now, outcome.lastRecordedAt)
                    stamp = (at, at.rfc3339(fractionDigits: 6))
                }
                var results: [AppendResult] = []
                results.reserveCapacity(plan.count)
                for (event, planned) in zip(events, plan) {
                    switch planned {
                    case .duplicate(let existing):
                        let stored = try txn.get(store.records, bigEndianBytes(existing))
                        let hash = stored.map { Array($0.prefix(32)) } ?? []
                        results.append(AppendResult(seq: existing, id: event.id, hash: hash, duplicate: true))
                    case .repeatOf(let position):
                        var repeated = results[position]
                        repeated.duplicate = true
                        results.append(repeated)
                    case .new:
                        results.append(try appendRecord(event, at: stamp!, &outcome, txn))
                    }
                }
                outcome.results.append(.success(results))
            }
        }
        try signCheckpointIfDue(requested: checkpointRequested, &outcome, txn)
        return outcome
    }

    /// Stores one new record at the next seq: chain hash, id, the Merkle nodes it completes.
    private func appendRecord(
        _ event: QueuedEvent, at stamp: (at: Instant, text: String), _ outcome: inout GroupOutcome, _ txn: borrowing WriteTransaction
    ) throws -> AppendResult {
        let seq = outcome.head + 1
        let key = bigEndianBytes(seq)
        let record = CanonicalRecord.make(seq: seq, recordedAt: stamp.text, body: event.body)
        let hash = ChainHash.next(after: outcome.headHash, record: record)
        let dictionary = outcome.installed.map { ($0.number, $0.dictionary) } ?? compressor.current
        try compressor.withStoredForm(record, dictionary) { prefix, stored in
            try key.withUnsafeBytes { k in
                try txn.putReserving(store.records, key: k, count: 32 + prefix.count + stored.count, flags: .append) { out in
                    hash.withUnsafeBytes { out.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: 32) }
                    prefix.withUnsafeBytes { out.baseAddress!.advanced(by: 32).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
                    out.baseAddress!.advanced(by: 32 + prefix.count).copyMemory(from: stored.baseAddress!, byteCount: stored.count)
                }
            }
        }
        outcome.newIds[IndexKey(event.idKey)] = seq
        for node in MerkleNodes.append(leafHash: MerkleTree.leafHash(record), to: &outcome.frontier) {
            try txn.put(store.merkle, key: node.key, value: node.hash, flags: .append)
        }
        outcome.head = seq
        outcome.headHash = hash
        outcome.lastRecordedAt = stamp.at
        outcome.appended.append((seq, event.entries))
        outcome.forms.add(event.form)
        try storeFormBlockIfWhole(&outcome, txn)
        if let foldForm = event.foldForm {
            outcome.handOff.append(.init(event: StoredEvent(seq: seq, recordedAt: "", envelope: foldForm), hash: hash))
        }
        return AppendResult(seq: seq, id: event.id, hash: hash, duplicate: false)
    }

    /// The highest block of the gap in the fold forms (records written before the log kept them), made
    /// from the records while the writer is idle: a block a turn, so an append waits at most one block's
    /// decoding (a few milliseconds), and the highest first, so the gap stays below every block
    /// (`FoldFormRun.gap`). True while records without forms remain.
    private func fillFormGap() -> Bool {
        guard let gap = formGap else { return false }
        let from = gap.upperBound - min(gap.upperBound - gap.lowerBound, UInt64(settings.foldFormBlock) - 1)
        do {
            let run = try store.environment.read { txn in
                try FoldFormRun.read(from: from, through: gap.upperBound, txn, store.records, store.forms.reader())
            }
            // A record missing on disk: its block is left out (a rebuild decodes the records there).
            if let run {
                try store.environment.write { txn in try formBlocks.store(last: gap.upperBound, count: run.count, [run.bytes], append: false, txn) }
            }
        } catch {
            logger.warning("fold forms for older records could not be stored; a rebuild decodes those records", metadata: ["ledger.error": "\(error)"])
            formGap = nil
            return false
        }
        formGap = from > gap.lowerBound ? gap.lowerBound...(from - 1) : nil
        if formGap == nil { logger.notice("every record has its fold form") }
        return formGap != nil
    }

    /// A block of fold forms goes into the transaction that appends its last record.
    private func storeFormBlockIfWhole(_ outcome: inout GroupOutcome, _ txn: borrowing WriteTransaction) throws {
        let earlier = outcome.formRunStored ? nil : formRun
        let count = (earlier?.count ?? 0) + outcome.forms.count
        guard count >= settings.foldFormBlock else { return }
        try formBlocks.store(last: outcome.head, count: count, [earlier?.bytes, outcome.forms.bytes].compactMap { $0 }, txn)
        outcome.formRunStored = true
        outcome.forms = FoldFormRun(first: outcome.head + 1)
    }

    /// Exported records go back at exactly their seq and recordedAt, so the chain and the tree come out
    /// the same. Everything is checked before anything is written: a record that does not continue
    /// the ledger refuses the whole request.
    private func importRecords(
        _ events: [ImportedEvent], _ outcome: inout GroupOutcome, _ txn: borrowing WriteTransaction
    ) throws -> Result<[AppendResult], LogError> {
        var expectedSeq = outcome.head + 1
        var previous = outcome.head == 0 ? nil : Optional(outcome.lastRecordedAt)
        var ids = Set<[UInt8]>()
        for (index, imported) in events.enumerated() {
            guard imported.seq == expectedSeq else {
                return .failure(LogError(.conflict, "record \(imported.seq) does not follow the ledger's head \(expectedSeq - 1)", index: index))
            }
            if let previous, imported.recordedAt < previous {
                return .failure(LogError(.conflict, "record \(imported.seq) was recorded before the record it follows", index: index))
            }
            let id = imported.event.idKey
            guard try storedId(id, outcome.newIds, txn) == nil, ids.insert(id).inserted else {
                return .failure(LogError(.conflict, "event id \"\(imported.event.id)\" is already in the ledger", index: index))
            }
            expectedSeq += 1
            previous = imported.recordedAt
        }
        var results: [AppendResult] = []
        for imported in events {
            results.append(try appendRecord(imported.event, at: (imported.recordedAt, imported.recordedAt.rfc3339(fractionDigits: 6)), &outcome, txn))
        }
        return .success(results)
    }

    private func signCheckpointIfDue(requested: Bool, _ outcome: inout GroupOutcome, _ txn: borrowing WriteTransaction) throws {
        guard let policy = settings.checkpoints else { return }
        let lastSize = lastCheckpoint?.treeSize
        guard outcome.head > (lastSize ?? 0) || (lastSize == nil && requested) else { return }
        let due = requested || checkpointIsDue() || outcome.head - (lastSize ?? 0) >= policy.everyEvents
        guard due else { return }
        let body = Checkpoint(origin: policy.signer.name, size: outcome.head, rootHash: outcome.frontier.root)
        let checkpoint = StoredCheckpoint(treeSize: outcome.head, signedAt: Instant.now(), note: try policy.signer.sign(body.text))
        try txn.put(store.checkpoints, key: bigEndianBytes(checkpoint.treeSize), value: checkpoint.storedValue)
        outcome.checkpoint = checkpoint
    }

    /// Decides, before writing anything, what each event of one request becomes; throws a
    /// conflict (the whole request is refused) when an id is taken by other content.
    private func plan(_ events: [QueuedEvent], _ newIds: [IndexKey: UInt64], _ txn: borrowing WriteTransaction) throws -> [Planned] {
        var plan: [Planned] = []
        plan.reserveCapacity(events.count)
        var positions: [[UInt8]: Int] = [:]
        for (index, event) in events.enumerated() {
            let key = event.idKey
            if let existing = try storedId(key, newIds, txn) {
                guard let seq = try seq(of: existing, ifItHolds: event, txn) else {
                    throw LogError(
                        .conflict, "event id \"\(event.id)\" is already in the ledger with other content", index: index)
                }
                plan.append(.duplicate(seq: seq))
            } else if let earlier = positions[key] {
                guard events[earlier].body == event.body else {
                    throw LogError(
                        .conflict, "event id \"\(event.id)\" appears twice in the batch with other content", index: index)
                }
                plan.append(.repeatOf(position: earlier))
            } else {
                positions[key] = index
                plan.append(.new)
            }
        }
        return plan
    }

    /// Where an id's event is stored.
    private enum StoredId {
        case seq(UInt64)
        /// Stores before format 3 kept SHA-256 of the content beside the seq.
        case seqAndDigest(UInt64, [UInt8])
        /// A value no format writes: the id is taken, by nothing it can be compared with.
        case unreadable

        init(_ value: UnsafeRawBufferPointer) {
            switch value.count {
            case 8: self = .seq(readBigEndianUInt64(value))
            case 40: self = .seqAndDigest(readBigEndianUInt64(value), Array(value[8...]))
            default: self = .unreadable
            }
        }
    }

    /// Where an id's event is, counting the ids the transaction under way appended and those not
    /// folded into the id table yet.
    private func storedId(_ key: [UInt8], _ newIds: [IndexKey: UInt64], _ txn: borrowing WriteTransaction) throws -> StoredId? {
        let id = IndexKey(key)
        if let seq = newIds[id] ?? unfoldedIds[id] { return .seq(seq) }
        return try txn.get(store.ids, key).map(StoredId.init)
    }

    /// The seq, when the event stored there is `event` (a retry), or nil (another event under the id):
    /// the record `event` would have made at that seq and recordedAt is the record stored.
    private func seq(of existing: StoredId, ifItHolds event: QueuedEvent, _ txn: borrowing WriteTransaction) throws -> UInt64? {
        switch existing {
        case .seqAndDigest(let seq, let digest):
            return digest.elementsEqual(SHA256.hash(data: event.body)) ? seq : nil
        case .seq(let seq):
            guard let value = try txn.get(store.records, bigEndianBytes(seq)), value.count > 32 else { return nil }
            let holds = store.forms.withCanonical(UnsafeRawBufferPointer(rebasing: value[32...])) { record in
                guard let stored = try? StoredEvent.decode(record) else { return false }
                return record.elementsEqual(CanonicalRecord.make(seq: stored.seq, recordedAt: stored.recordedAt, body: event.body))
            }
            return holds ? seq : nil
        case .unreadable:
            return nil
        }
    }

    // MARK: - Folding the tail into the indexes

    /// A fold under way: the tail's events it writes (frozen when it began), and its transactions
    /// done: the ids' (0), then one per index in `IndexKind` order.
    private struct FoldInProgress {
        let events: TailIndex.Frozen
        var transactionsDone = 0
    }

    /// Folds the tail into the id table and the indexes in one transaction each, the appends queued
    /// meanwhile committed between them, so that none holds the writer for long: the unfolded ids
    /// first (at random places in the id table with ids such as UUIDs), then one index at a time,
    /// the last with the new watermark and the ids that came since. A fold in one transaction held
    /// the writer 29–53 ms every 5,000 single events, most of their p99 (BENCHMARKS.md).
    ///
    /// Until the last transaction the watermark stays where it was: reads take the fold's events
    /// from the tail (`TailIndex.folding`) and LMDB's entries only up to the watermark, so the ones
    /// written ahead of it count once. An id in the table before the watermark covers it is
    /// harmless too: a reopen finds it again in the records past the watermark, under the same seq.
    /// A fold cut short (a crash, a full disk) leaves entries past the watermark; the next one puts
    /// them again, and LMDB keeps one of each (`putEntry`). A transaction that fails is tried again
    /// at the next turn. `toTheEnd` (on close) does every step at once. True when the fold goes on
    /// with its next transaction.
    private func fold(toTheEnd: Bool) -> Bool {
        if foldInProgress == nil { foldInProgress = FoldInProgress(events: tail.withLock { $0.freeze() }) }
        while let fold = foldInProgress {
            let step = fold.transactionsDone
            let last = step == IndexKind.allCases.count
            // The ids first, and at the end those that came since.
            let writesIds = step == 0 || last
            let start = ContinuousClock.now
            do {
                try store.environment.write { txn in
                    if step > 0 { try writeEntries(of: IndexKind.allCases[step - 1], fold.events, txn) }
                    if writesIds { try writeUnfoldedIds(txn) }
                    if last { try txn.put(store.meta, key: Store.indexedThroughKey, value: bigEndianBytes(fold.events.head)) }
                }
            } catch {
                logFoldFailure(error, events: Int(fold.events.head - tail.withLock { $0.base }))
                return false
            }
            foldLatency.recordElapsed(since: start)
            if writesIds { unfoldedIds.removeAll(keepingCapacity: true) }
            if last {
                tail.withLock { $0.folded() }
                foldInProgress = nil
                releaseFreedMemory()
                return false
            }
            foldInProgress!.transactionsDone += 1
            if !toTheEnd { return true }
        }
        return false
    }

    /// The unfolded ids into the id table, in key order; the table then answers for them.
    private func writeUnfoldedIds(_ txn: borrowing WriteTransaction) throws {
        try txn.withCursor(store.ids) { cursor in
            for (id, seq) in unfoldedIds.sorted(by: { $0.key < $1.key }) {
                try id.bytes.withUnsafeBytes { k in
                    try withUnsafeBytes(of: seq.bigEndian) { v in try cursor.put(k, v) }
                }
            }
        }
    }

    /// One index's entries of the fold's events. Keys go in sorted order so the B-tree is walked,
    /// not jumped around.
    private func writeEntries(of kind: IndexKind, _ events: TailIndex.Frozen, _ txn: borrowing WriteTransaction) throws {
        let postings = events.postings[kind.rawValue]
        try txn.withCursor(store.index(kind)) { cursor in
            for key in postings.keys.sorted() {
                try key.bytes.withUnsafeBytes { k in
                    for seq in postings[key]! {
                        try withUnsafeBytes(of: seq.bigEndian) { v in try Self.putEntry(k, v, cursor) }
                    }
                }
            }
        }
    }

    /// Appends a seq to its key's; where a fold cut short already put it (or a later one), LMDB's
    /// append refuses and the entry goes in its place instead, once (a duplicate-sorted database
    /// keeps one of each key and value).
    private static func putEntry(_ key: UnsafeRawBufferPointer, _ seq: UnsafeRawBufferPointer, _ cursor: borrowing Cursor) throws {
        do {
            try cursor.put(key, seq, flags: .appendDuplicate)
        } catch let error as LMDBError where error.isKeyExists {
            try cursor.put(key, seq)
        }
    }

    private func logFoldFailure(_ error: any Error, events: Int) {
        logger.error(
            "folding the tail into the indexes failed; reads stay exact from the tail and the fold is retried",
            metadata: [
                "ledger.error": "\(LogError.storage(error, available: store.environment.availableFilesystemBytes()))",
                "ledger.tail.events": "\(events)",
            ])
    }
}

extension Writer.Pending {
    func fail(_ error: LogError) {
        switch self {
        case .append(_, let completion): completion(.failure(error))
        case .importing(_, let continuation): continuation.resume(throwing: error)
        case .checkpoint(let continuation): continuation.resume(throwing: error)
        }
    }
}
