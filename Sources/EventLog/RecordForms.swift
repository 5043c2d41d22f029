import EventModel
import LMDB
import Logging
import Synchronization
import Zstd
#if canImport(Glibc)
import Glibc
#endif

/// How a record's canonical bytes sit in `records`, after its 32-byte chain hash: as they are (their first
/// byte is `{`: records of format 2 and those written before the log had a dictionary), or compressed:
/// `0x00`, the dictionary's number (2 bytes, big-endian), then a zstd frame without its magic number.
///
/// The chain hash, the Merkle leaves, the export and every answer are over the canonical bytes; only
/// what is on disk shrinks (spec 8: bytes per event). Dictionaries are trained on the ledger's own
/// records (`DictionarySchedule`), stored in `meta` under `dictionary/` and the number, each in the
/// transaction that first writes a record compressed with it, and never change once written.
final class RecordForms: @unchecked Sendable {
    static let compressedTag: UInt8 = 0
    static let dictionaryKeyPrefix: [UInt8] = Array("dictionary/".utf8)
    /// The largest canonical record a frame may claim (a request body's limit): a damaged frame cannot claim more memory.
    static let largestRecord = 16 << 20

    private let environment: Environment
    private let meta: Database
    private let dictionaries = Mutex<[UInt16: ZstdDictionary]>([:])
    /// Decoders lent to readers (a zstd context each): as many as reads ever ran at once.
    private let decoders = Mutex<[RecordDecoder]>([])

    init(environment: Environment, meta: Database) {
        self.environment = environment
        self.meta = meta
    }

    static func dictionaryKey(_ number: UInt16) -> [UInt8] { dictionaryKeyPrefix + [UInt8(number >> 8), UInt8(number & 0xFF)] }

    /// The stored value of a dictionary: the seq it was trained through (8 bytes), then its bytes.
    static func dictionaryValue(trainedThrough: UInt64, _ bytes: [UInt8]) -> [UInt8] { bigEndianBytes(trainedThrough) + bytes }

    /// A stored dictionary value (`dictionaryValue`) loaded; nil when it is damaged.
    private static func dictionary(stored value: UnsafeRawBufferPointer) -> ZstdDictionary? {
        value.count > 8 ? try? ZstdDictionary(bytes: Array(value[8...])) : nil
    }

    /// The newest dictionary that loads, with the seq it was trained through, for the writer to go on
    /// with; and the highest number stored, so a new dictionary never takes the place of a damaged one.
    func newest(_ txn: borrowing ReadTransaction) throws -> (
        highestNumber: UInt16, newest: (number: UInt16, trainedThrough: UInt64, dictionary: ZstdDictionary)?
    ) {
        try txn.withCursor(meta) { cursor in
            var highest: UInt16 = 0
            var newest: (number: UInt16, trainedThrough: UInt64, dictionary: ZstdDictionary)?
            var entry = try cursor.get(.keyRange, key: Self.dictionaryKeyPrefix)
            while let (key, value) = entry, key.starts(with: Self.dictionaryKeyPrefix) {
                if key.count == Self.dictionaryKeyPrefix.count + 2 {
                    let number = UInt16(key[key.count - 2]) << 8 | UInt16(key[key.count - 1])
                    highest = max(highest, number)
                    // A damaged one is left out: its records read as damaged, and verify names them.
                    if let dictionary = Self.dictionary(stored: value) {
                        dictionaries.withLock { $0[number] = dictionary }
                        newest = (number, readBigEndianUInt64(value), dictionary)
                    }
                }
                entry = try cursor.get(.next)
            }
            return (highest, newest)
        }
    }

    /// Called by the writer once a dictionary is committed, so reads need not look it up.
    func adopt(_ number: UInt16, _ dictionary: ZstdDictionary) {
        dictionaries.withLock { $0[number] = dictionary }
    }

    /// The canonical bytes of a record stored as `stored` (the value after its chain hash), inside `body`.
    /// A compressed form that does not decompress (altered on disk, or its dictionary gone) is handed
    /// over as stored: it never starts with `{`, so it fails to decode and to hash like any damaged record.
    /// A scan of many records takes one `reader()` for all of them: no lock per record.
    func withCanonical<R>(_ stored: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        guard stored.first == Self.compressedTag else { return try body(stored) }
        return try reader().withCanonical(stored, body)
    }

