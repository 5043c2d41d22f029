import EventModel
import LMDB
import Logging
import NIOPosix
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The data directory's writer lock, as the layers above the log name it.
public typealias DataDirectoryLock = WriterLock

/// An event as stored: its place, its chain hash and its canonical record bytes.
public struct LoggedEvent: Sendable, Equatable {
    public var seq: UInt64
    /// The chain hash after this event (32 bytes).
    public var hash: [UInt8]
    /// The canonical record, byte for byte as hashed and exported.
    public var record: [UInt8]

    public func decode() throws -> StoredEvent { try StoredEvent.decode(record) }
}

/// The append-only, hash-chained event log on LMDB.
///
/// Appends from any task meet in one writer thread (group commit); reads run on their own
/// thread pool against LMDB snapshots merged with the in-memory tail of not-yet-indexed events.
public final class EventLog: Sendable {
    public let configuration: LogConfiguration
    let store: Store
    let tail: SharedTail
    let recent: RecentCommits
    let writer: Writer?
    private let readers: NIOThreadPool
    let logger: Logger
    let closed = Atomic<Bool>(false)
    /// The head when the log was opened.
    private let openedHead: UInt64
    /// Held for as long as this log may write; nil when read-only.
    private let writerLock: WriterLock?
    /// Seqs of undecodable records already logged, so each is reported once per process.
    private let reportedUndecodable = Mutex<Set<UInt64>>([])
    /// Last seqs of damaged fold-form blocks already logged.
    private let reportedDamagedBlocks = Mutex<Set<UInt64>>([])

    /// Opens (or creates) the log and re-indexes into memory whatever the last run appended but had
    /// not folded: index entries and ids alike.
    ///
    /// A writable log first takes the data directory's writer lock (or adopts `writerLock`, taken by a
    /// caller that writes other files there first) and throws `.locked` when another process has it.
    public init(_ configuration: LogConfiguration, writerLock: WriterLock? = nil, logger: Logger = Logger(label: "ledger.log")) throws {
        self.configuration = configuration
        self.logger = logger
        self.writerLock = configuration.readOnly ? nil : try writerLock ?? EventLog.lockDataDirectory(configuration.path)
        let environment = Environment.Configuration(
            path: configuration.path, mapSize: configuration.mapSize,
            maxReaders: UInt32(max(126, configuration.readerThreads * 4 + 64)), readOnly: configuration.readOnly)
        let store = try Store(environment)
        self.store = store
        let (start, indexed, tail, unfoldedIds, undecodable) = try store.environment.read { txn in
            let (head, hash) = try Store.head(txn, store.records)
            var start = Writer.Start(
                head: head, headHash: hash,
                lastRecordedAt: try txn.get(store.records, bigEndianBytes(head))
                    .flatMap { try? store.forms.withCanonical(UnsafeRawBufferPointer(rebasing: $0[32...]), StoredEvent.decode) }
                    .flatMap { Instant(rfc3339: $0.recordedAt) } ?? Instant(seconds: 0),
                frontier: Result { try MerkleNodes.frontier(size: head, txn, store) }.mapError { LogError.storage($0) },
                lastCheckpoint: try Store.latestCheckpoint(txn, store.checkpoints),
                formRun: configuration.readOnly
                    ? FoldFormRun(first: head + 1)
                    : try FoldFormRun.resume(head: head, blockSize: configuration.foldFormBlockSize, txn, store, store.forms.reader()))
            if !configuration.readOnly { start.formGap = try FoldFormRun.gap(below: start.formRun.first, txn, store) }
            let indexed = Store.indexedThrough(try txn.get(store.meta, Store.indexedThroughKey))
            var tail = TailIndex(base: indexed)
            var unfoldedIds: [IndexKey: UInt64] = [:]
            var undecodable: [UInt64] = []
            if head > indexed {
                let reader = store.forms.reader()
                try txn.withCursor(store.records) { cursor in
                    var entry = try cursor.get(.key, key: bigEndianBytes(indexed + 1))
                    while let (key, value) = entry {
                        let seq = readBigEndianUInt64(key)
                        do {
                            let event = try reader.withCanonical(UnsafeRawBufferPointer(rebasing: value[32...]), StoredEvent.decode)
                            tail.add(seq: seq, entries: IndexKeys.entries(for: event.envelope))
                            unfoldedIds[IndexKey(IndexKeys.eventId(event.envelope.id))] = seq
                        } catch {
                            // Altered on disk: left out of the indexes and the id table (see `decodeOrReport`:
                            // a retry of its event is not known as one); the ledger still opens.
                            undecodable.append(seq)
                            tail.add(seq: seq, entries: [])
                        }
                        entry = try cursor.get(.next)
                    }
                }
            }
            return (start, indexed, tail, unfoldedIds, undecodable)
        }
        self.tail = SharedTail(tail)
        recent = RecentCommits(capacity: configuration.readOnly ? 0 : configuration.handOffEvents)
        self.openedHead = start.head
        logger.info(
            "event log open",
            metadata: [
                "ledger.path": "\(configuration.path)", "ledger.head": "\(start.head)", "ledger.indexed_through": "\(indexed)",
                "ledger.read_only": "\(configuration.readOnly)",
            ])
        readers = NIOThreadPool(numberOfThreads: configuration.readerThreads)
        readers.start()
        if configuration.readOnly {
            writer = nil
        } else {
            let writer = try Writer(
                store: store, tail: self.tail, recent: recent, unfoldedIds: unfoldedIds, start: start,
                settings: .init(
                    foldThreshold: configuration.foldThreshold, foldIdleMilliseconds: configuration.foldIdleMilliseconds,
                    staleReaderCheckSeconds: configuration.staleReaderCheckSeconds, foldOnClose: configuration.foldOnClose,
                    checkpoints: configuration.checkpoints, dictionaries: configuration.dictionaries,
                    foldFormBlock: configuration.foldFormBlockSize,
                    announcePauseMilliseconds: configuration.announcePauseMilliseconds,
                    foldStepPauseMilliseconds: configuration.foldStepPauseMilliseconds),
                logger: logger)
            writer.start()
            self.writer = writer
        }
        for seq in undecodable { reportUndecodable(seq: seq) }
    }

