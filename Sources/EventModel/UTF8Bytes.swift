#if canImport(Glibc)
import Glibc
#endif

/// Byte-wise comparison of strings. JSON keys and identifiers are compared as UTF-8 bytes, never
/// by Swift's canonical equivalence (under which "K" == "\u{212A}"); native strings are contiguous,
/// so this is a memcmp.
@inline(__always)
public func utf8Compare(_ a: String, _ b: String) -> Int {
    var a = a
    var b = b
    return a.withUTF8 { pa in b.withUTF8 { pb in byteCompare(UnsafeRawBufferPointer(pa), UnsafeRawBufferPointer(pb)) } }
}

/// Bytes in the order LMDB sorts keys: a memcmp over the common length, then the shorter first.
@inline(__always)
public func byteCompare(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
    let n = min(a.count, b.count)
    let c = n == 0 ? 0 : Int(memcmp(a.baseAddress!, b.baseAddress!, n))
    return c != 0 ? c : a.count - b.count
}

@inline(__always)
public func utf8Equal(_ a: String, _ b: String) -> Bool {
    a.utf8.count == b.utf8.count && utf8Compare(a, b) == 0
}
