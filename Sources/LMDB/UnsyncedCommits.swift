import CLMDB
#if canImport(Glibc)
import Glibc
#endif

/// Commits that skip their sync for a while, for data that can be derived again (the projection).
/// Every commit's `fdatasync` writes back pages the next commit dirties again, and competes for the
/// disk with the commits that must sync (the log's): skipping them took a third off a rebuild of 3M
/// events, and made batch ingest 9–30% faster (BENCHMARKS.md).
///
/// What it risks: a process that dies (kill -9 included) loses nothing, for its writes are in the
/// page cache; a system that stops may leave the environment torn (LMDB's `MDB_NOSYNC`). So before
/// the first unsynced commit a marker file beside the data is made durable, holding the id of the
/// boot that writes; it goes only once everything is synced. An environment found with a marker of
/// another boot may be torn: its owner throws it away (`leftUnsyncedByAnotherBoot`), and opening it
/// fails. One of this boot (a process killed while it skipped) is whole: opened for writing, its
/// commits go on skipping their sync until `resumeSyncs` (syncing it there would hold up the start).
extension Environment {
    public static let unsyncedMarkerName = "unsynced"

    /// Whether commits skip their sync now (between `skipSyncs` and `resumeSyncs`).
    public var skipsSyncs: Bool { unsynced.withLock { $0 } }

    /// From the next commit on, commits skip their sync, until `resumeSyncs`. The marker is durable
    /// first. Call from the writing thread, between transactions.
    public func skipSyncs() throws {
        writerThread.check()
        guard !skipsSyncs else { return }
        try Self.writeDurably(Array((Self.bootID ?? "").utf8), to: Self.markerPath(configuration.path), directory: configuration.path)
        try setSkipsSyncs(true)
    }

    /// Syncs everything committed so far, then commits sync again and the marker goes. Call from the
    /// writing thread, between transactions.
    public func resumeSyncs() throws {
        writerThread.check()
        guard skipsSyncs else { return }
        try LMDBError.check(mdb_env_sync(handle, 1), "mdb_env_sync")
        try setSkipsSyncs(false)
        let marker = Self.markerPath(configuration.path)
        guard unlink(marker) == 0 || errno == ENOENT else { throw LMDBError(code: errno, operation: "unlink \(marker)") }
        try Self.syncDirectory(configuration.path)
    }

    /// Whether the environment in `path` was left with unsynced commits by another boot than this
    /// one (or one whose id is unknown): it may be torn, and only throwing it away is safe.
    public static func leftUnsyncedByAnotherBoot(path: String) -> Bool { unsyncedCommits(in: path) == .byAnotherBoot }

    /// On open, before anything else: a marker of another boot refuses the environment; one of this
    /// boot is adopted (writable): commits skip their sync, as they did, until `resumeSyncs`.
    func checkUnsyncedCommitsOnOpen() throws {
        switch Self.unsyncedCommits(in: configuration.path) {
        case .none: return
        case .byAnotherBoot:
            throw LMDBError(code: EIO, operation: "open \(configuration.path): commits left unsynced by a system that stopped since")
        case .byThisBoot:
            if !configuration.readOnly { try setSkipsSyncs(true) }
        }
    }

    /// `MDB_NOSYNC` on or off, and `skipsSyncs` with it.
    private func setSkipsSyncs(_ skipping: Bool) throws {
        try LMDBError.check(mdb_env_set_flags(handle, UInt32(MDB_NOSYNC), skipping ? 1 : 0), "mdb_env_set_flags (MDB_NOSYNC \(skipping))")
        unsynced.withLock { $0 = skipping }
    }

    // MARK: - The marker

    private enum UnsyncedCommits { case none, byThisBoot, byAnotherBoot }

    /// What the marker in `directory` says (one of an unknown boot counts as another's).
    private static func unsyncedCommits(in directory: String) -> UnsyncedCommits {
        guard let marker = firstWord(ofFile: markerPath(directory)) else { return .none }
        guard let bootID, bootIdentity(marker) == bootID else { return .byAnotherBoot }
        return .byThisBoot
    }

    /// This boot's id, without dashes: `/proc/sys/kernel/random/boot_id`, or where /proc hides it
    /// (systemd's `ProcSubset=pid`) the `LEDGER_BOOT_ID` variable, which the unit sets from `%b`.
    /// Nil where neither says: every marker then counts as another boot's.
    static let bootID: String? = bootID(file: "/proc/sys/kernel/random/boot_id", variable: getenv("LEDGER_BOOT_ID").map { String(cString: $0) })

    static func bootID(file: String, variable: String?) -> String? {
        let id = bootIdentity(firstWord(ofFile: file) ?? variable ?? "")
        return id.isEmpty ? nil : id
    }

    /// A boot id as compared: lower case, without dashes (`%b` drops them, /proc has them).
    static func bootIdentity(_ text: String) -> String { text.filter { $0 != "-" }.lowercased() }

    static func markerPath(_ directory: String) -> String { directory + "/" + unsyncedMarkerName }

    /// A small file's first word ("" when it has none, or cannot be read: a marker then counts as
    /// another boot's), nil when there is no such file.
    static func firstWord(ofFile path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return errno == ENOENT ? nil : "" }
        defer { Glibc.close(fd) }
        var buffer = [UInt8](repeating: 0, count: 128)
        let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        guard count > 0 else { return "" }
        return String(decoding: buffer[..<count], as: UTF8.self).split(whereSeparator: \.isWhitespace).first.map(String.init) ?? ""
    }

    private static func writeDurably(_ bytes: [UInt8], to path: String, directory: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw LMDBError(code: errno, operation: "open \(path)") }
        defer { Glibc.close(fd) }
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else { throw LMDBError(code: written < 0 ? errno : EIO, operation: "write \(path)") }
        guard fsync(fd) == 0 else { throw LMDBError(code: errno, operation: "fsync \(path)") }
        try syncDirectory(directory)
    }

    private static func syncDirectory(_ directory: String) throws {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw LMDBError(code: errno, operation: "open \(directory)") }
        defer { Glibc.close(fd) }
        guard fsync(fd) == 0 else { throw LMDBError(code: errno, operation: "fsync \(directory)") }
    }
}
