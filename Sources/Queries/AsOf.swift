import EventModel

/// The moment an answer is computed for (spec 4): after every event with `time` ≤ an instant,
/// in seq order (late events included), or after events 1…N.
public enum AsOf: Sendable, Equatable {
    /// The ledger's head when the question is answered.
    case now
    case time(Instant)
    case seq(UInt64)

    public struct ParseError: Error, Equatable, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// `nil` or empty → `.now`; `seq:N`; or RFC 3339 with an offset.
    public static func parse(_ text: String?) throws(ParseError) -> AsOf {
        guard let text, !text.isEmpty else { return .now }
        if text.hasPrefix("seq:") {
            guard let n = UInt64(text.dropFirst(4)) else {
                throw ParseError(description: "asOf=seq:N needs a whole number N ≥ 0, got \"\(text.prefix(64))\"")
            }
            return .seq(n)
        }
        guard let instant = Instant(rfc3339: text) else {
            throw ParseError(description: "asOf must be RFC 3339 with an offset (2026-03-01T00:00:00Z) or seq:N, got \"\(text.prefix(64))\"")
        }
        return .time(instant)
    }

    /// The last seq an answer can include (every seq for a time).
    var lastSeq: UInt64 {
        if case .seq(let n) = self { return n }
        return .max
    }

    /// The instant of a cut by time.
    var instant: Instant? {
        if case .time(let t) = self { return t }
        return nil
    }

    /// Whether an event belongs to the answer.
    public func includes(seq: UInt64, time: Instant) -> Bool {
        switch self {
        case .now: true
        case .time(let t): !(t < time)
        case .seq(let n): seq <= n
        }
    }

    /// What the answer echoes: the instant in UTC, or `seq:N` (for `.now`, the head it saw).
    func echo(head: UInt64) -> String {
        switch self {
        case .now: "seq:\(head)"
        case .time(let t): t.utcText
        case .seq(let n): "seq:\(n)"
        }
    }
}
