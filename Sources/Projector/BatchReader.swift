import Dispatch
import EventLog
import EventModel

/// The log's records past a seq, read and decoded a batch ahead of the fold on another thread: a
/// long catch-up (a rebuild) keeps both cores busy, decoding the next batch while the fold runs.
/// A fold that keeps up with the writer takes the events it committed last from the writer, already
/// in the form a decode gives (`EventLog.takeCommitted`), and reads nothing.
/// Used by one thread (the fold's); the read-ahead is its own.
final class BatchReader {
    struct Batch: Sendable {
        var events: [StoredEvent]
        /// Records that do not decode (altered on disk): reported, then passed over.
        var undecodable: [UInt64]
        /// The batch's last record: its seq and chain hash (the watermark once it is folded).
        var lastSeq: UInt64
        var lastHash: [UInt8]
        /// Taken from the writer's hand-off rather than read from the log.
        var handedOver = false
    }

    private let log: EventLog
    private let size: Int
    private var after: UInt64
    private var ahead: ReadAhead?

    /// One batch being read on another thread; `result` is set before `group` is left, and read after waiting on it.
    private final class ReadAhead: @unchecked Sendable {
        let group = DispatchGroup()
        var result: Result<Batch?, any Error>?
    }

    init(log: EventLog, after: UInt64, size: Int) {
        self.log = log
        self.after = after
        self.size = size
    }

    /// The next batch (nil at the end of the log). One read from the log starts reading the one after it.
    func next() throws -> Batch? {
        let batch: Batch?
        if let ahead {
            ahead.group.wait()
            batch = try ahead.result!.get()
        } else if let handed = log.takeCommitted(after: after, limit: size) {
            after = handed.events.last!.seq
            return Batch(events: handed.events, undecodable: [], lastSeq: after, lastHash: handed.lastHash, handedOver: true)
        } else {
            batch = try Self.read(log, after: after, size: size)
        }
        ahead = nil
        guard let batch else { return nil }
        after = batch.lastSeq
        let next = ReadAhead()
        let (log, after, size) = (log, after, size)
        DispatchQueue.global().async(group: next.group) {
            next.result = Result { try Self.read(log, after: after, size: size) }
        }
        ahead = next
        return batch
    }

    /// Waits for a read-ahead still running, so nothing outlives the fold that started it.
    func finish() { ahead?.group.wait() }

    deinit { finish() }

    private static func read(_ log: EventLog, after: UInt64, size: Int) throws -> Batch? {
        let records = try log.events(afterSeq: after, limit: size)
        guard let last = records.last else { return nil }
        let (events, undecodable) = decode(records)
        return Batch(events: events, undecodable: undecodable, lastSeq: last.seq, lastHash: last.hash)
    }

    /// Decodes records on the read-ahead's one thread. Records that do not decode come back as
    /// seqs, to be reported; verification names them too.
    ///
    /// One thread, not two: side by side, a rebuild of 1M events took the same time and the same
    /// CPU either way, and held 8–11 MiB less at its peak with one (BENCHMARKS.md).
    static func decode(_ batch: [LoggedEvent]) -> (events: [StoredEvent], undecodable: [UInt64]) {
        var events: [StoredEvent] = []
        events.reserveCapacity(batch.count)
        var undecodable: [UInt64] = []
        var decoder = StoredEvent.FoldDecoder()
        for logged in batch {
            if let event = try? logged.record.withUnsafeBytes({ record throws(StoredEvent.DecodingError) in try decoder.decode(record) }) {
                events.append(event)
            } else {
                undecodable.append(logged.seq)
            }
        }
        return (events, undecodable)
    }
}
