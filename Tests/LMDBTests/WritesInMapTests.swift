import CLMDB
import Glibc
import TestSupport
import Testing

@testable import LMDB

/// `Configuration.writesInMap` (`MDB_WRITEMAP`): the pages are changed in the map, the file is the
/// map's size but sparse, and its blocks are reserved ahead of each write.
@Suite struct WritesInMapTests {
    /// Blocks the file holds, in bytes.
    static func allocatedBytes(_ path: String) -> Int {
        var info = stat()
        return stat(path + "/data.mdb", &info) == 0 ? Int(info.st_blocks) * 512 : -1
    }

    static func bytesInUse(_ env: Environment) -> Int {
        var info = MDB_envinfo()
        mdb_env_info(env.handle, &info)
        var stat = MDB_stat()
        mdb_env_stat(env.handle, &stat)
        return (Int(info.me_last_pgno) + 1) * Int(stat.ms_psize)
    }

    @Test func writesLandAndTheFileIsSparseWithBlocksReservedAhead() throws {
        let path = Scratch.directory("ledger-writemap")
        var env: Environment? = try Environment(.init(path: path, mapSize: 256 << 20, writesInMap: true))
        let db = try env!.openDatabases([("t", [])])[0]
        // 2,000 values of 2 KiB: about 4 MiB of pages, then half of them rewritten.
        try env!.write { txn in
            for i: UInt64 in 0..<2_000 { try txn.put(db, key: bigEndianBytes(i), value: [UInt8](repeating: UInt8(i & 0xFF), count: 2_048)) }
        }
        try env!.write { txn in
            for i: UInt64 in stride(from: 0, to: 2_000, by: 2) { try txn.put(db, key: bigEndianBytes(i), value: [UInt8](repeating: 9, count: 2_048)) }
        }
        let inUse = Self.bytesInUse(env!)
        #expect(inUse > 4 << 20)
        // LMDB sized the file to the map; only the pages in use and the reservation take blocks.
        var info = stat()
        #expect(stat(path + "/data.mdb", &info) == 0 && Int(info.st_size) == 256 << 20)
        let allocated = Self.allocatedBytes(path)
        #expect(allocated >= inUse + Environment.leastReserveAheadBytes / 2, "blocks reserved past the pages in use")
        #expect(allocated < 64 << 20, "the rest of the map is a hole")
        // A margin half used up is reserved again before the next write: never less than half of it.
        try env!.write { txn in
            for i: UInt64 in 2_000..<4_000 { try txn.put(db, key: bigEndianBytes(i), value: [UInt8](repeating: 1, count: 2_048)) }
        }
        try env!.write { txn in try txn.put(db, key: bigEndianBytes(4_000), value: [1]) }
        #expect(Self.allocatedBytes(path) >= Self.bytesInUse(env!) + Environment.leastReserveAheadBytes / 2)
        env = nil

        // Read back by a reader that does not write in the map, and by a writer that does.
        let reader = try Environment(.init(path: path, readOnly: true))
        let rdb = try reader.openDatabases([("t", [])])[0]
        #expect(try reader.read { txn in try txn.count(rdb) } == 4_001)
        #expect(try reader.read { txn in try txn.get(rdb, bigEndianBytes(2)).map(Array.init) } == [UInt8](repeating: 9, count: 2_048))
        #expect(try reader.read { txn in try txn.get(rdb, bigEndianBytes(3)).map(Array.init) } == [UInt8](repeating: 3, count: 2_048))
        let again = try Environment(.init(path: path, mapSize: 256 << 20, writesInMap: true))
        let adb = try again.openDatabases([("t", [])])[0]
        try again.write { txn in try txn.put(adb, key: [0xFF], value: [7]) }
        #expect(try reader.read { txn in try txn.get(rdb, [0xFF]).map(Array.init) } == [7])
    }

    /// The map still grows when it fills (LMDB sizes the file again), and the write is kept.
    @Test func theMapGrowsWithWritesInTheMap() throws {
        let path = Scratch.directory("ledger-writemap")
        let env = try Environment(.init(path: path, mapSize: 1 << 20, writesInMap: true))
        let db = try env.openDatabases([("g", [])])[0]
        let before = env.mapSize
        try env.write { txn in
            for i: UInt64 in 0..<4_000 { try txn.put(db, key: bigEndianBytes(i), value: [UInt8](repeating: 7, count: 400)) }
        }
        #expect(env.mapSize > before)
        #expect(try env.read { txn in try txn.count(db) } == 4_000)
        #expect(Self.allocatedBytes(path) >= Self.bytesInUse(env))
    }
}
