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
        let (to, filter) = (try p.cut("to") ?? .now, try p.changeFilter())
        return jsonResponse(body: try await run { jsonBody(try $0.queries.accessChanges(from: from, to: to, filter: filter).canonicalJSONParts) })
    }

    func reviewReport(_ request: Request) async throws -> Response {
        let p = try QueryParameters(request, allowed: ["asOf", "period", "permission", "role", "adminLevel", "department", "format"])
        let (asOf, period, scope) = (try p.asOf(), try p.reviewPeriod(), try p.reviewScope())
        let csv = try p.format()
        let report = try await run { try $0.queries.reviewReport(asOf: asOf, periodSeconds: period.seconds, period: period.text, scope: scope) }
        if csv { return csvResponse(Self.reportCSV(report)) }
        return jsonResponse(canonical: try await run { try $0.queries.signedReport(report) })
    }

    func accessRequests(_ request: Request) async throws -> Response {
        let p = try QueryParameters(request, allowed: ["status", "olderThan", "approver", "limit", "cursor"])
        let (limit, cursor, query) = (try p.limit(), try p.string("cursor"), try p.requestFilter())
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
        let (header, rows) = reportRows(report)
        var csv = CSV(header: header)
        for row in rows { csv.append(row) }
        return csv.text
    }

    /// The report's header and rows for a spreadsheet, one row a holder.
    public static func reportRows(_ report: ReviewReport) -> (header: [String], rows: [[String]]) {
        let header = ["user", "overdue", "last_review_seq", "last_review_by", "last_review_at", "last_review_decision", "pending_requests", "as_of", "period"]
        let rows = report.holders.map { holder in
            let review = holder.lastReview
            return [
                holder.user, holder.overdue ? "yes" : "no", review.map { String($0.lineage.seq) } ?? "", review?.lineage.actor ?? "",
                review?.lineage.time.utcText ?? "", review?.decision ?? "", holder.pending.map(\.id).joined(separator: " "), report.asOf, report.period,
            ]
        }
        return (header, rows)
    }
}
