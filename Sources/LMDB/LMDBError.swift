import CLMDB

/// An LMDB failure: the library's return code, the operation that failed and a readable message.
public struct LMDBError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The LMDB (or errno) return code.
    public var code: Int32
    /// What the layer was doing, e.g. `"mdb_put"`.
    public var operation: String
    public var message: String

    public init(code: Int32, operation: String) {
        self.code = code
        self.operation = operation
        self.message = String(cString: mdb_strerror(code))
    }

    public var description: String { "\(operation): \(message) (\(code))" }

    /// The map is full; the environment grows it and runs the write again.
    public var isMapFull: Bool { code == MDB_MAP_FULL }
    /// Another process grew the map; adopt its size and retry.
    public var isMapResized: Bool { code == MDB_MAP_RESIZED }
    /// A put refused: the key (or, with `appendDuplicate`, a value at or past it) is there already.
    public var isKeyExists: Bool { code == MDB_KEYEXIST }
    /// The filesystem has no space left (errno ENOSPC) or the disk quota is exceeded.
    /// ENOSPC or EDQUOT. LMDB reports a write cut short by a full disk as EIO, which only the
    /// filesystem's free space can tell apart: see `isDiskFull(available:)`.
    public var isDiskFull: Bool { code == 28 || code == 122 }

    /// Whether this failure means the disk is full, given the bytes the filesystem has left.
    public func isDiskFull(available: Int?) -> Bool {
        isDiskFull || (code == 5 && (available ?? .max) < 8 << 20)
    }

    @inline(__always)
    static func check(_ code: Int32, _ operation: @autoclosure () -> String) throws(LMDBError) {
        if code != 0 { throw LMDBError(code: code, operation: operation()) }
    }
}
