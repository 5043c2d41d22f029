/// A JSON value as the ledger keeps it: object members in the order they came, numbers as
/// their exact text (an amount of `1200.50` stays `1200.50`, a 40-digit id stays exact).
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// The number's text, checked against the JSON grammar.
    case number(String)
    case string(String)
    case array([JSONValue])
    case object([JSONMember])

    /// The items of an array; empty for anything else.
    public var list: [JSONValue] {
        if case .array(let items) = self { return items }
        return []
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var objectMembers: [JSONMember]? {
        if case .object(let members) = self { return members }
        return nil
    }

    /// The member named `key` (compared byte for byte).
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first { utf8Equal($0.key, key) }?.value
    }

    /// The JSON type's name, for error messages.
    public var kindName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}

public struct JSONMember: Sendable, Equatable {
    public var key: String
    public var value: JSONValue

    public init(_ key: String, _ value: JSONValue) {
        self.key = key
        self.value = value
    }

    /// Swift compares strings by canonical equivalence; JSON keys are compared as bytes.
    public static func == (a: JSONMember, b: JSONMember) -> Bool {
        utf8Equal(a.key, b.key) && a.value == b.value
    }
}
