/// Lowercase hex, as every hash in the API.
public func hexString(_ bytes: some Sequence<UInt8>) -> String {
    var out = [UInt8]()
    out.reserveCapacity(bytes.underestimatedCount * 2)
    writeHex(bytes, into: &out)
    return String(decoding: out, as: UTF8.self)
}

/// The same digits written into a buffer: answers that carry many hashes make no string for each.
/// Inlinable, so that callers in other modules get it specialized rather than generic per byte.
@inlinable
public func writeHex(_ bytes: some Sequence<UInt8>, into out: inout [UInt8]) {
    for byte in bytes {
        out.append(lowercaseHexDigit(byte >> 4))
        out.append(lowercaseHexDigit(byte & 0x0F))
    }
}

@usableFromInline
func lowercaseHexDigit(_ nibble: UInt8) -> UInt8 { nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") - 10 + nibble }

/// The bytes of lowercase or uppercase hex; nil for anything else (an odd length, a non-hex digit).
public func hexBytes(_ text: some StringProtocol) -> [UInt8]? {
    let digits = Array(text.utf8)
    guard digits.count % 2 == 0 else { return nil }
    func value(_ d: UInt8) -> UInt8? {
        switch d {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): d - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): d - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): d - UInt8(ascii: "A") + 10
        default: nil
        }
    }
    var out: [UInt8] = []
    out.reserveCapacity(digits.count / 2)
    for i in stride(from: 0, to: digits.count, by: 2) {
        guard let high = value(digits[i]), let low = value(digits[i + 1]) else { return nil }
        out.append(high << 4 | low)
    }
    return out
}

/// URL-safe base64 without padding: paging cursors and tokens.
public enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    public static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            let chunk = Array(bytes[i..<min(i + 3, bytes.count)])
            let n = chunk.enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (16 - 8 * UInt32($1.offset)) }
            for j in 0..<(chunk.count + 1) { out.append(alphabet[Int(n >> (18 - 6 * UInt32(j)) & 63)]) }
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// nil for text that is not URL-safe base64.
    public static func decode(_ text: String) -> [UInt8]? {
        var values: [UInt32] = []
        for c in text.utf8 {
            guard let v = alphabet.firstIndex(of: c) else { return nil }
            values.append(UInt32(v))
        }
        guard values.count % 4 != 1 else { return nil }
        var out: [UInt8] = []
        var i = 0
        while i < values.count {
            let chunk = values[i..<min(i + 4, values.count)]
            let n = chunk.enumerated().reduce(UInt32(0)) { $0 | $1.element << (18 - 6 * UInt32($1.offset)) }
            for j in 0..<(chunk.count - 1) { out.append(UInt8(n >> (16 - 8 * UInt32(j)) & 0xFF)) }
            i += 4
        }
        return out
    }
}
