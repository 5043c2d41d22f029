import Crypto
import Testing
import Transparency

/// The chain hash is computed with libcrypto on a stack context; it must be the SHA-256 that every
/// other tool computes (swift-crypto here; `scripts/verify_export.py` checks an export with Python's).
@Suite struct ChainHashTests {
    @Test func equalsSHA256OfThePreviousHashAndTheRecordAcrossBlockBoundaries() {
        var previous = ChainHash.start
        for length in [0, 1, 31, 32, 55, 56, 63, 64, 65, 119, 120, 128, 300, 1000, 4097] {
            let record = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ length) }
            let expected = Array(SHA256.hash(data: previous + record))
            let next = ChainHash.next(after: previous, record: record)
            #expect(next == expected, "record of \(length) bytes")
            #expect(record.withUnsafeBytes { r in next.withUnsafeBytes { ChainHash.links($0, after: previous, record: r) } })
            var altered = next
            altered[31] ^= 1
            #expect(!record.withUnsafeBytes { r in altered.withUnsafeBytes { ChainHash.links($0, after: previous, record: r) } })
            previous = next
        }
    }

    @Test func aStoredHashShorterThanADigestNeverLinks() {
        let record: [UInt8] = Array("{}".utf8)
        let full = ChainHash.next(after: ChainHash.start, record: record)
        let short = Array(full.prefix(31))
        #expect(!record.withUnsafeBytes { r in short.withUnsafeBytes { ChainHash.links($0, after: ChainHash.start, record: r) } })
    }
}
