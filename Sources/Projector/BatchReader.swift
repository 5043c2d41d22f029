import Dispatch
import EventLog
import EventModel
import Synchronization

/// The log's records past a seq, read and decoded a batch ahead of the fold on other threads: a
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

    /// Decodes records on two threads. Records that do not decode come back as seqs, to be
    /// reported; verification names them too.
    ///
    /// Each thread writes its events straight into the one result array, in place, and the second
    /// thread's run is moved down after the first's: joining two arrays instead copied every event
    /// (a retain and a release of each of its strings), 4% of a rebuild's CPU (BENCHMARKS.md).
    static func decode(_ batch: [LoggedEvent]) -> (events: [StoredEvent], undecodable: [UInt64]) {
        let workers = batch.count >= 2_000 ? 2 : 1
        let chunk = (batch.count + workers - 1) / workers
        let runs = Mutex<[Int: (decoded: Int, failed: [UInt64])]>([:])
        let events = [StoredEvent](unsafeUninitializedCapacity: batch.count) { buffer, initialized in
            let slots = DecodeSlots(base: buffer.baseAddress)
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                let first = worker * chunk
                var decoded = 0
                var failed: [UInt64] = []
                for logged in batch[first..<min(batch.count, first + chunk)] {
                    if let event = try? StoredEvent.decodeForFold(logged.record) {
                        slots.initialize(first + decoded, to: event)
                        decoded += 1
                    } else {
                        failed.append(logged.seq)
                    }
                }
                runs.withLock { $0[worker] = (decoded, failed) }
            }
            initialized = 0
            for worker in 0..<workers {
                let decoded = runs.withLock { $0[worker]!.decoded }
                slots.move(count: decoded, from: worker * chunk, to: initialized)
                initialized += decoded
            }
        }
        return (events, (0..<workers).flatMap { worker in runs.withLock { $0[worker]!.failed } })
    }
}

/// The result array's memory while the decoding threads fill it: each writes only its own run of
/// slots, and the runs are joined after both have finished.
private struct DecodeSlots: @unchecked Sendable {
    let base: UnsafeMutablePointer<StoredEvent>?

    func initialize(_ index: Int, to event: StoredEvent) { (base! + index).initialize(to: event) }

    /// Moves `count` events down from `source` to `target` (≤ `source`; the regions may overlap).
    func move(count: Int, from source: Int, to target: Int) {
        guard count > 0, source != target else { return }
        (base! + target).moveInitialize(from: base! + source, count: count)
    }
}
