import EventLog
import EventModel
import Hummingbird
import Projector
import Queries

/// The query string of one request, checked: unknown or repeated parameters are refused (a typo
/// must not silently widen a compliance query), and every value is parsed with an error naming it.
public struct QueryParameters {
    private var values: [String: String] = [:]

    /// Values already checked for unknown and repeated names (the console's form fields).
    public init(values: [String: String]) { self.values = values }

    init(_ request: Request, allowed: Set<String>) throws {
        for (key, value) in request.uri.queryParameters {
            let name = String(key)
            guard allowed.contains(name) else {
                throw APIError(.badRequest, "unknown_parameter",
                    "unknown query parameter \"\(name.prefix(64))\"; this endpoint takes \(allowed.sorted().joined(separator: ", "))", field: name)
            }
            guard values[name] == nil else {
                throw APIError(.badRequest, "invalid_parameter", "query parameter \(name) is given twice", field: name)
            }
            values[name] = String(value)
        }
    }

    func string(_ name: String, maxLength: Int = 128) throws -> String? {
        guard let value = values[name] else { return nil }
        guard !value.isEmpty, value.unicodeScalars.count <= maxLength else {
            throw APIError(.badRequest, "invalid_parameter", "\(name) must be 1–\(maxLength) characters", field: name)
        }
        return value
    }

    /// `type`: an event type, or a prefix such as `user.*` or `user.admin_*`.
    func typeFilter() throws -> String? {
        guard let type = try string("type", maxLength: 66) else { return nil }
        guard Catalog.isTypeFilter(type) else {
            throw APIError(.badRequest, "invalid_parameter", "type must be an event type or a prefix such as user.* or user.admin_*", field: "type")
        }
        return type
    }

    /// `kind`: a finding kind.
    func findingKind() throws -> Finding.Kind? {
        guard let name = try string("kind", maxLength: 64) else { return nil }
        guard let kind = Finding.Kind(rawValue: name) else {
            throw APIError(.badRequest, "invalid_parameter",
                "kind must be one of \(Finding.Kind.allCases.map(\.rawValue).joined(separator: ", "))", field: "kind")
        }
        return kind
    }

    func seq(_ name: String) throws -> UInt64? {
        guard let value = values[name] else { return nil }
        guard let n = UInt64(value) else {
            throw APIError(.badRequest, "invalid_parameter", "\(name) must be a whole number ≥ 0", field: name)
        }
        return n
    }

    func bool(_ name: String) throws -> Bool? {
        guard let value = values[name] else { return nil }
        guard let flag = Bool(value) else {
            throw APIError(.badRequest, "invalid_parameter", "\(name) must be true or false", field: name)
        }
        return flag
    }

    func limit(default fallback: Int = 100, max: Int = 1000) throws -> Int {
        guard let value = values["limit"] else { return fallback }
        guard let n = Int(value), n >= 1, n <= max else {
            throw APIError(.badRequest, "invalid_parameter", max == .max ? "limit must be a whole number ≥ 1" : "limit must be a whole number from 1 to \(max)", field: "limit")
        }
        return n
    }

    func instant(_ name: String) throws -> Instant? {
        guard let value = values[name] else { return nil }
        guard let instant = Instant(rfc3339: value) else {
            throw APIError(.badRequest, "invalid_parameter", "\(name) must be RFC 3339 with an offset, e.g. 2026-03-01T00:00:00Z", field: name)
        }
        return instant
    }

    /// `since` and `until`, refused when the range is reversed (it would answer nothing, silently).
    func timeRange() throws -> (since: Instant?, until: Instant?) {
        let (since, until) = (try instant("since"), try instant("until"))
        if let since, let until, until < since {
            throw APIError(.badRequest, "invalid_parameter", "since (\(since.utcText)) is after until (\(until.utcText))", field: "since")
        }
        return (since, until)
    }

    func order() throws -> EventQueryOrder {
        guard let value = values["order"] else { return .asc }
        guard let order = EventQueryOrder(rawValue: value) else {
            throw APIError(.badRequest, "invalid_parameter", "order must be asc or desc", field: "order")
        }
        return order
    }

    /// A moment for `name` (`from`, `to`): an RFC 3339 instant or seq:N.
    func cut(_ name: String) throws -> AsOf? {
        guard let value = values[name] else { return nil }
        do {
            return try AsOf.parse(value)
        } catch {
            throw APIError(.badRequest, "invalid_parameter", "\(name) must be RFC 3339 with an offset (2026-03-01T00:00:00Z) or seq:N", field: name)
        }
    }

