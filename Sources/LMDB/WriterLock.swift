#if canImport(Glibc)
import Glibc
#endif

/// The one process allowed to write an environment: an exclusive `flock` on a file in its directory,
/// held until `release()` or the process ends (the kernel drops it on exit, kill -9 included).
///
/// LMDB itself serialises write transactions across processes, so a second writer would not
/// corrupt a page; but each writer keeps state of its own above LMDB (the head it appends after,
/// the tree's right edge), and two of them would each extend the log from a head the other moved.
/// Readers (`MDB_RDONLY` opens) never take this lock.
public final class WriterLock: @unchecked Sendable {
    /// Another process holds the lock.
    public struct InUse: Error, CustomStringConvertible, Sendable {
        public var directory: String
        /// The holder's pid, as it wrote it into the lock file (nil when unreadable).
        public var holder: Int32?

        public var description: String {
            "the data directory \(directory) is in use by another writer"
                + (holder.map { " (pid \($0))" } ?? "")
                + ": stop it first (readers such as ledgerctl --data-dir may run beside it)"
        }
    }

    public static let fileName = "writer.lock"

    public let directory: String
    private var descriptor: Int32

    /// Takes the lock on `directory` (which must exist) or throws `InUse` at once; never waits.
    public init(directory: String) throws {
        let path = directory + "/" + WriterLock.fileName
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw LMDBError(code: errno, operation: "open \(path)") }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let failure = errno
            let holder = WriterLock.readPid(fd)
            close(fd)
            if failure == EWOULDBLOCK { throw InUse(directory: directory, holder: holder) }
            throw LMDBError(code: failure, operation: "flock \(path)")
        }
        // The holder's pid, for the message a second writer prints; the lock itself is the flock.
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        self.directory = directory
        self.descriptor = fd
    }

    deinit { release() }

    /// Lets another process write. Later calls do nothing.
    public func release() {
        guard descriptor >= 0 else { return }
        close(descriptor)
        descriptor = -1
    }

    private static func readPid(_ fd: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 16)
        let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        return Int32(String(decoding: buffer[..<count], as: UTF8.self).trimmingWhitespace())
    }
}

extension String {
    fileprivate func trimmingWhitespace() -> String {
        String(unicodeScalars.filter { !$0.properties.isWhitespace })
    }
}
