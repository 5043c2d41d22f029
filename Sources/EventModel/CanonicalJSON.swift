/// The ledger's canonical JSON: the bytes that are hashed, stored and exported.
///
/// Deterministic by construction: no whitespace; object keys sorted by their UTF-8 bytes;
/// strings as raw UTF-8 with only `"`, `\` and control characters escaped (`\b \f \n \r \t`,
/// otherwise `\u00xx` in lowercase hex); numbers exactly as the client wrote them (the parser
/// has checked their grammar). The same value gives the same bytes on every run and machine.
public enum CanonicalJSON {
    /// `capacity`: a good guess of the size spares regrowing the buffer.
    public static func encode(_ value: JSONValue, capacity: Int = 256) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(capacity)
        write(value, into: &out)
        return out
    }

    public static func write(_ value: JSONValue, into out: inout [UInt8]) {
        switch value {
        case .null: out.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])
        case .bool(true): out.append(contentsOf: [0x74, 0x72, 0x75, 0x65])
        case .bool(false): out.append(contentsOf: [0x66, 0x61, 0x6C, 0x73, 0x65])
        case .number(let text): out.append(contentsOf: text.utf8)
        case .string(let s): writeString(s, into: &out)
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            for (i, element) in elements.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                write(element, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            writeObject(members, into: &out)
        }
    }

    /// Writes an object with its members sorted by key bytes.
    public static func writeObject(_ members: [JSONMember], into out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        if isSortedByKey(members) {
            for (i, member) in members.enumerated() { writeMember(member, first: i == 0, into: &out) }
        } else {
            for (i, position) in keyOrder(members).enumerated() { writeMember(members[position], first: i == 0, into: &out) }
        }
        out.append(UInt8(ascii: "}"))
    }

    /// One `"key":value`, after a comma unless it is the object's first.
    static func writeMember(_ member: JSONMember, first: Bool, into out: inout [UInt8]) {
        if !first { out.append(UInt8(ascii: ",")) }
        writeString(member.key, into: &out)
        out.append(UInt8(ascii: ":"))
        write(member.value, into: &out)
    }

    /// Answers are mostly built in key order already: checking costs less than sorting.
    static func isSortedByKey(_ members: [JSONMember]) -> Bool {
        guard members.count > 1 else { return true }
        for i in 1..<members.count where utf8Compare(members[i - 1].key, members[i].key) >= 0 { return false }
        return true
    }

    /// The members' positions in key order (stable). Sorting positions moves no member: sorting the
    /// members themselves, each a key and a value to retain and release, was a tenth of a batch's parse.
    static func keyOrder(_ members: [JSONMember]) -> [Int] {
        var order = Array(members.indices)
        guard members.count <= 32 else {
            return order.sorted { a, b in
                let c = utf8Compare(members[a].key, members[b].key)
                return c < 0 || (c == 0 && a < b)
            }
        }
        // Client objects are small: an insertion sort of a few positions.
        for i in order.indices.dropFirst() {
            let position = order[i]
            var j = i
            while j > 0, utf8Compare(members[order[j - 1]].key, members[position].key) > 0 {
                order[j] = order[j - 1]
                j -= 1
            }
            order[j] = position
        }
        return order
    }

    /// A number's decimal digits, without making a `String` of them (answers write hundreds of thousands of seqs).
    public static func writeInteger(_ value: UInt64, into out: inout [UInt8]) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 20 digits at most, kept off the heap
        let count = withUnsafeMutableBytes(of: &digits) { buffer in
            var (n, count) = (value, 0)
            repeat {
                buffer[buffer.count - 1 - count] = UInt8(ascii: "0") + UInt8(n % 10)
                (n, count) = (n / 10, count + 1)
            } while n > 0
            return count
        }
        withUnsafeBytes(of: &digits) { out.append(contentsOf: $0.suffix(count)) }
    }

    public static func writeString(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var s = s
        let plain = s.withUTF8 { bytes in
            guard !bytes.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) else { return false }
            out.append(contentsOf: bytes)
            return true
        }
        if plain {
            out.append(UInt8(ascii: "\""))
            return
        }
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [0x5C, 0x22])
            case UInt8(ascii: "\\"): out.append(contentsOf: [0x5C, 0x5C])
            case 0x08: out.append(contentsOf: [0x5C, UInt8(ascii: "b")])
            case 0x0C: out.append(contentsOf: [0x5C, UInt8(ascii: "f")])
            case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0..<0x20:
                out.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30, lowercaseHexDigit(byte >> 4), lowercaseHexDigit(byte & 0xF)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