    /// Finishes queued appends, folds the tail, and closes LMDB. Appends after this fail with `.closed`.
    public func close() async throws {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        if let writer {
            try await readers.runIfActive { writer.stop() }
        }
        try await readers.shutdownGracefully()
        store.environment.close()
        writerLock?.release()
        logger.info("event log closed", metadata: ["ledger.path": "\(configuration.path)"])
    }

    deinit {
        if !closed.load(ordering: .acquiring) {
            writer?.stop()
            try? readers.syncShutdownGracefully()
            store.environment.close()
        }
    }

    // MARK: - Appending

    /// Appends the events as one atomic batch. Returns when they are committed and synced.
    /// Same id and content as an event in the ledger: not appended again, `duplicate` true.
    /// Same id, other content: throws `.conflict` and appends nothing.
    public func append(_ events: [PreparedEvent]) async throws -> [AppendResult] {
        try await withCheckedThrowingContinuation { continuation in
            append(events) { continuation.resume(with: $0.mapError { $0 as any Error }) }
        }
    }

    /// `append` for a caller that cannot wait in a task (an event loop): `completion` runs once, on
    /// the writer's thread (or the caller's, when the ledger refuses at once), after the commit.
    public func append(_ events: [PreparedEvent], completion: @escaping AppendCompletion) {
        guard let writer else { return completion(.failure(LogError(.closed, "the ledger is open read-only"))) }
        guard !closed.load(ordering: .relaxed) else { return completion(.failure(LogError(.closed, "the ledger is shutting down"))) }
        if events.isEmpty { return completion(.success([])) }
        writer.append(events, completion: completion)
    }

    /// Seconds since the epoch when the writer last went round its loop (nil when read-only).
    public var writerHeartbeat: Int64? { writer?.heartbeat.load(ordering: .relaxed) }

    /// The last committed seq, without a read transaction; a read-only log gives its head at open.
    public var committedHead: UInt64 { writer?.committed.value ?? openedHead }