    /// A reader for one thread's scan; its decoder goes back to the pool when the reader goes out of scope.
    func reader() -> RecordReader {
        RecordReader(decoder: decoders.withLock { $0.popLast() } ?? RecordDecoder(self), forms: self)
    }

    fileprivate func giveBack(_ decoder: RecordDecoder) { decoders.withLock { $0.append(decoder) } }

    /// The canonical bytes of a record as an array.
    func canonical(_ stored: UnsafeRawBufferPointer) -> [UInt8] { withCanonical(stored) { Array($0) } }

    /// A dictionary by number: from memory, else from `meta` (another process may have written it since).
    fileprivate func dictionary(_ number: UInt16) -> ZstdDictionary? {
        if let known = dictionaries.withLock({ $0[number] }) { return known }
        let loaded = try? environment.read { txn in try txn.get(meta, Self.dictionaryKey(number)).flatMap(Self.dictionary(stored:)) }
        guard let loaded else { return nil }
        dictionaries.withLock { $0[number] = loaded }
        return loaded
    }
}

/// Reads records' canonical bytes on one thread, through a decoder lent from the pool and given back
/// when the reader ends: it cannot outlive its scan, nor be shared by two threads.
struct RecordReader: ~Copyable {
    fileprivate let decoder: RecordDecoder
    fileprivate let forms: RecordForms

    deinit { forms.giveBack(decoder) }

    /// As `RecordForms.withCanonical`.
    func withCanonical<R>(_ stored: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try decoder.withCanonical(stored, body)
    }

    func canonical(_ stored: UnsafeRawBufferPointer) -> [UInt8] { withCanonical(stored) { Array($0) } }

    /// A stored value of `records` (chain hash ‖ record) decoded for a fold, or nil when it does not decode.
    func decodeForFold(_ value: UnsafeRawBufferPointer, using decoder: inout StoredEvent.FoldDecoder) -> StoredEvent? {
        value.count <= 32 ? nil : withCanonical(UnsafeRawBufferPointer(rebasing: value[32...])) { try? decoder.decode($0) }
    }
}

/// A zstd context and the dictionaries it met, so a scan of a million records takes no lock per record.
/// Used by one reader at a time.
private final class RecordDecoder: @unchecked Sendable {
    private let forms: RecordForms
    private let decompressor = ZstdDecompressor(limit: RecordForms.largestRecord)
    private var dictionaries: [UInt16: ZstdDictionary] = [:]

    init(_ forms: RecordForms) { self.forms = forms }

    func withCanonical<R>(_ stored: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        guard stored.count > 3, stored[0] == RecordForms.compressedTag else { return try body(stored) }
        let number = UInt16(stored[1]) << 8 | UInt16(stored[2])
        let dictionary: ZstdDictionary
        if let known = dictionaries[number] {
            dictionary = known
        } else if let loaded = forms.dictionary(number) {
            dictionaries[number] = loaded
            dictionary = loaded
        } else {
            return try body(stored)
        }
        guard let canonical = try? decompressor.decompress(UnsafeRawBufferPointer(rebasing: stored[3...]), dictionary: dictionary) else {
            return try body(stored)
        }
        return try body(canonical)
    }
}

/// When the writer trains a dictionary, and how big. The records before the first one stay as they are.
public struct DictionarySchedule: Sendable {
    /// The first dictionary is trained once the log holds this many records.
    public var firstAfter: UInt64 = 4096
    /// Then a new one each time this many more were appended, trained on the latest: what a ledger holds drifts.
    public var every: UInt64 = 1 << 20
    /// Records it is trained on: the latest ones.
    public var samples: Int = 4096
    public var capacity: Int = 16 * 1024

    public init() {}
}

/// The writer's side: compresses records under the newest dictionary, and trains the next one on a
/// thread of its own when the schedule says (training takes ~0.1 s; appends do not wait for it).
final class RecordCompressor {
    typealias Installed = (number: UInt16, trainedThrough: UInt64, dictionary: ZstdDictionary)

    /// What the training thread hands back.
    private final class Training: Sendable {
        /// The seq it was trained through and the dictionary, until the writer stores it.
        let result = Mutex<(UInt64, ZstdDictionary)?>(nil)
        let finished = Atomic<Bool>(false)
        let failed = Atomic<Bool>(false)
    }

    private let store: Store
    /// Nil: no dictionary is trained, and records are stored as they are unless the log already has one.
    private let schedule: DictionarySchedule?
    private let compressor = ZstdCompressor()
    private let logger: Logger
    private(set) var current: (number: UInt16, dictionary: ZstdDictionary)?
    /// The highest dictionary number stored; the next one takes the number after it.
    private var highestNumber: UInt16
    private var nextTraining: UInt64
    private var training: (thread: pthread_t, state: Training)?

