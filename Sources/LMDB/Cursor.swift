import CLMDB

/// A position in a database, alive only inside `withCursor`.
/// Returned buffers point into the map and are valid until the transaction ends.
public struct Cursor: ~Copyable {
    let handle: OpaquePointer
    let database: Database

    public enum Operation: Sendable {
        case first, last, next, previous, current
        /// Exactly the given key (first value of it in a duplicate-sorted database).
        case key
        /// The first key greater than or equal to the given one.
        case keyRange
        /// The first value ≥ the given one under exactly the given key (duplicate-sorted).
        case valueRange
        /// Exactly the given key and value (duplicate-sorted).
        case keyValue
        case firstDuplicate, lastDuplicate, nextDuplicate, previousDuplicate
        case nextKey, previousKey

        var raw: MDB_cursor_op {
            switch self {
            case .first: MDB_FIRST
            case .last: MDB_LAST
            case .next: MDB_NEXT
            case .previous: MDB_PREV
            case .current: MDB_GET_CURRENT
            case .key: MDB_SET_KEY
            case .keyRange: MDB_SET_RANGE
            case .valueRange: MDB_GET_BOTH_RANGE
            case .keyValue: MDB_GET_BOTH
            case .firstDuplicate: MDB_FIRST_DUP
            case .lastDuplicate: MDB_LAST_DUP
            case .nextDuplicate: MDB_NEXT_DUP
            case .previousDuplicate: MDB_PREV_DUP
            case .nextKey: MDB_NEXT_NODUP
            case .previousKey: MDB_PREV_NODUP
            }
        }
    }

    public typealias Entry = (key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)

    /// Moves the cursor; nil when there is no such entry.
    public func get(
        _ operation: Operation, key: UnsafeRawBufferPointer? = nil, value: UnsafeRawBufferPointer? = nil
    ) throws -> Entry? {
        var k = MDB_val(mv_size: key?.count ?? 0, mv_data: UnsafeMutableRawPointer(mutating: key?.baseAddress))
        var v = MDB_val(mv_size: value?.count ?? 0, mv_data: UnsafeMutableRawPointer(mutating: value?.baseAddress))
        let rc = mdb_cursor_get(handle, &k, &v, operation.raw)
        if rc == MDB_NOTFOUND { return nil }
        try LMDBError.check(rc, "mdb_cursor_get \(database.name)")
        return (k.buffer, v.buffer)
    }

    public func get(_ operation: Operation, key: [UInt8], value: [UInt8]? = nil) throws -> Entry? {
        try key.withUnsafeBytes { kb -> Entry? in
            guard let value else { return try get(operation, key: kb, value: nil) }
            return try value.withUnsafeBytes { vb -> Entry? in
                try get(operation, key: kb, value: vb)
            }
        }
    }

    /// Writes through the cursor (write transactions only).
    public func put(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, flags: PutFlags = []) throws {
        var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var v = MDB_val(mv_size: value.count, mv_data: UnsafeMutableRawPointer(mutating: value.baseAddress))
        try LMDBError.check(mdb_cursor_put(handle, &k, &v, flags.rawValue), "mdb_cursor_put \(database.name)")
    }

    /// Number of values under the current key (duplicate-sorted databases).
    public func duplicateCount() throws -> Int {
        var count = 0
        try LMDBError.check(mdb_cursor_count(handle, &count), "mdb_cursor_count \(database.name)")
        return count
    }
}
