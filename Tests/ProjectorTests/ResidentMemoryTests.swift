import Projector
import Testing

/// The memory the budget is measured in: 256 MiB allocated and touched shows as about that much more
/// (large enough that what other tests free meanwhile cannot hide it).
@Suite struct ResidentMemoryTests {
    @Test func touchedHeapShowsAsResidentAnonymousMemory() throws {
        let before = try #require(ResidentMemory.anonymousBytes())
        let size = 256 << 20
        let block = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 4096)
        defer { block.deallocate() }
        for offset in stride(from: 0, to: size, by: 4096) { block.storeBytes(of: 1, toByteOffset: offset, as: UInt8.self) }
        let after = try #require(ResidentMemory.anonymousBytes())
        #expect(after - before >= size * 3 / 4)
        #expect(after - before <= size * 2)
    }
}
