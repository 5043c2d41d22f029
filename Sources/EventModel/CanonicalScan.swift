#if canImport(Glibc)
import Glibc
#endif

/// Where the members of a canonical JSON object are, without building anything: for answers spliced
/// from stored record bytes (which are canonical: no whitespace, keys sorted, strings in one form).
/// It trusts nothing: input that is not shaped as canonical JSON gives nil, never a crash, and the
/// caller falls back to decoding.
public enum CanonicalScan {
    /// A member: its key's text (between the quotes, as stored) and its value's bytes.
    public struct Member: Sendable {
        public var key: Range<Int>
        public var value: Range<Int>
    }

    /// The members of the object that fills `bytes[range]`, in order.
    public static func members(_ bytes: UnsafeRawBufferPointer, in range: Range<Int>) -> [Member]? {
        guard range.count >= 2, bytes[range.lowerBound] == UInt8(ascii: "{"), bytes[range.upperBound - 1] == UInt8(ascii: "}") else {
            return nil
        }
        var members: [Member] = []
        members.reserveCapacity(16)
        var i = range.lowerBound + 1
        let end = range.upperBound - 1
        if i == end { return members }
        while true {
            guard i < end, bytes[i] == UInt8(ascii: "\""), let keyEnd = stringEnd(bytes, from: i, limit: end),
                keyEnd < end, bytes[keyEnd] == UInt8(ascii: ":"), let valueEnd = valueEnd(bytes, from: keyEnd + 1, limit: end)
            else { return nil }
            members.append(Member(key: (i + 1)..<(keyEnd - 1), value: (keyEnd + 1)..<valueEnd))
            i = valueEnd
            if i == end { return members }
            guard bytes[i] == UInt8(ascii: ",") else { return nil }
            i += 1
        }
    }

    /// The elements of the array that fills `bytes[range]`, in order.
    public static func elements(_ bytes: UnsafeRawBufferPointer, in range: Range<Int>) -> [Range<Int>]? {
        guard range.count >= 2, bytes[range.lowerBound] == UInt8(ascii: "["), bytes[range.upperBound - 1] == UInt8(ascii: "]") else {
            return nil
        }
        var elements: [Range<Int>] = []
        var i = range.lowerBound + 1
        let end = range.upperBound - 1
        if i == end { return elements }
        while true {
            guard i < end, let valueEnd = valueEnd(bytes, from: i, limit: end) else { return nil }
            elements.append(i..<valueEnd)
            i = valueEnd
            if i == end { return elements }
            guard bytes[i] == UInt8(ascii: ",") else { return nil }
            i += 1
        }
    }

    /// Whether `bytes[range]` holds exactly `text`'s bytes.
    public static func equals(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, _ text: StaticString) -> Bool {
        guard range.count == text.utf8CodeUnitCount else { return false }
        guard let base = bytes.baseAddress, range.count > 0 else { return range.isEmpty }
        return memcmp(base + range.lowerBound, text.utf8Start, range.count) == 0
    }

    /// Just past the string that opens at `start` (a quote), or nil.
    static func stringEnd(_ bytes: UnsafeRawBufferPointer, from start: Int, limit: Int) -> Int? {
        var i = start + 1
        while i < limit {
            switch bytes[i] {
            case UInt8(ascii: "\""): return i + 1
            case UInt8(ascii: "\\"): i += 2
            default: i += 1
            }
        }
        return nil
    }

    /// Just past the value that starts at `start`, or nil.
    static func valueEnd(_ bytes: UnsafeRawBufferPointer, from start: Int, limit: Int) -> Int? {
        guard start < limit else { return nil }
        switch bytes[start] {
        case UInt8(ascii: "\""):
            return stringEnd(bytes, from: start, limit: limit)
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0
            var i = start
            while i < limit {
                switch bytes[i] {
                case UInt8(ascii: "\""):
                    guard let next = stringEnd(bytes, from: i, limit: limit) else { return nil }
                    i = next
                    continue
                case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                    if depth == 0 { return i + 1 }
                default: break
                }
                i += 1
            }
            return nil
        default:
            var i = start
            while i < limit, bytes[i] != UInt8(ascii: ","), bytes[i] != UInt8(ascii: "}"), bytes[i] != UInt8(ascii: "]") { i += 1 }
            return i > start ? i : nil
        }
    }
}
