/// A number that only grows, and threads that wait for it to pass a value: how the writer tells the
/// projection's follower of each commit, and how a read waits for the projection to catch up,
/// without polling.
public final class ProgressSignal: @unchecked Sendable {
    private let monitor = Monitor()
    private var current: UInt64
    /// Counts wake-ups, so `wakeAll` releases waiters without changing the value.
    private var generation: UInt64 = 0
    /// Tasks waiting (`next(beyond:timeout:)`), each resumed exactly once: by an advance past its
    /// value, a wake-up, its timeout, or its cancellation, whichever removes it first.
    private var tasks: [UInt64: (beyond: UInt64, continuation: CheckedContinuation<UInt64, Never>)] = [:]
    private var nextTask: UInt64 = 0

    public init(_ initial: UInt64 = 0) { current = initial }

    public var value: UInt64 { monitor.locked { current } }

    /// Raises the value (never lowers it) and wakes every waiter.
    public func advance(to value: UInt64) {
        let ready = monitor.locked { () -> [(CheckedContinuation<UInt64, Never>, UInt64)] in
            if value > current { current = value }
            generation &+= 1
            monitor.broadcast()
            if tasks.isEmpty { return [] }
            let woken = tasks.filter { $0.value.beyond < current || value == 0 }
            for id in woken.keys { tasks[id] = nil }
            return woken.values.map { ($0.continuation, current) }
        }
        for (continuation, value) in ready { continuation.resume(returning: value) }
    }

    /// For tasks (an HTTP stream, a delivery loop): suspends until the value passes `beyond`, any
    /// wake-up, `timeout` or cancellation; returns the value. Never blocks a thread.
    public func next(beyond: UInt64, timeout: Duration) async -> UInt64 {
        let id = monitor.locked { () -> UInt64 in
            nextTask &+= 1
            return nextTask
        }
        let timer = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            self?.release(id)
        }
        defer { timer.cancel() }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let now = monitor.locked { () -> UInt64? in
                    if current > beyond || Task.isCancelled { return current }
                    tasks[id] = (beyond, continuation)
                    return nil
                }
                if let now { continuation.resume(returning: now) }
            }
        } onCancel: {
            release(id)
        }
    }

    /// Resumes one waiting task, if it is still waiting.
    private func release(_ id: UInt64) {
        let waiting = monitor.locked { () -> (CheckedContinuation<UInt64, Never>, UInt64)? in
            guard let task = tasks.removeValue(forKey: id) else { return nil }
            return (task.continuation, current)
        }
        if let (continuation, value) = waiting { continuation.resume(returning: value) }
    }

    /// Wakes every waiter without changing the value, e.g. so a thread can see it was asked to stop.
    public func wakeAll() { advance(to: 0) }

    /// Blocks until the value passes `beyond`, any wake-up, or `deadline`; returns the value. For a
    /// caller that waits in a loop (wake-ups end a wait early) and keeps one deadline throughout.
    @discardableResult
    public func wait(beyond: UInt64, until deadline: ContinuousClock.Instant) -> UInt64 {
        let left = deadline - .now
        guard left > .zero else { return value }
        // Whole milliseconds, rounded up: the wait never ends before the deadline.
        return wait(beyond: beyond, timeoutMilliseconds: Int(left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000) + 1)
    }

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
