import EventLog
import EventModel
#if canImport(Glibc)
import Glibc
#endif

/// The log's records past a seq, read and decoded a batch ahead of the fold on a thread of its own
/// (`ledger-readahead`, one a batch, joined before the next): a long catch-up (a rebuild) keeps both
/// cores busy, decoding the next batch while the fold runs. A thread of its own rather than one of
/// Dispatch's, which in the daemon also run Swift's tasks: on Dispatch's global queue, ledgerd's first
/// start rebuilt 1M events 0.3–0.5 s slower (BENCHMARKS.md).
/// A fold that keeps up with the writer takes the events it committed last from the writer, already
/// in the form a decode gives (`EventLog.takeCommitted`), and reads nothing.
/// Used by one thread (the fold's); the read-ahead is its own.
final class BatchReader {
    /// Records that do not decode (altered on disk) come in `undecodable`: reported, then passed over.
    typealias Batch = EventLog.FoldBatch

    private let log: EventLog
    private let size: Int
    private var after: UInt64
    private var ahead: ReadAhead?

    /// One batch being read on its own thread; `result` is set by that thread, and read once it is joined.
    private final class ReadAhead: @unchecked Sendable {
        var thread: pthread_t?
        var result: Result<Batch?, any Error>?

        /// Waits for the thread (once), then its result.
        func wait() -> Result<Batch?, any Error> {
            if let thread {
                pthread_join(thread, nil)
                self.thread = nil
            }
            return result!
        }
    }

    /// Events handed to the read-ahead's thread to release.
    private final class Retired: @unchecked Sendable {
        var events: [StoredEvent]
        init(events: [StoredEvent]) { self.events = events }
    }

    init(log: EventLog, after: UInt64, size: Int) {
        self.log = log
        self.after = after
        self.size = size
    }

    /// The next batch (nil at the end of the log). One read from the log starts reading the one after it.
    /// `spent`: the events of a batch already folded, taken and released on the read-ahead's thread
    /// (a batch's strings and arrays released were 5–7% of the fold's thread in a rebuild, which it
    /// bounds); a fold that keeps up releases them itself.
    func next(releasing spent: inout [StoredEvent]) throws -> Batch? {
        let retired = Retired(events: [])
        swap(&retired.events, &spent)
        let batch: Batch?
        if let ahead {
            batch = try ahead.wait().get()
        } else if let handed = log.takeCommitted(after: after, limit: size) {
            after = handed.lastSeq
            return handed
        } else {
            batch = try Self.read(log, after: after, size: size)
        }
        ahead = nil
        guard let batch else { return nil }
        after = batch.lastSeq
        let next = ReadAhead()
        let (log, after, size) = (log, after, size)
        next.thread = startThread(named: "ledger-readahead") {
            retired.events = []
            next.result = Result { try Self.read(log, after: after, size: size) }
        }
        ahead = next
        return batch
    }

    /// Waits for a read-ahead still running, so nothing outlives the fold that started it.
    func finish() { _ = ahead?.wait() }

    deinit { finish() }

    /// Reads and decodes a batch on the read-ahead's one thread. Records that do not decode come back
    /// as seqs, to be reported; verification names them too.
    ///
    /// One thread, not two: side by side, a rebuild of 1M events took the same time and the same
    /// CPU either way, and held 8–11 MiB less at its peak with one (BENCHMARKS.md).
    static func read(_ log: EventLog, after: UInt64, size: Int) throws -> Batch? {
        try log.foldBatch(afterSeq: after, limit: size)
    }
}
