/// How an `EventLog` is opened and run.
public struct LogConfiguration: Sendable {
    /// The data directory (LMDB's `data.mdb` and `lock.mdb`).
    public var path: String
    /// Initial LMDB map size; it grows when full. Default 16 GiB of address space, not of disk.
    public var mapSize: Int = 16 << 30
    /// Open read-only, e.g. `ledgerctl --data-dir` beside a running daemon: no appends.
    public var readOnly: Bool = false
    /// Threads that run reads, so they never block the writer or the cooperative pool.
    public var readerThreads: Int = 4
    /// Fold the tail into the LMDB indexes once it holds this many events (spec 8: large batches are
    /// cheap). Appends wait while each of a fold's transactions runs (the ids, then one per index),
    /// so the longest is the tail of the ack's latency: 5,000 (was 20,000) halved the p99 of single
    /// events at 64 clients, and one transaction per index (instead of all of them in one) halved it
    /// again, to ~15 ms, at no cost to ingest measured within the noise (BENCHMARKS.md).
    public var foldThreshold: Int = 5_000
    /// …or after this long without appends.
    public var foldIdleMilliseconds: Int = 250
    public var staleReaderCheckSeconds: Int64 = 30
    /// Fold the tail on close so the next start has nothing to re-index. Tests turn it off to
    /// exercise the re-indexing a crash would leave behind.
    public var foldOnClose: Bool = true
    /// A pause between a commit and its announcement to those waiting for commits (the projection's
    /// follower). A reader can always find a commit in LMDB a moment before it is announced; tests
    /// widen that moment to show the follower copes.
    public var announcePauseMilliseconds: Int = 0
    /// How long the writer waits for appends between a fold's transactions (`Writer.fold`); tests
    /// lengthen it to read the ledger while a fold is half done.
    public var foldStepPauseMilliseconds: Int = 0
    /// How many committed events the log keeps in memory, in their fold form, until the projection's
    /// follower takes them (`takeCommitted`); 0 keeps none. 8,192 covers the follower's 100 ms of
    /// gathering at the fastest ingest measured here, for a few MiB when it lags.
    public var handOffEvents: Int = 8_192
    /// How many records' fold forms the writer stores as one block (`FoldForms`): large enough to
    /// compress well without a dictionary, small enough that a restart reads the unfinished one back
    /// in milliseconds. A ledger may hold blocks of any size; tests make them small.
    public var foldFormBlock: Int = 1_024

    /// `foldFormBlock` within 1 and `FoldForms.mostPerBlock`.
    var foldFormBlockSize: Int { min(max(1, foldFormBlock), FoldForms.mostPerBlock) }
    /// Signs checkpoints of the Merkle tree with this key and schedule; nil signs none.
    public var checkpoints: CheckpointPolicy?
    /// When the writer trains the dictionaries that compress records (`RecordForms`); nil trains none.
    public var dictionaries: DictionarySchedule? = DictionarySchedule()

    public init(path: String) {
        self.path = path
    }
}
