import EventLog
import Glibc
import Synchronization

/// The projection's writer: a thread of its own (`ledger-projwrite`), the only one that writes the
/// projection's environment, writing the batches the follower hands it one at a time. In a long
/// catch-up (a rebuild) the follower folds the next batch meanwhile, instead of waiting for LMDB to
/// write and sync each batch's pages: over a quarter of the follower's time, on the rebuild's
/// critical path (BENCHMARKS.md, "The projection's writer"). Near the log's head the follower waits
/// for each write, as before.
///
/// At most one batch is in hand: `start` requires that the one before is `finish`ed.
final class BatchWriter: Sendable {
    private enum Job: Sendable {
        /// `committed` runs after the commit, on the writer's thread: the follower's bookkeeping.
        case write(ProjectionStore.BatchWrites, committed: @Sendable () -> Void)
        /// What was written without its sync is synced (`Environment.resumeSyncs`).
        case sync
    }

    private let store: ProjectionStore
    private let job = Mutex<Job?>(nil)
    private let failure = Mutex<(any Error)?>(nil)
    /// Batches handed over, and batches written (or failed), counted from 0. `close` raises `handed`
    /// to its end (`UInt64.max`): a flag beside it could be set just before the writer waits, unseen.
    private let handed = ProgressSignal(0)
    private let written = ProgressSignal(0)
    private let thread = Mutex<pthread_t?>(nil)

    init(store: ProjectionStore) {
        self.store = store
        thread.withLock { $0 = startThread(named: "ledger-projwrite") { [self] in run() } }
    }

    /// Hands a batch over; `committed` runs once it is in the store.
    func start(_ batch: ProjectionStore.BatchWrites, committed: @escaping @Sendable () -> Void) {
        hand(.write(batch, committed: committed))
    }

    /// Syncs what was written without its sync, and waits for it (`finish`).
    func sync() throws {
        try finish()
        hand(.sync)
        try finish()
    }

    private func hand(_ work: Job) {
        precondition(written.value == handed.value, "a batch is handed to the projection's writer before the last one finished")
        job.withLock { $0 = work }
        handed.advance(to: handed.value + 1)
    }

    /// Waits until the batch handed over last is written; throws if its write failed (nothing of
    /// it is then in the store).
    func finish() throws {
        let target = handed.value
        while written.value < target { _ = written.wait(beyond: written.value, timeoutMilliseconds: 60_000) }
        if let error = failure.withLock({ $0.take() }) { throw error }
    }

    /// Finishes the batch in hand, syncs what was written without its sync, then ends the thread.
    func close() {
        handed.advance(to: .max)
        if let thread = thread.withLock({ $0.take() }) { pthread_join(thread, nil) }
    }

    private func run() {
        store.environment.claimWrites()
        var done: UInt64 = 0
        while true {
            let target = handed.wait(beyond: done, timeoutMilliseconds: 60_000)
            guard target > done else { continue }
            do {
                switch job.withLock({ $0.take() }) {
                case .write(let batch, let committed):
                    try store.write(batch)
                    committed()
                case .sync: try store.environment.resumeSyncs()
                case nil: break
                }
            } catch {
                failure.withLock { $0 = error }
            }
            if target == .max {
                // Closed: what was written without its sync is made durable before the thread ends.
                do { try store.environment.resumeSyncs() } catch { failure.withLock { $0 = error } }
                written.advance(to: .max)
                return
            }
            done = target
            written.advance(to: done)
        }
    }
}