    init(store: Store, schedule: DictionarySchedule?, logger: Logger) throws {
        self.store = store
        self.schedule = schedule
        self.logger = logger
        let (highestNumber, newest) = try store.environment.read { txn in try store.forms.newest(txn) }
        self.highestNumber = highestNumber
        current = newest.map { ($0.number, $0.dictionary) }
        nextTraining = schedule.map { schedule in newest.map { $0.trainedThrough + schedule.every } ?? schedule.firstAfter } ?? .max
    }

    /// A dictionary trained and not yet stored, numbered after the current one: the writer stores it in
    /// the transaction it is about to write, and compresses that transaction's records with it.
    func waiting() -> Installed? {
        guard highestNumber < .max, let (through, dictionary) = training?.state.result.withLock({ $0 }) else { return nil }
        return (highestNumber + 1, through, dictionary)
    }

    /// After the commit that stored it.
    func adopt(_ installed: Installed) {
        training?.state.result.withLock { $0 = nil }
        highestNumber = installed.number
        current = (installed.number, installed.dictionary)
        store.forms.adopt(installed.number, installed.dictionary)
    }

    /// `record` as stored after its chain hash, as a prefix and bytes: under `dictionary` when that makes it smaller.
    func withStoredForm<R>(
        _ record: [UInt8], _ dictionary: (number: UInt16, dictionary: ZstdDictionary)?, _ body: ([UInt8], UnsafeRawBufferPointer) throws -> R
    ) throws -> R {
        try record.withUnsafeBytes { raw in
            guard let (number, dictionary) = dictionary else { return try body([], raw) }
            return try compressor.compress(raw, dictionary: dictionary) { frame in
                guard frame.count + 3 < raw.count else { return try body([], raw) }
                return try body([RecordForms.compressedTag, UInt8(number >> 8), UInt8(number & 0xFF)], frame)
            }
        }
    }

    /// After each commit: starts training when the head passed the schedule's next point, unless a
    /// training runs or its dictionary still waits to be stored.
    func trainIfDue(head: UInt64) {
        if let (thread, state) = training {
            guard state.finished.load(ordering: .acquiring), state.result.withLock({ $0 == nil }) else { return }
            pthread_join(thread, nil)
            training = nil
            // Too few or too alike records teach nothing yet: try again a first interval later.
            if state.failed.load(ordering: .relaxed), let schedule { nextTraining = head + schedule.firstAfter }
        }
        guard let schedule, head >= nextTraining else { return }
        nextTraining = head + schedule.every
        let (store, logger, state) = (store, logger, Training())
        let thread = startThread(named: "ledger-zdict") {
            defer { state.finished.store(true, ordering: .releasing) }
            do {
                let samples = try Self.latestRecords(schedule.samples, through: head, store)
                let dictionary = try ZstdDictionary(bytes: ZstdDictionary.train(samples: samples, capacity: schedule.capacity))
                state.result.withLock { $0 = (head, dictionary) }
                logger.info(
                    "trained a dictionary for the records that follow",
                    metadata: ["ledger.dictionary.bytes": "\(dictionary.bytes.count)", "ledger.dictionary.samples": "\(samples.count)", "ledger.seq": "\(head)"])
            } catch {
                state.failed.store(true, ordering: .relaxed)
                logger.warning("training a dictionary failed; records stay as they are until the next try", metadata: ["ledger.error": "\(error)"])
            }
        }
        training = (thread, state)
    }

    /// Waits for a training thread, so the environment can close under no reader.
    func stop() {
        if let (thread, _) = training { pthread_join(thread, nil) }
        training = nil
    }

    private static func latestRecords(_ count: Int, through head: UInt64, _ store: Store) throws -> [[UInt8]] {
        let reader = store.forms.reader()
        return try store.environment.read { txn in
            try txn.withCursor(store.records) { cursor in
                var samples: [[UInt8]] = []
                var entry = try cursor.get(.keyRange, key: bigEndianBytes(head - min(UInt64(count), head) + 1))
                while let (key, value) = entry, readBigEndianUInt64(key) <= head {
                    samples.append(reader.canonical(UnsafeRawBufferPointer(rebasing: value[32...])))
                    entry = try cursor.get(.next)
                }
                return samples
            }
        }
    }
}
