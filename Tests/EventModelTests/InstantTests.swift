import Testing

@testable import EventModel

@Suite struct InstantTests {
    @Test(arguments: [
        ("1970-01-01T00:00:00Z", 0, 0),
        ("2026-03-13T07:45:01.123Z", 1_773_387_901, 123_000_000),
        ("2026-03-13T15:45:01.123+08:00", 1_773_387_901, 123_000_000),
        ("2026-03-12T23:45:01-08:00", 1_773_387_901, 0),
        ("2024-02-29t12:00:00.123456789012z", 1_709_208_000, 123_456_789),
        ("1969-12-31T23:59:59.5Z", -1, 500_000_000),
        ("2016-12-31T23:59:60Z", 1_483_228_800, 0),
    ])
    func parsesRFC3339(text: String, seconds: Int64, nanos: Int32) {
        #expect(Instant(rfc3339: text) == Instant(seconds: seconds, nanoseconds: nanos), "\(text)")
    }

    @Test(arguments: [
        "2026-03-13T07:45:01", "2026-03-13 07:45:01Z", "2026-02-29T00:00:00Z", "2026-13-01T00:00:00Z",
        "2026-04-31T00:00:00Z", "2026-03-13T24:00:00Z", "2026-03-13T07:60:00Z", "2026-03-13T07:45:01.Z",
        "2026-03-13T07:45:01+0800", "2026-03-13T07:45:01+24:00", "2026-3-13T07:45:01Z", "2026-03-13T07:45:01Zjunk", "",
        "now",
    ])
    func refusesWhatIsNotRFC3339WithOffset(text: String) {
        #expect(Instant(rfc3339: text) == nil, "\(text)")
    }

    @Test func formatsUTCAndSortsAsBytes() {
        let a = Instant(seconds: -5, nanoseconds: 1)
        let b = Instant(seconds: 1_773_387_901, nanoseconds: 123_456_000)
        #expect(b.rfc3339(fractionDigits: 6) == "2026-03-13T07:45:01.123456Z")
        #expect(Instant(rfc3339: b.rfc3339()) == b)
        #expect(a.sortableBytes.lexicographicallyPrecedes(b.sortableBytes))
        #expect(a.sortableBytes.withUnsafeBytes { Instant(sortableBytes: $0) } == a)
        #expect(a.rfc3339(fractionDigits: 9) == "1969-12-31T23:59:55.000000001Z")
        #expect(Instant(seconds: 0).rfc3339(fractionDigits: 0) == "1970-01-01T00:00:00Z")
    }

    /// Every year 0–9999 and every precision: the text parses back to the instant, cut to that precision.
    @Test func formatsWhatItParses() {
        var generator = SystemRandomNumberGenerator()
        let first = Instant(rfc3339: "0000-01-01T00:00:00Z")!.seconds
        let last = Instant(rfc3339: "9999-12-31T23:59:59Z")!.seconds
        for _ in 0..<2_000 {
            let instant = Instant(seconds: Int64.random(in: first...last, using: &generator), nanoseconds: Int32.random(in: 0..<1_000_000_000, using: &generator))
            for digits in 0...9 {
                let text = instant.rfc3339(fractionDigits: digits)
                var cut = Int64(instant.nanoseconds)
                for _ in 0..<(9 - digits) { cut /= 10 }
                for _ in 0..<(9 - digits) { cut *= 10 }
                #expect(text.utf8.count == 20 + (digits > 0 ? digits + 1 : 0), "\(text)")
                #expect(Instant(rfc3339: text) == Instant(seconds: instant.seconds, nanoseconds: Int32(cut)), "\(text)")
            }
        }
    }

    /// The bytes appended in place are the text's, after what was there, in and out of years 0–9999.
    @Test(arguments: [Int64(-62_198_755_200), -62_167_219_200, -1, 0, 1_773_387_901, 253_402_300_799, 253_402_300_800])
    func appendsTheTextsBytes(seconds: Int64) {
        for nanoseconds: Int32 in [0, 7, 123_456_000, 999_999_999] {
            let instant = Instant(seconds: seconds, nanoseconds: nanoseconds)
            for digits in 0...9 {
                var out = Array("prefix ".utf8)
                instant.appendRFC3339(fractionDigits: digits, to: &out)
                #expect(out == Array(("prefix " + instant.rfc3339(fractionDigits: digits)).utf8))
            }
        }
    }
}
