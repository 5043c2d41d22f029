import Foundation

/// Runs blocking work (waiting for a process to exit, reading a pipe to its end) on a thread of its
/// own. The test process has as many threads for Swift concurrency as the machine has cores (two in
/// CI); a test that blocked one of them while it waited would leave the servers inside the process
/// (Hummingbird's, a webhook receiver) without threads, and their clients would time out.
public func offThePool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try work() }) }.start()
    }
}

/// The same, for work that cannot fail.
public func offThePool<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        Thread { continuation.resume(returning: work()) }.start()
    }
}

extension Process {
    /// Waits for the process to exit without holding one of Swift's threads.
    public func exited() async {
        await offThePool { self.waitUntilExit() }
    }
}

extension FileHandle {
    /// Everything until the writer closes its end (a child process's output: until it exits), read
    /// without holding one of Swift's threads.
    public func readToTheEnd() async -> Data {
        await offThePool { self.readDataToEndOfFile() }
    }
}
