import EventModel

/// The projection's entities as bytes in its LMDB environment: varints, length-prefixed strings,
/// and field values as canonical JSON. Compact and quick to decode, because a fold loads every
/// entity it touches that is not already in memory.
public struct ByteWriter {
    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int = 64) { bytes.reserveCapacity(capacity) }

    public mutating func write(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    public mutating func write(_ value: Int) { write(UInt64(value)) }

    public mutating func write(_ value: String) {
        var s = value
        s.withUTF8 { utf8 in
            write(utf8.count)
            bytes.append(contentsOf: utf8)
        }
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

    public mutating func write(_ facts: [String: Fact]) {
        write(facts.count)
        for (field, fact) in facts { write(field, fact) }
    }

    mutating func write(_ facts: [TableKey: Fact]) {
        write(facts.count)
        for (field, fact) in facts { write(field.id, fact) }
    }

    private mutating func write(_ field: String, _ fact: Fact) {
        write(field)
        write(fact.seq)
        write(fact.value)
    }

    public mutating func write(_ grants: [String: Grant]) {
        write(grants.count)
        for (permission, grant) in grants { write(permission, grant) }
    }

    mutating func write(_ grants: [TableKey: Grant]) {
        write(grants.count)
        for (permission, grant) in grants { write(permission.id, grant) }
    }

    private mutating func write(_ permission: String, _ grant: Grant) {
        write(permission)
        write(grant.scope.rawValue)
        write(grant.seq)
    }
}

/// Reads what `ByteWriter` wrote; a short or malformed buffer throws, never traps.
public struct ByteReader {
    public struct Malformed: Error, CustomStringConvertible {
        public var description: String { "a stored projection entry is malformed" }
    }

    private let bytes: UnsafeRawBufferPointer
    private var offset = 0

    public init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    public var isAtEnd: Bool { offset == bytes.count }

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

    private mutating func slice(_ count: Int) throws -> UnsafeRawBufferPointer {
        guard count <= bytes.count - offset else { throw Malformed() }
        defer { offset += count }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)])
    }

    /// What is left, copied.
    mutating func rest() -> [UInt8] {
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

    public mutating func facts() throws -> [String: Fact] {
        try facts(keyedBy: { $0 })
    }

    mutating func facts<Key: Hashable>(keyedBy key: (String) -> Key) throws -> [Key: Fact] {
        let count = try int()
        var out: [Key: Fact] = [:]
        out.reserveCapacity(count)
        for _ in 0..<count {
            let field = try string()
            let seq = try uint64()
            out[key(field)] = Fact(value: try json(), seq: seq)
        }
        return out
    }

    public mutating func grants() throws -> [String: Grant] {
        try grants(keyedBy: { $0 })
    }

    mutating func grants<Key: Hashable>(keyedBy key: (String) -> Key) throws -> [Key: Grant] {
        let count = try int()
        var out: [Key: Grant] = [:]
        out.reserveCapacity(count)
        for _ in 0..<count {
            let permission = try string()
            guard let scope = Scope(rawValue: try int()) else { throw Malformed() }
            out[key(permission)] = Grant(scope: scope, seq: try uint64())
        }
        return out
    }
}

/// An entity the projection stores, one LMDB value per key.
public protocol StoredEntity: Sendable, Equatable {
    func write(to writer: inout ByteWriter)
    init(from reader: inout ByteReader) throws
}

extension UserState: StoredEntity {
    public func write(to w: inout ByteWriter) {
        w.write(createdSeq)
        w.write(fields)
        w.write(status.rawValue)
        w.write(statusSeq)
        w.write(roles.count)
        for (role, seq) in roles {
            w.write(role)
            w.write(seq)
        }
        w.write(direct)
        w.write(admin.count)
        for (level, seq) in admin {
            w.write(level.storedName)
            w.write(seq)
        }
        w.write(lastReview?.seq)
        if let review = lastReview { w.write(review.decision) }
        w.write(rolesChangedSeq)
    }

