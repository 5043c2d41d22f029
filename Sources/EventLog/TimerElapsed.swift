import Metrics

extension Metrics.Timer {
    /// Records the time since `start`: swift-metrics takes nanoseconds, not a `Duration`.
    public func recordElapsed(since start: ContinuousClock.Instant) {
        let elapsed = start.duration(to: .now)
        recordNanoseconds(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
    }
}
