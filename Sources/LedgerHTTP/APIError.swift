import EventLog
import EventModel
import Hummingbird
import Queries

/// An error that renders itself in the spec's shape:
/// `{"error": {"code": "...", "message": "...", "index": 3, "field": "actor.id"}}`.
public struct APIError: Error, HTTPResponseError, Sendable {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    public var index: Int?
    public var field: String?
    /// What went wrong below, for the server's log only (a 500 never shows it to the client).
    public var cause: String?
    /// Headers the answer carries besides its JSON, e.g. `Allow` on a 405.
    public var headers: HTTPFields = [:]

    public init(
        _ status: HTTPResponse.Status, _ code: String, _ message: String, index: Int? = nil, field: String? = nil, cause: String? = nil
    ) {
        self.status = status
        self.code = code
        self.message = message
        self.index = index
        self.field = field
        self.cause = cause
    }

    public var json: JSONValue {
        var members = [JSONMember("code", .string(code)), JSONMember("message", .string(message))]
        if let index { members.append(JSONMember("index", .number(String(index)))) }
        if let field { members.append(JSONMember("field", .string(field))) }
        return .object([JSONMember("error", .object(members))])
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        Response(status: status, headers: responseHeaders, body: .init(byteBuffer: responseBody))
    }

    /// The answer's body: `json`, canonical, with a final newline.
    var responseBody: ByteBuffer { jsonBody([CanonicalJSON.encode(json)]) }

    /// The answer's headers: its JSON type, then any of its own.
    var responseHeaders: HTTPFields {
        var fields = jsonHeaders
        for field in headers { fields.append(field) }
        if status == .unauthorized { fields[.wwwAuthenticate] = "Bearer" }
        return fields
    }

    /// A 500's message names the request, whose id the server log has the cause under.
    func naming(requestID: String) -> APIError {
        var named = self
        named.message += " (request id \(requestID); the server log has the cause)"
        return named
    }

    /// What a failure of a lower layer means to a client.
    public static func from(_ error: any Error) -> APIError {
        switch error {
        case let e as APIError: return e
        case let e as ValidationError:
            let status: HTTPResponse.Status = e.code == .bodyTooLarge || e.code == .eventTooLarge ? .contentTooLarge : .badRequest
            return APIError(status, e.code.rawValue, e.message, index: e.index, field: e.field)
        case let e as LogError:
            switch e.code {
            case .conflict: return APIError(.conflict, "conflict", e.message, index: e.index, field: "id")
            case .diskFull: return APIError(.init(code: 507, reasonPhrase: "Insufficient Storage"), "disk_full", e.message)
            case .storage, .closed, .locked, .halted: return APIError(.serviceUnavailable, e.code.rawValue, e.message)
            case .badCursor: return APIError(.badRequest, "bad_cursor", e.message, field: "cursor")
            case .corrupt: return APIError(.internalServerError, "corrupt", e.message, cause: e.description)
            case .invalid: return APIError(.badRequest, "invalid", e.message, index: e.index)
            case .unsigned: return APIError(.serviceUnavailable, "unsigned", e.message)
            }
        case let e as AsOf.ParseError:
            return APIError(.badRequest, "invalid_as_of", e.description, field: "asOf")
        default:
            return APIError(.internalServerError, "internal", "internal error", cause: "\(error)")
        }
    }
}

/// A compact JSON response.
func jsonResponse(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
    jsonResponse(canonical: CanonicalJSON.encode(value), status: status)
}

/// A response of canonical JSON bytes already made (off the event loop, for a large answer).
func jsonResponse(canonical: [UInt8], status: HTTPResponse.Status = .ok) -> Response {
    jsonResponse(body: jsonBody([canonical]), status: status)
}

/// A response of a JSON body already made.
func jsonResponse(body: ByteBuffer, status: HTTPResponse.Status = .ok) -> Response {
    Response(status: status, headers: jsonHeaders, body: .init(byteBuffer: body))
}

/// The headers of every JSON answer.
let jsonHeaders: HTTPFields = [.contentType: "application/json; charset=utf-8"]

/// A JSON body from the parts of canonical JSON bytes and a final newline, copied once: make it
/// where the parts were made (off the event loop) when they run to megabytes.
public func jsonBody(_ parts: [[UInt8]]) -> ByteBuffer {
    var body = ByteBufferAllocator().buffer(capacity: parts.reduce(1) { $0 + $1.count })
    for part in parts { body.writeBytes(part) }
    body.writeInteger(UInt8(ascii: "\n"))
    return body
}