    /// Blocks (on the calling thread) until a commit takes the head past `beyond`, `wakeCommitWaiters`,
    /// or the timeout; returns the committed head. A read-only log never commits: it returns at once.
    @discardableResult
    public func waitForCommit(beyond: UInt64, timeoutMilliseconds: Int) -> UInt64 {
        guard let writer else { return openedHead }
        return writer.committed.wait(beyond: beyond, timeoutMilliseconds: timeoutMilliseconds)
    }

    /// For tasks (a stream, a delivery loop): suspends until a commit takes the head past `beyond`,
    /// the timeout, or cancellation; returns the committed head. A read-only log sleeps the timeout.
    public func nextCommit(beyond: UInt64, timeout: Duration) async -> UInt64 {
        guard let writer else {
            try? await Task.sleep(for: timeout)
            return openedHead
        }
        return await writer.committed.next(beyond: beyond, timeout: timeout)
    }

    /// The next page of `query`'s matches after seq `after`, for a task that follows the log (a
    /// stream, a delivery route), and the seq the reader is through: a short page holds every
    /// match committed when it was read, so it covers up to the head even past its last event.
    /// Nothing new committed: an empty page through `after`.
    public func page(following query: EventQuery, after: UInt64) async throws -> (events: [LoggedEvent], through: UInt64) {
        let head = committedHead
        guard head > after else { return ([], after) }
        var query = query
        query.afterSeq = after
        let page = try await read { [query] in try $0.events(query) }
        let through = page.events.count < query.limit ? max(page.events.last?.seq ?? after, head) : page.events.last!.seq
        return (page.events, through)
    }

    /// For the projection's follower: the events committed from `after + 1` on, at most `limit`, in
    /// their fold form (what `StoredEvent.decodeForFold` reads from their records), with the chain
    /// hash of the last; nil when they are not kept (taken, never kept, or dropped while waiting past
    /// `LogConfiguration.handOffEvents`): read them from the log. Each is handed over once.
    public func takeCommitted(after: UInt64, limit: Int) -> FoldBatch? {
        recent.take(after: after, limit: limit).map {
            FoldBatch(events: $0.events, undecodable: [], lastSeq: $0.events.last!.seq, lastHash: $0.lastHash, handedOver: true)
        }
    }

    /// Wakes every thread in `waitForCommit`, e.g. a follower asked to stop.
    public func wakeCommitWaiters() { writer?.committed.wakeAll() }

    /// Why the writer stopped taking appends for good (the log moved under it), or nil while it works.
    public var writerHalted: LogError? { writer?.halted.withLock { $0 } }

    /// Takes the writer lock of a data directory, creating the directory when missing.
    public static func lockDataDirectory(_ path: String) throws -> DataDirectoryLock {
        if mkdir(path, 0o750) != 0 && errno != EEXIST {
            throw LogError(.storage, "cannot create the data directory \(path): \(String(cString: strerror(errno)))")
        }
        do {
            return try WriterLock(directory: path)
        } catch let inUse as WriterLock.InUse {
            throw LogError(.locked, inUse.description)
        }
    }

    // MARK: - Reading

    /// Runs a blocking read on the reader threads.
    public func read<R: Sendable>(_ body: @escaping @Sendable (EventLog) throws -> R) async throws -> R {
        try await readers.runIfActive { try body(self) }
    }

    /// The last seq and its chain hash.
    public func head() throws -> (seq: UInt64, hash: [UInt8]) {
        try store.environment.read { txn in try Store.head(txn, store.records) }
    }

    /// Every event ≤ this seq is in the LMDB indexes; later ones are in the in-memory tail.
    public func indexedThrough() -> UInt64 { tail.withLock { $0.base } }

    /// One event by seq (blocking).
    public func event(seq: UInt64) throws -> LoggedEvent? {
        try store.environment.read { txn in
            guard let value = try txn.get(store.records, bigEndianBytes(seq)), value.count > 32 else { return nil }
            return LoggedEvent(seq: seq, hash: Array(value.prefix(32)), record: store.forms.canonical(UnsafeRawBufferPointer(rebasing: value[32...])))
        }
    }

