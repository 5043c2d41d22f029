import CLibcrypto

#if canImport(Glibc)
import Glibc
#endif

/// SHA-256 on a context that lives on the caller's stack. The log hashes every record three times
/// (its chain hash, its Merkle leaf, the nodes it completes); swift-crypto's `SHA256` allocates and
/// zeroes a context for each hash, which cost about 200 ns a hash, more than hashing a 65-byte node
/// (BENCHMARKS.md "Hashing without allocating"). The function is the same SHA-256, from Debian's libcrypto.
struct SHA256Context: ~Copyable {
    private var context = SHA256_CTX()

    init() { SHA256_Init(&context) }

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        SHA256_Update(&context, bytes.baseAddress, bytes.count)
    }

    mutating func update(_ byte: UInt8) {
        withUnsafeBytes(of: byte) { update($0) }
    }

    mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    consuming func finalize() -> [UInt8] {
        // Not `init(unsafeUninitializedCapacity:)`, which went unspecialised here and looked up generic metadata per hash.
        var digest = [UInt8](repeating: 0, count: 32)
        digest.withUnsafeMutableBufferPointer { _ = SHA256_Final($0.baseAddress, &context) }
        return digest
    }

    /// Whether the digest equals the 32 bytes at `expected`, without making an array of it.
    consuming func finalizeMatches(_ expected: UnsafeRawBufferPointer) -> Bool {
        var digest: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        return withUnsafeMutableBytes(of: &digest) { out in
            SHA256_Final(out.baseAddress!.assumingMemoryBound(to: UInt8.self), &context)
            return expected.count >= 32 && memcmp(out.baseAddress!, expected.baseAddress!, 32) == 0
        }
    }
}

/// The record chain of spec 3.2: each record's stored hash is SHA-256(previous hash ‖ canonical record),
/// the first one's previous hash being `start`.
public enum ChainHash {
    /// What the first record's hash follows: 32 zero bytes.
    public static let start = [UInt8](repeating: 0, count: MerkleTree.hashSize)

    public static func next(after previous: [UInt8], record: [UInt8]) -> [UInt8] {
        record.withUnsafeBytes { next(after: previous, record: $0) }
    }

    public static func next(after previous: [UInt8], record: UnsafeRawBufferPointer) -> [UInt8] {
        link(after: previous, record: record).finalize()
    }

    /// Whether `stored` (its first 32 bytes) is the chain hash of `record` after `previous`.
    public static func links(_ stored: UnsafeRawBufferPointer, after previous: [UInt8], record: UnsafeRawBufferPointer) -> Bool {
        link(after: previous, record: record).finalizeMatches(stored)
    }

    private static func link(after previous: [UInt8], record: UnsafeRawBufferPointer) -> SHA256Context {
        var context = SHA256Context()
        context.update(previous)
        context.update(record)
        return context
    }
}
