/// An entity's id as the key of a table's dictionary, hashed more cheaply than `String` hashes.
///
/// A fold looks entities up several times an event (the actor, the record, its owner, each of the
/// actor's roles), and `String`'s hash (SipHash, a `Hasher` made and finalized for every look-up)
/// was a fifth of the fold's time. Ids are short: a multiply-and-rotate over 8-byte words is enough.
/// The words are hashed once, when the key is made, with a key random per process (as `String`'s
/// seed is), so which ids collide cannot be chosen from outside; each dictionary mixes in its own
/// seed. A look-up compares that hash before the ids: a dictionary compares the keys it probes past,
/// and comparing two `String`s was more than a probe.
struct TableKey: Hashable, Sendable {
    let id: String
    private let hash: UInt64

    init(_ id: String) {
        self.id = id
        hash = Self.wordHash(id, key: Self.processKey)
    }

    static func == (a: TableKey, b: TableKey) -> Bool { a.hash == b.hash && a.id == b.id }

    func hash(into hasher: inout Hasher) { hasher.combine(hash) }

    /// What `Dictionary` and `Set` call to place a key; the default would make a `Hasher`.
    func _rawHashValue(seed: Int) -> Int { Int(bitPattern: UInt(truncatingIfNeeded: Self.finish(hash ^ UInt64(bitPattern: Int64(seed))))) }

    private static let processKey = UInt64.random(in: .min ... .max)

    private static func wordHash(_ id: String, key: UInt64) -> UInt64 {
        var id = id
        return id.withUTF8 { bytes in
            var h = key ^ (UInt64(bytes.count) &* 0x9E37_79B9_7F4A_7C15)
            var at = 0
            while at + 8 <= bytes.count {
                h = mix(h ^ UInt64(littleEndian: UnsafeRawBufferPointer(bytes).loadUnaligned(fromByteOffset: at, as: UInt64.self)))
                at += 8
            }
            if at < bytes.count {
                var last: UInt64 = 0
                for i in at..<bytes.count { last |= UInt64(bytes[i]) << (8 * UInt64(i - at)) }
                h = mix(h ^ last)
            }
            return h
        }
    }

    @inline(__always) private static func mix(_ h: UInt64) -> UInt64 {
        let m = h &* 0xBF58_476D_1CE4_E5B9
        return (m << 31 | m >> 33) &* 0x94D0_49BB_1331_11EB
    }

    /// The last steps of SplitMix64: every bit of the words reaches the bucket's low bits.
    @inline(__always) private static func finish(_ h: UInt64) -> UInt64 {
        var z = h
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension Dictionary where Key == TableKey {
    /// The same entries keyed by the ids themselves, for answers.
    var byId: [String: Value] {
        var out: [String: Value] = [:]
        out.reserveCapacity(count)
        for (key, value) in self { out[key.id] = value }
        return out
    }

    init(byId entries: [String: Value]) {
        self.init(minimumCapacity: entries.count)
        for (id, value) in entries { self[TableKey(id)] = value }
    }
}
