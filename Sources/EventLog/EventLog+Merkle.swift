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
        try store.environment.read { txn in
            try checkTreeSize(treeSize, txn)
            return try rangeHash(0..<treeSize, txn)
        }
    }

    public func inclusionProof(seq: UInt64, treeSize: UInt64) throws -> InclusionProof {
        guard seq >= 1, seq <= treeSize else {
            throw LogError(.invalid, "seq \(seq) is not in a tree of \(treeSize) records (1 ≤ seq ≤ treeSize)")
        }
        return try store.environment.read { txn in
            try checkTreeSize(treeSize, txn)
            let path = try MerkleProofs.inclusion(index: seq - 1, size: treeSize) { level, index in
                try MerkleNodes.perfect(level: level, index: index, txn, store)
            }
            return InclusionProof(
                seq: seq, treeSize: treeSize, leafHash: try MerkleNodes.perfect(level: 0, index: seq - 1, txn, store),
                path: path, rootHash: try rangeHash(0..<treeSize, txn))
        }
    }

    public func consistencyProof(from: UInt64, to: UInt64) throws -> ConsistencyProof {
        guard from <= to else { throw LogError(.invalid, "from (\(from)) is larger than to (\(to))") }
        return try store.environment.read { txn in
            try checkTreeSize(to, txn)
            let path = try MerkleProofs.consistency(from: from, to: to) { level, index in
                try MerkleNodes.perfect(level: level, index: index, txn, store)
            }
            return ConsistencyProof(
                from: from, to: to, path: path, fromRoot: try rangeHash(0..<from, txn), toRoot: try rangeHash(0..<to, txn))
        }
    }

    private func rangeHash(_ range: Range<UInt64>, _ txn: borrowing ReadTransaction) throws -> [UInt8] {
        try MerkleTree.rangeHash(range) { level, index in try MerkleNodes.perfect(level: level, index: index, txn, store) }
    }

    private func checkTreeSize(_ treeSize: UInt64, _ txn: borrowing ReadTransaction) throws {
        let head = try Store.head(txn, store.records).seq
        guard treeSize <= head else { throw LogError(.invalid, "tree size \(treeSize) is larger than the log (\(head) records)") }
    }
}