    /// The records of some seqs, as much of each as a fold reads (`StoredEvent.decodeForFold`),
    /// through one snapshot, in the order given. A seq with no record, or one that does not decode,
    /// is left out.
    public func foldedEvents(seqs: [UInt64]) throws -> [StoredEvent] {
        let reader = store.forms.reader()
        return try store.environment.read { txn in
            var decoder = StoredEvent.FoldDecoder()
            return try seqs.compactMap { seq in
                guard let value = try txn.get(store.records, bigEndianBytes(seq)), value.count > 32 else { return nil }
                return reader.withCanonical(UnsafeRawBufferPointer(rebasing: value[32...])) { decodeForFoldOrReport(seq: seq, $0, using: &decoder) }
            }
        }
    }

    /// Records with seq > `afterSeq`, in order, at most `limit`, for export and replay (blocking).
    public func events(afterSeq: UInt64, limit: Int) throws -> [LoggedEvent] {
        let reader = store.forms.reader()
        return try store.environment.read { txn in
            try txn.withCursor(store.records) { cursor in
                var out: [LoggedEvent] = []
                var entry = try cursor.get(.keyRange, key: bigEndianBytes(afterSeq &+ 1))
                if afterSeq == .max { entry = nil }
                while let (key, value) = entry, out.count < limit {
                    out.append(
                        LoggedEvent(
                            seq: readBigEndianUInt64(key), hash: Array(value.prefix(32)),
                            record: reader.canonical(UnsafeRawBufferPointer(rebasing: value[32...]))))
                    entry = try cursor.get(.next)
                }
                return out
            }
        }
    }

    /// Events past a seq in their fold form: read from the log (`foldBatch`) or handed over by the
    /// writer as it committed them (`takeCommitted`).
    public struct FoldBatch: Sendable {
        public var events: [StoredEvent]
        /// Records that do not decode (altered on disk), for the caller to report.
        public var undecodable: [UInt64] = []
        /// The last record, decoded or not: its seq and chain hash (a fold's watermark).
        public var lastSeq: UInt64
        public var lastHash: [UInt8]
        /// Taken from the writer's hand-off rather than read from the log.
        public var handedOver = false
    }

    /// Records with seq > `afterSeq`, at most `limit`, for a fold, or nil past the head (blocking): read
    /// from their fold forms (`FoldForms`) where the log keeps them, else decoded (`StoredEvent.FoldDecoder`)
    /// straight from the map or the decompression buffer. It copies no record into an array and keeps
    /// only the last chain hash: a rebuild reads a million records.
    public func foldBatch(afterSeq: UInt64, limit: Int) throws -> FoldBatch? {
        guard afterSeq < .max, limit > 0 else { return nil }
        let reader = store.forms.reader()
        let blocks = store.foldForms.map { FoldFormBlockReader(database: $0) }
        return try store.environment.read { txn in
            var batch = FoldBatch(events: [], lastSeq: afterSeq, lastHash: [])
            batch.events.reserveCapacity(min(limit, 1 << 16))
            var decoder = StoredEvent.FoldDecoder()
            let last = UInt64(limit) > UInt64.max - afterSeq ? UInt64.max : afterSeq + UInt64(limit)
            try txn.withCursor(store.records) { cursor in
                /// One record decoded for the fold, or its seq kept as undecodable.
                func decode(_ seq: UInt64, _ value: UnsafeRawBufferPointer, into events: inout [StoredEvent], _ undecodable: inout [UInt64]) {
                    if let event = reader.decodeForFold(value, using: &decoder) { events.append(event) } else { undecodable.append(seq) }
                }
                // Forms where a block holds them, records decoded up to the next block elsewhere.
                while batch.lastSeq < last {
                    let next = batch.lastSeq + 1
                    // Each form's event made in the batch as the block is read (`FoldForm.Kind`).
                    let mark = batch.events.count
                    var undecodable: [UInt64] = []
                    let (found, nextBlock) = try blocks?.read(from: next, through: last, txn, reported: reportDamagedFormBlock, appendingTo: &batch.events) { seq, kind, events in
                        switch kind {
                        case .event: break
                        case .undecodable: undecodable.append(seq)
                        case .inRecord:
                            guard let (_, value) = try cursor.get(.key, key: bigEndianBytes(seq)) else { throw LogError(.corrupt, "record \(seq) is missing") }
                            decode(seq, value, into: &events, &undecodable)
                        }
                    } ?? (false, .max)
                    if found {
                        // The block gave every form from `next` to its end or to `last`.
                        batch.undecodable += undecodable
                        batch.lastSeq = min(last, nextBlock - 1)
                        continue
                    }
                    // A block that did not read back to its end: its records are decoded instead.
                    batch.events.removeSubrange(mark...)
                    let through = min(last, nextBlock - 1)
                    var entry = try cursor.get(.keyRange, key: bigEndianBytes(next))
                    while let (key, value) = entry, readBigEndianUInt64(key) <= through {
                        batch.lastSeq = readBigEndianUInt64(key)
                        decode(batch.lastSeq, value, into: &batch.events, &batch.undecodable)
                        entry = batch.lastSeq < through ? try cursor.get(.next) : nil
                    }
                    if batch.lastSeq < through { break }  // the head
                }
            }
            guard batch.lastSeq > afterSeq, let stored = try txn.get(store.records, bigEndianBytes(batch.lastSeq)) else { return nil }
            batch.lastHash = Array(stored.prefix(32))
            return batch
        }
    }

