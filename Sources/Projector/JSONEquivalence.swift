import EventModel

/// Whether two JSON values mean the same: numbers by value (`1000` = `1000.0` = `1e3`),
/// strings by bytes, objects regardless of member order. Used to tell a `state_mismatch`.
func jsonEquivalent(_ a: JSONValue, _ b: JSONValue) -> Bool {
    switch (a, b) {
    case (.null, .null): return true
    case (.bool(let x), .bool(let y)): return x == y
    case (.string(let x), .string(let y)): return utf8Equal(x, y)
    case (.number(let x), .number(let y)): return x == y || DecimalText(x) == DecimalText(y)
    case (.array(let x), .array(let y)): return x.count == y.count && zip(x, y).allSatisfy { jsonEquivalent($0, $1) }
    case (.object(let x), .object(let y)):
        return x.count == y.count && x.allSatisfy { m in y.contains { utf8Equal($0.key, m.key) && jsonEquivalent($0.value, m.value) } }
    default: return false
    }
}

/// A JSON number's exact value: sign, significant digits, and the power of ten of the last digit.
struct DecimalText: Equatable {
    var negative = false
    var digits: [UInt8] = []
    var exponent = 0

    init(_ text: String) {
        var integer: [UInt8] = []
        var fraction: [UInt8] = []
        var exp = 0
        var expNegative = false
        var part = 0  // 0 integer, 1 fraction, 2 exponent
        for c in text.utf8 {
            switch c {
            case UInt8(ascii: "-"): if part == 2 { expNegative = true } else { negative = true }
            case UInt8(ascii: "+"): break
            case UInt8(ascii: "."): part = 1
            case UInt8(ascii: "e"), UInt8(ascii: "E"): part = 2
            default:
                let d = c &- UInt8(ascii: "0")
                if part == 0 { integer.append(d) } else if part == 1 { fraction.append(d) } else { exp = min(exp * 10 + Int(d), 1_000_000) }
            }
        }
        var all = integer + fraction
        var e = (expNegative ? -exp : exp) - fraction.count
        while let first = all.first, first == 0 { all.removeFirst() }
        while let last = all.last, last == 0 {
            all.removeLast()
            e += 1
        }
        if all.isEmpty {
            negative = false
            e = 0
        }
        digits = all
        exponent = e
    }
}
