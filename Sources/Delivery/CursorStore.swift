import EventLog
import LMDB
import NIOPosix

/// Where each sink keeps how far it has delivered: a small LMDB environment of its own
/// (`<data>/delivery`), so delivery never writes into the log's. A cursor is saved only after the
/// sink accepted what precedes it, which makes delivery at least once across restarts and kill -9.
final class CursorStore: Sendable {
    private let environment: Environment
    private let cursors: Database
    /// The one thread that writes (LMDB allows one writer; blocking commits stay off the cooperative pool).
    private let writer: NIOThreadPool

    init(path: String) throws {
        environment = try Environment(.init(path: path, mapSize: 64 << 20, maxReaders: 16, maxDatabases: 2))
        cursors = try environment.openDatabases([("cursors", [])])[0]
        writer = NIOThreadPool(numberOfThreads: 1)
        writer.start()
    }

    /// The saved cursor of `name`, or nil for a route that never delivered.
    func load(_ name: String) throws -> String? {
        try environment.read { txn in
            try txn.get(cursors, Self.key(name)).map { String(decoding: $0, as: UTF8.self) }
        }
    }

    func save(_ name: String, _ cursor: String) async throws {
        let (environment, cursors) = (environment, cursors)
        try await writer.runIfActive {
            environment.claimWrites()
            try environment.write { txn in try txn.put(cursors, key: Self.key(name), value: Array(cursor.utf8)) }
        }
    }

    func close() async {
        try? await writer.shutdownGracefully()
        environment.close()
    }

    /// Route names are short words; a long one (many alert kinds) is cut to LMDB's key limit.
    private static func key(_ name: String) -> [UInt8] { Array(name.utf8.prefix(500)) }
}
