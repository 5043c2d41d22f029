import EventModel

/// The projection's entities as bytes in its LMDB environment (`ByteWriter`, `ByteReader`): varints,
/// length-prefixed strings, and field values as canonical JSON. Compact and quick to decode, because a
/// fold loads every entity it touches that is not already in memory.
/// A key of an entity's facts or grants as stored: by its id, whatever the dictionary in memory is
/// keyed by (`String`, or `TableKey` where the fold looks them up at every event).
protocol StoredKey: Hashable {
    init(storedId: String)
    var storedId: String { get }
}

extension String: StoredKey {
    init(storedId: String) { self = storedId }
    var storedId: String { self }
}

extension TableKey: StoredKey {
    init(storedId: String) { self.init(storedId) }
    var storedId: String { id }
}

extension ByteWriter {
    mutating func write<Key: StoredKey>(_ facts: [Key: Fact]) {
        write(facts.count)
        for (field, fact) in facts {
            write(field.storedId)
            write(fact.seq)
            write(fact.value)
        }
    }

    mutating func write<Key: StoredKey>(_ grants: [Key: Grant]) {
        write(grants.count)
        for (permission, grant) in grants {
            write(permission.storedId)
            write(grant.scope.rawValue)
            write(grant.seq)
        }
    }
}

extension ByteReader {
    mutating func facts<Key: StoredKey>() throws -> [Key: Fact] {
        let count = try int()
        var out: [Key: Fact] = [:]
        out.reserveCapacity(count)
        for _ in 0..<count {
            let field = try string()
            let seq = try uint64()
            out[Key(storedId: field)] = Fact(value: try json(), seq: seq)
        }
        return out
    }

    mutating func grants<Key: StoredKey>() throws -> [Key: Grant] {
        let count = try int()
        var out: [Key: Grant] = [:]
        out.reserveCapacity(count)
        for _ in 0..<count {
            let permission = try string()
            guard let scope = Scope(rawValue: try int()) else { throw Malformed() }
            out[Key(storedId: permission)] = Grant(scope: scope, seq: try uint64())
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
        grantsByKey = try r.grants()
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
        facts = try r.facts()
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
