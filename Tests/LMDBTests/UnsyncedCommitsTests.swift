import CLMDB
import Foundation
import TestSupport
import Testing

@testable import LMDB

/// Commits that skip their sync (the projection's): a marker of the boot is durable while they may
/// be unsynced, an environment left so by another boot is refused, one of this boot is adopted.
@Suite struct UnsyncedCommitsTests {
    static func flags(_ env: Environment) -> UInt32 {
        var flags: UInt32 = 0
        mdb_env_get_flags(env.handle, &flags)
        return flags
    }

    static func marker(_ path: String) -> String? { try? String(contentsOfFile: path + "/" + Environment.unsyncedMarkerName, encoding: .utf8) }

    @Test func skippedSyncsAreMarkedWithTheBootUntilResumed() throws {
        let path = Scratch.directory("unsynced")
        let env = try Environment(.init(path: path))
        let db = try env.openDatabases([("t", [])])[0]
        #expect(!env.skipsSyncs)
        #expect(Self.marker(path) == nil)

        try env.skipSyncs()
        #expect(env.skipsSyncs)
        #expect(Self.flags(env) & UInt32(MDB_NOSYNC) != 0)
        let boot = try #require(Environment.bootID, "this test runs on Linux")
        #expect(Self.marker(path) == boot)
        try env.write { txn in try txn.put(db, key: [1], value: [1]) }
        // This boot's marker: the data is in the page cache, nothing is torn.
        #expect(!Environment.leftUnsyncedByAnotherBoot(path: path))

        try env.resumeSyncs()
        #expect(!env.skipsSyncs)
        #expect(Self.flags(env) & UInt32(MDB_NOSYNC) == 0)
        #expect(Self.marker(path) == nil)
        #expect(try env.read { txn in try txn.get(db, [1]).map(Array.init) } == [1])
    }

    /// The boot's id from /proc, or where /proc hides it the variable the unit sets from `%b`
    /// (the same id without dashes).
    @Test func theBootIdComesFromProcOrTheUnit() throws {
        let proc = try String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8)
        let fromProc = Environment.bootID(file: "/proc/sys/kernel/random/boot_id", variable: nil)
        #expect(fromProc == proc.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "-", with: ""))
        #expect(Environment.bootID == fromProc)
        let hidden = Scratch.path("no-such-proc-file")
        #expect(Environment.bootID(file: hidden, variable: fromProc) == fromProc)
        #expect(Environment.bootID(file: hidden, variable: nil) == nil)
        #expect(Environment.bootID(file: hidden, variable: "") == nil)
    }

    @Test func anEnvironmentLeftUnsyncedByAnotherBootIsRefused() throws {
        let path = Scratch.directory("unsynced-other-boot")
        do {
            let env = try Environment(.init(path: path))
            let db = try env.openDatabases([("t", [])])[0]
            try env.write { txn in try txn.put(db, key: [1], value: [1]) }
            env.close()
        }
        #expect(!Environment.leftUnsyncedByAnotherBoot(path: path))
        try "00000000-another-boot\n".write(toFile: path + "/" + Environment.unsyncedMarkerName, atomically: false, encoding: .utf8)
        #expect(Environment.leftUnsyncedByAnotherBoot(path: path))
        #expect(throws: LMDBError.self) { try Environment(.init(path: path)) }
        #expect(throws: LMDBError.self) { try Environment(.init(path: path, readOnly: true)) }
        // A marker that says nothing is not trusted either.
        try "".write(toFile: path + "/" + Environment.unsyncedMarkerName, atomically: false, encoding: .utf8)
        #expect(Environment.leftUnsyncedByAnotherBoot(path: path))
    }

    @Test func anEnvironmentLeftUnsyncedByThisBootGoesOnSkippingUntilResumed() throws {
        let path = Scratch.directory("unsynced-this-boot")
        do {
            let env = try Environment(.init(path: path))
            let db = try env.openDatabases([("t", [])])[0]
            try env.skipSyncs()
            try env.write { txn in try txn.put(db, key: [1], value: [1]) }
            env.close()  // as a process killed here would: the marker stays
        }
        #expect(Self.marker(path) != nil)
        let reader = try Environment(.init(path: path, readOnly: true))
        #expect(Self.marker(path) != nil, "a reader changes nothing")
        reader.close()
        let env = try Environment(.init(path: path))
        #expect(Self.marker(path) != nil)
        #expect(env.skipsSyncs)
        #expect(Self.flags(env) & UInt32(MDB_NOSYNC) != 0)
        let db = try env.openDatabases([("t", [])])[0]
        #expect(try env.read { txn in try txn.get(db, [1]).map(Array.init) } == [1])
        try env.resumeSyncs()
        #expect(Self.marker(path) == nil)
        #expect(!env.skipsSyncs)
        #expect(Self.flags(env) & UInt32(MDB_NOSYNC) == 0)
    }
}
