/// Inclusion and consistency proofs (RFC 6962 §2.1.1–2.1.2), made from any source of perfect
/// subtree hashes, and checked (RFC 9162 §2.1.3.2, §2.1.4.2) by anyone holding only a root.
public enum MerkleProofs {
    public typealias PerfectSubtree = (_ level: Int, _ index: UInt64) throws -> [UInt8]

    // MARK: - Making proofs

    /// `PATH(m, D[n])`: the audit path of leaf `index` in the tree of the first `size` leaves.
    public static func inclusion(index: UInt64, size: UInt64, perfect: PerfectSubtree) throws -> [[UInt8]] {
        precondition(index < size)
        var path: [[UInt8]] = []
        try inclusionPath(index: index, range: 0..<size, perfect: perfect, into: &path)
        return path
    }

    private static func inclusionPath(index: UInt64, range: Range<UInt64>, perfect: PerfectSubtree, into path: inout [[UInt8]]) throws {
        let count = UInt64(range.count)
        guard count > 1 else { return }
        let split = range.lowerBound + MerkleTree.largestPowerOfTwo(below: count)
        if index < split {
            try inclusionPath(index: index, range: range.lowerBound..<split, perfect: perfect, into: &path)
            path.append(try MerkleTree.rangeHash(split..<range.upperBound, perfect: perfect))
        } else {
            try inclusionPath(index: index, range: split..<range.upperBound, perfect: perfect, into: &path)
            path.append(try MerkleTree.rangeHash(range.lowerBound..<split, perfect: perfect))
        }
    }

    /// `PROOF(m, D[n])`: that the tree of `from` leaves is a prefix of the tree of `to` leaves.
    public static func consistency(from: UInt64, to: UInt64, perfect: PerfectSubtree) throws -> [[UInt8]] {
        precondition(from <= to)
        guard from > 0, from < to else { return [] }
        var path: [[UInt8]] = []
        try subproof(m: from, range: 0..<to, complete: true, perfect: perfect, into: &path)
        return path
    }

    private static func subproof(m: UInt64, range: Range<UInt64>, complete: Bool, perfect: PerfectSubtree, into path: inout [[UInt8]]) throws {
        let n = UInt64(range.count)
        if m == n {
            if !complete { path.append(try MerkleTree.rangeHash(range, perfect: perfect)) }
            return
        }
        let k = MerkleTree.largestPowerOfTwo(below: n)
        let split = range.lowerBound + k
        if m <= k {
            try subproof(m: m, range: range.lowerBound..<split, complete: complete, perfect: perfect, into: &path)
            path.append(try MerkleTree.rangeHash(split..<range.upperBound, perfect: perfect))
        } else {
            try subproof(m: m - k, range: split..<range.upperBound, complete: false, perfect: perfect, into: &path)
            path.append(try MerkleTree.rangeHash(range.lowerBound..<split, perfect: perfect))
        }
    }

    // MARK: - Checking proofs

    /// The root an inclusion proof leads to, or nil when the proof cannot belong to (index, size).
    public static func rootFromInclusion(index: UInt64, size: UInt64, leafHash: [UInt8], proof: [[UInt8]]) -> [UInt8]? {
        guard index < size, leafHash.count == MerkleTree.hashSize, proof.allSatisfy({ $0.count == MerkleTree.hashSize })
        else { return nil }
        var fn = index
        var sn = size - 1
        var r = leafHash
        for p in proof {
            if sn == 0 { return nil }
            if fn & 1 == 1 || fn == sn {
                r = MerkleTree.nodeHash(p, r)
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 {
                        fn >>= 1
                        sn >>= 1
                    }
                }
            } else {
                r = MerkleTree.nodeHash(r, p)
            }
            fn >>= 1
            sn >>= 1
        }
        return sn == 0 ? r : nil
    }

    public static func verifyInclusion(index: UInt64, size: UInt64, leafHash: [UInt8], proof: [[UInt8]], root: [UInt8]) -> Bool {
        guard let computed = rootFromInclusion(index: index, size: size, leafHash: leafHash, proof: proof) else { return false }
        return computed == root
    }

    /// True when `proof` shows the tree (`from`, `fromRoot`) is a prefix of (`to`, `toRoot`).
    public static func verifyConsistency(from: UInt64, to: UInt64, fromRoot: [UInt8], toRoot: [UInt8], proof: [[UInt8]]) -> Bool {
        guard from <= to else { return false }
        if from == to { return proof.isEmpty && fromRoot == toRoot }
        if from == 0 { return proof.isEmpty }
        guard !proof.isEmpty, fromRoot.count == MerkleTree.hashSize, toRoot.count == MerkleTree.hashSize,
            proof.allSatisfy({ $0.count == MerkleTree.hashSize })
        else { return false }
        var path = proof
        if from & (from - 1) == 0 { path.insert(fromRoot, at: 0) }
        var fn = from - 1
        var sn = to - 1
        while fn & 1 == 1 {
            fn >>= 1
            sn >>= 1
        }
        var fr = path[0]
        var sr = path[0]
        for c in path.dropFirst() {
            if sn == 0 { return false }
            if fn & 1 == 1 || fn == sn {
                fr = MerkleTree.nodeHash(c, fr)
                sr = MerkleTree.nodeHash(c, sr)
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 {
                        fn >>= 1
                        sn >>= 1
                    }
                }
            } else {
                sr = MerkleTree.nodeHash(sr, c)
            }
            fn >>= 1
            sn >>= 1
        }
        return sn == 0 && fr == fromRoot && sr == toRoot
    }
}
