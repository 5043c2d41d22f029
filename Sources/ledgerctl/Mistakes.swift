import EventModel
import Foundation

/// What people mistype, caught before or after asking the ledger, with a suggestion: a wrong name
/// exits 2 and says what was probably meant, instead of an empty answer that looks like "nobody".
enum Mistakes {
    /// The closest name, if it is close enough to be what was meant.
    static func closest(to typo: String, among names: [String]) -> String? {
        let lowered = typo.lowercased()
        if let sameCase = names.first(where: { $0.lowercased() == lowered }) { return sameCase }
        var best: (name: String, distance: Int)?
        for name in names {
            let d = distance(lowered, name.lowercased())
            if best.map({ d < $0.distance }) ?? true { best = (name, d) }
        }
        guard let best, best.distance <= max(2, typo.count / 3) else { return nil }
        return best.name
    }

    /// "; did you mean X?" or nothing.
    static func hint(_ typo: String, among names: [String]) -> String {
        closest(to: typo, among: names).map { "; did you mean \($0)?" } ?? ""
    }

    /// Levenshtein distance over characters.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
                current[j] = min(previous[j] + 1, current[j - 1] + 1, substitution)
            }
            previous = current
        }
        return previous[b.count]
    }

    static func failure(_ message: String) -> CommandFailure { CommandFailure(exitCode: 2, description: message) }
}

/// Times as people write them: a date (`2026-03-01`, midnight in the zone), a local time
/// (`2026-03-01 09:30`, `2026-03-01T09:30:15`, in the zone), or RFC 3339 with an offset. The
/// zone is `--tz`'s, UTC by default. Sent to the ledger as RFC 3339 UTC.
struct TimeInput {
    var zone: TimeZone?

    func instant(_ text: String, option: String) throws -> Instant {
        if let exact = Instant(rfc3339: text) { return exact }
        let parts = text.split(whereSeparator: { $0 == " " || $0 == "T" }).map(String.init)
        guard (1...2).contains(parts.count), let date = Self.date(parts[0]) else { throw Self.refusal(text, option) }
        var (hour, minute, second) = (0, 0, 0)
        if parts.count == 2 {
            let clock = parts[1].split(separator: ":").map { Int($0) }
            guard (2...3).contains(clock.count), clock.allSatisfy({ $0 != nil }) else { throw Self.refusal(text, option) }
            (hour, minute, second) = (clock[0]!, clock[1]!, clock.count == 3 ? clock[2]! : 0)
            guard hour < 24, minute < 60, second < 60 else { throw Self.refusal(text, option) }
        }
        let local = String(format: "%04d-%02d-%02dT%02d:%02d:%02dZ", date.0, date.1, date.2, hour, minute, second)
        guard let asIfUTC = Instant(rfc3339: local) else { throw Self.refusal(text, option) }
        // The zone's offset at that moment (twice, so a time near a change of offset lands right).
        let zone = self.zone ?? TimeZone(identifier: "UTC")!
        var offset = zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(asIfUTC.seconds)))
        offset = zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(asIfUTC.seconds - Int64(offset))))
        return Instant(seconds: asIfUTC.seconds - Int64(offset))
    }

    /// The value an option sends: RFC 3339 UTC.
    func rfc3339(_ text: String?, option: String) throws -> String? {
        try text.map { try instant($0, option: option).utcText }
    }

    /// `since` and `until`, refused when reversed.
    func range(since: String?, until: String?) throws -> (since: String?, until: String?) {
        let (from, to) = (try since.map { try instant($0, option: "--since") }, try until.map { try instant($0, option: "--until") })
        if let from, let to, to < from {
            throw Mistakes.failure("--since (\(from.utcText)) is after --until (\(to.utcText)): nothing could match")
        }
        return (from?.utcText, to?.utcText)
    }

    /// `--as-of`: `seq:N` as it is, else a time as above.
    func asOf(_ text: String?) throws -> String? {
        guard let text else { return nil }
        if text.hasPrefix("seq:") { return text }
        return try instant(text, option: "--as-of").utcText
    }

    private static func date(_ text: String) -> (Int, Int, Int)? {
        let fields = text.split(separator: "-", omittingEmptySubsequences: false)
        guard fields.count == 3, fields[0].count == 4, fields[1].count == 2, fields[2].count == 2,
            let y = Int(fields[0]), let m = Int(fields[1]), let d = Int(fields[2])
        else { return nil }
        return (y, m, d)
    }

    private static func refusal(_ text: String, _ option: String) -> CommandFailure {
        Mistakes.failure(
            "\(option) \(text) is not a time: give a date (2026-03-01), a local time (2026-03-01 09:30, in --tz), or RFC 3339 (2026-03-01T09:30:00+08:00)")
    }
}

/// `--tz`: an IANA zone name or an offset. Abbreviations are refused: CST is China, US Central
/// and Cuba, IST India, Ireland and Israel; Foundation would silently pick one.
enum ZoneInput {
    static let ambiguous: [String: [String]] = [
        "CST": ["Asia/Shanghai", "America/Chicago", "America/Havana"],
        "IST": ["Asia/Kolkata", "Europe/Dublin", "Asia/Jerusalem"],
        "BST": ["Europe/London", "Asia/Dhaka"],
        "EST": ["America/New_York"], "EDT": ["America/New_York"],
        "PST": ["America/Los_Angeles"], "PDT": ["America/Los_Angeles"],
        "MST": ["America/Denver"], "CET": ["Europe/Paris"], "CEST": ["Europe/Paris"],
        "JST": ["Asia/Tokyo"], "KST": ["Asia/Seoul"], "HKT": ["Asia/Hong_Kong"], "SGT": ["Asia/Singapore"],
    ]

    static func parse(_ text: String) throws -> TimeZone? {
        if text == "UTC" || text == "Z" || text == "GMT" { return nil }
        if text.count <= 5, text.allSatisfy({ $0.isLetter }) {
            let names = ambiguous[text.uppercased()] ?? []
            let examples = names.isEmpty ? "Asia/Shanghai" : names.joined(separator: " or ")
            throw Mistakes.failure("--tz \(text) is an abbreviation, which names several zones: give an IANA name such as \(examples), or an offset such as +08:00")
        }
        if let named = TimeZone(identifier: text) { return named }
        if let seconds = offsetSeconds(text), let fixed = TimeZone(secondsFromGMT: seconds) { return fixed }
        throw Mistakes.failure("--tz \(text) is not a zone\(Mistakes.hint(text, among: TimeZone.knownTimeZoneIdentifiers)): give an IANA name such as Asia/Shanghai or an offset such as +08:00")
    }

    static func offsetSeconds(_ text: String) -> Int? {
        let b = Array(text.utf8)
        guard b.count == 6, b[0] == UInt8(ascii: "+") || b[0] == UInt8(ascii: "-"), b[3] == UInt8(ascii: ":"),
            let h = Int(String(text.dropFirst().prefix(2))), let m = Int(String(text.suffix(2))), h <= 23, m <= 59
        else { return nil }
        return (h * 3600 + m * 60) * (b[0] == UInt8(ascii: "-") ? -1 : 1)
    }
}
