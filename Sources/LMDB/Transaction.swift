import CLMDB

/// A read-only snapshot. It exists only inside `Environment.read`, cannot be copied out of it,
/// and every buffer it returns points into the map and is valid only until the closure returns.
public struct ReadTransaction: ~Copyable {
    let handle: OpaquePointer

    public func get(_ database: Database, _ key: UnsafeRawBufferPointer) throws -> UnsafeRawBufferPointer? {
        try getValue(handle, database, key)
    }

    public func get(_ database: Database, _ key: [UInt8]) throws -> UnsafeRawBufferPointer? {
        try key.withUnsafeBytes { raw in try getValue(handle, database, raw) }
    }

    public func withCursor<R, E: Error>(_ database: Database, _ body: (borrowing Cursor) throws(E) -> R) throws -> R {
        try withOpenCursor(handle, database, body)
    }

    /// Number of entries in the database.
    public func count(_ database: Database) throws -> Int { try entryCount(handle, database) }
}

/// The one write transaction. It exists only inside `Environment.write`, which commits it when the
/// closure returns and aborts it when the closure throws; it cannot escape or be committed twice.
public struct WriteTransaction: ~Copyable {
    let handle: OpaquePointer

    public func get(_ database: Database, _ key: UnsafeRawBufferPointer) throws -> UnsafeRawBufferPointer? {
        try getValue(handle, database, key)
    }

    public func get(_ database: Database, _ key: [UInt8]) throws -> UnsafeRawBufferPointer? {
        try key.withUnsafeBytes { raw in try getValue(handle, database, raw) }
    }

    public func put(
        _ database: Database, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, flags: PutFlags = []
    ) throws {
        try withValue(key) { k in
            try withValue(value) { v in
                try LMDBError.check(mdb_put(handle, database.handle, &k, &v, flags.rawValue), "mdb_put \(database.name)")
            }
        }
    }

    public func put(_ database: Database, key: [UInt8], value: [UInt8], flags: PutFlags = []) throws {
        try key.withUnsafeBytes { k in
            try value.withUnsafeBytes { v in try put(database, key: k, value: v, flags: flags) }
        }
    }

    /// Reserves `count` bytes for the value and lets `fill` write them straight into the map, saving a copy.
    public func putReserving(
        _ database: Database, key: UnsafeRawBufferPointer, count: Int, flags: PutFlags = [],
        fill: (UnsafeMutableRawBufferPointer) -> Void
    ) throws {
        try withValue(key) { k in
            var v = MDB_val(mv_size: count, mv_data: nil)
            try LMDBError.check(
                mdb_put(handle, database.handle, &k, &v, flags.rawValue | UInt32(MDB_RESERVE)),
                "mdb_put \(database.name)")
            fill(UnsafeMutableRawBufferPointer(start: v.mv_data, count: count))
        }
    }

    /// Deletes a key (and all its values), or with `value` only that value of a duplicate-sorted key.
    /// Returns false when there was nothing to delete.
    @discardableResult
    public func delete(_ database: Database, key: [UInt8], value: [UInt8]? = nil) throws -> Bool {
        try key.withUnsafeBytes { kb in try delete(database, key: kb, value: value) }
    }

    /// The same, the key read where it lies.
    @discardableResult
    public func delete(_ database: Database, key: UnsafeRawBufferPointer, value: [UInt8]? = nil) throws -> Bool {
        try withValue(key) { k -> Bool in
            let rc: Int32
            if let value {
                rc = value.withUnsafeBytes { vb in
                    var v = MDB_val(mv_size: vb.count, mv_data: UnsafeMutableRawPointer(mutating: vb.baseAddress))
                    return mdb_del(handle, database.handle, &k, &v)
                }
            } else {
                rc = mdb_del(handle, database.handle, &k, nil)
            }
            if rc == MDB_NOTFOUND { return false }
            try LMDBError.check(rc, "mdb_del \(database.name)")
            return true
        }
    }

    /// Removes every entry of the database, keeping the database itself.
    public func clear(_ database: Database) throws {
        try LMDBError.check(mdb_drop(handle, database.handle, 0), "mdb_drop \(database.name)")
    }

    public func withCursor<R, E: Error>(_ database: Database, _ body: (borrowing Cursor) throws(E) -> R) throws -> R {
        try withOpenCursor(handle, database, body)
    }

    public func count(_ database: Database) throws -> Int { try entryCount(handle, database) }
}

private func getValue(
    _ txn: OpaquePointer, _ database: Database, _ key: UnsafeRawBufferPointer
) throws -> UnsafeRawBufferPointer? {
    try withValue(key) { k -> UnsafeRawBufferPointer? in
        var v = MDB_val()
        let rc = mdb_get(txn, database.handle, &k, &v)
        if rc == MDB_NOTFOUND { return nil }
        try LMDBError.check(rc, "mdb_get \(database.name)")
        return v.buffer
    }
}

private func entryCount(_ txn: OpaquePointer, _ database: Database) throws -> Int {
    var stat = MDB_stat()
    try LMDBError.check(mdb_stat(txn, database.handle, &stat), "mdb_stat \(database.name)")
    return stat.ms_entries
}

private func withOpenCursor<R, E: Error>(
    _ txn: OpaquePointer, _ database: Database, _ body: (borrowing Cursor) throws(E) -> R
) throws -> R {
    var cursor: OpaquePointer?
    try LMDBError.check(mdb_cursor_open(txn, database.handle, &cursor), "mdb_cursor_open \(database.name)")
    defer { mdb_cursor_close(cursor) }
    return try body(Cursor(handle: cursor!, database: database))
}
