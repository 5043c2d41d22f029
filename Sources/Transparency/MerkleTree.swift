/// The Merkle tree hash of RFC 6962 §2.1 over the log's canonical records: leaves are
/// `SHA-256(0x00 ‖ record)`, interior nodes `SHA-256(0x01 ‖ left ‖ right)`, the empty tree `SHA-256("")`.
/// Every hash is 32 raw bytes.
public enum MerkleTree {
    public static let hashSize = 32

    public static func leafHash(_ record: UnsafeRawBufferPointer) -> [UInt8] {
        var context = SHA256Context()
        context.update(0x00)
        context.update(record)
        return context.finalize()
    }

    public static func leafHash(_ record: [UInt8]) -> [UInt8] {
        record.withUnsafeBytes { leafHash($0) }
    }

    public static func nodeHash(_ left: [UInt8], _ right: [UInt8]) -> [UInt8] {
        var context = SHA256Context()
        context.update(0x01)
        context.update(left)
        context.update(right)
        return context.finalize()
    }

    public static let emptyRoot: [UInt8] = SHA256Context().finalize()

    /// The hash of leaves `range` (RFC 6962 `MTH(D[a:b])`), built from the hashes of perfect subtrees:
    /// `perfect(level, index)` is the subtree of `2^level` leaves starting at leaf `index << level`.
    /// A store keeps some of those and computes the rest; this only decides which ones are needed.
    public static func rangeHash(
        _ range: Range<UInt64>, perfect: (_ level: Int, _ index: UInt64) throws -> [UInt8]
    ) rethrows -> [UInt8] {
        let count = range.count
        if count == 0 { return emptyRoot }
        let start = range.lowerBound
        if count & (count - 1) == 0, start % UInt64(count) == 0 {
            let level = count.trailingZeroBitCount
            return try perfect(level, start >> UInt64(level))
        }
        let split = start + largestPowerOfTwo(below: UInt64(count))
        return nodeHash(try rangeHash(start..<split, perfect: perfect), try rangeHash(split..<range.upperBound, perfect: perfect))
    }

    /// The largest power of two strictly below `n` (n ≥ 2): where RFC 6962 splits a tree of n leaves.
    static func largestPowerOfTwo(below n: UInt64) -> UInt64 {
        1 << UInt64(63 - (n - 1).leadingZeroBitCount)
    }
}

/// The right edge of a growing tree: the roots of the perfect subtrees that make up its first
/// `size` leaves, largest first (at most 64). Appending a leaf merges equal-sized subtrees, so the
/// tree is kept incrementally and its root is always at hand.
public struct MerkleFrontier: Sendable, Equatable {
    public private(set) var size: UInt64
    /// (level, hash) of each perfect subtree, left to right; levels strictly decrease.
    public private(set) var subtrees: [(level: Int, hash: [UInt8])]

    public init() {
        size = 0
        subtrees = []
    }

    /// Rebuilds the frontier of a tree of `size` leaves from its perfect subtrees.
    public init(size: UInt64, perfect: (_ level: Int, _ index: UInt64) throws -> [UInt8]) rethrows {
        self.size = size
        subtrees = []
        var start: UInt64 = 0
        for level in stride(from: 63, through: 0, by: -1) where size & (1 << UInt64(level)) != 0 {
            subtrees.append((level, try perfect(level, start >> UInt64(level))))
            start += 1 << UInt64(level)
        }
    }

    /// Adds one leaf. `completed` hears of every perfect subtree this finishes (the leaf itself at
    /// level 0 included), so a store can persist the levels it keeps.
    public mutating func append(leafHash: [UInt8], completed: (_ level: Int, _ index: UInt64, _ hash: [UInt8]) throws -> Void) rethrows {
        var level = 0
        var hash = leafHash
        var index = size
        try completed(0, index, hash)
        while let last = subtrees.last, last.level == level {
            subtrees.removeLast()
            hash = MerkleTree.nodeHash(last.hash, hash)
            level += 1
            index >>= 1
            try completed(level, index, hash)
        }
        subtrees.append((level, hash))
        size += 1
    }

    public mutating func append(leafHash: [UInt8]) {
        append(leafHash: leafHash) { _, _, _ in }
    }

    /// The tree hash of the first `size` leaves.
    public var root: [UInt8] {
        guard var hash = subtrees.last?.hash else { return MerkleTree.emptyRoot }
        for subtree in subtrees.dropLast().reversed() { hash = MerkleTree.nodeHash(subtree.hash, hash) }
        return hash
    }

    public static func == (a: MerkleFrontier, b: MerkleFrontier) -> Bool {
        a.size == b.size && a.subtrees.elementsEqual(b.subtrees) { $0.level == $1.level && $0.hash == $1.hash }
    }
}
