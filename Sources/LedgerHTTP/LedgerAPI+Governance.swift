import EventModel
import Foundation
import Hummingbird
import Projector
import Queries

/// The routes of access governance (issue 14): changes between two moments, the signed review
/// report, the access requests, and what a candidate event would do.
extension LedgerAPI {
    func addGovernanceRoutes(to read: RouterGroup<LedgerRequestContext>) {
        read.get("/access/changes") { request, _ in try await accessChanges(request) }
        read.get("/reviews/report") { request, _ in try await reviewReport(request) }
        read.get("/access-requests") { request, _ in try await accessRequests(request) }
        read.post("/what-if") { request, _ in try await whatIf(request) }
    }

    func accessChanges(_ request: Request) async throws -> Response {
        let p = try QueryParameters(request, allowed: ["from", "to", "user", "permission", "role", "department"])
        guard let from = try p.cut("from") else {
            throw APIError(.badRequest, "invalid_parameter", "from is required: an RFC 3339 instant or seq:N", field: "from")
        }
        let to = try p.cut("to") ?? .now
        let filter = LedgerQueries.ChangeFilter(
            user: try p.string("user"), permission: try p.permission("permission"), role: try p.string("role"), department: try p.string("department"))
        guard [filter.user, filter.permission, filter.role, filter.department].compactMap({ $0 }).count <= 1 else {
            throw APIError(.badRequest, "invalid_parameter", "give at most one of user, permission, role, department")
        }
        return jsonResponse(body: try await run { jsonBody(try $0.queries.accessChanges(from: from, to: to, filter: filter).canonicalJSONParts) })
    }

    func reviewReport(_ request: Request) async throws -> Response {
        let p = try QueryParameters(request, allowed: ["asOf", "period", "permission", "role", "adminLevel", "department", "format"])
        let asOf = try p.asOf()
        let periodText = try p.string("period", maxLength: 16) ?? "90d"
        guard let period = QueryParameters.seconds(periodText), period > 0 else {
            throw APIError(.badRequest, "invalid_parameter", "period must be a length such as 90d, 12w, 24h", field: "period")
        }
        var scopes: [LedgerQueries.ReviewScope] = []
        if let permission = try p.permission("permission") { scopes.append(.permission(permission)) }
        if let role = try p.string("role") { scopes.append(.role(role)) }
        if let text = try p.string("adminLevel") {
            guard let duty = Policy.Duty(text), case .level(let level) = duty else {
                throw APIError(.badRequest, "invalid_parameter", "adminLevel must be super_admin, admin or module_admin:MODULE", field: "adminLevel")
            }
            scopes.append(.adminLevel(level))
        }
        if let department = try p.string("department") { scopes.append(.department(department)) }
        guard scopes.count == 1, let scope = scopes.first else {
            throw APIError(.badRequest, "invalid_parameter", "give exactly one scope: permission, role, adminLevel or department")
        }
        let csv = try p.format()
        let report = try await run { try $0.queries.reviewReport(asOf: asOf, periodSeconds: period, period: periodText, scope: scope) }
        if csv { return csvResponse(Self.reportCSV(report)) }
        return jsonResponse(canonical: try await run { try $0.queries.signedReport(report) })
    }

    func accessRequests(_ request: Request) async throws -> Response {
        let p = try QueryParameters(request, allowed: ["status", "olderThan", "approver", "limit", "cursor"])
        var filter = LedgerQueries.RequestFilter(approver: try p.string("approver"))
        if let status = try p.string("status", maxLength: 16) {
            guard let outcome = RequestState.Outcome(rawValue: status) else {
                throw APIError(.badRequest, "invalid_parameter", "status must be pending, approved or rejected", field: "status")
            }
            filter.status = outcome
        }
        if let older = try p.string("olderThan", maxLength: 16) {
            guard let seconds = QueryParameters.seconds(older) else {
                throw APIError(.badRequest, "invalid_parameter", "olderThan must be a length such as 7d or 12h", field: "olderThan")
            }
            filter.olderThanSeconds = seconds
        }
        let (limit, cursor, query) = (try p.limit(), try p.string("cursor"), filter)
        return jsonResponse(canonical: try await run { CanonicalJSON.encode(try $0.queries.accessRequests(query, limit: limit, cursor: cursor).json) })
    }

    func whatIf(_ request: Request) async throws -> Response {
        _ = try QueryParameters(request, allowed: [])
        try requireJSON(request)
        let body = try await collect(request.body, limit: 1 << 20)
        let event: PreparedEvent
        do {
            let (events, isBatch) = try body.withUnsafeBytes { try EventBody.parse($0) }
            guard !isBatch, let first = events.first else {
                throw APIError(.badRequest, "invalid_body", "the body must be one event, not a batch")
            }
            event = first
        } catch let error as APIError {
            throw error
        } catch {
            throw APIError.from(error)
        }
        return jsonResponse(canonical: try await run { CanonicalJSON.encode(try $0.queries.whatIf(event).json) })
    }

    /// The report as a spreadsheet: one row a holder.
    static func reportCSV(_ report: ReviewReport) -> String {
        var csv = CSV(header: ["user", "overdue", "last_review_seq", "last_review_by", "last_review_at", "last_review_decision", "pending_requests", "as_of", "period"])
        for holder in report.holders {
            let review = holder.lastReview
            csv.append([
                holder.user, holder.overdue ? "yes" : "no", review.map { String($0.lineage.seq) } ?? "", review?.lineage.actor ?? "",
                review?.lineage.time.utcText ?? "", review?.decision ?? "", holder.pending.map(\.id).joined(separator: " "), report.asOf, report.period,
            ])
        }
        return csv.text
    }
}
