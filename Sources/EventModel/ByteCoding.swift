/// Bytes the ledger keeps for itself beside its records: the projection's entities and the log's fold
/// forms. Varints, length-prefixed strings, and JSON values as canonical JSON after their length.
public struct ByteWriter {
    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int = 64) { bytes.reserveCapacity(capacity) }

    public mutating func write(_ value: UInt64) {
        if value < 0x80 { return bytes.append(UInt8(truncatingIfNeeded: value)) }
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    public mutating func write(_ value: Int) { write(UInt64(value)) }

    /// How many bytes are written so far.
    public var count: Int { bytes.count }

    /// Empty again, its room kept.
    public mutating func removeAll() { bytes.removeAll(keepingCapacity: true) }

    /// Bytes as they are.
    public mutating func append(_ raw: [UInt8]) { bytes.append(contentsOf: raw) }

    public mutating func append(byte: UInt8) { bytes.append(byte) }

    /// Eight bytes, most significant first: keys that sort by the number under byte comparison.
    public mutating func appendBigEndian(_ value: UInt64) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    /// Overwrites a byte already written: a length known only once what it measures is written.
    public mutating func set(_ byte: UInt8, at offset: Int) { bytes[offset] = byte }

    /// A text's UTF-8 as it is, without its length (a part of a key).
    public mutating func appendUTF8(_ value: String) {
        var s = value
        s.withUTF8 { bytes.append(contentsOf: $0) }
    }

    public mutating func write(_ value: String) {
        write(value.utf8.count)
        appendUTF8(value)
    }

    public mutating func write(_ value: UInt64?) {
        if let value {
            bytes.append(1)
            write(value)
        } else {
            bytes.append(0)
        }
    }

    public mutating func write(_ value: String?) {
        if let value {
            bytes.append(1)
            write(value)
        } else {
            bytes.append(0)
        }
    }

    public mutating func write(_ value: Instant) {
        write(UInt64(bitPattern: value.seconds))
        write(UInt64(UInt32(bitPattern: value.nanoseconds)))
    }

    /// The value's canonical JSON after its length, written in place: the length's varint is one
    /// byte for most values, set once the value is written (moved over for a longer one).
    public mutating func write(_ value: JSONValue) {
        let lengthAt = bytes.count
        bytes.append(0)
        CanonicalJSON.write(value, into: &bytes)
        let length = bytes.count - lengthAt - 1
        if length < 0x80 {
            bytes[lengthAt] = UInt8(length)
        } else {
            var prefix = ByteWriter(capacity: 4)
            prefix.write(length)
            bytes.replaceSubrange(lengthAt..<(lengthAt + 1), with: prefix.bytes)
        }
    }
}

/// Reads what `ByteWriter` wrote; a short or malformed buffer throws, never traps.
public struct ByteReader {
    public struct Malformed: Error, CustomStringConvertible {
        public init() {}
        public var description: String { "stored bytes are malformed" }
    }

    private let bytes: UnsafeRawBufferPointer
    private var offset = 0

    public init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    public var isAtEnd: Bool { offset == bytes.count }

    /// Bytes not read yet.
    public var remaining: Int { bytes.count - offset }

    public mutating func byte() throws -> UInt8 {
        guard offset < bytes.count else { throw Malformed() }
        defer { offset += 1 }
        return bytes[offset]
    }

    public mutating func uint64() throws -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try byte()
            guard shift < 64 else { throw Malformed() }
            value |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return value }
            shift += 7
        }
    }

    public mutating func int() throws -> Int {
        let v = try uint64()
        guard v <= UInt64(Int.max) else { throw Malformed() }
        return Int(v)
    }

    /// The next `count` bytes, in place.
    public mutating func slice(_ count: Int) throws -> UnsafeRawBufferPointer {
        guard count <= bytes.count - offset else { throw Malformed() }
        defer { offset += count }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)])
    }

    public mutating func skip(_ count: Int) throws { _ = try slice(count) }

    /// What is left, copied.
    public mutating func rest() -> [UInt8] {
        defer { offset = bytes.count }
        return Array(bytes[offset...])
    }

    public mutating func string() throws -> String {
        String(decoding: try slice(try int()), as: UTF8.self)
    }

    public mutating func optionalUInt64() throws -> UInt64? { try byte() == 0 ? nil : try uint64() }

    public mutating func optionalString() throws -> String? { try byte() == 0 ? nil : try string() }

    public mutating func instant() throws -> Instant {
        let seconds = Int64(bitPattern: try uint64())
        guard let nanoseconds = UInt32(exactly: try uint64()) else { throw Malformed() }
        return Instant(seconds: seconds, nanoseconds: Int32(bitPattern: nanoseconds))
    }

    public mutating func json() throws -> JSONValue {
        let text = try slice(try int())
        guard let value = try? JSONParser.parse(text) else { throw Malformed() }
        return value
    }
}
