import CLMDB

/// A named database inside an environment, opened once at start-up and valid until the environment closes.
public struct Database: Sendable, Hashable {
    let handle: MDB_dbi
    public let name: String
}

/// How a database stores its keys and values.
public struct DatabaseFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Several sorted values per key.
    public static let duplicateSort = DatabaseFlags(rawValue: UInt32(MDB_DUPSORT))
    /// With `duplicateSort`: all values of a key have the same size and are packed tightly.
    public static let duplicateFixed = DatabaseFlags(rawValue: UInt32(MDB_DUPFIXED))
    static let create = DatabaseFlags(rawValue: UInt32(MDB_CREATE))
}

/// How a value is written.
public struct PutFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// The key sorts after every key in the database: LMDB appends without searching.
    public static let append = PutFlags(rawValue: UInt32(MDB_APPEND))
    /// The value sorts after every value of its key (duplicate-sorted databases).
    public static let appendDuplicate = PutFlags(rawValue: UInt32(MDB_APPENDDUP))
    /// Fail with `MDB_KEYEXIST` rather than overwrite.
    public static let noOverwrite = PutFlags(rawValue: UInt32(MDB_NOOVERWRITE))
}
