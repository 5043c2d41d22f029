import LMDB

/// Why the log refused or failed an operation.
public struct LogError: Error, Equatable, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        /// An id already in the ledger with other content (HTTP 409).
        case conflict
        /// The filesystem is full: nothing of the request was stored (HTTP 507).
        case diskFull = "disk_full"
        /// LMDB failed; nothing of the request was stored (HTTP 503).
        case storage
        /// The log is closing or closed (HTTP 503).
        case closed
        /// A stored record could not be read back.
        case corrupt
        /// A cursor that this log did not make.
        case badCursor = "bad_cursor"
        /// A question the log cannot answer as asked, e.g. a proof for a tree larger than the log (HTTP 400).
        case invalid
        /// No checkpoint signing key is configured (HTTP 503).
        case unsigned
        /// Another process holds the data directory's writer lock.
        case locked
        /// The writer found the log moved under it (another process appended): it takes no more
        /// appends until a restart resumes from what is on disk (HTTP 503).
        case halted
    }

    public var code: Code
    public var message: String
    /// The event's position in its batch, for conflicts.
    public var index: Int?

    public init(_ code: Code, _ message: String, index: Int? = nil) {
        self.code = code
        self.message = message
        self.index = index
    }

    public var description: String { "\(code.rawValue): \(message)" }

    /// `available`: the bytes the filesystem has left, which tell a full disk behind LMDB's EIO.
    static func storage(_ error: any Error, available: Int? = nil) -> LogError {
        if let lmdb = error as? LMDBError, lmdb.isDiskFull(available: available) {
            return LogError(.diskFull, "no space left on the device: \(lmdb); \(available.map { "\($0 >> 10) KiB free" } ?? "")")
        }
        if let logError = error as? LogError { return logError }
        return LogError(.storage, "storage failure: \(error)")
    }
}
