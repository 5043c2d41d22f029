import CLMDB

/// Runs `body` with an `MDB_val` pointing at `bytes`, valid only inside `body`.
@inline(__always)
func withValue<R, E: Error>(
    _ bytes: UnsafeRawBufferPointer, _ body: (inout MDB_val) throws(E) -> R
) throws(E) -> R {
    var value = MDB_val(mv_size: bytes.count, mv_data: UnsafeMutableRawPointer(mutating: bytes.baseAddress))
    return try body(&value)
}

extension MDB_val {
    /// The bytes LMDB points at; valid until the transaction ends or the next write.
    var buffer: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: mv_data, count: mv_size) }
}

/// A big-endian UInt64: sorts in numeric order under LMDB's byte comparison.
public func bigEndianBytes(_ value: UInt64) -> [UInt8] {
    withUnsafeBytes(of: value.bigEndian) { Array($0) }
}

/// Reads a big-endian UInt64 from the first 8 bytes.
public func readBigEndianUInt64(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
    precondition(bytes.count >= 8, "a big-endian UInt64 needs 8 bytes")
    return UInt64(bigEndian: bytes.loadUnaligned(as: UInt64.self))
}
