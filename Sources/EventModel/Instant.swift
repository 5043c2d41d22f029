#if canImport(Glibc)
import Glibc
#endif

/// A moment in UTC with nanosecond precision: what an RFC 3339 `time` or `asOf` means.
public struct Instant: Comparable, Hashable, Sendable, CustomStringConvertible {
    /// Seconds since 1970-01-01T00:00:00Z.
    public var seconds: Int64
    /// 0 ..< 1_000_000_000
    public var nanoseconds: Int32

    public init(seconds: Int64, nanoseconds: Int32 = 0) {
        self.seconds = seconds
        self.nanoseconds = nanoseconds
    }

    public static func < (a: Instant, b: Instant) -> Bool {
        (a.seconds, a.nanoseconds) < (b.seconds, b.nanoseconds)
    }

    /// The wall clock now.
    public static func now() -> Instant {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Instant(seconds: Int64(ts.tv_sec), nanoseconds: Int32(ts.tv_nsec))
    }

    /// 12 bytes that sort like the instants they encode: biased big-endian seconds, then nanoseconds.
    public var sortableBytes: [UInt8] {
        let biased = UInt64(bitPattern: seconds) ^ (1 << 63)
        var out = withUnsafeBytes(of: biased.bigEndian) { Array($0) }
        out.append(contentsOf: withUnsafeBytes(of: UInt32(nanoseconds).bigEndian) { Array($0) })
        return out
    }

    public init(sortableBytes b: UnsafeRawBufferPointer) {
        let biased = UInt64(bigEndian: b.loadUnaligned(as: UInt64.self))
        self.seconds = Int64(bitPattern: biased ^ (1 << 63))
        self.nanoseconds = Int32(UInt32(bigEndian: b.loadUnaligned(fromByteOffset: 8, as: UInt32.self)))
    }

    /// RFC 3339 in UTC with `fractionDigits` digits (0, 3, 6 or 9), e.g. `2026-03-13T07:45:01.123456Z`.
    public func rfc3339(fractionDigits: Int = 6) -> String {
        let fields = UTCFields(self)
        guard let length = fields.fixedLength(fractionDigits) else { return fields.unusualText(fractionDigits) }
        return String(unsafeUninitializedCapacity: length) { out in fields.write(fractionDigits, to: out.baseAddress!) }
    }

    /// The bytes of `rfc3339(fractionDigits:)` appended, with no string made: an answer writes
    /// a time for every event it lists.
    public func appendRFC3339(fractionDigits: Int, to out: inout [UInt8]) {
        let fields = UTCFields(self)
        guard let length = fields.fixedLength(fractionDigits) else {
            out += fields.unusualText(fractionDigits).utf8
            return
        }
        let start = out.count
        out.append(contentsOf: repeatElement(0, count: length))
        out.withUnsafeMutableBufferPointer { buffer in _ = fields.write(fractionDigits, to: buffer.baseAddress! + start) }
    }

    /// An instant's calendar fields in UTC, as its text shows them.
    private struct UTCFields {
        var year: Int64, month: Int64, day: Int64, secondOfDay: Int64, nanoseconds: Int32

        init(_ instant: Instant) {
            let days = instant.seconds >= 0 ? instant.seconds / 86400 : (instant.seconds - 86399) / 86400
            (year, month, day) = civil(fromDays: days)
            secondOfDay = instant.seconds - days * 86400
            nanoseconds = instant.nanoseconds
        }

        /// The text's length when it is written byte by byte: a four-digit year and 0–9 fraction digits.
        func fixedLength(_ fractionDigits: Int) -> Int? {
            guard (0...9999).contains(year), (0...9).contains(fractionDigits) else { return nil }
            return fractionDigits > 0 ? 21 + fractionDigits : 20
        }

        /// The first `digits` of the nanoseconds.
        func fraction(_ digits: Int) -> Int64 {
            var fraction = Int64(nanoseconds)
            for _ in 0..<(9 - digits) { fraction /= 10 }
            return fraction
        }

        /// Written into bytes with byte literals: concatenating strings, or `Character`s turned into
        /// bytes, dominated the answers that format thousands of times (BENCHMARKS.md).
        func write(_ fractionDigits: Int, to out: UnsafeMutablePointer<UInt8>) -> Int {
            var i = 0
            func put(_ value: Int64, _ width: Int) {
                var v = value
                for k in stride(from: width - 1, through: 0, by: -1) {
                    out[i + k] = UInt8(truncatingIfNeeded: 0x30 + v % 10)
                    v /= 10
                }
                i += width
            }
            func put(_ byte: UInt8) {
                out[i] = byte
                i += 1
            }
            put(year, 4); put(UInt8(ascii: "-")); put(month, 2); put(UInt8(ascii: "-")); put(day, 2); put(UInt8(ascii: "T"))
            put(secondOfDay / 3600, 2); put(UInt8(ascii: ":")); put(secondOfDay / 60 % 60, 2); put(UInt8(ascii: ":"))
            put(secondOfDay % 60, 2)
            if fractionDigits > 0 {
                put(UInt8(ascii: ".")); put(fraction(fractionDigits), fractionDigits)
            }
            put(UInt8(ascii: "Z"))
            return i
        }

