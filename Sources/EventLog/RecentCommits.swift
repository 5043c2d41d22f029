import EventModel
import NIOCore
import Synchronization

/// The events of the latest commits in their fold form (`Envelope.foldForm`, what
/// `decodeForFold` reads from a record), for the projection's follower: it folds these instead of
/// reading their records back from LMDB and decoding them, which was a tenth of the daemon's CPU
/// under batch ingest (BENCHMARKS.md, "The follower folds what the writer hands it"). The fold form,
/// not the event as appended, to keep a few MiB at most: a follower that lags keeps `capacity`
/// events waiting. A run of consecutive seqs not yet taken, at most `capacity` events: a follower
/// further behind, or one after an import (which leaves a gap), reads the log as before.
final class RecentCommits: Sendable {
    struct Kept {
        var event: StoredEvent
        /// The record's chain hash: the projection's watermark when the event ends a fold.
        var hash: [UInt8]
    }

    private let kept: Mutex<CircularBuffer<Kept>>
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
        kept = Mutex(CircularBuffer(initialCapacity: max(1, min(capacity, 1_024))))
    }

    /// After a commit (the writer): its new records in seq order. Ones that do not follow the run
    /// start a new one.
    func add(_ new: [Kept]) {
        guard capacity > 0, let first = new.first?.event.seq else { return }
        kept.withLock { kept in
            if let last = kept.last?.event.seq, last &+ 1 != first { kept.removeAll(keepingCapacity: true) }
            kept.append(contentsOf: new.suffix(capacity))
            while kept.count > capacity { kept.removeFirst() }
        }
    }

    /// The kept events from `after + 1` on, at most `limit`, with the chain hash of the last; nil
    /// unless the run holds `after + 1`. They, and any kept before them, are let go: the follower
    /// owns what it folds (and frees it, not the writer).
    func take(after: UInt64, limit: Int) -> (events: [StoredEvent], lastHash: [UInt8])? {
        kept.withLock { kept in
            while let first = kept.first?.event.seq, first <= after { kept.removeFirst() }
            guard limit > 0, let first = kept.first, first.event.seq == after &+ 1 else { return nil }
            var events: [StoredEvent] = []
            events.reserveCapacity(min(limit, kept.count))
            var lastHash = first.hash
            while events.count < limit, let item = kept.popFirst() {
                events.append(item.event)
                lastHash = item.hash
            }
            return (events, lastHash)
        }
    }
}
