import EventModel

#if canImport(Glibc)
import Glibc
#endif

/// An index key in memory: hashed and compared in bulk (`byteCompare`), ordered as LMDB orders keys.
/// `[UInt8]` itself hashes byte by byte, which dominated the writer's profile.
public struct IndexKey: Hashable, Comparable, Sendable {
    public let bytes: [UInt8]

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }

    public static func == (a: IndexKey, b: IndexKey) -> Bool {
        a.bytes.count == b.bytes.count && compare(a.bytes, b.bytes) == 0
    }

    public static func < (a: IndexKey, b: IndexKey) -> Bool { compare(a.bytes, b.bytes) < 0 }

    public func starts(with prefix: [UInt8]) -> Bool {
        bytes.count >= prefix.count && prefix.withUnsafeBytes { p in
            bytes.withUnsafeBytes { memcmp($0.baseAddress!, p.baseAddress!, p.count) == 0 }
        }
    }

    private static func compare(_ a: [UInt8], _ b: [UInt8]) -> Int {
        a.withUnsafeBytes { pa in b.withUnsafeBytes { pb in byteCompare(pa, pb) } }
    }
}