        /// Years outside 0–9999, or another number of digits: rare, made by concatenation.
        func unusualText(_ fractionDigits: Int) -> String {
            var s = pad(year, 4) + "-" + pad(month, 2) + "-" + pad(day, 2) + "T"
            s += pad(secondOfDay / 3600, 2) + ":" + pad(secondOfDay / 60 % 60, 2) + ":" + pad(secondOfDay % 60, 2)
            if fractionDigits > 0 { s += "." + pad(fraction(fractionDigits), fractionDigits) }
            return s + "Z"
        }
    }

    public var description: String { rfc3339(fractionDigits: 9) }

    /// Parses RFC 3339 with a required offset (`Z` or `±HH:MM`), validating every field.
    /// Digits past nanoseconds are accepted and ignored.
    public init?(rfc3339 text: String) {
        var text = text
        guard let instant = text.withUTF8({ Instant(rfc3339: UnsafeRawBufferPointer($0)) }) else { return nil }
        self = instant
    }

    /// The same, from the text's UTF-8 bytes (a record's `time`, read in place).
    public init?(rfc3339 b: UnsafeRawBufferPointer) {
        func num(_ at: Int, _ count: Int) -> Int64? {
            guard at + count <= b.count else { return nil }
            var v: Int64 = 0
            for i in at..<(at + count) {
                guard b[i] >= 0x30, b[i] <= 0x39 else { return nil }
                v = v * 10 + Int64(b[i] - 0x30)
            }
            return v
        }
        guard b.count >= 20,
            let year = num(0, 4), b[4] == UInt8(ascii: "-"), let month = num(5, 2), b[7] == UInt8(ascii: "-"),
            let day = num(8, 2), b[10] == UInt8(ascii: "T") || b[10] == UInt8(ascii: "t"),
            let hour = num(11, 2), b[13] == UInt8(ascii: ":"), let minute = num(14, 2),
            b[16] == UInt8(ascii: ":"), let second = num(17, 2)
        else { return nil }
        guard (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year),
            hour <= 23, minute <= 59, second <= 60
        else { return nil }
        var i = 19
        var nanos: Int64 = 0
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            let start = i
            while i < b.count, b[i] >= 0x30, b[i] <= 0x39 {
                if i - start < 9 { nanos = nanos * 10 + Int64(b[i] - 0x30) }
                i += 1
            }
            guard i > start else { return nil }
            for _ in 0..<max(0, 9 - (i - start)) { nanos *= 10 }
        }
        guard i < b.count else { return nil }
        var offset: Int64 = 0
        switch b[i] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            i += 1
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            guard let oh = num(i + 1, 2), i + 3 < b.count, b[i + 3] == UInt8(ascii: ":"), let om = num(i + 4, 2),
                oh <= 23, om <= 59
            else { return nil }
            offset = (oh * 60 + om) * 60 * (b[i] == UInt8(ascii: "-") ? -1 : 1)
            i += 6
        default:
            return nil
        }
        guard i == b.count else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        self.seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset
        self.nanoseconds = Int32(nanos)
    }
}

private func pad(_ v: Int64, _ width: Int) -> String {
    let s = String(v)
    return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
}

private func isLeap(_ y: Int64) -> Bool { y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) }

private func daysIn(month: Int64, year: Int64) -> Int64 {
    switch month {
    case 2: isLeap(year) ? 29 : 28
    case 4, 6, 9, 11: 30
    default: 31
    }
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
private func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
    let y = month <= 2 ? year - 1 : year
    let era = (y >= 0 ? y : y - 399) / 400
    let yoe = y - era * 400
    let mp = (month + 9) % 12
    let doy = (153 * mp + 2) / 5 + day - 1
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
    return era * 146097 + doe - 719468
}

private func civil(fromDays z0: Int64) -> (Int64, Int64, Int64) {
    let z = z0 + 719468
    let era = (z >= 0 ? z : z - 146096) / 146097
    let doe = z - era * 146097
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
    let mp = (5 * doy + 2) / 153
    let d = doy - (153 * mp + 2) / 5 + 1
    let m = mp < 10 ? mp + 3 : mp - 9
    return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
}
