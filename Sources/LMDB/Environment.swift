import CLMDB
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// An open LMDB environment: one directory holding `data.mdb` and `lock.mdb`.
///
/// Read transactions may run on any number of threads at once (`MDB_NOTLS` ties their reader
/// slots to the transaction, not the thread). Write transactions must all come from one thread:
/// the owner of the environment decides which.
public final class Environment: @unchecked Sendable {
    public struct Configuration: Sendable {
        /// The directory; created if missing (unless read-only).
        public var path: String
        /// Address space reserved for the map. Only pages actually written take disk space,
        /// so a generous size costs nothing; when it fills, the map grows by `growthFactor`.
        public var mapSize: Int
        public var growthFactor: Double
        /// Reader slots shared by every process that opens the environment; size it to the
        /// reader thread pools of the daemon plus a margin for `ledgerctl --data-dir`.
        public var maxReaders: UInt32
        public var maxDatabases: UInt32
        public var readOnly: Bool
        /// `MDB_NOMETASYNC`: a commit syncs its data pages but not the meta page that points at them,
        /// which the next commit's sync carries. A system crash may then undo the last commit, never
        /// tear the database. Only for data that can be derived again (the projection), not the log.
        public var lastCommitMayBeUndone: Bool

        public init(
            path: String, mapSize: Int = 16 << 30, growthFactor: Double = 2, maxReaders: UInt32 = 256,
            maxDatabases: UInt32 = 16, readOnly: Bool = false, lastCommitMayBeUndone: Bool = false
        ) {
            self.path = path
            self.mapSize = mapSize
            self.growthFactor = growthFactor
            self.maxReaders = maxReaders
            self.maxDatabases = maxDatabases
            self.readOnly = readOnly
            self.lastCommitMayBeUndone = lastCommitMayBeUndone
        }
    }

    public let configuration: Configuration
    let handle: OpaquePointer
    /// Shared by read transactions, taken alone to resize the map or to close.
    private let transactionLock = ReadWriteLock()
    private var isClosed = false
    /// Snapshots still open, by identity: `close` aborts them.
    private var openSnapshots: [ObjectIdentifier: OpaquePointer] = [:]
    private var currentMapSize: Int
    /// The thread that owns writing, once one claims it (checked in debug builds).
    let writerThread = WriterThread()
    /// Whether commits skip their sync now (`UnsyncedCommits.swift`); changed by the writing thread.
    let unsynced = Mutex(false)

    public init(_ configuration: Configuration) throws {
        self.configuration = configuration
        if !configuration.readOnly {
            if mkdir(configuration.path, 0o750) != 0 && errno != EEXIST {
                throw LMDBError(code: errno, operation: "mkdir \(configuration.path)")
            }
        }
        var env: OpaquePointer?
        try LMDBError.check(mdb_env_create(&env), "mdb_env_create")
        do {
            try LMDBError.check(mdb_env_set_maxdbs(env, configuration.maxDatabases), "mdb_env_set_maxdbs")
            try LMDBError.check(mdb_env_set_maxreaders(env, configuration.maxReaders), "mdb_env_set_maxreaders")
            if !configuration.readOnly {
                try LMDBError.check(mdb_env_set_mapsize(env, configuration.mapSize), "mdb_env_set_mapsize")
            }
            var flags = UInt32(MDB_NOTLS)
            if configuration.readOnly { flags |= UInt32(MDB_RDONLY) }
            if configuration.lastCommitMayBeUndone { flags |= UInt32(MDB_NOMETASYNC) }
            try LMDBError.check(mdb_env_open(env, configuration.path, flags, 0o640), "mdb_env_open \(configuration.path)")
        } catch {
            mdb_env_close(env)
            throw error
        }
        self.handle = env!
        var info = MDB_envinfo()
        mdb_env_info(env, &info)
        self.currentMapSize = info.me_mapsize
        try checkUnsyncedCommitsOnOpen()
    }

    deinit { close() }

    /// Closes the environment once every transaction in flight has finished. Later calls do nothing.
    public func close() {
        transactionLock.withExclusive {
            guard !isClosed else { return }
            isClosed = true
            for txn in openSnapshots.values { mdb_txn_abort(txn) }
            openSnapshots = [:]
            mdb_env_close(handle)
        }
    }

    /// The map size in force now.
    public var mapSize: Int { transactionLock.withShared { currentMapSize } }

