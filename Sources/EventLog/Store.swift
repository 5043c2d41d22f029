import LMDB
import Transparency

/// The LMDB environment and the databases the log keeps in it.
///
/// - `records`: seq (8 bytes, big-endian, written with `MDB_APPEND`) → chain hash (32 bytes) ‖ canonical
///   record, as it is or compressed (`RecordForms`)
/// - `ids`: event id → seq (8), for idempotent retries (a retry is compared with the record itself;
///   stores before format 3 kept SHA-256 of the canonical envelope (32) after the seq). Since format 4
///   the ids of events past `indexedThrough` are written by the fold, with the indexes; until then
///   the writer holds them in memory (rebuilt from the records on open)
/// - `meta`: `indexedThrough` → seq W: every event ≤ W is in the indexes; `format`; `dictionary/` ‖
///   number (2) → the compression dictionaries of records
/// - `merkle`: leaf count at completion (8, big-endian) ‖ level (1) → hash of a perfect subtree of the
///   RFC 6962 tree, for levels ≥ `MerkleNodes.storedLevel`, appended in the transaction that appends
///   its last record
/// - `checkpoints`: tree size (8, big-endian) → signing time (12, `Instant.sortableBytes`) ‖ signed note
/// - one duplicate-sorted database per `IndexKind`: key → seqs
/// - `foldforms`: a block's last seq (8, big-endian) → how many forms it holds ‖ the fold forms of its
///   records (`FoldForms`);
///   absent from a ledger no writer has opened since forms were kept (a read-only open then has none)
final class Store: @unchecked Sendable {
    static let formatVersion: [UInt8] = Array("4".utf8)
    static let indexedThroughKey: [UInt8] = Array("indexedThrough".utf8)
    static let formatKey: [UInt8] = Array("format".utf8)

    let environment: Environment
    let records: Database
    let ids: Database
    let meta: Database
    let merkle: Database
    let checkpoints: Database
    let indexes: [Database]
    let forms: RecordForms
    let foldForms: Database?

    init(_ configuration: Environment.Configuration) throws {
        environment = try Environment(configuration)
        let specs: [(name: String, flags: DatabaseFlags)] =
            [("records", []), ("ids", []), ("meta", []), ("merkle", []), ("checkpoints", [])]
            + IndexKind.allCases.map { ($0.databaseName, [.duplicateSort, .duplicateFixed]) }
        let databases = try environment.openDatabases(specs)
        records = databases[0]
        ids = databases[1]
        meta = databases[2]
        merkle = databases[3]
        checkpoints = databases[4]
        indexes = Array(databases[5...])
        let foldFormsSpec = [(name: FoldForms.databaseName, flags: DatabaseFlags())]
        foldForms = configuration.readOnly ? (try? environment.openDatabases(foldFormsSpec))?.first : try environment.openDatabases(foldFormsSpec).first
        forms = RecordForms(environment: environment, meta: meta)
        if !configuration.readOnly { try upgrade() }
    }

    /// Format 1 had no Merkle tree: it is built from the records once. Format 2 had no compressed records,
    /// format 3 every id in the table at once: both read as they are. Each is marked 4, so that an older
    /// ledgerd refuses what it could not read (or would take a retry past the watermark for a new event).
    private func upgrade() throws {
        let format = try environment.read { txn in try txn.get(meta, Store.formatKey).map { Array($0) } }
        switch format {
        case Store.formatVersion?:
            return
        case Array("1".utf8)?:
            let nodes = try environment.read { txn in try MerkleNodes.buildAll(txn, self) }
            try environment.write { txn in
                for (key, hash) in nodes { try txn.put(merkle, key: key, value: hash, flags: .append) }
                try txn.put(meta, key: Store.formatKey, value: Store.formatVersion)
            }
        case Array("2".utf8)?, Array("3".utf8)?, nil:
            try environment.write { txn in try txn.put(meta, key: Store.formatKey, value: Store.formatVersion) }
        case let other?:
            throw LogError(.corrupt, "the store has format \(String(decoding: other, as: UTF8.self)); this ledgerd reads formats 1 to 4")
        }
    }

    func index(_ kind: IndexKind) -> Database { indexes[kind.rawValue] }

    /// The last seq and its chain hash, as committed.
    static func head(_ txn: borrowing ReadTransaction, _ records: Database) throws -> (seq: UInt64, hash: [UInt8]) {
        try txn.withCursor(records) { cursor in try head(cursor) }
    }

    /// The head as a write transaction sees it: what another process may have appended included.
    static func head(_ txn: borrowing WriteTransaction, _ records: Database) throws -> (seq: UInt64, hash: [UInt8]) {
        try txn.withCursor(records) { cursor in try head(cursor) }
    }

    private static func head(_ cursor: borrowing Cursor) throws -> (seq: UInt64, hash: [UInt8]) {
        guard let last = try cursor.get(.last) else { return (0, ChainHash.start) }
        return (readBigEndianUInt64(last.key), Array(last.value.prefix(32)))
    }

    static func indexedThrough(_ value: UnsafeRawBufferPointer?) -> UInt64 {
        guard let value else { return 0 }
        return readBigEndianUInt64(value)
    }
}
