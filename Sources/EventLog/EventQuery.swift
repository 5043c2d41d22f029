import EventModel

/// The filters of `GET /v1/events` (spec 5). Filters combine; results are in `seq` order.
public struct EventQuery: Sendable, Equatable {
    public enum Order: String, Sendable { case asc, desc }

    public var subjectType: String?
    public var subjectId: String?
    public var actor: String?
    /// An exact type, or a prefix such as `user.*` or `user.admin_*`.
    public var type: String?
    /// Events that changed this field.
    public var field: String?
    /// Inclusive bounds on `time` (when it happened in the CRM).
    public var since: Instant?
    public var until: Instant?
    /// Only events with a greater seq.
    public var afterSeq: UInt64?
    public var order: Order = .asc
    public var limit: Int = 100
    /// The `next` of the previous page.
    public var cursor: String?

    public init(
        subjectType: String? = nil, subjectId: String? = nil, actor: String? = nil, type: String? = nil,
        field: String? = nil, since: Instant? = nil, until: Instant? = nil, afterSeq: UInt64? = nil,
        order: Order = .asc, limit: Int = 100, cursor: String? = nil
    ) {
        self.subjectType = subjectType
        self.subjectId = subjectId
        self.actor = actor
        self.type = type
        self.field = field
        self.since = since
        self.until = until
        self.afterSeq = afterSeq
        self.order = order
        self.limit = limit
        self.cursor = cursor
    }

    /// The type filter as a prefix (`user.`, `user.admin_`) when it ends in `*`.
    var typePrefix: String? {
        guard let type, type.hasSuffix("*") else { return nil }
        return String(type.dropLast())
    }

    /// Whether a decoded event passes every filter.
    func matches(_ e: Envelope) -> Bool {
        if let subjectType, !utf8Equal(e.subject.type, subjectType) { return false }
        if let subjectId, !utf8Equal(e.subject.id, subjectId) { return false }
        if let actor, !utf8Equal(e.actor.id, actor) { return false }
        if let prefix = typePrefix {
            if !e.type.hasPrefix(prefix) { return false }
        } else if let type, e.type != type {
            return false
        }
        if let field, !e.changes.contains(where: { utf8Equal($0.field, field) }) { return false }
        if let since, e.instant < since { return false }
        if let until, until < e.instant { return false }
        return true
    }
}

/// One page of events and the cursor of the next, nil on the last page.
public struct EventPage: Sendable, Equatable {
    public var events: [LoggedEvent]
    public var next: String?
}

/// Paging cursors: opaque to clients, `v1:<order>:<last seq>` in base64url inside.
enum PageCursor {
    static func encode(order: EventQuery.Order, lastSeq: UInt64) -> String {
        Base64URL.encode(Array("v1:\(order.rawValue):\(lastSeq)".utf8))
    }

    static func decode(_ cursor: String, order: EventQuery.Order) throws -> UInt64 {
        guard cursor.utf8.count <= 256, let bytes = Base64URL.decode(cursor) else { throw LogError(.badCursor, "cursor is not one this server made") }
        let parts = String(decoding: bytes, as: UTF8.self).split(separator: ":")
        guard parts.count == 3, parts[0] == "v1", let seq = UInt64(parts[2]) else {
            throw LogError(.badCursor, "cursor is not one this server made")
        }
        guard parts[1] == order.rawValue else {
            throw LogError(.badCursor, "cursor was made for order=\(parts[1]); pass the same filters and order")
        }
        return seq
    }
}
