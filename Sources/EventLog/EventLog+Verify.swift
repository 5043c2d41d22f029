import Foundation
import EventModel
import LMDB
import Transparency
#if canImport(Glibc)
import Glibc
#endif

/// The result of re-checking the ledger (the shape of `GET /v1/verify`).
public struct ChainReport: Sendable, Equatable {
    public var ok: Bool
    /// Records checked and found good.
    public var count: UInt64
    /// The last good seq and its hash.
    public var headSeq: UInt64
    public var headHash: [UInt8]
    /// The first seq whose record, hash, place, Merkle node or index entry is wrong; nil when all is well.
    public var firstBadSeq: UInt64?
    public var problem: String?
    /// The RFC 6962 root over the `count` good records.
    public var merkleRoot: [UInt8] = MerkleTree.emptyRoot
    /// Stored checkpoints whose root was recomputed and matched.
    public var checkpointsChecked: Int = 0
    /// The largest checkpoint, and whether its signature was checked with the log's public key.
    public var latestCheckpointSize: UInt64?
    public var latestCheckpointSignatureChecked = false
    /// Index entries found where the records say they belong (nil when indexes were not checked).
    public var indexEntries: Int?
    /// Fold forms (`FoldForms`) found equal to what their records hold (nil when indexes were not checked).
    public var foldForms: Int?
}

extension EventLog {
    /// Re-checks the chain (`hash(n) = SHA-256(hash(n-1) ‖ record(n))`, no gaps) and the Merkle tree (every
    /// stored node, and the root of every stored checkpoint), without the indexes (blocking).
    public func verifyChain() throws -> ChainReport {
        try verify(checkpointVerifier: nil, indexes: false)
    }

    /// Everything `verifyChain` checks, plus the latest checkpoint's signature when `checkpointVerifier` is
    /// given, and with `indexes` every index entry against the records: each entry a record implies is
    /// there, and no other; and every fold form (`FoldForms`): it holds what its record does. Reports the
    /// first bad seq of all (blocking). The index check (it decodes every record) runs on a second thread
    /// beside the chain.
    public func verify(checkpointVerifier: NoteVerifier?, indexes: Bool) throws -> ChainReport {
        nonisolated(unsafe) var indexCheck: Result<IndexCheck, any Error>?
        let thread = indexes ? startThread(named: "ledger-vindex") { [self] in indexCheck = Result { try verifyIndexes() } } : nil
        var report = try verifyTree(checkpointVerifier: checkpointVerifier)
        if let thread {
            pthread_join(thread, nil)
            let check = try indexCheck!.get()
            report.indexEntries = check.entries
            report.foldForms = check.foldForms
            if let bad = check.firstBadSeq, bad < (report.firstBadSeq ?? .max) {
                report.fail(at: bad, check.problem ?? "index entry")
            }
        }
        return report
    }

    /// The chain and the tree read the same records on two threads, both up to the head seen first
    /// (records are append-only, so that prefix is the same in both snapshots).
    private func verifyTree(checkpointVerifier: NoteVerifier?) throws -> ChainReport {
        let head = try head().seq
        let leaves = LeafExchange()
        nonisolated(unsafe) var treeCheck: Result<TreeCheck, any Error>?
        let thread = startThread(named: "ledger-vtree") { [self] in treeCheck = Result { try checkTree(through: head, leaves) } }
        let chain = Result { try checkChain(through: head, leaves) }
        leaves.finish()
        pthread_join(thread, nil)
        var report = try chain.get()
        let tree = try treeCheck!.get()
        report.merkleRoot = tree.root
        report.checkpointsChecked = tree.checkpointsChecked
        if let bad = tree.firstBad, bad.seq < (report.firstBadSeq ?? .max) {
            report.fail(at: bad.seq, bad.problem)
            // A broken link found by the tree thread ends the good records as one found by the chain does.
            if let previousHash = bad.previousHash {
                report.count = bad.seq - 1
                report.headSeq = bad.seq - 1
                report.headHash = previousHash
            }
        }
        guard report.ok, let latest = tree.latest else { return report }
        report.latestCheckpointSize = latest.treeSize
        if let checkpointVerifier {
            let checked = checkedCheckpoint(latest, root: nil, verifier: checkpointVerifier)
            guard checked.ok else {
                report.fail(at: max(latest.treeSize, 1), checked.problem)
                return report
            }
            report.latestCheckpointSignatureChecked = true
        }
        return report
    }

