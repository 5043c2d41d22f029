import Foundation
import Synchronization

/// Scratch directories for tests, removed when the test process exits: a test that fails half-way
/// (or a daemon it killed) leaves nothing behind in /tmp either.
public enum Scratch {
    private static let made = Mutex<[String]>([])
    private static let cleanup: Void = { atexit { Scratch.removeAll() } }()

    /// A new, empty directory.
    public static func directory(_ prefix: String = "ledger-test") -> String {
        _ = cleanup
        var template = Array("\(NSTemporaryDirectory())\(prefix)-XXXXXX".utf8CString)
        let path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
        made.withLock { $0.append(path) }
        return path
    }

    /// A path not yet created, in a new scratch directory: a data directory a daemon makes, a socket.
    public static func path(_ name: String) -> String { directory() + "/" + name }

    /// Copies a file leaving its holes holes: a projection's `data.mdb` is the size of its whole map,
    /// sparse (`LMDB.Environment.Configuration.writesInMap`), and copied whole it is gigabytes of zeros.
    public static func copySparseFile(_ source: String, to target: String) throws {
        struct CopyFailed: Error { let operation: String; let code: Int32 }
        let input = open(source, O_RDONLY)
        guard input >= 0 else { throw CopyFailed(operation: "open \(source)", code: errno) }
        defer { close(input) }
        let output = open(target, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard output >= 0 else { throw CopyFailed(operation: "open \(target)", code: errno) }
        defer { close(output) }
        var info = stat()
        guard fstat(input, &info) == 0 else { throw CopyFailed(operation: "fstat \(source)", code: errno) }
        // Linux's `SEEK_DATA` and `SEEK_HOLE` (GNU extensions Glibc's module does not export).
        let (seekData, seekHole): (Int32, Int32) = (3, 4)
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var at = lseek(input, 0, seekData)
        while at >= 0, at < info.st_size {
            let end = lseek(input, at, seekHole)
            guard end > at else { throw CopyFailed(operation: "lseek \(source)", code: errno) }
            while at < end {
                let wanted = min(buffer.count, Int(end - at))
                let count = buffer.withUnsafeMutableBytes { pread(input, $0.baseAddress, wanted, at) }
                guard count > 0, buffer.withUnsafeBytes({ pwrite(output, $0.baseAddress, count, at) }) == count else {
                    throw CopyFailed(operation: "copy \(source)", code: errno)
                }
                at += off_t(count)
            }
            at = lseek(input, end, seekData)
        }
        guard ftruncate(output, info.st_size) == 0 else { throw CopyFailed(operation: "ftruncate \(target)", code: errno) }
    }

    private static func removeAll() {
        for path in made.withLock({ $0 }) { try? FileManager.default.removeItem(atPath: path) }
    }
}
