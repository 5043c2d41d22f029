import Synchronization

/// The index entries of the events past the watermark: appended and durable, not yet folded
/// into the LMDB indexes. Reads merge it with LMDB so that every read is exact, and a client
/// that got its 201 finds its own event at once.
struct TailIndex: Sendable {
    /// Every event ≤ `base` is in the LMDB indexes.
    private(set) var base: UInt64
    /// The last event in the tail (`base` when empty).
    private(set) var head: UInt64
    /// Per index kind: key → seqs in ascending order.
    private(set) var postings: [[IndexKey: [UInt64]]]

    /// `sizedLike` presizes the maps to a previous tail's, sparing the rehashing as the tail refills.
    init(base: UInt64, sizedLike previous: TailIndex? = nil) {
        self.base = base
        self.head = base
        self.postings = IndexKind.allCases.map { kind in
            var map: [IndexKey: [UInt64]] = [:]
            map.reserveCapacity(previous?.postings[kind.rawValue].count ?? 0)
            return map
        }
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

    func seqs(_ kind: IndexKind, _ key: [UInt8]) -> [UInt64] { postings[kind.rawValue][IndexKey(key)] ?? [] }

    /// Seqs under every key of `kind` that starts with `prefix`, ascending.
    func seqs(_ kind: IndexKind, prefix: [UInt8]) -> [UInt64] {
        var out: [UInt64] = []
        for (key, seqs) in postings[kind.rawValue] where key.starts(with: prefix) {
            out.append(contentsOf: seqs)
        }
        return out.sorted()
    }

    /// The distinct keys of one index kind.
    func keys(_ kind: IndexKind) -> [[UInt8]] { postings[kind.rawValue].keys.map(\.bytes) }

    /// Seqs of events whose time lies in `low ... high` (sortable time keys), ascending.
    func seqs(timeFrom low: [UInt8], through high: [UInt8]) -> [UInt64] {
        var out: [UInt64] = []
        let low = IndexKey(low)
        let high = IndexKey(high)
        for (key, seqs) in postings[IndexKind.time.rawValue] where !(key < low) && !(high < key) {
            out.append(contentsOf: seqs)
        }
        return out.sorted()
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