    /// `hash(n) = SHA-256(hash(n-1) ‖ record(n))` for seqs 1…`through`, with no gaps. Each link stands on
    /// the stored hash before it, so the links of every other chunk are checked by the tree thread, which
    /// decompresses those records for their leaves anyway; here, those of the other chunks, and their leaves
    /// for the tree thread. So both threads carry about the same work.
    private func checkChain(through head: UInt64, _ leaves: LeafExchange) throws -> ChainReport {
        try store.environment.read { txn in
            var previous = ChainHash.start
            var report = ChainReport(ok: true, count: 0, headSeq: 0, headHash: previous)
            var chunk: [[UInt8]] = []
            let reader = store.forms.reader()
            try txn.withCursor(store.records) { cursor in
                var expected: UInt64 = 1
                var entry = try cursor.get(.first)
                while let (key, value) = entry, expected <= head {
                    let seq = readBigEndianUInt64(key)
                    guard seq == expected else {
                        report.fail(at: expected, "record \(expected) is missing (next stored is \(seq))")
                        return
                    }
                    guard value.count > 32 else {
                        report.fail(at: seq, "record \(seq) is truncated")
                        return
                    }
                    let chunkIndex = (seq - 1) / LeafExchange.chunkSize
                    // The links of the other chunks are the tree thread's to check.
                    if LeafExchange.chainHashesLeaves(ofChunk: chunkIndex) {
                        guard let leaf = linkedLeaf(value, after: previous, reader) else {
                            report.fail(at: seq, "record \(seq) does not match its chain hash")
                            return
                        }
                        chunk.append(leaf)
                        if chunk.count == LeafExchange.chunkSize || seq == head {
                            leaves.put(chunk: chunkIndex, chunk)
                            chunk.removeAll(keepingCapacity: true)
                        }
                    }
                    previous.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: value[..<32])) }
                    report.count += 1
                    report.headSeq = seq
                    expected = seq + 1
                    entry = try cursor.get(.next)
                }
            }
            report.headHash = previous
            return report
        }
    }

    /// The record's leaf hash when its stored chain hash is SHA-256(`previous` ‖ its canonical bytes); nil otherwise.
    private func linkedLeaf(_ value: UnsafeRawBufferPointer, after previous: [UInt8], _ reader: borrowing RecordReader) -> [UInt8]? {
        reader.withCanonical(UnsafeRawBufferPointer(rebasing: value[32...])) { record in
            ChainHash.links(value, after: previous, record: record) ? MerkleTree.leafHash(record) : nil
        }
    }

    struct TreeCheck {
        var root: [UInt8]
        var checkpointsChecked = 0
        var latest: StoredCheckpoint?
        /// `previousHash`: set when the problem is a broken chain link, the stored hash before it.
        var firstBad: (seq: UInt64, problem: String, previousHash: [UInt8]?)?
    }

    /// The tree thread's walk: its state in one value that the record loop takes `inout`, so the loop
    /// reads and writes it without the run-time exclusivity checks that variables captured by closures
    /// get (4% of that thread, BENCHMARKS.md "Verification").
    private struct TreeWalk {
        var frontier = MerkleFrontier()
        let stored: [StoredCheckpoint]
        /// The first stored checkpoint not yet compared.
        var next = 0
        var check: TreeCheck
        /// The leaf hashes of the chunk being walked, when the chain thread hashed them.
        var given: [[UInt8]] = []
        /// The stored chain hash of the record before.
        var previous = ChainHash.start

        init(stored: [StoredCheckpoint]) {
            self.stored = stored
            check = TreeCheck(root: MerkleTree.emptyRoot, latest: stored.last)
        }
    }

    /// The RFC 6962 tree over records 1…`through`, recomputed: every stored node compared as it is
    /// completed, and the root at every stored checkpoint's size; and the chain links of the chunks whose
    /// leaves it hashes. A gap stops it (the chain names it).
    private func checkTree(through head: UInt64, _ leaves: LeafExchange) throws -> TreeCheck {
        try store.environment.read { txn in
            var walk = TreeWalk(stored: try Store.checkpoints(txn, store.checkpoints))
            guard checkpointsHold(&walk) else { return walk.check }
            let reader = store.forms.reader()
            try txn.withCursor(store.records) { cursor in try walkRecords(cursor, through: head, leaves, reader, txn, &walk) }
            var check = walk.check
            check.root = walk.frontier.root
            // Checkpoints past the head seen first are fine when their records are there now.
            if check.firstBad == nil, walk.next < walk.stored.count, walk.frontier.size == head {
                let beyond = walk.stored[walk.stored.count - 1].treeSize
                let stillThere = try txn.get(store.records, bigEndianBytes(beyond)) != nil
                if !stillThere {
                    check.firstBad = (try Store.head(txn, store.records).seq + 1, "a checkpoint covers \(beyond) records but the log holds fewer", nil)
                }
            }
            return check
        }
    }

    /// Records 1…`head` into the tree, in order; stops at a gap or at the first problem (in `walk.check`).
    private func walkRecords(
        _ cursor: borrowing Cursor, through head: UInt64, _ leaves: LeafExchange, _ reader: borrowing RecordReader,
        _ txn: borrowing ReadTransaction, _ walk: inout TreeWalk
    ) throws {
        var entry = try cursor.get(.first)
        while let (key, value) = entry, walk.frontier.size < head {
            let seq = readBigEndianUInt64(key)
            guard seq == walk.frontier.size + 1, value.count > 32 else { return }
            let chunkIndex = (seq - 1) / LeafExchange.chunkSize
            let leaf: [UInt8]
            if LeafExchange.chainHashesLeaves(ofChunk: chunkIndex) {
                let offset = Int((seq - 1) % LeafExchange.chunkSize)
                if offset == 0 { walk.given = leaves.take(chunk: chunkIndex) ?? [] }
                guard offset < walk.given.count else { return }  // the chain stopped at a bad record
                leaf = walk.given[offset]
            } else {
                guard let linked = linkedLeaf(value, after: walk.previous, reader) else {
                    walk.check.firstBad = (seq, "record \(seq) does not match its chain hash", walk.previous)
                    return
                }
                leaf = linked
            }
            walk.previous.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: value[..<32])) }
            if let bad = try badNode(completedBy: leaf, at: seq, &walk.frontier, txn) {
                walk.check.firstBad = (seq, bad, nil)
                return
            }
            guard checkpointsHold(&walk) else { return }
            entry = try cursor.get(.next)
        }
    }

    /// Adds a leaf to the frontier and compares each node it completes that the store keeps; the
    /// problem with the first that differs, or nil.
    private func badNode(completedBy leaf: [UInt8], at seq: UInt64, _ frontier: inout MerkleFrontier, _ txn: borrowing ReadTransaction) throws -> String? {
        for node in MerkleNodes.append(leafHash: leaf, to: &frontier) {
            let storedNode = try txn.get(store.merkle, node.key)
            if storedNode.map({ !$0.elementsEqual(node.hash) }) ?? true {
                return "Merkle node (level \(node.level), index \(node.index)) ending at record \(seq) is \(storedNode == nil ? "missing" : "altered")"
            }
        }
        return nil
    }

    /// Compares the recomputed root with every stored checkpoint of the tree's current size.
    private func checkpointsHold(_ walk: inout TreeWalk) -> Bool {
        while walk.next < walk.stored.count, walk.stored[walk.next].treeSize == walk.frontier.size {
            let checked = checkedCheckpoint(walk.stored[walk.next], root: walk.frontier.root, verifier: nil)
            if !checked.ok {
                walk.check.firstBad = (max(walk.stored[walk.next].treeSize, 1), checked.problem, nil)
                return false
            }
            walk.check.checkpointsChecked += 1
            walk.next += 1
        }
        return true
    }

    /// Parses a stored checkpoint (with its signature when `verifier` is given) and compares its root.
    private func checkedCheckpoint(_ stored: StoredCheckpoint, root: [UInt8]?, verifier: NoteVerifier?) -> (ok: Bool, problem: String) {
        do {
            let checkpoint = try verifier.map { try Checkpoint(note: stored.note, verifier: $0) } ?? Checkpoint(unverifiedNote: stored.note)
            guard checkpoint.size == stored.treeSize else { return (false, "the checkpoint stored for \(stored.treeSize) records says \(checkpoint.size)") }
            if let root, checkpoint.rootHash != root {
                return (false, "the checkpoint of \(stored.treeSize) records has another root than the records")
            }
            return (true, "")
        } catch {
            return (false, "the checkpoint of \(stored.treeSize) records does not verify: \(error)")
        }
    }

    struct IndexCheck {
        var entries: Int
        var foldForms = 0
        var firstBadSeq: UInt64?
        var problem: String?
    }

    /// Every index entry a record ≤ the watermark implies must be there, and the indexes must hold no
    /// others: presence is checked entry by entry, absence of extras by counting, and only on a
    /// mismatch are the indexes walked to name the extra entry. Past the watermark, the entries a
    /// fold under way (or one cut short) already wrote are counted too: they are what their records imply.
    func verifyIndexes() throws -> IndexCheck {
        try store.environment.read { txn in
            let watermark = Store.indexedThrough(try txn.get(store.meta, Store.indexedThroughKey))
            var expectedCounts = [Int](repeating: 0, count: IndexKind.allCases.count)
            var check = IndexCheck(entries: 0)
            let reader = store.forms.reader()
            var forms = FoldFormCheck(store.foldForms.map { FoldFormBlockReader(database: $0) })
            try txn.withCursor(store.records) { records in
                var entry = try records.get(.first)
                while let (key, value) = entry {
                    let seq = readBigEndianUInt64(key)
                    let seqBytes = bigEndianBytes(seq)
                    let event = try? reader.withCanonical(UnsafeRawBufferPointer(rebasing: value[32...]), StoredEvent.decode)
                    if let problem = try forms.check(seq, event, txn) {
                        check.firstBadSeq = seq
                        check.problem = problem
                        return
                    }
                    // Past the watermark one that does not decode is the tail's to report, and the chain check names it.
                    if event == nil && seq <= watermark {
                        check.firstBadSeq = seq
                        check.problem = "record \(seq) does not decode"
                        return
                    }
                    for (kind, indexKey) in event.map({ IndexKeys.entries(for: $0.envelope) }) ?? [] {
                        let found = try txn.withCursor(store.index(kind)) { try $0.get(.keyValue, key: indexKey, value: seqBytes) != nil }
                        if seq > watermark {
                            if found { expectedCounts[kind.rawValue] += 1 }
                            continue
                        }
                        guard found else {
                            check.firstBadSeq = seq
                            check.problem = "index \(kind.databaseName) lacks the entry of record \(seq)"
                            return
                        }
                        expectedCounts[kind.rawValue] += 1
                        check.entries += 1
                    }
                    entry = try records.get(.next)
                }
            }
            check.foldForms = forms.checked
            if check.firstBadSeq != nil { return check }
            for kind in IndexKind.allCases where try txn.count(store.index(kind)) != expectedCounts[kind.rawValue] {
                let extra = try firstExtraEntry(kind, txn)
                check.firstBadSeq = extra?.seq ?? watermark
                check.problem = extra?.problem ?? "index \(kind.databaseName) holds entries no record implies"
                return check
            }
            return check
        }
    }

    /// The lowest seq an index names without its record implying that entry.
    private func firstExtraEntry(_ kind: IndexKind, _ txn: borrowing ReadTransaction) throws -> (seq: UInt64, problem: String)? {
        var worst: (seq: UInt64, problem: String)?
        try txn.withCursor(store.index(kind)) { cursor in
            var entry = try cursor.get(.first)
            while let (key, value) = entry {
                let seq = readBigEndianUInt64(value)
                if seq < (worst?.seq ?? .max) {
                    let implied = try txn.get(store.records, bigEndianBytes(seq))
                        .flatMap { try? store.forms.withCanonical(UnsafeRawBufferPointer(rebasing: $0[32...]), StoredEvent.decode) }
                        .map { IndexKeys.entries(for: $0.envelope).contains { $0.0 == kind && $0.1.elementsEqual(key) } } ?? false
                    if !implied {
                        worst = (seq, "index \(kind.databaseName) has an entry for record \(seq) that the record does not imply")
                    }
                }
                entry = try cursor.get(.next)
            }
        }
        return worst
    }
}

