/// A validated event as the CRM posted it (spec 3.1), before the ledger gives it a place.
public struct Envelope: Sendable, Equatable {
    public struct Actor: Sendable, Equatable {
        public var id: String
        /// `name`, `ip`, `via`, `onBehalfOf` and any other string the CRM adds about the actor.
        public var attributes: [JSONMember]
    }

    public struct Subject: Sendable, Equatable, Hashable {
        public var type: String
        public var id: String
        public init(type: String, id: String) {
            self.type = type
            self.id = id
        }
    }

    public struct Change: Sendable, Equatable {
        public var field: String
        /// Absent on create.
        public var old: JSONValue?
        /// Absent on removal.
        public var new: JSONValue?

        public init(field: String, old: JSONValue? = nil, new: JSONValue? = nil) {
            self.field = field
            self.old = old
            self.new = new
        }
    }

    public enum Outcome: String, Sendable {
        case success, failure
    }

    public var id: String
    public var type: String
    /// The `time` text as sent; `instant` is what it means.
    public var time: String
    public var instant: Instant
    public var actor: Actor
    public var subject: Subject
    public var changes: [Change]
    public var data: [JSONMember]?
    public var outcome: Outcome
    public var reason: String?
    public var requestId: String?
    public var source: String?
    /// The envelope's members after validation, with the server's defaults (`id`, `outcome`)
    /// filled in: what the canonical record is made of.
    public var members: [JSONMember]

    /// A member of `data` by name.
    public func dataString(_ key: String) -> String? {
        data?.first { $0.key == key }?.value.stringValue
    }
}

extension Envelope {
    /// An envelope the program makes rather than parses: the projector's compact replay form, which
    /// keeps only what a fold reads. It has no `members`, so it makes no canonical record.
    public init(
        folding type: String, instant: Instant, actor: String, subject: Subject, changes: [Change] = [], data: [JSONMember]?,
        outcome: Outcome = .success
    ) {
        // Through the memberwise initializer: assigned one by one, the optimizer left a copy of the
        // whole envelope and its release at the end, 13% of a rebuild's read-ahead (BENCHMARKS.md).
        self.init(
            id: "", type: type, time: "", instant: instant, actor: Actor(id: actor, attributes: []), subject: subject,
            changes: changes, data: data, outcome: outcome, reason: nil, requestId: nil, source: nil, members: [])
    }
}
