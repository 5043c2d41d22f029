import EventModel
import LMDB
import Transparency

/// When and with which key the writer signs checkpoints of the tree.
public struct CheckpointPolicy: Sendable {
    public var signer: NoteSigner
    /// Sign once this many events were appended since the last checkpoint…
    public var everyEvents: UInt64
    /// …or once this many seconds passed with new events.
    public var everySeconds: Int64

    public init(signer: NoteSigner, everyEvents: UInt64 = 10_000, everySeconds: Int64 = 60) {
        self.signer = signer
        self.everyEvents = everyEvents
        self.everySeconds = everySeconds
    }
}

/// A signed checkpoint the log stored: the C2SP note and when it was signed.
public struct StoredCheckpoint: Sendable, Equatable {
    public var treeSize: UInt64
    public var signedAt: Instant
    /// The signed note, byte for byte as signed.
    public var note: String

    static func decode(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) -> StoredCheckpoint {
        StoredCheckpoint(
            treeSize: readBigEndianUInt64(key), signedAt: Instant(sortableBytes: value),
            note: String(decoding: UnsafeRawBufferPointer(rebasing: value[12...]), as: UTF8.self))
    }

    var storedValue: [UInt8] { signedAt.sortableBytes + Array(note.utf8) }
}

extension EventLog {
    /// Signs and stores a checkpoint of everything committed so far, or returns the last one when
    /// nothing was appended since. Throws `.unsigned` without a signing key.
    public func signCheckpoint() async throws -> StoredCheckpoint {
        guard let writer else { throw LogError(.closed, "the ledger is open read-only") }
        guard configuration.checkpoints != nil else { throw LogError(.unsigned, "no checkpoint signing key is configured") }
        return try await writer.checkpoint()
    }

    /// The checkpoint of the largest tree stored, if any (blocking).
    public func latestCheckpoint() throws -> StoredCheckpoint? {
        try store.environment.read { txn in try Store.latestCheckpoint(txn, store.checkpoints) }
    }

    /// The `count` checkpoints of the largest trees, newest first (blocking): read from the end, so
    /// the cost does not grow with the ledger's age.
    public func latestCheckpoints(_ count: Int) throws -> [StoredCheckpoint] {
        try store.environment.read { txn in
            try txn.withCursor(store.checkpoints) { cursor in
                var out: [StoredCheckpoint] = []
                var entry = try cursor.get(.last)
                while let (key, value) = entry, out.count < count {
                    out.append(StoredCheckpoint.decode(key: key, value: value))
                    entry = try cursor.get(.previous)
                }
                return out
            }
        }
    }

    /// Stored checkpoints of trees larger than `afterSize` (nil: every size, the empty tree's included),
    /// signed at or after `since`, oldest first (blocking).
    public func checkpoints(since: Instant?, afterSize: UInt64? = nil, limit: Int) throws -> [StoredCheckpoint] {
        try store.environment.read { txn in
            try Store.checkpoints(txn, store.checkpoints, since: since, afterSize: afterSize, limit: limit)
        }
    }
}

extension Store {
    static func latestCheckpoint(_ txn: borrowing ReadTransaction, _ checkpoints: Database) throws -> StoredCheckpoint? {
        try txn.withCursor(checkpoints) { cursor in
            try cursor.get(.last).map { StoredCheckpoint.decode(key: $0.key, value: $0.value) }
        }
    }

    static func checkpoints(
        _ txn: borrowing ReadTransaction, _ checkpoints: Database, since: Instant? = nil, afterSize: UInt64? = nil, limit: Int = .max
    ) throws -> [StoredCheckpoint] {
        try txn.withCursor(checkpoints) { cursor in
            var out: [StoredCheckpoint] = []
            var entry: Cursor.Entry?
            switch afterSize {
            case nil: entry = try cursor.get(.first)
            case .max?: entry = nil
            case let size?: entry = try cursor.get(.keyRange, key: bigEndianBytes(size + 1))
            }
            while let (key, value) = entry, out.count < limit {
                let checkpoint = StoredCheckpoint.decode(key: key, value: value)
                if since.map({ checkpoint.signedAt >= $0 }) ?? true { out.append(checkpoint) }
                entry = try cursor.get(.next)
            }
            return out
        }
    }
}