extension ChainReport {
    mutating func fail(at seq: UInt64, _ problem: String) {
        ok = false
        firstBadSeq = seq
        self.problem = problem
    }
}

/// Leaf hashes of whole chunks handed from the chain thread to the tree thread during verification.
final class LeafExchange: @unchecked Sendable {
    static let chunkSize: UInt64 = 4096
    /// The chain thread hashes the leaves of three chunks in five, the tree thread the other two:
    /// the tree thread also folds every leaf into the frontier and compares the stored nodes, and an
    /// even split left it a third busier than the chain (BENCHMARKS.md, "Verification").
    static func chainHashesLeaves(ofChunk index: UInt64) -> Bool { index % 5 >= 2 }

    private let condition = NSCondition()
    private var chunks: [UInt64: [[UInt8]]] = [:]
    private var finished = false

    func put(chunk index: UInt64, _ leaves: [[UInt8]]) {
        condition.lock()
        chunks[index] = leaves
        condition.broadcast()
        condition.unlock()
    }

    /// No more chunks will come (the chain is done, or stopped at a bad record).
    func finish() {
        condition.lock()
        finished = true
        condition.broadcast()
        condition.unlock()
    }

    /// The chunk's leaf hashes, waiting for them; nil when the chain thread finished without it.
    func take(chunk index: UInt64) -> [[UInt8]]? {
        condition.lock()
        defer { condition.unlock() }
        while chunks[index] == nil && !finished { condition.wait() }
        return chunks.removeValue(forKey: index)
    }
}

