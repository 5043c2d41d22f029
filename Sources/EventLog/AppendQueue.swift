/// Where appending tasks leave their work for the writer thread. The writer takes everything
/// queued at once, which is what makes concurrent requests share one commit.
final class AppendQueue<Item>: @unchecked Sendable {
    private let monitor = Monitor()
    private var items: [Item] = []
    private var closed = false

    /// False once closed: the item was not queued.
    func enqueue(_ item: Item) -> Bool {
        monitor.locked {
            guard !closed else { return false }
            items.append(item)
            monitor.signal()
            return true
        }
    }

    /// Everything queued; waits up to `timeoutMilliseconds` for something when empty (nil: no limit).
    /// `isClosed` is true once `close()` was called and the queue is drained.
    func takeAll(timeoutMilliseconds: Int?) -> (items: [Item], isClosed: Bool) {
        monitor.locked {
            let deadline = timeoutMilliseconds.map { Monitor.deadline(afterMilliseconds: $0) }
            while items.isEmpty && !closed {
                if !monitor.wait(until: deadline) { break }
            }
            let taken = items
            items.removeAll(keepingCapacity: true)
            return (taken, closed && taken.isEmpty)
        }
    }

    /// Refuses new items; what is queued is still handed out.
    func close() {
        monitor.locked {
            closed = true
            monitor.broadcast()
        }
    }
}
