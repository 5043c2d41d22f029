import EventModel
import Testing

/// Objects are written with their members in key-byte order, equal keys in the order given, whether
/// the members came sorted, nearly sorted or shuffled, few or many.
@Suite struct CanonicalOrderTests {
    /// The order by the definition: a stable sort of the members by their keys' UTF-8 bytes.
    static func expected(_ members: [JSONMember]) -> [UInt8] {
        let sorted = members.enumerated().sorted { a, b in
            let (x, y) = (Array(a.element.key.utf8), Array(b.element.key.utf8))
            return x.lexicographicallyPrecedes(y) || (x == y && a.offset < b.offset)
        }
        var out = Array("{".utf8)
        for (i, member) in sorted.map(\.element).enumerated() {
            if i > 0 { out += Array(",".utf8) }
            out += CanonicalJSON.encode(.string(member.key)) + Array(":".utf8) + CanonicalJSON.encode(member.value)
        }
        return out + Array("}".utf8)
    }

    @Test func membersAreWrittenInKeyByteOrder() {
        var random = SystemRandomNumberGenerator()
        let alphabet = ["a", "b", "B", "é", "事", "😀", "_", "0", "ab", "a\u{0}"]
        for count in [0, 1, 2, 3, 5, 8, 16, 31, 32, 33, 64] {
            for round in 0..<50 {
                let members = (0..<count).map { i in
                    let key = (0..<Int.random(in: 1...3, using: &random)).map { _ in alphabet.randomElement(using: &random)! }.joined()
                    return JSONMember(key, .number(String(i)))
                }
                let inOrder = round % 5 == 0
                let given = inOrder ? members.sorted { utf8Compare($0.key, $1.key) < 0 } : members
                #expect(CanonicalJSON.encode(.object(given)) == Self.expected(given), "\(count) members: \(given.map(\.key))")
            }
        }
    }
}
