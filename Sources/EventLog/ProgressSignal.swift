/// A number that only grows, and threads that wait for it to pass a value: how the writer tells the
/// projection's follower of each commit, and how a read waits for the projection to catch up,
/// without polling.
public final class ProgressSignal: @unchecked Sendable {
    private let monitor = Monitor()
    private var current: UInt64
    /// Counts wake-ups, so `wakeAll` releases waiters without changing the value.
    private var generation: UInt64 = 0

    public init(_ initial: UInt64 = 0) { current = initial }

    public var value: UInt64 { monitor.locked { current } }

    /// Raises the value (never lowers it) and wakes every waiter.
    public func advance(to value: UInt64) {
        monitor.locked {
            if value > current { current = value }
            generation &+= 1
            monitor.broadcast()
        }
    }

    /// Wakes every waiter without changing the value, e.g. so a thread can see it was asked to stop.
    public func wakeAll() { advance(to: 0) }

    /// Blocks until the value passes `beyond`, any wake-up, or `timeoutMilliseconds`; returns the value.
    @discardableResult
    public func wait(beyond: UInt64, timeoutMilliseconds: Int) -> UInt64 {
        monitor.locked {
            let deadline = Monitor.deadline(afterMilliseconds: timeoutMilliseconds)
            let started = generation
            while current <= beyond && generation == started {
                if !monitor.wait(until: deadline) { break }
            }
            return current
        }
    }
}