    /// Opens (creating unless read-only) the named databases. Call once at start-up, before other transactions.
    public func openDatabases(_ specs: [(name: String, flags: DatabaseFlags)]) throws -> [Database] {
        var txn: OpaquePointer?
        let readOnly = configuration.readOnly
        try LMDBError.check(
            mdb_txn_begin(handle, nil, readOnly ? UInt32(MDB_RDONLY) : 0, &txn), "mdb_txn_begin (open databases)")
        var databases: [Database] = []
        do {
            for spec in specs {
                var dbi: MDB_dbi = 0
                let flags = readOnly ? spec.flags : spec.flags.union(.create)
                try LMDBError.check(mdb_dbi_open(txn, spec.name, flags.rawValue, &dbi), "mdb_dbi_open \(spec.name)")
                databases.append(Database(handle: dbi, name: spec.name))
            }
            try LMDBError.check(mdb_txn_commit(txn), "mdb_txn_commit (open databases)")
        } catch {
            mdb_txn_abort(txn)
            throw error
        }
        return databases
    }

    /// Runs `body` in a read-only snapshot. Blocking: call it off the cooperative thread pool.
    public func read<R>(_ body: (borrowing ReadTransaction) throws -> R) throws -> R {
        while true {
            let outcome: ReadOutcome<R> = try transactionLock.withShared {
                guard !isClosed else { throw LMDBError(code: EINVAL, operation: "read: environment closed") }
                var txn: OpaquePointer?
                let rc = mdb_txn_begin(handle, nil, UInt32(MDB_RDONLY), &txn)
                if rc == MDB_MAP_RESIZED { return .mapResized }
                try LMDBError.check(rc, "mdb_txn_begin (read)")
                defer { mdb_txn_abort(txn) }
                return .done(try body(ReadTransaction(handle: txn!)))
            }
            switch outcome {
            case .done(let result): return result
            case .mapResized: try adoptResizedMap()
            }
        }
    }

    private enum ReadOutcome<R> { case done(R), mapResized }

    /// A snapshot that stays open until `Snapshot.close` (or this environment closes).
    public func snapshot() throws -> Snapshot {
        let snapshot = Snapshot(environment: self)
        while true {
            let begun: Bool = try transactionLock.withExclusive {
                guard !isClosed else { throw LMDBError(code: EINVAL, operation: "snapshot: environment closed") }
                var txn: OpaquePointer?
                let rc = mdb_txn_begin(handle, nil, UInt32(MDB_RDONLY), &txn)
                if rc == MDB_MAP_RESIZED { return false }
                try LMDBError.check(rc, "mdb_txn_begin (snapshot)")
                openSnapshots[ObjectIdentifier(snapshot)] = txn
                return true
            }
            if begun { return snapshot }
            try adoptResizedMap()
        }
    }

    fileprivate func read<R>(in snapshot: Snapshot, _ body: (borrowing ReadTransaction) throws -> R) throws -> R {
        try transactionLock.withShared {
            guard let txn = openSnapshots[ObjectIdentifier(snapshot)] else {
                throw LMDBError(code: EINVAL, operation: "read: snapshot closed")
            }
            return try body(ReadTransaction(handle: txn))
        }
    }

    fileprivate func release(_ snapshot: Snapshot) {
        transactionLock.withExclusive {
            if let txn = openSnapshots.removeValue(forKey: ObjectIdentifier(snapshot)) { mdb_txn_abort(txn) }
        }
    }

    /// Runs `body` in a write transaction and commits it, or aborts it if `body` throws.
    ///
    /// When the map fills up, the transaction is aborted, the map grows and `body` runs again
    /// from the start, so `body` must derive everything it writes from its inputs and the
    /// transaction, never from state it changed on an earlier run. Call from the one writer thread.
    public func write<R>(_ body: (borrowing WriteTransaction) throws -> R) throws -> R {
        writerThread.check()
        while true {
            do {
                return try writeOnce(body)
            } catch let error as LMDBError where error.isMapFull {
                try grow()
            } catch let error as LMDBError where error.isMapResized {
                try adoptResizedMap()
            }
        }
    }

    /// From now on only the calling thread may write (LMDB allows one write transaction at a time;
    /// the project keeps them all on one dedicated thread). Checked in debug builds, as GRDB's
    /// serialized database checks its queue; writes before the claim (opening, upgrading) are free.
    public func claimWrites() { writerThread.claim() }

    /// Whether this thread may write: nobody claimed writing, or this thread did (always true in
    /// release builds, which do not check).
    public var mayWriteHere: Bool { writerThread.isOwnedHere }

