#if canImport(Glibc)
import Glibc
#endif

/// Where appending tasks leave their work for the writer thread. The writer takes everything
/// queued at once, which is what makes concurrent requests share one commit.
final class AppendQueue<Item>: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var items: [Item] = []
    private var closed = false

    init() {
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    /// False once closed: the item was not queued.
    func enqueue(_ item: Item) -> Bool {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        guard !closed else { return false }
        items.append(item)
        pthread_cond_signal(condition)
        return true
    }

    /// Everything queued; waits up to `timeoutMilliseconds` for something when empty (nil: no limit).
    /// `isClosed` is true once `close()` was called and the queue is drained.
    func takeAll(timeoutMilliseconds: Int?) -> (items: [Item], isClosed: Bool) {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        if items.isEmpty && !closed {
            if let timeoutMilliseconds {
                var deadline = timespec()
                clock_gettime(CLOCK_MONOTONIC, &deadline)
                let nanos = Int(deadline.tv_nsec) + timeoutMilliseconds % 1000 * 1_000_000
                deadline.tv_sec += timeoutMilliseconds / 1000 + nanos / 1_000_000_000
                deadline.tv_nsec = nanos % 1_000_000_000
                while items.isEmpty && !closed {
                    if pthread_cond_timedwait(condition, mutex, &deadline) == ETIMEDOUT { break }
                }
            } else {
                while items.isEmpty && !closed { pthread_cond_wait(condition, mutex) }
            }
        }
        let taken = items
        items.removeAll(keepingCapacity: true)
        return (taken, closed && taken.isEmpty)
    }

    /// Refuses new items; what is queued is still handed out.
    func close() {
        pthread_mutex_lock(mutex)
        closed = true
        pthread_cond_broadcast(condition)
        pthread_mutex_unlock(mutex)
    }
}
