import LMDB
import Transparency

/// What `GET /v1/proof/inclusion` answers: the audit path from one record's leaf to the root of a tree size.
public struct InclusionProof: Sendable, Equatable {
    public var seq: UInt64
    public var treeSize: UInt64
    /// `SHA-256(0x00 ‖ record)`; leaf index is `seq - 1`.
    public var leafHash: [UInt8]
    public var path: [[UInt8]]
    public var rootHash: [UInt8]
}

/// What `GET /v1/proof/consistency` answers: that the tree of `from` records is a prefix of the tree of `to`.
public struct ConsistencyProof: Sendable, Equatable {
    public var from: UInt64
    public var to: UInt64
    public var path: [[UInt8]]
    public var fromRoot: [UInt8]
    public var toRoot: [UInt8]
}

extension EventLog {
    /// The RFC 6962 root over the first `treeSize` records (blocking).
    public func merkleRoot(treeSize: UInt64) throws -> [UInt8] {
        try withTree(size: treeSize) { perfect in try MerkleTree.rangeHash(0..<treeSize, perfect: perfect) }
    }

    public func inclusionProof(seq: UInt64, treeSize: UInt64) throws -> InclusionProof {
        guard seq >= 1, seq <= treeSize else {
            throw LogError(.invalid, "seq \(seq) is not in a tree of \(treeSize) records (1 ≤ seq ≤ treeSize)")
        }
        return try withTree(size: treeSize) { perfect in
            InclusionProof(
                seq: seq, treeSize: treeSize, leafHash: try perfect(0, seq - 1),
                path: try MerkleProofs.inclusion(index: seq - 1, size: treeSize, perfect: perfect),
                rootHash: try MerkleTree.rangeHash(0..<treeSize, perfect: perfect))
        }
    }

    public func consistencyProof(from: UInt64, to: UInt64) throws -> ConsistencyProof {
        guard from <= to else { throw LogError(.invalid, "from (\(from)) is larger than to (\(to))") }
        return try withTree(size: to) { perfect in
            ConsistencyProof(
                from: from, to: to, path: try MerkleProofs.consistency(from: from, to: to, perfect: perfect),
                fromRoot: try MerkleTree.rangeHash(0..<from, perfect: perfect), toRoot: try MerkleTree.rangeHash(0..<to, perfect: perfect))
        }
    }

    /// Runs `body` on one snapshot holding at least `size` records, with the tree's perfect subtrees
    /// read from the store (or recomputed from records) once each: a proof and the root it leads to
    /// need the same ones.
    private func withTree<R>(size: UInt64, _ body: (MerkleProofs.PerfectSubtree) throws -> R) throws -> R {
        try store.environment.read { txn in
            let head = try Store.head(txn, store.records).seq
            guard size <= head else { throw LogError(.invalid, "tree size \(size) is larger than the log (\(head) records)") }
            var known: [UInt64: [UInt8]] = [:]
            return try body { level, index in
                let key = UInt64(level) << 58 | index
                if let hash = known[key] { return hash }
                let hash = try MerkleNodes.perfect(level: level, index: index, txn, store)
                known[key] = hash
                return hash
            }
        }
    }
}