    public init(from r: inout ByteReader) throws {
        self.init()
        createdSeq = try r.optionalUInt64()
        fields = try r.facts()
        guard let status = UserStatus(rawValue: try r.string()) else { throw ByteReader.Malformed() }
        self.status = status
        statusSeq = try r.optionalUInt64()
        for _ in 0..<(try r.int()) { roles[try r.string()] = try r.uint64() }
        direct = try r.grants()
        for _ in 0..<(try r.int()) { admin[try AdminLevel(storedName: r.string())] = try r.uint64() }
        if let seq = try r.optionalUInt64() { lastReview = (seq, try r.string()) }
        rolesChangedSeq = try r.optionalUInt64()
    }
}

extension RoleState: StoredEntity {
    public func write(to w: inout ByteWriter) {
        w.write(createdSeq)
        w.write(deletedSeq)
        w.write(fields)
        w.write(grantsByKey)
    }

    public init(from r: inout ByteReader) throws {
        self.init()
        createdSeq = try r.optionalUInt64()
        deletedSeq = try r.optionalUInt64()
        fields = try r.facts()
        grantsByKey = try r.grants(keyedBy: TableKey.init)
    }
}

extension RecordState: StoredEntity {
    public func write(to w: inout ByteWriter) {
        w.write(createdSeq)
        w.write(deletedSeq)
        w.write(facts)
    }

    public init(from r: inout ByteReader) throws {
        self.init()
        createdSeq = try r.optionalUInt64()
        deletedSeq = try r.optionalUInt64()
        facts = try r.facts(keyedBy: TableKey.init)
    }
}

extension RequestState: StoredEntity {
    public func write(to w: inout ByteWriter) {
        w.write(user)
        w.write(role)
        w.write(permission)
        w.write(scope.map { UInt64($0.rawValue) })
        w.write(requester)
        w.write(submittedSeq)
        w.write(outcome.rawValue)
        w.write(decisionSeq)
        w.write(decisionTime.map { _ in 1 } as UInt64?)
        if let time = decisionTime { w.write(time) }
        w.write(submittedTime)
        w.write(justification)
        w.write(decider)
        w.write(decisionReason)
    }

    public init(from r: inout ByteReader) throws {
        let user = try r.string()
        let role = try r.optionalString()
        let permission = try r.optionalString()
        let scope = try r.optionalUInt64().map { raw throws in
            guard let scope = Scope(rawValue: Int(raw)) else { throw ByteReader.Malformed() }
            return scope
        }
        let requester = try r.string()
        let submittedSeq = try r.uint64()
        self.init(user: user, role: role, permission: permission, scope: scope, requester: requester, submittedSeq: submittedSeq)
        guard let outcome = Outcome(rawValue: try r.string()) else { throw ByteReader.Malformed() }
        self.outcome = outcome
        decisionSeq = try r.optionalUInt64()
        if try r.optionalUInt64() != nil { decisionTime = try r.instant() }
        submittedTime = try r.instant()
        justification = try r.optionalString()
        decider = try r.optionalString()
        decisionReason = try r.optionalString()
    }
}

extension FirstNaming: StoredEntity {
    public func write(to w: inout ByteWriter) {
        w.write(seq)
        w.write(time)
    }

    public init(from r: inout ByteReader) throws {
        self.init(seq: try r.uint64(), time: try r.instant())
    }
}

extension ApprovalTimes: StoredEntity {
    public func write(to w: inout ByteWriter) {
        w.write(times.count)
        for time in times { w.write(time) }
    }

    public init(from r: inout ByteReader) throws {
        self.init()
        for _ in 0..<(try r.int()) { times.append(try r.instant()) }
    }
}

extension AdminLevel {
    /// `super_admin`, `admin`, or `module_admin:<module>`: one string for a set member or a key.
    public var storedName: String { module.map { "\(level):\($0)" } ?? level }

    public init(storedName: String) {
        if let colon = storedName.firstIndex(of: ":") {
            self.init(level: String(storedName[..<colon]), module: String(storedName[storedName.index(after: colon)...]))
        } else {
            self.init(level: storedName)
        }
    }
}
