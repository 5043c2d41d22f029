import Synchronization

/// The index entries of the events past the watermark: appended and durable, not yet folded
/// into the LMDB indexes. Reads merge it with LMDB so that every read is exact, and a client
/// that got its 201 finds its own event at once.
///
/// A fold writes one index per transaction, appends committed between them (`Writer.fold`). Its
/// events stay readable here, as `folding`, until its last transaction moves the watermark; the
/// events appended meanwhile gather in `postings`. Reads take only LMDB's entries up to the
/// watermark, so the indexes a fold has written ahead of it are never counted twice.
struct TailIndex: Sendable {
    /// Every event ≤ `base` is in the LMDB indexes.
    private(set) var base: UInt64
    /// The last event in the tail (`base` when empty).
    private(set) var head: UInt64
    /// Per index kind: key → seqs in ascending order, of the events past `folding` (or `base`).
    private(set) var postings: [[IndexKey: [UInt64]]]
    /// The events a fold is writing into LMDB: `base` < seq ≤ its `head`.
    private(set) var folding: Frozen?

    struct Frozen: Sendable {
        let head: UInt64
        let postings: [[IndexKey: [UInt64]]]
    }

    init(base: UInt64) {
        self.base = base
        self.head = base
        self.postings = IndexKind.allCases.map { _ in [:] }
    }

    var count: Int { Int(head - base) }
    var isEmpty: Bool { head == base }

    mutating func add(seq: UInt64, entries: [(IndexKind, [UInt8])]) {
        precondition(seq == head + 1, "tail seqs must be gapless")
        head = seq
        for (kind, key) in entries {
            postings[kind.rawValue][IndexKey(key), default: []].append(seq)
        }
    }

    /// Seqs under `key`, ascending: the folding events' come first, as they are all older.
    func seqs(_ kind: IndexKind, _ key: [UInt8]) -> [UInt64] {
        let key = IndexKey(key)
        let newer = postings[kind.rawValue][key] ?? []
        guard let older = folding?.postings[kind.rawValue][key] else { return newer }
        return older + newer
    }

    /// Seqs under every key of `kind` that starts with `prefix`, ascending.
    func seqs(_ kind: IndexKind, prefix: [UInt8]) -> [UInt64] {
        var out: [UInt64] = []
        for map in maps(kind) {
            for (key, seqs) in map where key.starts(with: prefix) { out.append(contentsOf: seqs) }
        }
        return out.sorted()
    }

    /// The distinct keys of one index kind.
    func keys(_ kind: IndexKind) -> [[UInt8]] {
        guard let folding else { return postings[kind.rawValue].keys.map(\.bytes) }
        return Set(folding.postings[kind.rawValue].keys).union(postings[kind.rawValue].keys).map(\.bytes)
    }

    /// Seqs of events whose time lies in `low ... high` (sortable time keys), ascending.
    func seqs(timeFrom low: [UInt8], through high: [UInt8]) -> [UInt64] {
        var out: [UInt64] = []
        let low = IndexKey(low)
        let high = IndexKey(high)
        for map in maps(.time) {
            for (key, seqs) in map where !(key < low) && !(high < key) { out.append(contentsOf: seqs) }
        }
        return out.sorted()
    }

    private func maps(_ kind: IndexKind) -> [[IndexKey: [UInt64]]] {
        [folding?.postings[kind.rawValue], postings[kind.rawValue]].compactMap { $0 }
    }

    /// A fold starts: the events so far become `folding`, and new ones gather apart (in maps
    /// presized to those, sparing the rehashing as the tail refills).
    mutating func freeze() -> Frozen {
        precondition(folding == nil, "one fold at a time")
        let frozen = Frozen(head: head, postings: postings)
        folding = frozen
        postings = postings.map { map in
            var fresh: [IndexKey: [UInt64]] = [:]
            fresh.reserveCapacity(map.count)
            return fresh
        }
        return frozen
    }

    /// The fold's last transaction moved the watermark to its head: its events are LMDB's now.
    mutating func folded() {
        guard let folding else { preconditionFailure("no fold in progress") }
        base = folding.head
        self.folding = nil
    }
}

/// The tail, shared between the writer (the only one that changes it) and the readers.
final class SharedTail: Sendable {
    private let state: Mutex<TailIndex>

    init(_ tail: TailIndex) { state = Mutex(tail) }

    func withLock<R>(_ body: (inout TailIndex) throws -> R) rethrows -> R {
        try state.withLock { try body(&$0) }
    }
}
