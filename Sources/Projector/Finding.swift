import EventModel

/// A policy violation (spec 4), found as the event was folded, with the events that show it.
public struct Finding: Sendable, Equatable {
    public enum Kind: String, CaseIterable, Sendable {
        case unauthorizedChange = "unauthorized_change"
        case adminGrantedByNonSuperAdmin = "admin_granted_by_non_super_admin"
        case selfGrant = "self_grant"
        case selfApproval = "self_approval"
        case inactiveActor = "inactive_actor"
        case lastSuperAdminRemoved = "last_super_admin_removed"
        case stateMismatch = "state_mismatch"
        case grantWithoutApproval = "grant_without_approval"

        /// A stable small number for storage keys.
        public var code: UInt8 { UInt8(Kind.allCases.firstIndex(of: self)!) }
    }

    public var kind: Kind
    public var seq: UInt64
    public var time: Instant
    public var actor: String
    public var subject: Envelope.Subject
    /// A sentence a compliance officer understands.
    public var message: String
    /// The events that show it, besides `seq` itself.
    public var evidence: [UInt64]

    public var id: String { "f-\(seq)-\(kind.rawValue)" }
}

/// Policy switches of spec 7 (`policy.*`).
public struct Policy: Sendable, Equatable {
    /// Flag grants with no approved access request for them in the 30 days before.
    public var requireApprovedRequest: Bool

    public init(requireApprovedRequest: Bool = false) {
        self.requireApprovedRequest = requireApprovedRequest
    }
}
