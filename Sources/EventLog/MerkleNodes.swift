import LMDB
import Transparency

/// How the log keeps its RFC 6962 tree. Only perfect subtrees of 64 leaves and more are stored
/// (about one node per 32 events); smaller ones are recomputed from the records when a proof needs
/// them, which costs at most 2 × 64 leaf hashes. The writer keeps the right edge in memory.
enum MerkleNodes {
    static let storedLevel = 6

    /// Keyed by the leaf count at which the node completes, then its level: the nodes an append
    /// completes come in increasing key order, so the writer stores them with `MDB_APPEND` and a
    /// commit dirties one page of this database, not one per level.
    static func key(level: Int, index: UInt64) -> [UInt8] {
        bigEndianBytes((index + 1) << UInt64(level)) + [UInt8(level)]
    }

    /// The hash of the perfect subtree (level, index), as of the transaction's snapshot.
    static func perfect(level: Int, index: UInt64, _ txn: borrowing ReadTransaction, _ store: Store) throws -> [UInt8] {
        if level >= storedLevel {
            guard let hash = try txn.get(store.merkle, key(level: level, index: index)), hash.count == MerkleTree.hashSize else {
                throw LogError(.corrupt, "Merkle node (level \(level), index \(index)) is missing")
            }
            return Array(hash)
        }
        let first = index << UInt64(level) + 1
        let count = 1 << level
        var hashes: [[UInt8]] = []
        hashes.reserveCapacity(count)
        try txn.withCursor(store.records) { cursor in
            var entry = try cursor.get(.key, key: bigEndianBytes(first))
            while let (key, value) = entry, hashes.count < count {
                guard readBigEndianUInt64(key) == first + UInt64(hashes.count), value.count > 32 else { break }
                hashes.append(store.forms.withCanonical(UnsafeRawBufferPointer(rebasing: value[32...])) { MerkleTree.leafHash($0) })
                entry = try cursor.get(.next)
            }
        }
        guard hashes.count == count else { throw LogError(.corrupt, "record \(first + UInt64(hashes.count)) is missing") }
        while hashes.count > 1 {
            hashes = stride(from: 0, to: hashes.count, by: 2).map { MerkleTree.nodeHash(hashes[$0], hashes[$0 + 1]) }
        }
        return hashes[0]
    }

    /// The right edge of the tree over the first `size` records.
    static func frontier(size: UInt64, _ txn: borrowing ReadTransaction, _ store: Store) throws -> MerkleFrontier {
        try MerkleFrontier(size: size) { level, index in try perfect(level: level, index: index, txn, store) }
    }

    /// A node the store keeps, with its key.
    struct Node {
        var level: Int
        var index: UInt64
        var hash: [UInt8]
        var key: [UInt8] { MerkleNodes.key(level: level, index: index) }
    }

    /// Adds a leaf to the right edge; returns the nodes it completes that the store keeps, in key order.
    static func append(leafHash: [UInt8], to frontier: inout MerkleFrontier) -> [Node] {
        var nodes: [Node] = []
        frontier.append(leafHash: leafHash) { level, index, hash in
            if level >= storedLevel { nodes.append(Node(level: level, index: index, hash: hash)) }
        }
        return nodes
    }

    /// Every stored node of the tree over all records (upgrading a store that had none).
    static func buildAll(_ txn: borrowing ReadTransaction, _ store: Store) throws -> [(key: [UInt8], hash: [UInt8])] {
        var frontier = MerkleFrontier()
        var nodes: [(key: [UInt8], hash: [UInt8])] = []
        try txn.withCursor(store.records) { cursor in
            var entry = try cursor.get(.first)
            while let (_, value) = entry {
                let leaf = store.forms.withCanonical(UnsafeRawBufferPointer(rebasing: value[32...])) { MerkleTree.leafHash($0) }
                nodes += append(leafHash: leaf, to: &frontier).map { ($0.key, $0.hash) }
                entry = try cursor.get(.next)
            }
        }
        return nodes
    }
}