    /// A block of fold forms that does not read back: its records are decoded instead, and `verify`
    /// names it. Reported once per process, as an undecodable record is.
    private func reportDamagedFormBlock(endingAt last: UInt64) {
        guard reportedDamagedBlocks.withLock({ $0.insert(last).inserted }) else { return }
        logger.error(
            "a stored block of fold forms does not read back; its records are decoded instead; run verify",
            metadata: ["ledger.seq": "\(last)"])
    }

    // MARK: - Undecodable records

    /// The one rule for a stored record that does not decode (it was altered on disk): it is left out
    /// of every answer and of the projection, reported once in the log with its seq, and named by
    /// `verify`. The ledger keeps serving everything else.
    public func decodeOrReport(_ event: LoggedEvent) -> StoredEvent? {
        event.record.withUnsafeBytes { decodeOrReport(seq: event.seq, $0) }
    }

    /// The same, straight from the bytes in the map (no copy on the query path).
    func decodeOrReport(seq: UInt64, _ record: UnsafeRawBufferPointer) -> StoredEvent? {
        do {
            return try StoredEvent.decode(record)
        } catch {
            reportUndecodable(seq: seq, error)
            return nil
        }
    }

    /// The same, reading only what a fold reads (`StoredEvent.decodeForFold`): for answers folded
    /// from a subject's events, which may be thousands, all through one `decoder`.
    public func decodeForFoldOrReport(_ event: LoggedEvent, using decoder: inout StoredEvent.FoldDecoder) -> StoredEvent? {
        event.record.withUnsafeBytes { decodeForFoldOrReport(seq: event.seq, $0, using: &decoder) }
    }

    func decodeForFoldOrReport(seq: UInt64, _ record: UnsafeRawBufferPointer, using decoder: inout StoredEvent.FoldDecoder) -> StoredEvent? {
        do {
            return try decoder.decode(record)
        } catch {
            reportUndecodable(seq: seq, error)
            return nil
        }
    }

    public func reportUndecodable(seq: UInt64, _ error: (any Error)? = nil) {
        guard reportedUndecodable.withLock({ $0.insert(seq).inserted }) else { return }
        logger.error(
            "a stored record does not decode and is left out of answers and the projection; run verify",
            metadata: ["ledger.seq": "\(seq)", "ledger.error": "\(error.map { "\($0)" } ?? "-")"])
    }

    /// Bytes of the data file in use.
    public func diskBytes() throws -> Int { try store.environment.usedBytes() }

    /// The LMDB environment, for backups and tools that need it.
    public var environment: Environment { store.environment }
}
