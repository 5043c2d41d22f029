import Crypto
import EventModel
import LMDB
import Logging
import Metrics
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// What the ledger answers for one appended event.
public struct AppendResult: Sendable, Equatable {
    public var seq: UInt64
    public var id: String
    /// The chain hash after this event (32 bytes).
    public var hash: [UInt8]
    /// True when an event with this id and content was already in the ledger: nothing was appended.
    public var duplicate: Bool

    public var hashHex: String { hexString(hash) }
}

/// The ledger's single writer. One dedicated thread takes every queued append, writes them all in
/// one transaction (records, chain hashes, id table — the small, synchronous part), commits and
/// syncs, and only then resumes the callers. Between appends it folds the in-memory tail into the
/// LMDB indexes in large transactions and advances the watermark.
final class Writer: @unchecked Sendable {
    struct Pending {
        var events: [PreparedEvent]
        var continuation: CheckedContinuation<[AppendResult], any Error>
    }

    struct Settings {
        /// Fold the tail into the indexes once it holds this many events.
        var foldThreshold: Int
        /// …or once no append came for this long.
        var foldIdleMilliseconds: Int
        /// How often to free reader slots of dead processes.
        var staleReaderCheckSeconds: Int64
        var foldOnClose: Bool
    }

    private let store: Store
    private let tail: SharedTail
    private let queue = AppendQueue<Pending>()
    private let settings: Settings
    private let logger: Logger
    /// Head and hash as committed; touched only by the writer thread after start-up.
    private var head: UInt64
    private var headHash: [UInt8]
    private var lastRecordedAt: Instant
    private var thread: pthread_t?
    /// The moment the writer last went round its loop; a watchdog reads it.
    let heartbeat = Atomic<Int64>(0)
    private let eventsAppended = Counter(label: "ledger_events_appended_total")
    private let requestSizes = Recorder(label: "ledger_append_request_events", aggregate: true)
    private let commitEvents = Recorder(label: "ledger_commit_events", aggregate: true)
    private let commitLatency = Metrics.Timer(label: "ledger_commit_seconds")
    private let headSeq = Gauge(label: "ledger_head_seq")

    init(store: Store, tail: SharedTail, head: UInt64, headHash: [UInt8], settings: Settings, logger: Logger) {
        self.store = store
        self.tail = tail
        self.head = head
        self.headHash = headHash
        self.settings = settings
        self.logger = logger
        self.lastRecordedAt = Instant(seconds: 0)
    }

    func start() {
        thread = startThread { [self] in run() }
    }

    /// Queues events for the next commit; resumes once they are durable.
    func append(_ events: [PreparedEvent]) async throws -> [AppendResult] {
        try await withCheckedThrowingContinuation { continuation in
            if !queue.enqueue(Pending(events: events, continuation: continuation)) {
                continuation.resume(throwing: LogError(.closed, "the ledger is shutting down"))
            }
        }
    }

    /// Refuses new appends, finishes those queued, folds the tail and stops the thread.
    func stop() {
        queue.close()
        if let thread { pthread_join(thread, nil) }
        thread = nil
    }

    // MARK: - The loop

