#if canImport(Glibc)
import Glibc
#endif

private final class ThreadBody {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
}

/// A dedicated OS thread, off the cooperative pool: LMDB's writes block and must all come from one
/// thread; the projection's follower has one too. Join it with `pthread_join`.
public func startThread(_ body: @escaping @Sendable () -> Void) -> pthread_t {
    let box = Unmanaged.passRetained(ThreadBody(body))
    var thread = pthread_t()
    let rc = pthread_create(&thread, nil, { raw in
        let box = Unmanaged<ThreadBody>.fromOpaque(raw!).takeRetainedValue()
        box.run()
        return nil
    }, box.toOpaque())
    precondition(rc == 0, "pthread_create failed: \(rc)")
    return thread
}

/// Hands memory that was freed back to the system. glibc keeps what a thread's arena freed (request
/// bodies, decoded batches, a folded tail) for reuse, so without this the daemon's resident
/// memory stays at its peak long after the peak; called after large transient work only.
public func releaseFreedMemory() {
    #if canImport(Glibc)
    _ = glibcMallocTrim(0)
    #endif
}

/// Caps glibc's malloc arenas at two for the whole process. By default every thread that allocates
/// may get an arena of its own (8 per core); the reader pool's threads each keep what their queries
/// freed, and a daemon that answered a few hundred large as-of questions holds 300 MiB it no longer
/// uses (measured at 1M events; 80 MiB with one arena). Call first thing, before other threads start.
public func limitMallocArenas() {
    #if canImport(Glibc)
    _ = glibcMallopt(-8 /* M_ARENA_MAX */, 2)
    #endif
}

#if canImport(Glibc)
/// `int malloc_trim(size_t pad)` from <malloc.h>, which the Glibc module does not export.
@_silgen_name("malloc_trim")
private func glibcMallocTrim(_ pad: Int) -> Int32

/// `int mallopt(int param, int value)` from <malloc.h>.
@_silgen_name("mallopt")
private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
#endif
