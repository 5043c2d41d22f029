import EventModel
import LMDB
import TestSupport
import Testing

@testable import Projector

/// A table's puts reach LMDB sorted by key (through one cursor), yet what is stored is what the puts
/// said in the order they were made.
@Suite struct EncodedWritesTests {
    @Test func putsInAnyOrderStoreWhatWasPutAndTheLaterOfTwoWins() throws {
        let env = try Environment(.init(path: Scratch.directory("ledger-encoded-writes")))
        let databases = try env.openDatabases([("a", []), ("b", [])])
        let (a, b) = (databases[0], databases[1])
        try env.write { txn in try txn.put(a, key: Array("gone".utf8), value: [1]) }

        var writes = EncodedWrites()
        func put(_ key: String, _ value: String) {
            writes.put(key: { $0.appendUTF8(key) }, value: { $0.appendUTF8(value) })
        }
        // Out of order, keys that are prefixes of others, a key put twice; then another table's.
        for (key, value) in [("m", "1"), ("b", "2"), ("mm", "3"), ("a", "4"), ("m", "5"), ("z", "6"), ("c", "9")] { put(key, value) }
        writes.delete { $0.appendUTF8("gone") }
        try env.write { txn in
            try writes.write(txn, into: a)
            writes.removeAll()
            put("y", "7")
            put("x", "8")
            try writes.write(txn, into: b)
        }

        let stored = try env.read { txn in
            try [a, b].map { database in
                try txn.withCursor(database) { cursor in
                    var out: [String] = []
                    var entry = try cursor.get(.first)
                    while let (key, value) = entry {
                        out.append(String(decoding: key, as: UTF8.self) + "=" + String(decoding: value, as: UTF8.self))
                        entry = try cursor.get(.next)
                    }
                    return out
                }
            }
        }
        #expect(stored[0] == ["a=4", "b=2", "c=9", "m=5", "mm=3", "z=6"])
        #expect(stored[1] == ["x=8", "y=7"])
    }

    /// The store writes a batch a table at a time through one `EncodedWrites`, emptied between tables:
    /// what one table put is not written again with the next.
    @Test func emptiedWritesWriteOnlyWhatFollows() throws {
        let env = try Environment(.init(path: Scratch.directory("ledger-encoded-writes-emptied")))
        let databases = try env.openDatabases([("a", []), ("b", [])])
        let (a, b) = (databases[0], databases[1])
        try env.write { txn in try txn.put(a, key: Array("k".utf8), value: Array("0".utf8)) }

        var writes = EncodedWrites()
        writes.put(key: { $0.appendUTF8("k") }, value: { $0.appendUTF8("1") })
        writes.delete { $0.appendUTF8("k") }
        writes.removeAll()
        writes.put(key: { $0.appendUTF8("x") }, value: { $0.appendUTF8("2") })
        try env.write { txn in try writes.write(txn, into: b) }

        let (inA, inB) = try env.read { txn in
            (try txn.get(a, Array("k".utf8)).map { String(decoding: $0, as: UTF8.self) }, try txn.get(b, Array("x".utf8)).map { String(decoding: $0, as: UTF8.self) })
        }
        #expect(inA == "0")
        #expect(inB == "2")
    }
}