/// Checks each record's fold form, where the log keeps one, against the record: the form must hold
/// what `decodeForFold` reads from it (the envelope's fold form), or send a rebuild to the record.
private struct FoldFormCheck {
    let blocks: FoldFormBlockReader?
    /// The forms of the block being walked, from `first` (none: records before the next block).
    var forms: [FoldForm.Reading] = []
    var first: UInt64 = 0
    /// Where the next block starts: the walk reads it there.
    var nextBlock: UInt64 = 0
    var checked = 0

    init(_ blocks: FoldFormBlockReader?) { self.blocks = blocks }

    /// A problem with `seq`'s form, or nil; records come in seq order.
    mutating func check(_ seq: UInt64, _ event: StoredEvent?, _ txn: borrowing ReadTransaction) throws -> String? {
        guard let blocks else { return nil }
        if seq >= nextBlock {
            var damaged: UInt64?
            let found = try blocks.read(from: seq, through: .max, txn, reported: { damaged = $0 })
            if let damaged { return "the block of fold forms ending at record \(damaged) does not read back" }
            (forms, first, nextBlock) = (found.forms ?? [], seq, found.nextBlock)
        }
        guard seq < first + UInt64(forms.count) else { return nil }
        let expected = event.map { FoldForm.Reading.event(StoredEvent(seq: seq, recordedAt: "", envelope: $0.envelope.foldForm)) } ?? .undecodable
        let form = forms[Int(seq - first)]
        guard form == expected || form == .inRecord else { return "the fold form of record \(seq) differs from the record" }
        checked += 1
        return nil
    }
}
