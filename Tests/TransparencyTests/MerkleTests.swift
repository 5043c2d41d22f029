import EventModel
import Testing
import Transparency

/// A tree held entirely in memory: every level, so any perfect subtree is at hand. The reference the
/// store-backed tree is checked against.
struct MemoryTree {
    var levels: [[[UInt8]]]

    init(leaves: [[UInt8]]) {
        levels = [leaves.map(MerkleTree.leafHash)]
        while levels.last!.count > 1 {
            let below = levels.last!
            levels.append(stride(from: 0, to: below.count - 1, by: 2).map { MerkleTree.nodeHash(below[$0], below[$0 + 1]) })
        }
    }

    func perfect(_ level: Int, _ index: UInt64) -> [UInt8] { levels[level][Int(index)] }
    func root(_ size: UInt64) -> [UInt8] { MerkleTree.rangeHash(0..<size, perfect: perfect) }
}

func bytes(hex: String) -> [UInt8] { hexBytes(hex)! }

/// Known answers published with transparency-dev/merkle (proof/verify_test.go), RFC 6962 hashing.
enum Vectors {
    static let leaves = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"].map(bytes(hex:))
    static let roots = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ].map(bytes(hex:))
    /// (leaf number from 1, tree size, proof)
    static let inclusion: [(UInt64, UInt64, [String])] = [
        (1, 1, []),
        (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
        (6, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
        (3, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
        (2, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    ]
    static let consistency: [(UInt64, UInt64, [String])] = [
        (1, 1, []),
        (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
        (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
        (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
        (6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    ]
}

@Suite struct MerkleVectorTests {
    let tree = MemoryTree(leaves: Vectors.leaves)

    @Test func emptyTreeHashIsSHA256OfNothing() {
        #expect(hexString(MerkleTree.emptyRoot) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(MerkleFrontier().root == MerkleTree.emptyRoot)
    }

    @Test func rootsOfEveryPrefixMatchThePublishedOnes() {
        var frontier = MerkleFrontier()
        for (size, expected) in Vectors.roots.enumerated() {
            frontier.append(leafHash: MerkleTree.leafHash(Vectors.leaves[size]))
            #expect(frontier.root == expected, "size \(size + 1)")
            #expect(tree.root(UInt64(size + 1)) == expected, "size \(size + 1)")
        }
    }

    @Test func inclusionProofsMatchThePublishedOnes() throws {
        for (leaf, size, expected) in Vectors.inclusion {
            let proof = try MerkleProofs.inclusion(index: leaf - 1, size: size, perfect: tree.perfect)
            #expect(proof.map { hexString($0) } == expected, "leaf \(leaf) of \(size)")
            #expect(MerkleProofs.verifyInclusion(
                index: leaf - 1, size: size, leafHash: MerkleTree.leafHash(Vectors.leaves[Int(leaf - 1)]),
                proof: expected.map(bytes(hex:)), root: Vectors.roots[Int(size - 1)]))
        }
    }

    @Test func consistencyProofsMatchThePublishedOnes() throws {
        for (from, to, expected) in Vectors.consistency {
            let proof = try MerkleProofs.consistency(from: from, to: to, perfect: tree.perfect)
            #expect(proof.map { hexString($0) } == expected, "\(from) → \(to)")
            #expect(MerkleProofs.verifyConsistency(
                from: from, to: to, fromRoot: Vectors.roots[Int(from - 1)], toRoot: Vectors.roots[Int(to - 1)],
                proof: expected.map(bytes(hex:))))
        }
    }

    @Test func trivialConsistencyCases() {
        let some = Vectors.roots[0]
        let other = Vectors.roots[1]
        #expect(MerkleProofs.verifyConsistency(from: 0, to: 0, fromRoot: some, toRoot: some, proof: []))
        #expect(MerkleProofs.verifyConsistency(from: 0, to: 5, fromRoot: some, toRoot: other, proof: []))
        #expect(!MerkleProofs.verifyConsistency(from: 1, to: 1, fromRoot: some, toRoot: other, proof: []))
        #expect(!MerkleProofs.verifyConsistency(from: 2, to: 1, fromRoot: some, toRoot: other, proof: []))
        #expect(!MerkleProofs.verifyConsistency(from: 1, to: 2, fromRoot: some, toRoot: other, proof: []))
        #expect(!MerkleProofs.verifyConsistency(from: 1, to: 1, fromRoot: some, toRoot: some, proof: [MerkleTree.emptyRoot]))
    }
}

@Suite struct MerkleExhaustiveTests {
    /// Every (leaf, size) and every (from, to) up to 64 leaves: the made proof checks, and each
    /// altered hash, index, size or root is refused.
    @Test func everyProofUpTo64LeavesChecksAndNoAlterationDoes() throws {
        let leaves = (0..<64).map { Array("leaf \($0)".utf8) }
        let tree = MemoryTree(leaves: leaves)
        for size in UInt64(1)...64 {
            let root = tree.root(size)
            for index in 0..<size {
                let leafHash = MerkleTree.leafHash(leaves[Int(index)])
                let proof = try MerkleProofs.inclusion(index: index, size: size, perfect: tree.perfect)
                #expect(MerkleProofs.verifyInclusion(index: index, size: size, leafHash: leafHash, proof: proof, root: root))
                #expect(!MerkleProofs.verifyInclusion(index: index, size: size * 2, leafHash: leafHash, proof: proof, root: root))
                if index > 0 { #expect(!MerkleProofs.verifyInclusion(index: index - 1, size: size, leafHash: leafHash, proof: proof, root: root)) }
                #expect(!MerkleProofs.verifyInclusion(index: index, size: size, leafHash: MerkleTree.leafHash([1]), proof: proof, root: root))
                for position in proof.indices {
                    var altered = proof
                    altered[position][Int(index) % 32] ^= 0x01
                    #expect(!MerkleProofs.verifyInclusion(index: index, size: size, leafHash: leafHash, proof: altered, root: root))
                }
                #expect(!MerkleProofs.verifyInclusion(index: index, size: size, leafHash: leafHash, proof: proof + [root], root: root))
            }
            for from in UInt64(1)...size {
                let fromRoot = tree.root(from)
                let proof = try MerkleProofs.consistency(from: from, to: size, perfect: tree.perfect)
                #expect(MerkleProofs.verifyConsistency(from: from, to: size, fromRoot: fromRoot, toRoot: root, proof: proof))
                guard from < size else { continue }
                #expect(!MerkleProofs.verifyConsistency(from: from, to: size, fromRoot: root, toRoot: fromRoot, proof: proof))
                #expect(!MerkleProofs.verifyConsistency(from: from, to: size * 2, fromRoot: fromRoot, toRoot: root, proof: proof))
                if from > 1 { #expect(!MerkleProofs.verifyConsistency(from: from - 1, to: size, fromRoot: fromRoot, toRoot: root, proof: proof)) }
                for position in proof.indices {
                    var altered = proof
                    altered[position][0] ^= 0x10
                    #expect(!MerkleProofs.verifyConsistency(from: from, to: size, fromRoot: fromRoot, toRoot: root, proof: altered))
                }
                #expect(!MerkleProofs.verifyConsistency(from: from, to: size, fromRoot: fromRoot, toRoot: root, proof: Array(proof.dropLast())))
            }
        }
    }

    @Test func frontierReportsEveryCompletedSubtreeAndRebuildsFromThem() {
        let leaves = (0..<300).map { Array("x\($0)".utf8) }
        let tree = MemoryTree(leaves: leaves)
        var frontier = MerkleFrontier()
        var completed = 0
        for (index, leaf) in leaves.enumerated() {
            frontier.append(leafHash: MerkleTree.leafHash(leaf)) { level, position, hash in
                #expect(hash == tree.perfect(level, position))
                completed += 1
            }
            let size = UInt64(index + 1)
            #expect(frontier.root == tree.root(size))
            #expect(MerkleFrontier(size: size, perfect: tree.perfect) == frontier)
        }
        #expect(completed == tree.levels.reduce(0) { $0 + $1.count })
    }

    /// Random pairs on a 100,000-leaf tree.
    @Test func randomProofsOnALargeTree() throws {
        let leaves = (0..<100_000).map { Array("event \($0)".utf8) }
        let tree = MemoryTree(leaves: leaves)
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let size = UInt64.random(in: 1...100_000, using: &generator)
            let index = UInt64.random(in: 0..<size, using: &generator)
            let proof = try MerkleProofs.inclusion(index: index, size: size, perfect: tree.perfect)
            #expect(MerkleProofs.verifyInclusion(
                index: index, size: size, leafHash: MerkleTree.leafHash(leaves[Int(index)]), proof: proof, root: tree.root(size)))
            let from = UInt64.random(in: 1...size, using: &generator)
            let consistency = try MerkleProofs.consistency(from: from, to: size, perfect: tree.perfect)
            #expect(MerkleProofs.verifyConsistency(from: from, to: size, fromRoot: tree.root(from), toRoot: tree.root(size), proof: consistency))
        }
    }
}
