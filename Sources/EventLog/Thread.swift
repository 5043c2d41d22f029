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

#if canImport(Glibc)
/// `int malloc_trim(size_t pad)` from <malloc.h>, which the Glibc module does not export.
@_silgen_name("malloc_trim")
private func glibcMallocTrim(_ pad: Int) -> Int32
#endif