    private func run() {
        var lastReaderCheck = Instant.now().seconds
        while true {
            let wait = tail.withLock { $0.isEmpty } ? 1000 : settings.foldIdleMilliseconds
            let (group, closed) = queue.takeAll(timeoutMilliseconds: wait)
            heartbeat.store(Instant.now().seconds, ordering: .relaxed)
            if !group.isEmpty { commit(group) }
            let tailCount = tail.withLock { $0.count }
            let idle = group.isEmpty && !closed
            if tailCount >= settings.foldThreshold || (tailCount > 0 && (idle || (closed && settings.foldOnClose))) {
                fold()
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
        var appended: [(seq: UInt64, entries: [(IndexKind, [UInt8])])]
    }

    private func commit(_ group: [Pending]) {
        let started = ContinuousClock.now
        let now = Instant.now()
        let recordedAt = now > lastRecordedAt ? now : lastRecordedAt
        let outcome: GroupOutcome
        do {
            outcome = try store.environment.write { txn in try write(group, recordedAt: recordedAt, txn) }
        } catch {
            let failure = LogError.storage(error)
            logger.error("append failed; nothing of it was stored", metadata: ["ledger.error": "\(failure)"])
            for pending in group { pending.continuation.resume(throwing: failure) }
            return
        }
        let elapsed = started.duration(to: .now)
        commitLatency.recordNanoseconds(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
        commitEvents.record(Int(outcome.head - head))
        eventsAppended.increment(by: Int64(outcome.head - head))
        for pending in group { requestSizes.record(pending.events.count) }
        head = outcome.head
        headHash = outcome.headHash
        lastRecordedAt = recordedAt
        headSeq.record(Double(head))
        tail.withLock { tail in
            for item in outcome.appended { tail.add(seq: item.seq, entries: item.entries) }
        }
        for (pending, result) in zip(group, outcome.results) {
            pending.continuation.resume(with: result.mapError { $0 as any Error })
        }
    }

    /// Writes the group. Everything it changes is local, so LMDB may run it again after growing the map.
    private func write(_ group: [Pending], recordedAt: Instant, _ txn: borrowing WriteTransaction) throws -> GroupOutcome {
        var seq = head
        var chain = headHash
        let stamp = recordedAt.rfc3339(fractionDigits: 6)
        var outcome = GroupOutcome(results: [], head: head, headHash: headHash, appended: [])
        for pending in group {
            let plan: [Planned]
            do {
                plan = try self.plan(pending.events, txn)
            } catch let conflict as LogError {
                outcome.results.append(.failure(conflict))
                continue
            }
            var results: [AppendResult] = []
            results.reserveCapacity(plan.count)
            for (event, planned) in zip(pending.events, plan) {
                switch planned {
                case .duplicate(let existing):
                    let stored = try txn.get(store.records, bigEndianBytes(existing))
                    let hash = stored.map { Array($0.prefix(32)) } ?? []
                    results.append(AppendResult(seq: existing, id: event.envelope.id, hash: hash, duplicate: true))
                case .repeatOf(let position):
                    var repeated = results[position]
                    repeated.duplicate = true
                    results.append(repeated)
                case .new:
                    seq += 1
                    let key = bigEndianBytes(seq)
                    let record = CanonicalRecord.make(seq: seq, recordedAt: stamp, body: event.body)
                    var hasher = SHA256()
                    hasher.update(data: chain)
                    hasher.update(data: record)
                    chain = Array(hasher.finalize())
                    let hash = chain
                    try key.withUnsafeBytes { k in
                        try txn.putReserving(store.records, key: k, count: 32 + record.count, flags: .append) { out in
                            hash.withUnsafeBytes { out.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: 32) }
                            record.withUnsafeBytes { out.baseAddress!.advanced(by: 32).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
                        }
                    }
                    try txn.put(store.ids, key: IndexKeys.eventId(event.envelope.id), value: key + event.digest)
                    outcome.appended.append((seq, IndexKeys.entries(for: event.envelope)))
                    results.append(AppendResult(seq: seq, id: event.envelope.id, hash: hash, duplicate: false))
                }
            }
            outcome.results.append(.success(results))
        }
        outcome.head = seq
        outcome.headHash = chain
        return outcome
    }

    /// Decides, before writing anything, what each event of one request becomes; throws a
    /// conflict (the whole request is refused) when an id is taken by other content.
    private func plan(_ events: [PreparedEvent], _ txn: borrowing WriteTransaction) throws -> [Planned] {
        var plan: [Planned] = []
        plan.reserveCapacity(events.count)
        var positions: [[UInt8]: Int] = [:]
        for (index, event) in events.enumerated() {
            let key = IndexKeys.eventId(event.envelope.id)
            if let existing = try txn.get(store.ids, key) {
                guard existing.count == 40, Array(existing[8..<40]) == event.digest else {
                    throw LogError(
                        .conflict, "event id \"\(event.envelope.id)\" is already in the ledger with other content", index: index)
                }
                plan.append(.duplicate(seq: readBigEndianUInt64(existing)))
            } else if let earlier = positions[key] {
                guard events[earlier].digest == event.digest else {
                    throw LogError(
                        .conflict, "event id \"\(event.envelope.id)\" appears twice in the batch with other content", index: index)
                }
                plan.append(.repeatOf(position: earlier))
            } else {
                positions[key] = index
                plan.append(.new)
            }
        }
        return plan
    }

    // MARK: - Folding the tail into the indexes

    /// Writes every tail entry into the LMDB indexes with the new watermark in one transaction, then
    /// empties the tail. Keys go in sorted order so the B-tree is walked, not jumped around.
    private func fold() {
        let snapshot = tail.withLock { $0 }
        guard !snapshot.isEmpty else { return }
        do {
            try store.environment.write { txn in
                for kind in IndexKind.allCases {
                    let database = store.index(kind)
                    let postings = snapshot.postings[kind.rawValue]
                    let keys = postings.keys.sorted()
                    try txn.withCursor(database) { cursor in
                        for key in keys {
                            try key.bytes.withUnsafeBytes { k in
                                for seq in postings[key]! {
                                    try withUnsafeBytes(of: seq.bigEndian) { v in
                                        try cursor.put(k, v, flags: .appendDuplicate)
                                    }
                                }
                            }
                        }
                    }
                }
                try txn.put(store.meta, key: Store.indexedThroughKey, value: bigEndianBytes(snapshot.head))
            }
        } catch {
            logger.error(
                "folding the tail into the indexes failed; reads stay exact from the tail and the fold is retried",
                metadata: ["ledger.error": "\(LogError.storage(error))", "ledger.tail.events": "\(snapshot.count)"])
            return
        }
        // Only the writer adds to the tail, and it is here: nothing arrived since the snapshot.
        tail.withLock { $0 = TailIndex(base: snapshot.head, sizedLike: snapshot) }
    }
}
