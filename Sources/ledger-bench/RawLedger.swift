import CLMDB
import EventLog
import EventModel
import Glibc
import LMDB
import Transparency

/// The floor under the log: the same record bytes, keys and batching written with LMDB's C API
/// straight from Swift — no validation, no queue, no writer thread, no tail index. With `merkle`,
/// each commit also does exactly the log's Merkle work (leaf hash, right edge, the nodes it stores),
/// so the two side by side give that work's cost. Used by one thread at a time.
final class RawLedger: @unchecked Sendable {
    /// One event as `append` takes it: its body, its id's key and its index entries.
    typealias Input = (body: [UInt8], idKey: [UInt8], entries: [(IndexKind, [UInt8])])

    private var env: OpaquePointer?
    private var records: MDB_dbi = 0
    private var ids: MDB_dbi = 0
    private var merkleNodes: MDB_dbi = 0
    private let merkle: Bool
    private var frontier = MerkleFrontier()
    private var indexes: [MDB_dbi] = []
    private(set) var head: UInt64 = 0
    private var chain = ChainHash.start
    private var postings = Array(repeating: [IndexKey: [UInt64]](), count: IndexKind.allCases.count)
    private var unfoldedIds: [IndexKey: UInt64] = [:]
    private var unfolded = 0

    init(path: String, merkle: Bool = false) {
        self.merkle = merkle
        _ = path.withCString { mkdir($0, 0o750) }
        check(mdb_env_create(&env))
        check(mdb_env_set_mapsize(env, 16 << 30))
        check(mdb_env_set_maxdbs(env, 16))
        check(mdb_env_open(env, path, UInt32(MDB_NOTLS), 0o640))
        write { txn in
            check(mdb_dbi_open(txn, "records", UInt32(MDB_CREATE), &records))
            check(mdb_dbi_open(txn, "ids", UInt32(MDB_CREATE), &ids))
            check(mdb_dbi_open(txn, "merkle", UInt32(MDB_CREATE), &merkleNodes))
            for kind in IndexKind.allCases {
                var dbi: MDB_dbi = 0
                check(mdb_dbi_open(txn, kind.databaseName, UInt32(MDB_CREATE | MDB_DUPSORT | MDB_DUPFIXED), &dbi))
                indexes.append(dbi)
            }
        }
    }

    deinit { mdb_env_close(env) }

    /// The inputs `append` takes, made from prepared events (before any clock starts).
    static func inputs(_ prepared: [[PreparedEvent]]) -> [[Input]] {
        prepared.map { batch in batch.map { ($0.body, IndexKeys.eventId($0.envelope.id), IndexKeys.entries(for: $0.envelope)) } }
    }

