import EventModel
import LMDB
import Testing
import Transparency

@testable import EventLog

/// The tree, checkpoints and full verification of a real log, checked against a tree computed
/// independently from the exported records.
@Suite struct MerkleLogTests {
    static let signer = try! NoteSigner.generate(name: "auditledger.test/log")

    func openSigned(_ path: String = temporaryDirectory(), every: UInt64 = 100) throws -> EventLog {
        try openLog(path) { $0.checkpoints = CheckpointPolicy(signer: Self.signer, everyEvents: every, everySeconds: 3600) }
    }

    /// Leaf hashes of the exported records, computed here without the log's tree.
    func referenceLeaves(_ log: EventLog) throws -> [[UInt8]] {
        try log.events(afterSeq: 0, limit: .max).map { MerkleTree.leafHash($0.record) }
    }

    func referenceRoot(_ leaves: [[UInt8]], _ size: Int) -> [UInt8] {
        var frontier = MerkleFrontier()
        for leaf in leaves.prefix(size) { frontier.append(leafHash: leaf) }
        return frontier.root
    }

    @Test func rootsAndProofsMatchTheRecordsAcrossBatchesAndReopening() async throws {
        let path = temporaryDirectory()
        var factory = EventFactory(seed: 21)
        var log = try openSigned(path)
        var appended = 0
        for (round, size) in [1, 63, 1, 64, 130, 7, 300].enumerated() {
            _ = try await log.append(factory.events(size, idPrefix: "r\(round)"))
            appended += size
            if round == 3 {
                try await log.close()
                log = try openSigned(path)
            }
        }
        let leaves = try referenceLeaves(log)
        #expect(leaves.count == appended)
        for size in [0, 1, 2, 63, 64, 65, 128, 129, 259, 500, appended] {
            let root = referenceRoot(leaves, size)
            #expect(try log.merkleRoot(treeSize: UInt64(size)) == root, "size \(size)")
            guard size > 0 else { continue }
            for seq in Set([1, size / 2 + 1, size, max(1, size - 64)]) {
                let proof = try log.inclusionProof(seq: UInt64(seq), treeSize: UInt64(size))
                #expect(proof.leafHash == leaves[seq - 1])
                #expect(MerkleProofs.verifyInclusion(
                    index: UInt64(seq - 1), size: UInt64(size), leafHash: leaves[seq - 1], proof: proof.path, root: root))
            }
            for from in Set([1, size / 3, size]) where from > 0 {
                let proof = try log.consistencyProof(from: UInt64(from), to: UInt64(size))
                #expect(MerkleProofs.verifyConsistency(
                    from: UInt64(from), to: UInt64(size), fromRoot: referenceRoot(leaves, from), toRoot: root, proof: proof.path))
            }
        }
        #expect(throws: LogError.self) { try log.merkleRoot(treeSize: UInt64(appended + 1)) }
        #expect(throws: LogError.self) { try log.inclusionProof(seq: 0, treeSize: 5) }
        #expect(throws: LogError.self) { try log.consistencyProof(from: 6, to: 5) }
        try await log.close()
    }

    @Test func checkpointsAreSignedEveryNEventsAndOnRequest() async throws {
        var factory = EventFactory(seed: 22)
        let log = try openSigned(every: 100)
        let before = Instant.now()
        for round in 0..<5 { _ = try await log.append(factory.events(60, idPrefix: "c\(round)")) }
        let stored = try log.checkpoints(since: nil, limit: 100)
        #expect(stored.map(\.treeSize) == [120, 240])
        let leaves = try referenceLeaves(log)
        for checkpoint in stored {
            let parsed = try Checkpoint(note: checkpoint.note, verifier: Self.signer.verifier)
            #expect(parsed.origin == "auditledger.test/log")
            #expect(parsed.rootHash == referenceRoot(leaves, Int(checkpoint.treeSize)))
            #expect(checkpoint.signedAt >= before)
        }
        _ = try await log.append(factory.events(10, idPrefix: "late"))
        let fresh = try await log.signCheckpoint()
        #expect(fresh.treeSize == 310)
        #expect(try log.latestCheckpoint() == fresh)
        #expect(try await log.signCheckpoint() == fresh)
        #expect(try log.checkpoints(since: nil, afterSize: 120, limit: 1).map(\.treeSize) == [240])
        // Newest first, read from the end.
        let all = try log.checkpoints(since: nil, limit: 100)
        #expect(try log.latestCheckpoints(2) == Array(all.suffix(2).reversed()) && all.count > 2)
        #expect(try log.latestCheckpoints(1000) == all.reversed())
        #expect(try log.checkpoints(since: Instant.now(), limit: 10).isEmpty)
        let report = try log.verify(checkpointVerifier: Self.signer.verifier, indexes: true)
        #expect(report.ok)
        #expect(report.checkpointsChecked == 3)
        #expect(report.latestCheckpointSignatureChecked)
        #expect(report.merkleRoot == referenceRoot(try referenceLeaves(log), 310))
        #expect(report.indexEntries != nil)
        try await log.close()
    }

    @Test func aCheckpointIsSignedOnceItsIntervalPassesWithNewEvents() async throws {
        var factory = EventFactory(seed: 26)
        let log = try openLog { $0.checkpoints = CheckpointPolicy(signer: Self.signer, everyEvents: 1_000_000, everySeconds: 1) }
        _ = try await log.append(factory.events(5))
        var waited = 0
        while try log.latestCheckpoint() == nil, waited < 50 {
            try await Task.sleep(for: .milliseconds(100))
            waited += 1
        }
        #expect(try log.latestCheckpoint()?.treeSize == 5)
        try await log.close()
    }

    /// "`everySeconds` after the last one": never sooner, to the nanosecond. The first checkpoint is
    /// signed late in a second, where rounding to whole seconds would let the next come 0.2 s after it.
    @Test func aTimerCheckpointComesAFullIntervalAfterTheLastOne() async throws {
        var factory = EventFactory(seed: 27)
        let log = try openLog { $0.checkpoints = CheckpointPolicy(signer: Self.signer, everyEvents: 1_000_000, everySeconds: 1) }
        _ = try await log.append(factory.events(1, idPrefix: "first"))
        while Instant.now().nanoseconds < 800_000_000 { try await Task.sleep(for: .milliseconds(10)) }
        let first = try await log.signCheckpoint()
        var round = 0
        while try log.latestCheckpoint() == first, round < 60 {
            _ = try await log.append(factory.events(1, idPrefix: "t\(round)"))
            round += 1
            try await Task.sleep(for: .milliseconds(50))
        }
        let next = try #require(try log.latestCheckpoint())
        #expect(next.treeSize > first.treeSize)
        let gap = (next.signedAt.seconds - first.signedAt.seconds) * 1_000_000_000 + Int64(next.signedAt.nanoseconds - first.signedAt.nanoseconds)
        #expect(gap >= 1_000_000_000, "\(first.signedAt) → \(next.signedAt)")
        try await log.close()
    }

    /// The empty tree's checkpoint, handed out on request, is stored and listed like every other.
    @Test func theCheckpointOfAnEmptyLedgerIsListed() async throws {
        let log = try openSigned()
        let empty = try await log.signCheckpoint()
        #expect(empty.treeSize == 0)
        #expect(try log.checkpoints(since: nil, limit: 10) == [empty])
        #expect(try log.checkpoints(since: nil, afterSize: 0, limit: 10).isEmpty)
        var factory = EventFactory(seed: 28)
        _ = try await log.append(factory.events(2))
        let two = try await log.signCheckpoint()
        #expect(try log.checkpoints(since: nil, limit: 10) == [empty, two])
        #expect(try log.verify(checkpointVerifier: Self.signer.verifier, indexes: true).ok)
        try await log.close()
    }

    @Test func aLogWithoutAKeySignsNothing() async throws {
        let log = try openLog()
        await #expect(throws: LogError.self) { try await log.signCheckpoint() }
        try await log.close()
    }

    // MARK: - Tampering that only the tree, the checkpoints or the indexes reveal

    /// Opens the store's raw databases to change them behind the log's back.
    func tamper(_ path: String, _ change: (borrowing WriteTransaction, [String: Database]) throws -> Void) throws {
        let environment = try Environment(.init(path: path, mapSize: 64 << 20, maxReaders: 16, readOnly: false))
        let names: [(String, DatabaseFlags)] = [("records", []), ("merkle", []), ("checkpoints", []), ("meta", [])]
            + IndexKind.allCases.map { ($0.databaseName, [.duplicateSort, .duplicateFixed]) }
        let databases = try environment.openDatabases(names)
        try environment.write { txn in try change(txn, Dictionary(uniqueKeysWithValues: zip(names.map(\.0), databases))) }
        environment.close()
    }

    func filledLog(_ count: Int) async throws -> String {
        let path = temporaryDirectory()
        var factory = EventFactory(seed: 23)
        let log = try openSigned(path)
        _ = try await log.append(factory.events(count))
        _ = try await log.signCheckpoint()
        try await log.close()
        return path
    }

    @Test func anAlteredMerkleNodeIsNamed() async throws {
        let path = try await filledLog(200)
        try tamper(path) { txn, db in try txn.put(db["merkle"]!, key: MerkleNodes.key(level: 6, index: 1), value: [UInt8](repeating: 7, count: 32)) }
        // (level 6, index 1) covers leaves 64…127: found when record 128 completes it.
        let log = try openLog(path)
        let report = try log.verifyChain()
        #expect(!report.ok)
        #expect(report.firstBadSeq == 128)
        #expect(report.problem?.contains("Merkle node") == true)
        try await log.close()
    }

    @Test func aTruncatedTailIsCaughtByTheCheckpoint() async throws {
        let path = try await filledLog(200)
        try tamper(path) { txn, db in
            for seq in UInt64(195)...200 { _ = try txn.delete(db["records"]!, key: bigEndianBytes(seq)) }
        }
        let log = try openLog(path)
        let report = try log.verifyChain()
        #expect(!report.ok)
        #expect(report.firstBadSeq == 195)
        await #expect(throws: LogError.self) { try await log.append([prepared(validJSON)]) }
        try await log.close()
    }

    @Test func aMissingOrExtraIndexEntryIsNamed() async throws {
        let path = try await filledLog(150)
        let victim = try openLog(path)
        let event = try #require(try victim.event(seq: 77)).decode()
        try await victim.close()
        let (kind, key) = IndexKeys.entries(for: event.envelope)[0]
        try tamper(path) { txn, db in _ = try txn.delete(db[kind.databaseName]!, key: key, value: bigEndianBytes(77)) }
        var log = try openLog(path)
        var report = try log.verify(checkpointVerifier: nil, indexes: true)
        #expect(report.firstBadSeq == 77)
        #expect(report.problem?.contains("lacks") == true)
        try await log.close()

        try tamper(path) { txn, db in
            try txn.put(db[kind.databaseName]!, key: key, value: bigEndianBytes(77))
            try txn.put(db[IndexKind.actor.databaseName]!, key: IndexKeys.actor("nobody"), value: bigEndianBytes(42))
        }
        log = try openLog(path)
        report = try log.verify(checkpointVerifier: nil, indexes: true)
        #expect(report.firstBadSeq == 42)
        #expect(report.problem?.contains("does not imply") == true)
        #expect(try log.verifyChain().ok)
        try await log.close()
    }

    @Test func aFormatOneStoreGetsItsTreeOnFirstOpen() async throws {
        let path = try await filledLog(300)
        let before = try openLog(path)
        let root = try before.merkleRoot(treeSize: 300)
        try await before.close()
        try tamper(path) { txn, db in
            try txn.clear(db["merkle"]!)
            try txn.clear(db["checkpoints"]!)
            try txn.put(db["meta"]!, key: Array("format".utf8), value: Array("1".utf8))
        }
        let upgraded = try openLog(path)
        #expect(try upgraded.verifyChain().ok)
        #expect(try upgraded.merkleRoot(treeSize: 300) == root)
        let proof = try upgraded.inclusionProof(seq: 200, treeSize: 300)
        #expect(MerkleProofs.verifyInclusion(index: 199, size: 300, leafHash: proof.leafHash, proof: proof.path, root: root))
        try await upgraded.close()
    }

    @Test func aBackupTakenDuringIngestVerifiesAndIsAPrefix() async throws {
        let log = try openSigned()
        var factory = EventFactory(seed: 27)
        _ = try await log.append(factory.events(500, idPrefix: "before"))
        let batches = (0..<40).map { factory.events(100, idPrefix: "during-\($0)") }
        let target = temporaryDirectory() + "/copy"
        async let ingest: Void = {
            for batch in batches { _ = try await log.append(batch) }
        }()
        let report = try await log.backup(to: target)
        try await ingest
        #expect(report.ok)
        #expect(report.count >= 500)
        var settings = LogConfiguration(path: target)
        settings.readOnly = true
        let copy = try EventLog(settings)
        #expect(try copy.merkleRoot(treeSize: report.count) == log.merkleRoot(treeSize: report.count))
        #expect(try log.event(seq: report.count)?.hash == report.headHash)
        try await copy.close()
        try await log.close()
    }

    @Test func aCheckpointSignedByAnotherKeyIsRefused() async throws {
        let path = try await filledLog(70)
        let log = try openLog(path)
        let stranger = try NoteSigner.generate(name: "auditledger.test/log")
        let report = try log.verify(checkpointVerifier: stranger.verifier, indexes: false)
        #expect(!report.ok)
        #expect(report.firstBadSeq == 70)
        try await log.close()
    }

    // MARK: - Export and import

    @Test func importingAnExportReproducesChainAndRoot() async throws {
        let source = try openSigned()
        var factory = EventFactory(seed: 24)
        _ = try await source.append(factory.events(333))
        let records = try source.events(afterSeq: 0, limit: .max).map(\.record)
        let target = try openSigned()
        _ = try await target.importRecords(Array(records[..<100]))
        _ = try await target.importRecords(Array(records[100...]))
        #expect(try target.head() == source.head())
        #expect(try target.merkleRoot(treeSize: 333) == source.merkleRoot(treeSize: 333))
        #expect(try target.verify(checkpointVerifier: Self.signer.verifier, indexes: true).ok)
        #expect(try target.events(afterSeq: 0, limit: .max).map(\.record) == records)
        // New events after an import continue the ledger with a recordedAt no earlier than the last imported.
        let next = try await target.append([prepared(validJSON.replacingOccurrences(of: "evt-1", with: "after-import"))])
        #expect(next[0].seq == 334)
        try await source.close()
        try await target.close()
    }

    @Test func anImportThatDoesNotContinueTheLedgerAppendsNothing() async throws {
        let source = try openLog()
        var factory = EventFactory(seed: 25)
        _ = try await source.append(factory.events(20))
        let records = try source.events(afterSeq: 0, limit: .max).map(\.record)
        let target = try openLog()
        await #expect(throws: LogError.self) { try await target.importRecords(Array(records[1...])) }
        var altered = records
        altered[5][altered[5].count - 1] = UInt8(ascii: " ")
        await #expect(throws: LogError.self) { try await target.importRecords(altered) }
        var duplicated = records
        duplicated[7] = records[6]
        await #expect(throws: LogError.self) { try await target.importRecords(duplicated) }
        let nonCanonical = Array(String(decoding: records[0], as: UTF8.self).replacingOccurrences(of: ",\"", with: ", \"").utf8)
        await #expect(throws: LogError.self) { try await target.importRecords([nonCanonical]) }
        #expect(try target.head().seq == 0)
        try await source.close()
        try await target.close()
    }
}
