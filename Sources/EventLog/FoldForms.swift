import EventModel
import LMDB
import Zstd

/// The log's fold forms (`FoldForm`): what a fold reads of each record, kept in `foldforms` so that a
/// projection rebuilt from the log reads a few bytes an event instead of decoding every record's JSON,
/// which was most of a rebuild's reading (issue 10, BENCHMARKS.md).
///
/// Derived data, like the indexes: each form is made from the event as it is queued, on the caller's
/// thread (`QueuedEvent`); the writer gathers them and stores a block of `LogConfiguration.foldFormBlock`
/// consecutive seqs in the transaction that appends the block's last record, under that last seq
/// (8 bytes, big-endian): how many forms it holds (a varint), then one zstd frame of the forms, each
/// after its length. A block is large enough to compress well without a dictionary. Keyed by its last
/// seq, the block holding a seq is the first at or after it, whatever the sizes of the blocks.
///
/// Records with no form are decoded from their JSON: those of the unfinished block (on open the writer
/// reads them back), those appended before the log kept forms until the writer, while idle, has made
/// their blocks too (`gap`), and every record of a block that does not read back (reported once).
/// `verify` with indexes checks every form against its record.
enum FoldForms {
    static let databaseName = "foldforms"
    /// The most forms a block holds (`LogConfiguration.foldFormBlock` is kept to it).
    static let mostPerBlock = 4_096
    /// The largest block a damaged frame may claim to hold.
    static let largestBlock = mostPerBlock * (FoldForm.largestForm + 8)

    /// The first seq of the block stored under `last` (its value: how many forms ‖ the frame), and the
    /// reader left at the frame. Throws when the count does not read, `FoldForm.Malformed` when it
    /// cannot be.
    static func start(ofBlockEndingAt last: UInt64, _ stored: UnsafeRawBufferPointer) throws -> (first: UInt64, frame: ByteReader) {
        var header = ByteReader(stored)
        let count = try header.int()
        guard count > 0, UInt64(count) <= last else { throw FoldForm.Malformed() }
        return (last - UInt64(count) + 1, header)
    }
}

/// Forms of consecutive seqs from `first`, each after its length: the writer's since its last stored
/// block, or those one transaction adds.
struct FoldFormRun {
    private(set) var first: UInt64
    private var forms = ByteWriter(capacity: 0)
    private(set) var count = 0

    init(first: UInt64) { self.first = first }

    var bytes: [UInt8] { forms.bytes }

    mutating func add(_ form: [UInt8]) {
        forms.write(form.count)
        forms.append(form)
        count += 1
    }

    /// The forms of the seqs that follow.
    mutating func append(_ later: FoldFormRun) {
        precondition(later.first == first + UInt64(count), "fold forms must be gapless")
        forms.append(later.bytes)
        count += later.count
    }

    /// The writer's run on open: the forms of the records after the last block, read back from the
    /// records. When there are a block's worth or more (the ledger was written before it kept forms),
    /// forms start with the next record instead, and the earlier ones are the gap (`gap`).
    static func resume(
        head: UInt64, blockSize: Int, _ txn: borrowing ReadTransaction, _ store: Store, _ reader: borrowing RecordReader
    ) throws -> FoldFormRun {
        let lastBlockEnd = try txn.withCursor(store.foldForms!) { cursor in try cursor.get(.last).map { readBigEndianUInt64($0.key) } } ?? 0
        guard lastBlockEnd < head, head - lastBlockEnd < UInt64(blockSize) else { return FoldFormRun(first: head + 1) }
        // Records missing on disk (the writer then refuses appends anyway): forms start after the head.
        return try read(from: lastBlockEnd + 1, through: head, txn, store.records, reader) ?? FoldFormRun(first: head + 1)
    }

    /// The records below `first` that no block holds: those of a ledger written before the log kept
    /// forms, below its first block. The writer makes their blocks while it is idle, the highest first
    /// (`Writer.fillFormGap`), so the gap stays below every block and one look at the first block finds
    /// it on open, however long the ledger. (Blocks are written gapless above it; only a block size
    /// lowered between two runs could leave records between blocks, and a rebuild decodes those.)
    static func gap(below first: UInt64, _ txn: borrowing ReadTransaction, _ store: Store) throws -> ClosedRange<UInt64>? {
        let lowestBlockStart = try txn.withCursor(store.foldForms!) { cursor in
            try cursor.get(.first).map { entry -> UInt64 in
                let last = readBigEndianUInt64(entry.key)
                // A block whose header does not read is taken as one record's: verify names it.
                return (try? FoldForms.start(ofBlockEndingAt: last, entry.value).first) ?? last
            }
        } ?? first
        return lowestBlockStart > 1 ? 1...(lowestBlockStart - 1) : nil
    }