    /// `ledger-bench --raw-floor DIR --batches FILE`: the floor under batch ingest. The batches, parsed
    /// before the clock, written into a new environment in DIR from one thread as `make bench`'s
    /// baseline writes them (a durable commit a batch; ids and index entries folded every
    /// `foldEvery` events), timed up to the last batch's commit as the ingest rows are; prints the rate
    /// as one JSON line, then removes DIR. LMDB has one writer, so this is what an LMDB ledger storing
    /// these records and indexes can reach here without HTTP, parsing, compression or a projection.
    static func floor(batches prepared: [[PreparedEvent]], directory: String, foldEvery: Int) {
        let inputs = inputs(prepared)
        let events = inputs.reduce(0) { $0 + $1.count }
        _ = system("rm -rf '\(directory)'")
        let raw = RawLedger(path: directory)
        let stamp = Instant.now().rfc3339()
        let start = ContinuousClock.now
        for batch in inputs { raw.append(batch, recordedAt: stamp, foldEvery: foldEvery) }
        let seconds = (ContinuousClock.now - start).seconds
        raw.fold()
        print(#"{"events":\#(events),"seconds":\#(seconds),"perSecond":\#(Double(events) / seconds)}"#)
        _ = system("rm -rf '\(directory)'")
    }

    /// One commit: records (hash ‖ record) with MDB_APPEND; ids and index entries wait for `fold`, as in the log.
    func append(_ batch: [Input], recordedAt: String, foldEvery: Int) {
        write { txn in
            for event in batch {
                head += 1
                let key = bigEndianBytes(head)
                let record = CanonicalRecord.prefix(seq: head, recordedAt: recordedAt) + event.body.dropFirst()
                chain = ChainHash.next(after: chain, record: record)
                put(txn, records, key, chain + record, flags: UInt32(MDB_APPEND))
                unfoldedIds[IndexKey(event.idKey)] = head
                if merkle {
                    var completed: [(Int, UInt64, [UInt8])] = []
                    frontier.append(leafHash: MerkleTree.leafHash(record)) { level, index, hash in
                        if level >= 6 { completed.append((level, index, hash)) }
                    }
                    for (level, index, hash) in completed {
                        put(txn, merkleNodes, bigEndianBytes((index + 1) << UInt64(level)) + [UInt8(level)], hash, flags: UInt32(MDB_APPEND))
                    }
                }
                for (kind, indexKey) in event.entries { postings[kind.rawValue][IndexKey(indexKey), default: []].append(head) }
            }
        }
        unfolded += batch.count
        if unfolded >= foldEvery { fold() }
    }

    /// The ids and the indexes in one transaction, keys sorted (the log's writer does the same work
    /// in one transaction for the ids and one per index, to hold its appends back a little each time).
    func fold() {
        write { txn in
            for (id, seq) in unfoldedIds.sorted(by: { $0.key < $1.key }) { put(txn, ids, id.bytes, bigEndianBytes(seq), flags: 0) }
            for kind in IndexKind.allCases {
                let map = postings[kind.rawValue]
                for key in map.keys.sorted() {
                    for seq in map[key]! { put(txn, indexes[kind.rawValue], key.bytes, bigEndianBytes(seq), flags: UInt32(MDB_APPENDDUP)) }
                }
            }
        }
        postings = Array(repeating: [:], count: IndexKind.allCases.count)
        unfoldedIds.removeAll(keepingCapacity: true)
        unfolded = 0
    }

    /// A subject's records, oldest first.
    func history(_ subjectKey: [UInt8]) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var txn: OpaquePointer?
        check(mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn))
        defer { mdb_txn_abort(txn) }
        var cursor: OpaquePointer?
        check(mdb_cursor_open(txn, indexes[IndexKind.subject.rawValue], &cursor))
        defer { mdb_cursor_close(cursor) }
        var keyBytes = subjectKey
        keyBytes.withUnsafeMutableBytes { kb in
            var key = MDB_val(mv_size: kb.count, mv_data: kb.baseAddress)
            var value = MDB_val()
            var rc = mdb_cursor_get(cursor, &key, &value, MDB_SET_KEY)
            while rc == 0 {
                var recordValue = MDB_val()
                var seqKey = MDB_val(mv_size: 8, mv_data: value.mv_data)
                check(mdb_get(txn, records, &seqKey, &recordValue))
                out.append(Array(UnsafeRawBufferPointer(start: recordValue.mv_data, count: recordValue.mv_size).dropFirst(32)))
                rc = mdb_cursor_get(cursor, &key, &value, MDB_NEXT_DUP)
            }
        }
        return out
    }

    func usedBytes() -> Int {
        var info = MDB_envinfo()
        var stat = MDB_stat()
        mdb_env_info(env, &info)
        mdb_env_stat(env, &stat)
        return (info.me_last_pgno + 1) * Int(stat.ms_psize)
    }

    private func write(_ body: (OpaquePointer?) -> Void) {
        var txn: OpaquePointer?
        check(mdb_txn_begin(env, nil, 0, &txn))
        body(txn)
        check(mdb_txn_commit(txn))
    }

    private func put(_ txn: OpaquePointer?, _ dbi: MDB_dbi, _ key: [UInt8], _ value: [UInt8], flags: UInt32) {
        var k = key
        var v = value
        k.withUnsafeMutableBytes { kb in
            v.withUnsafeMutableBytes { vb in
                var key = MDB_val(mv_size: kb.count, mv_data: kb.baseAddress)
                var value = MDB_val(mv_size: vb.count, mv_data: vb.baseAddress)
                check(mdb_put(txn, dbi, &key, &value, flags))
            }
        }
    }

    private func check(_ rc: Int32) {
        precondition(rc == 0, "LMDB: \(String(cString: mdb_strerror(rc)))")
    }
}