    private func writeOnce<R>(_ body: (borrowing WriteTransaction) throws -> R) throws -> R {
        var txn: OpaquePointer?
        try LMDBError.check(mdb_txn_begin(handle, nil, 0, &txn), "mdb_txn_begin (write)")
        let result: R
        do {
            result = try body(WriteTransaction(handle: txn!))
        } catch {
            mdb_txn_abort(txn)
            throw error
        }
        // mdb_txn_commit frees the transaction whether or not it succeeds.
        try LMDBError.check(mdb_txn_commit(txn), "mdb_txn_commit")
        return result
    }

    /// Grows the map while no transaction of this process is open.
    private func grow() throws {
        try transactionLock.withExclusive {
            let newSize = Int(Double(currentMapSize) * max(configuration.growthFactor, 1.25))
            try LMDBError.check(mdb_env_set_mapsize(handle, newSize), "mdb_env_set_mapsize \(newSize)")
            var info = MDB_envinfo()
            mdb_env_info(handle, &info)
            currentMapSize = info.me_mapsize
        }
    }

    /// Another process grew the map: take over its size.
    private func adoptResizedMap() throws {
        try transactionLock.withExclusive {
            try LMDBError.check(mdb_env_set_mapsize(handle, 0), "mdb_env_set_mapsize 0")
            var info = MDB_envinfo()
            mdb_env_info(handle, &info)
            currentMapSize = info.me_mapsize
        }
    }

    /// Frees reader slots left behind by processes that died; returns how many.
    @discardableResult
    public func clearStaleReaders() throws -> Int {
        var dead: Int32 = 0
        try LMDBError.check(mdb_reader_check(handle, &dead), "mdb_reader_check")
        return Int(dead)
    }

    /// Bytes the filesystem under the environment still has for this process (nil when unknown).
    public func availableFilesystemBytes() -> Int? {
        var info = statvfs()
        guard statvfs(configuration.path, &info) == 0 else { return nil }
        return Int(info.f_bavail) * Int(info.f_frsize)
    }

    /// Bytes the data file occupies: the pages in use up to the last one written.
    public func usedBytes() throws -> Int {
        try transactionLock.withShared {
            var info = MDB_envinfo()
            var stat = MDB_stat()
            try LMDBError.check(mdb_env_info(handle, &info), "mdb_env_info")
            try LMDBError.check(mdb_env_stat(handle, &stat), "mdb_env_stat")
            return (info.me_last_pgno + 1) * Int(stat.ms_psize)
        }
    }

    /// A consistent copy into an empty directory while writers go on (`mdb_env_copy2`).
    public func copy(to path: String, compacting: Bool = true) throws {
        try transactionLock.withShared {
            try LMDBError.check(
                mdb_env_copy2(handle, path, compacting ? UInt32(MDB_CP_COMPACT) : 0), "mdb_env_copy2 \(path)")
        }
    }
}

/// A read transaction kept open across calls, for an owner that needs one consistent view for
/// longer than one closure: a fold that loads entities as it goes, or a short process's queries.
/// Each `read` runs on whichever thread calls it (`MDB_NOTLS`), one at a time; buffers are valid only
/// inside `read`. Close it soon: an open snapshot keeps the pages it sees from being reused.
public final class Snapshot: @unchecked Sendable {
    private let environment: Environment

    fileprivate init(environment: Environment) { self.environment = environment }

    public func read<R>(_ body: (borrowing ReadTransaction) throws -> R) throws -> R {
        try environment.read(in: self, body)
    }

    /// Ends the transaction. Later calls do nothing; later reads throw.
    public func close() { environment.release(self) }

    deinit { close() }
}

extension Environment {
    /// Runs `body` with a snapshot that is closed when it returns.
    public func withSnapshot<R>(_ body: (Snapshot) throws -> R) throws -> R {
        let snapshot = try snapshot()
        defer { snapshot.close() }
        return try body(snapshot)
    }
}

/// Which thread writes an environment, checked at run time in debug builds only.
final class WriterThread: @unchecked Sendable {
    #if DEBUG
    private let lock = ReadWriteLock()
    private var owner: pthread_t?
    #endif

    func claim() {
        #if DEBUG
        lock.withExclusive { owner = pthread_self() }
        #endif
    }

    var isOwnedHere: Bool {
        #if DEBUG
        guard let owner = lock.withShared({ self.owner }) else { return true }
        return pthread_equal(owner, pthread_self()) != 0
        #else
        return true
        #endif
    }

    func check(file: StaticString = #file, line: UInt = #line) {
        precondition(isOwnedHere, "an LMDB write off the thread that owns writing", file: file, line: line)
    }
}
