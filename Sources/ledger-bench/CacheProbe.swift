import Workload

/// `ledger-bench --cache-probe`: how long one dependent load takes in a working set larger than a
/// core's L2 but well inside the L3 (4 MiB). On this machine the L3 is shared with other guests of
/// the host: when one of them sweeps it, the figure goes from about 14 ns (our lines still in the L3)
/// to 100–170 ns (fetched from memory), and every memory-bound run slows with it, a rebuild among
/// them (BENCHMARKS.md). Taken just before a measurement, it tells which kind of spell it fell in.
enum CacheProbe {
    /// Nanoseconds a load over a random cycle through `bytes` of memory: each load's address is the
    /// value the one before read, so neither the prefetcher nor the core can run ahead.
    static func nanosecondsPerLoad(bytes: Int, loads: Int = 2_000_000) -> Double {
        let count = bytes / MemoryLayout<Int32>.stride
        var next = Array(Int32(0)..<Int32(count))
        // Sattolo's shuffle: one cycle through every slot, so the chase visits them all.
        var random = SplitMix64(seed: UInt64.random(in: .min ... .max))
        for i in stride(from: count - 1, to: 0, by: -1) { next.swapAt(i, random.below(i)) }
        return next.withUnsafeBufferPointer { chain in
            var at = 0
            // One pass to bring the set in (and the page tables), then the timed one.
            for _ in 0..<min(count, loads) { at = Int(chain[at]) }
            let start = ContinuousClock.now
            for _ in 0..<loads { at = Int(chain[at]) }
            let elapsed = ContinuousClock.now - start
            // Reading where the chase ended keeps the compiler from dropping the loop.
            precondition(at < count)
            return elapsed.seconds * 1e9 / Double(loads)
        }
    }

    /// The 4 MiB figure alone: a tenth of a second, so that a script can take it just before each
    /// measurement.
    static func report() -> String {
        String(format: "cache probe: 4 MiB %.1f ns a load", nanosecondsPerLoad(bytes: 4 << 20))
    }
}
