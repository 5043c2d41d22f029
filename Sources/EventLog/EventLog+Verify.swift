import Crypto
import LMDB

/// The result of re-checking the hash chain (the shape of `GET /v1/verify`).
public struct ChainReport: Sendable, Equatable {
    public var ok: Bool
    /// Records checked and found good.
    public var count: UInt64
    /// The last good seq and its hash.
    public var headSeq: UInt64
    public var headHash: [UInt8]
    /// The first seq whose record, hash or place is wrong; nil when all is well.
    public var firstBadSeq: UInt64?
    public var problem: String?
}

extension EventLog {
    /// Recomputes `hash(n) = SHA-256(hash(n-1) ‖ record(n))` from `from` through `through` (default: the head),
    /// checking that seqs have no gaps, and names the first bad seq (blocking).
    public func verifyChain(from: UInt64 = 1, through: UInt64? = nil) throws -> ChainReport {
        try store.environment.read { txn in
            var previous = [UInt8](repeating: 0, count: 32)
            if from > 1 {
                guard let before = try txn.get(store.records, bigEndianBytes(from - 1)), before.count >= 32 else {
                    return ChainReport(
                        ok: false, count: 0, headSeq: 0, headHash: previous, firstBadSeq: from - 1,
                        problem: "record \(from - 1) is missing")
                }
                previous = Array(before.prefix(32))
            }
            var report = ChainReport(ok: true, count: 0, headSeq: from - 1, headHash: previous)
            try txn.withCursor(store.records) { cursor in
                var expected = max(from, 1)
                var entry = try cursor.get(.keyRange, key: bigEndianBytes(expected))
                while let (key, value) = entry {
                    let seq = readBigEndianUInt64(key)
                    if let through, seq > through { break }
                    guard seq == expected else {
                        report.fail(at: expected, "record \(expected) is missing (next stored is \(seq))")
                        return
                    }
                    guard value.count > 32 else {
                        report.fail(at: seq, "record \(seq) is truncated")
                        return
                    }
                    var hasher = SHA256()
                    hasher.update(data: previous)
                    hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: value[32...]))
                    let computed = Array(hasher.finalize())
                    guard computed.elementsEqual(value.prefix(32)) else {
                        report.fail(at: seq, "record \(seq) does not match its chain hash")
                        return
                    }
                    previous = computed
                    report.count += 1
                    report.headSeq = seq
                    report.headHash = computed
                    expected = seq + 1
                    entry = try cursor.get(.next)
                }
            }
            return report
        }
    }
}

extension ChainReport {
    fileprivate mutating func fail(at seq: UInt64, _ problem: String) {
        ok = false
        firstBadSeq = seq
        self.problem = problem
    }
}
