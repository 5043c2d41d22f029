import EventModel
import Testing

/// Strings are written as the definition says, wherever in them a byte to escape stands: `"`, `\`
/// and control characters escaped, every other byte (multi-byte text included) as it is.
@Suite struct CanonicalStringTests {
    /// The definition, byte by byte.
    static func expected(_ s: String) -> [UInt8] {
        var out = Array("\"".utf8)
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out += Array(#"\""#.utf8)
            case UInt8(ascii: "\\"): out += Array(#"\\"#.utf8)
            case 0x08: out += Array(#"\b"#.utf8)
            case 0x0C: out += Array(#"\f"#.utf8)
            case 0x0A: out += Array(#"\n"#.utf8)
            case 0x0D: out += Array(#"\r"#.utf8)
            case 0x09: out += Array(#"\t"#.utf8)
            case 0..<0x20: out += Array(#"\u00"#.utf8) + Array(String(byte, radix: 16).leftPadded(to: 2).utf8)
            default: out.append(byte)
            }
        }
        return out + Array("\"".utf8)
    }

    @Test func everyByteThatNeedsEscapingIsEscapedWhereverItStands() {
        // Each special byte, and bytes just outside the ranges (0x1F/0x20, 0x21/0x23, 0x5B/0x5D, 0x7F),
        // at every offset of strings long enough to fill several words, in plain and multi-byte text.
        let specials: [String] = ["\"", "\\", "\u{0}", "\u{1}", "\u{8}", "\t", "\n", "\u{C}", "\r", "\u{1F}", " ", "!", "#", "[", "]", "\u{7F}", "é", "事"]
        for filler in ["a", "事", "ab"] {
            for length in 0...25 {
                let plain = String(repeating: filler, count: length)
                #expect(CanonicalJSON.encode(.string(plain)) == Self.expected(plain))
                for special in specials {
                    for offset in 0...length {
                        var text = Array(plain)
                        text.insert(contentsOf: Array(special), at: min(offset, text.count))
                        let s = String(text)
                        #expect(CanonicalJSON.encode(.string(s)) == Self.expected(s), "\(s.debugDescription)")
                    }
                }
            }
        }
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
