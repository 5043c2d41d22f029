#if canImport(Glibc)
import Glibc
#endif

private final class ThreadBody {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
}

/// A dedicated OS thread, off the cooperative pool: LMDB's writes block and must all come from one
/// thread; the projection's follower has one too. Join it with `pthread_join`. The name (at most
/// 15 bytes) is what `top -H`, `perf` and `/proc/PID/task/TID/comm` show.
public func startThread(named name: String, _ body: @escaping @Sendable () -> Void) -> pthread_t {
    let box = Unmanaged.passRetained(ThreadBody {
        _ = setThreadName(pthread_self(), String(name.utf8.prefix(15))!)
        body()
    })
    var thread = pthread_t()
    let rc = pthread_create(&thread, nil, { raw in
        let box = Unmanaged<ThreadBody>.fromOpaque(raw!).takeRetainedValue()
        box.run()
        return nil
    }, box.toOpaque())
    precondition(rc == 0, "pthread_create failed: \(rc)")
    return thread
}

/// Hands memory that was freed back to the system, after large transient work only (request
/// bodies, decoded batches, a folded tail), so that resident memory does not stay at its peak.
/// ledgerd runs on jemalloc (the `CJemalloc` target), whose background thread does this within a
/// second anyway; here its arenas are purged at once. Elsewhere (ledgerctl, the tests) glibc's
/// malloc keeps what a thread's arena freed until `malloc_trim`.
public func releaseFreedMemory() {
    #if canImport(Glibc)
    if let mallctl = jemallocControl {
        // "arena.<MALLCTL_ARENAS_ALL>.purge": every arena's unused dirty pages back to the system.
        _ = mallctl("arena.4096.purge", nil, nil, nil, 0)
    } else {
        _ = glibcMallocTrim(0)
    }
    #endif
}

#if canImport(Glibc)
/// `int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen)`, when
/// jemalloc is the process's allocator; looked up rather than linked, so that this module knows no
/// allocator.
private typealias MallocControl = @convention(c) (
    UnsafePointer<CChar>, UnsafeMutableRawPointer?, UnsafeMutablePointer<Int>?, UnsafeMutableRawPointer?, Int
) -> Int32

private let jemallocControl: MallocControl? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallctl").map {
    unsafeBitCast($0, to: MallocControl.self)
}

/// `int pthread_setname_np(pthread_t, const char *)`, which the Glibc module does not export
/// (it needs `_GNU_SOURCE`).
@_silgen_name("pthread_setname_np")
private func setThreadName(_ thread: pthread_t, _ name: UnsafePointer<CChar>) -> Int32

/// `int malloc_trim(size_t pad)` from <malloc.h>, which the Glibc module does not export.
@_silgen_name("malloc_trim")
private func glibcMallocTrim(_ pad: Int) -> Int32
#endif
