import EventModel
import Foundation

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
        case sodConflict = "sod_conflict"
        case moduleWithoutAdmin = "module_without_admin"
        case staleAccess = "stale_access"

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
    /// Its place among the findings of its kind on the same event (one event can show several:
    /// two mismatching changes, a role grant that joins duties for several members).
    public var ordinal: Int = 0

    /// `f-17-self_grant`; a second finding of the kind on the same event `f-17-self_grant-2`.
    public var id: String { "f-\(seq)-\(kind.rawValue)" + (ordinal == 0 ? "" : "-\(ordinal + 1)") }

    /// Where it sorts: seq, then kind, then ordinal; also its storage key and its cursor.
    public struct Position: Comparable, Sendable {
        public var seq: UInt64
        public var code: UInt8
        public var ordinal: UInt16

        public static func < (a: Position, b: Position) -> Bool { (a.seq, a.code, a.ordinal) < (b.seq, b.code, b.ordinal) }

        /// The position right after this one.
        var next: Position {
            if ordinal < .max { return Position(seq: seq, code: code, ordinal: ordinal + 1) }
            if code < .max { return Position(seq: seq, code: code + 1, ordinal: 0) }
            return Position(seq: seq + 1, code: 0, ordinal: 0)
        }
    }

    public var position: Position { Position(seq: seq, code: kind.code, ordinal: UInt16(clamping: ordinal)) }
}

/// Policy switches of spec 7 (`policy.*`), and the rules that need the operator's words.
public struct Policy: Sendable, Equatable {
    /// Flag grants with no approved access request for them in the 30 days before.
    public var requireApprovedRequest: Bool
    /// Duties one user must not hold together (`sod_conflict`).
    public var separationOfDuties: [DutyPair]
    /// Flag a user whose department changed and whose roles did not, this many days later
    /// (`stale_access`); 0 turns it off.
    public var staleAccessDays: Int

    public init(requireApprovedRequest: Bool = false, separationOfDuties: [DutyPair] = [], staleAccessDays: Int = 30) {
        self.requireApprovedRequest = requireApprovedRequest
        self.separationOfDuties = separationOfDuties
        self.staleAccessDays = staleAccessDays
    }

    /// One duty: a permission (`sales_order.approve`) or an admin level (`super_admin`, `admin`,
    /// `module_admin:sales_order`).
    public enum Duty: Sendable, Hashable, CustomStringConvertible {
        case permission(String)
        case level(AdminLevel)

        /// A name with a dot is a permission; without, an admin level.
        public init?(_ text: String) {
            if text.contains(".") {
                guard Catalog.isPermission(text) else { return nil }
                self = .permission(text)
            } else {
                let level = AdminLevel(storedName: text)
                guard Catalog.adminLevels.contains(level.level), (level.level == "module_admin") == (level.module != nil) else { return nil }
                self = .level(level)
            }
        }

        public var description: String {
            switch self {
            case .permission(let p): p
            case .level(let level): level.storedName
            }
        }
    }

    /// Two duties that must stay apart, written `a+b`.
    public struct DutyPair: Sendable, Hashable, CustomStringConvertible {
        public var first: Duty
        public var second: Duty

        public init?(_ text: String) {
            let parts = text.split(separator: "+").map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, let first = Duty(parts[0]), let second = Duty(parts[1]), first != second else { return nil }
            self.first = first
            self.second = second
        }

        public var description: String { "\(first)+\(second)" }
    }

    /// The policy as one line, stored with a projection (a changed policy rebuilds it) and read back
    /// by a read-only projector, which judges its tail by the same rules.
    public var tag: String {
        "requireApprovedRequest=\(requireApprovedRequest);staleAccessDays=\(staleAccessDays);separationOfDuties=\(separationOfDuties.map(\.description).joined(separator: ","))"
    }

    public init?(tag: String) {
        var values: [String: String] = [:]
        for part in tag.split(separator: ";") {
            guard let equals = part.firstIndex(of: "=") else { return nil }
            values[String(part[..<equals])] = String(part[part.index(after: equals)...])
        }
        guard let approval = values["requireApprovedRequest"].flatMap(Bool.init), let days = values["staleAccessDays"].flatMap(Int.init),
            let duties = values["separationOfDuties"]
        else { return nil }
        let pairs = duties.split(separator: ",").map { DutyPair(String($0)) }
        guard !pairs.contains(where: { $0 == nil }) else { return nil }
        self.init(requireApprovedRequest: approval, separationOfDuties: pairs.compactMap { $0 }, staleAccessDays: days)
    }
}
