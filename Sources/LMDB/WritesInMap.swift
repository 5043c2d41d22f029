import CLMDB
#if canImport(Glibc)
import Glibc
#endif

/// `MDB_WRITEMAP` (`Configuration.writesInMap`), for data that can be derived again (the projection):
/// a write transaction changes its pages in the shared map itself, instead of in page buffers of its
/// own that the commit then writes to the file. LMDB keeps those buffers for reuse, for as long as
/// the environment is open, as many as its largest transaction dirtied; they count as the process's
/// anonymous memory. A rebuild of 3M events, whose transactions dirty tens of MiB each, held 90 MiB
/// with them, past the projection's memory budget, which then wrote every read batch alone
/// (381 transactions instead of 75), and its writer spent 6.0 CPU-s instead of 3.7 (BENCHMARKS.md).
///
/// What it changes on disk: LMDB sizes the file to the whole map, sparse (only the pages written take
/// blocks; `du` tells, `ls` does not). And a page of the map written where the filesystem has no
/// block left to give kills the process (`SIGBUS`) where a buffered write would have failed with
/// `ENOSPC`. So before each write transaction the file's blocks are reserved (`posix_fallocate`)
/// through the pages in use and a margin past them for the transaction to grow into: a full disk
/// fails the write with `ENOSPC` before it starts, as it failed LMDB's own writes.
extension Environment {
    /// The least margin reserved past the pages in use; a quarter of them once that is more. A
    /// transaction grows the file by the pages it dirties that LMDB finds no freed page for; a
    /// rebuild's largest, 3M events in, dirtied 31 MiB of 274 MiB in use. Small, so that the hundreds
    /// of small projections the tests make hold little disk.
    static let leastReserveAheadBytes = 8 << 20

    /// Reserves the file's blocks for the next write transaction (a no-op without `writesInMap`).
    /// On the writing thread, before the transaction.
    func reserveBlocksForWrites() throws {
        guard configuration.writesInMap else { return }
        var info = MDB_envinfo()
        mdb_env_info(handle, &info)
        var stat = MDB_stat()
        mdb_env_stat(handle, &stat)
        let inUse = (Int(info.me_last_pgno) + 1) * Int(stat.ms_psize)
        let margin = max(Self.leastReserveAheadBytes, inUse / 4)
        // Again only once half the margin is used up: not a system call every transaction.
        guard reservedFileBytes - inUse < margin / 2 else { return }
        let wanted = min(inUse + margin, info.me_mapsize)
        var fd: mdb_filehandle_t = -1
        try LMDBError.check(mdb_env_get_fd(handle, &fd), "mdb_env_get_fd")
        // From the start: blocks already held cost nothing, and the pages in use are covered even in a
        // file written before (LMDB sizes it to the map, sparse, on open).
        let rc = posix_fallocate(fd, 0, off_t(wanted))
        guard rc == 0 else {
            throw LMDBError(code: rc, operation: "posix_fallocate \(configuration.path)/data.mdb to \(wanted) bytes (room for the next write)")
        }
        reservedFileBytes = wanted
    }
}
