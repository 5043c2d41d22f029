import CLMDB
import Glibc
import TestSupport
import Testing

@testable import LMDB

func temporaryDirectory() -> String { Scratch.directory("ledger-lmdb") }

@Suite struct EnvironmentTests {
    @Test func writesCommitAndThrowsRollBack() throws {
        let env = try Environment(.init(path: temporaryDirectory()))
        let db = try env.openDatabases([("t", [])])[0]
        try env.write { txn in try txn.put(db, key: [1], value: [10]) }
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            try env.write { txn in
                try txn.put(db, key: [2], value: [20])
                throw Boom()
            }
        }
        let values = try env.read { txn in (try txn.get(db, [1]).map(Array.init), try txn.get(db, [2]).map(Array.init)) }
        #expect(values.0 == [10])
        #expect(values.1 == nil)
    }

    /// In debug builds (the test suite's), writing is confined to the thread that claimed it.
    @Test func writesAreConfinedToTheThreadThatClaimedThem() throws {
        let env = try Environment(.init(path: temporaryDirectory()))
        #expect(env.mayWriteHere)
        var elsewhere = true
        var claimed = pthread_t()
        pthread_create(&claimed, nil, { raw in
            Unmanaged<Environment>.fromOpaque(raw!).takeUnretainedValue().claimWrites()
            return nil
        }, Unmanaged.passUnretained(env).toOpaque())
        pthread_join(claimed, nil)
        #if DEBUG
        elsewhere = env.mayWriteHere
        #expect(!elsewhere, "another thread claimed writing")
        #endif
        env.claimWrites()
        #expect(env.mayWriteHere)
        _ = elsewhere
    }

    @Test func cursorsWalkDuplicatesBothWays() throws {
        let env = try Environment(.init(path: temporaryDirectory()))
        let db = try env.openDatabases([("d", [.duplicateSort, .duplicateFixed])])[0]
        try env.write { txn in
            for seq: UInt64 in [3, 1, 7, 5] { try txn.put(db, key: [9], value: bigEndianBytes(seq)) }
            try txn.put(db, key: [8], value: bigEndianBytes(2))
        }
        let (forward, backward, fromFour) = try env.read { txn in
            try txn.withCursor(db) { cursor in
                var forward: [UInt64] = []
                var entry = try cursor.get(.key, key: [9])
                while let (_, v) = entry {
                    forward.append(readBigEndianUInt64(v))
                    entry = try cursor.get(.nextDuplicate)
                }
                var backward: [UInt64] = []
                entry = try cursor.get(.lastDuplicate)
                while let (_, v) = entry {
                    backward.append(readBigEndianUInt64(v))
                    entry = try cursor.get(.previousDuplicate)
                }
                let fromFour = try cursor.get(.valueRange, key: [9], value: bigEndianBytes(4)).map { readBigEndianUInt64($0.value) }
                return (forward, backward, fromFour)
            }
        }
        #expect(forward == [1, 3, 5, 7])
        #expect(backward == [7, 5, 3, 1])
        #expect(fromFour == 5)
    }

    @Test func appendRefusesOutOfOrderKeys() throws {
        let env = try Environment(.init(path: temporaryDirectory()))
        let db = try env.openDatabases([("r", [])])[0]
        try env.write { txn in try txn.put(db, key: bigEndianBytes(2), value: [1], flags: .append) }
        #expect(throws: LMDBError.self) {
            try env.write { txn in try txn.put(db, key: bigEndianBytes(1), value: [1], flags: .append) }
        }
    }

    @Test func theMapGrowsAndTheWriteIsKept() throws {
        let env = try Environment(.init(path: temporaryDirectory(), mapSize: 64 * 1024))
        let db = try env.openDatabases([("g", [])])[0]
        let before = env.mapSize
        var runs = 0
        try env.write { txn in
            runs += 1
            for i: UInt64 in 0..<2_000 { try txn.put(db, key: bigEndianBytes(i), value: [UInt8](repeating: 7, count: 200)) }
        }
        #expect(runs > 1)
        #expect(env.mapSize > before)
        #expect(try env.read { txn in try txn.count(db) } == 2_000)
    }

    @Test func aReadOnlyEnvironmentSeesCommittedData() throws {
        let path = temporaryDirectory()
        let env = try Environment(.init(path: path))
        let db = try env.openDatabases([("t", [])])[0]
        try env.write { txn in try txn.put(db, key: [1], value: [42]) }
        let reader = try Environment(.init(path: path, readOnly: true))
        let rdb = try reader.openDatabases([("t", [])])[0]
        #expect(try reader.read { txn in try txn.get(rdb, [1]).map(Array.init) } == [42])
        try env.write { txn in try txn.put(db, key: [2], value: [43]) }
        #expect(try reader.read { txn in try txn.count(rdb) } == 2)
        #expect(throws: LMDBError.self) { try reader.write { txn in try txn.put(rdb, key: [3], value: [1]) } }
    }

    @Test func errorsCarryTheCodeAndOperation() throws {
        let error = LMDBError(code: MDB_MAP_FULL, operation: "mdb_put records")
        #expect(error.isMapFull)
        #expect(error.description.contains("mdb_put records"))
        #expect(error.description.contains("MDB_MAP_FULL"))
    }
}