    func permission(_ name: String) throws -> String? {
        guard let value = try string(name) else { return nil }
        guard Catalog.isPermission(value) else {
            throw APIError(.badRequest, "invalid_parameter", "\(name) must be object.action, e.g. sales_order.approve", field: name)
        }
        return value
    }

    /// `format=json` (default) or `format=csv`: true for CSV.
    func format() throws -> Bool {
        switch values["format"] {
        case nil, "json": return false
        case "csv": return true
        default: throw APIError(.badRequest, "invalid_parameter", "format must be json or csv", field: "format")
        }
    }

    /// A length of time as people write it: `90d`, `12w`, `24h`, `30m`, `45s`.
    static func seconds(_ text: String) -> Int64? {
        guard let unit = text.last, let count = Int64(text.dropLast()), count >= 0 else { return nil }
        let multiplier: Int64
        switch unit {
        case "s": multiplier = 1
        case "m": multiplier = 60
        case "h": multiplier = 3_600
        case "d": multiplier = 86_400
        case "w": multiplier = 604_800
        default: return nil
        }
        return count.multipliedReportingOverflow(by: multiplier).overflow ? nil : count * multiplier
    }

    func asOf() throws -> AsOf {
        do {
            return try AsOf.parse(values["asOf"])
        } catch {
            throw APIError.from(error)
        }
    }
}
typealias EventQueryOrder = EventQuery.Order

/// The governance questions' parameters, read alike by the API and the console.
extension QueryParameters {
    /// `user`, `permission`, `role` or `department`: at most one narrows the access changes.
    public func changeFilter() throws -> LedgerQueries.ChangeFilter {
        let filter = LedgerQueries.ChangeFilter(
            user: try string("user"), permission: try permission("permission"), role: try string("role"), department: try string("department"))
        guard [filter.user, filter.permission, filter.role, filter.department].compactMap({ $0 }).count <= 1 else {
            throw APIError(.badRequest, "invalid_parameter", "give at most one of user, permission, role, department")
        }
        return filter
    }

    /// `period`: how long a review holds, as written (`90d` unless given) and in seconds.
    public func reviewPeriod() throws -> (text: String, seconds: Int64) {
        let text = try string("period", maxLength: 16) ?? "90d"
        guard let seconds = Self.seconds(text), seconds > 0 else {
            throw APIError(.badRequest, "invalid_parameter", "period must be a length such as 90d, 12w, 24h", field: "period")
        }
        return (text, seconds)
    }

    /// Exactly one of `permission`, `role`, `adminLevel` or `department`: whose review a report covers.
    public func reviewScope() throws -> LedgerQueries.ReviewScope {
        var scopes: [LedgerQueries.ReviewScope] = []
        if let permission = try permission("permission") { scopes.append(.permission(permission)) }
        if let role = try string("role") { scopes.append(.role(role)) }
        if let text = try string("adminLevel") {
            guard let duty = Policy.Duty(text), case .level(let level) = duty else {
                throw APIError(.badRequest, "invalid_parameter", "adminLevel must be super_admin, admin or module_admin:MODULE", field: "adminLevel")
            }
            scopes.append(.adminLevel(level))
        }
        if let department = try string("department") { scopes.append(.department(department)) }
        guard scopes.count == 1, let scope = scopes.first else {
            throw APIError(.badRequest, "invalid_parameter", "give exactly one scope: permission, role, adminLevel or department")
        }
        return scope
    }

    /// `status`, `olderThan` and `approver`: which access requests to list.
    public func requestFilter() throws -> LedgerQueries.RequestFilter {
        var filter = LedgerQueries.RequestFilter(approver: try string("approver"))
        if let status = try string("status", maxLength: 16) {
            guard let outcome = RequestState.Outcome(rawValue: status) else {
                throw APIError(.badRequest, "invalid_parameter", "status must be pending, approved or rejected", field: "status")
            }
            filter.status = outcome
        }
        if let older = try string("olderThan", maxLength: 16) {
            guard let seconds = Self.seconds(older) else {
                throw APIError(.badRequest, "invalid_parameter", "olderThan must be a length such as 7d or 12h", field: "olderThan")
            }
            filter.olderThanSeconds = seconds
        }
        return filter
    }
}

/// A path parameter, 1–`maxLength` characters, or a 400 naming it: for the API's routes and the console's pages alike.
public func pathString(_ context: some RequestContext, _ name: String, maxLength: Int = 128) throws -> String {
    try pathString(context.parameters.get(name), name, maxLength: maxLength)
}

func pathString(_ value: String?, _ name: String, maxLength: Int = 128) throws -> String {
    guard let value, !value.isEmpty, value.unicodeScalars.count <= maxLength else {
        throw APIError(.badRequest, "invalid_parameter", "\(name) must be 1–\(maxLength) characters", field: name)
    }
    return value
}
