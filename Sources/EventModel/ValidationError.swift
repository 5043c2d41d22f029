/// Why an input was refused: a stable code for programs, a sentence for people, and where.
public struct ValidationError: Error, Equatable, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        /// Not JSON: bad syntax, invalid UTF-8, lone surrogate, duplicate key, too deep.
        case invalidJSON = "invalid_json"
        /// A field has the wrong type or value.
        case invalidField = "invalid_field"
        case missingField = "missing_field"
        /// A field the envelope does not define (typos must not be silently lost).
        case unknownField = "unknown_field"
        case eventTooLarge = "event_too_large"
        case bodyTooLarge = "body_too_large"
        case emptyBatch = "empty_batch"
    }

    public var code: Code
    public var message: String
    /// The field at fault, as a dotted path: `actor.id`, `changes[2].field`, `data.scope`.
    public var field: String?
    /// The event's position in a batch.
    public var index: Int?

    public init(_ code: Code, _ message: String, field: String? = nil, index: Int? = nil) {
        self.code = code
        self.message = message
        self.field = field
        self.index = index
    }

    public var description: String {
        var s = "\(code.rawValue): \(message)"
        if let index { s += " (event \(index))" }
        return s
    }
}