    /// The forms of the records `first...through` as they stand in the log; nil when one is missing.
    static func read(
        from first: UInt64, through: UInt64, _ txn: borrowing ReadTransaction, _ records: Database, _ reader: borrowing RecordReader
    ) throws -> FoldFormRun? {
        var run = FoldFormRun(first: first)
        var decoder = StoredEvent.FoldDecoder()
        return try txn.withCursor(records) { cursor in
            var entry = try cursor.get(.keyRange, key: bigEndianBytes(first))
            while let (key, value) = entry, first + UInt64(run.count) <= through {
                guard readBigEndianUInt64(key) == first + UInt64(run.count) else { return nil }
                run.add(reader.decodeForFold(value, using: &decoder).map { FoldForm.bytes(of: $0.envelope) } ?? FoldForm.undecodableForm)
                entry = try cursor.get(.next)
            }
            return first + UInt64(run.count) == through + 1 ? run : nil
        }
    }
}

/// Compresses and stores blocks of forms: the writer thread's.
struct FoldFormBlockWriter {
    private let compressor = ZstdCompressor(level: 1)
    let database: Database

    init(database: Database) { self.database = database }

    /// The block of `count` forms ending at `last`, made of `parts` (runs' bytes, in seq order);
    /// `append`: after every block stored (a gap's block goes before some).
    func store(last: UInt64, count: Int, _ parts: [[UInt8]], append: Bool = true, _ txn: borrowing WriteTransaction) throws {
        let block = parts.count == 1 ? parts[0] : Array(parts.joined())
        var value = ByteWriter(capacity: block.count / 3)
        value.write(count)
        try block.withUnsafeBytes { input in
            try compressor.compress(input, dictionary: nil) { frame in
                try txn.put(database, key: bigEndianBytes(last), value: value.bytes + frame, flags: append ? .append : [])
            }
        }
    }
}

/// Reads blocks of forms for one scan (one thread).
struct FoldFormBlockReader {
    private let decompressor = ZstdDecompressor(limit: FoldForms.largestBlock)
    let database: Database

    init(database: Database) { self.database = database }

    /// The forms from `seq` on, at most up to `last`, in seq order, when the block holding `seq` is
    /// stored and reads back; else nil, and the seq where the next block starts (`.max`: none), before
    /// which the records are read instead. A block that does not read back is `reported`.
    func read(
        from seq: UInt64, through last: UInt64, _ txn: borrowing ReadTransaction, reported: (UInt64) -> Void
    ) throws -> (forms: [FoldForm.Reading]?, nextBlock: UInt64) {
        var events: [StoredEvent] = []
        var forms: [FoldForm.Reading] = []
        let (found, nextBlock) = try read(from: seq, through: last, txn, reported: reported, appendingTo: &events) { _, kind, events in
            switch kind {
            case .event: forms.append(.event(events.removeLast()))
            case .undecodable: forms.append(.undecodable)
            case .inRecord: forms.append(.inRecord)
            }
        }
        return (found ? forms : nil, nextBlock)
    }

    /// The same, each form's event appended to `events` as it is read (a rebuild's batch: not
    /// gathered into a list of forms first, then moved), and `each` told of every form with its seq.
    /// `found` false: none was read, or a block that did not read back to its end was, and the caller
    /// drops what it was given.
    func read(
        from seq: UInt64, through last: UInt64, _ txn: borrowing ReadTransaction, reported: (UInt64) -> Void,
        appendingTo events: inout [StoredEvent], each: (UInt64, FoldForm.Kind, inout [StoredEvent]) throws -> Void
    ) throws -> (found: Bool, nextBlock: UInt64) {
        // The value's bytes stay valid until the read transaction ends: read in place, not copied.
        let found = try txn.withCursor(database) { cursor in
            try cursor.get(.keyRange, key: bigEndianBytes(seq)).map { (readBigEndianUInt64($0.key), $0.value) }
        }
        guard let (blockEnd, stored) = found else { return (false, .max) }
        do {
            return try forms(from: seq, through: last, blockEnd: blockEnd, stored, &events, each)
        } catch is FoldForm.Malformed {
            reported(blockEnd)
            return (false, blockEnd + 1)
        }
    }

    private func forms(
        from seq: UInt64, through last: UInt64, blockEnd: UInt64, _ stored: UnsafeRawBufferPointer,
        _ events: inout [StoredEvent], _ each: (UInt64, FoldForm.Kind, inout [StoredEvent]) throws -> Void
    ) throws -> (found: Bool, nextBlock: UInt64) {
        let (blockStart, frame) = try FoldForms.start(ofBlockEndingAt: blockEnd, stored)
        guard blockStart <= seq else { return (false, blockStart) }
        guard let block = try? decompressor.decompress(UnsafeRawBufferPointer(rebasing: stored[(stored.count - frame.remaining)...]), dictionary: nil) else {
            throw FoldForm.Malformed()
        }
        let through = min(last, blockEnd)
        var r = ByteReader(block)
        var at = blockStart
        while at <= through {
            let kind: FoldForm.Kind
            do {
                let length = try r.int()
                if at < seq {
                    try r.skip(length)
                    at += 1
                    continue
                }
                var form = ByteReader(try r.slice(length))
                kind = try FoldForm.read(&form, seq: at, appendingTo: &events)
                guard form.isAtEnd else { throw FoldForm.Malformed() }
            } catch {
                throw FoldForm.Malformed()
            }
            try each(at, kind, &events)
            at += 1
        }
        return (true, blockEnd + 1)
    }
}
