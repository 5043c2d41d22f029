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

    private static func removeAll() {
        for path in made.withLock({ $0 }) { try? FileManager.default.removeItem(atPath: path) }
    }
}
