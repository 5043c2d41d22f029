import LMDB

/// The LMDB environment and the databases the log keeps in it.
///
/// - `records`: seq (8 bytes, big-endian, written with `MDB_APPEND`) → chain hash (32 bytes) ‖ canonical record
/// - `ids`: event id → seq (8) ‖ SHA-256 of the canonical envelope (32), for idempotent retries
/// - `meta`: `indexedThrough` → seq W: every event ≤ W is in the indexes
/// - one duplicate-sorted database per `IndexKind`: key → seqs
final class Store: @unchecked Sendable {
    static let formatVersion: [UInt8] = Array("1".utf8)
    static let indexedThroughKey: [UInt8] = Array("indexedThrough".utf8)
    static let formatKey: [UInt8] = Array("format".utf8)

    let environment: Environment
    let records: Database
    let ids: Database
    let meta: Database
    let indexes: [Database]

    init(_ configuration: Environment.Configuration) throws {
        environment = try Environment(configuration)
        let specs: [(name: String, flags: DatabaseFlags)] =
            [("records", []), ("ids", []), ("meta", [])]
            + IndexKind.allCases.map { ($0.databaseName, [.duplicateSort, .duplicateFixed]) }
        let databases = try environment.openDatabases(specs)
        records = databases[0]
        ids = databases[1]
        meta = databases[2]
        indexes = Array(databases[3...])
        if !configuration.readOnly {
            try environment.write { txn in
                if let format = try txn.get(meta, Store.formatKey) {
                    guard Array(format) == Store.formatVersion else {
                        throw LogError(.corrupt, "the store has format \(String(decoding: format, as: UTF8.self)); this ledgerd reads format 1")
                    }
                } else {
                    try txn.put(meta, key: Store.formatKey, value: Store.formatVersion)
                }
            }
        }
    }

    func index(_ kind: IndexKind) -> Database { indexes[kind.rawValue] }

    /// The last seq and its chain hash, as committed.
    static func head(_ txn: borrowing ReadTransaction, _ records: Database) throws -> (seq: UInt64, hash: [UInt8]) {
        try txn.withCursor(records) { cursor in
            guard let last = try cursor.get(.last) else { return (0, [UInt8](repeating: 0, count: 32)) }
            return (readBigEndianUInt64(last.key), Array(last.value.prefix(32)))
        }
    }

    static func indexedThrough(_ value: UnsafeRawBufferPointer?) -> UInt64 {
        guard let value else { return 0 }
        return readBigEndianUInt64(value)
    }
}
