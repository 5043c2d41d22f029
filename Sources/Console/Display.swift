import EventModel
import Foundation
import LedgerHTTP
import Queries

/// The time zone times are shown in: UTC unless the officer picks another. Stored times stay UTC;
/// every shown time carries its ISO 8601 UTC form on hover.
struct DisplayZone: Sendable, Equatable {
    let identifier: String
    private let zone: TimeZone?

    static let utc = DisplayZone(identifier: "UTC", zone: nil)

    /// The zones offered: the CRM's home (China) and the places its auditors work from.
    static let offered: [DisplayZone] = [.utc] + [
        "Asia/Shanghai", "Asia/Hong_Kong", "Asia/Singapore", "Asia/Tokyo", "Europe/London", "Europe/Berlin",
        "America/New_York", "America/Los_Angeles",
    ].compactMap { DisplayZone(identifier: $0) }

    private init(identifier: String, zone: TimeZone?) {
        self.identifier = identifier
        self.zone = zone
    }

    /// One of the offered zones, by name.
    init?(identifier: String) {
        if identifier == "UTC" {
            self = .utc
            return
        }
        guard let zone = TimeZone(identifier: identifier) else { return nil }
        self.init(identifier: identifier, zone: zone)
    }

    static func == (a: DisplayZone, b: DisplayZone) -> Bool { a.identifier == b.identifier }

    func offsetSeconds(at instant: Instant) -> Int {
        zone?.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(instant.seconds))) ?? 0
    }

    /// `2026-03-03 15:45:01 +08:00`, or `2026-03-03 07:45:01 UTC`.
    func format(_ instant: Instant) -> String {
        let offset = offsetSeconds(at: instant)
        var local = Array(Instant(seconds: instant.seconds + Int64(offset)).rfc3339(fractionDigits: 0).utf8.dropLast())
        local[10] = UInt8(ascii: " ")
        let text = String(decoding: local, as: UTF8.self)
        guard zone != nil else { return text + " UTC" }
        let sign = offset < 0 ? "-" : "+"
        let minutes = abs(offset) / 60
        return text + " " + sign + String(minutes / 60).leftPadded(to: 2) + ":" + String(minutes % 60).leftPadded(to: 2)
    }

    /// What an officer types into an as-of or from/to box: empty for now; `seq:N`; RFC 3339 with an
    /// offset; or, in this zone, `YYYY-MM-DD HH:MM[:SS]` (a `T` works too) or a day `YYYY-MM-DD`,
    /// which means the end of that day (the record as it stood that day, after its last change), or
    /// its start for the lower bound of a range (`dayStarts`).
    func parseMoment(_ text: String?, field: String, dayStarts: Bool = false) throws -> AsOf {
        guard let text = text?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return .now }
        if text.hasPrefix("seq:") || Instant(rfc3339: text) != nil {
            do {
                return try AsOf.parse(text)
            } catch {
                throw APIError(.badRequest, "invalid_parameter", "\(field): \(error.description)", field: field)
            }
        }
        let local = text.replacingOccurrences(of: " ", with: "T")
        let isDay = local.utf8.count == 10
        let padded = isDay ? local + "T00:00:00" : local.utf8.count == 16 ? local + ":00" : local
        guard padded.utf8.count == 19, let asIfUTC = Instant(rfc3339: padded + "Z") else {
            throw APIError(
                .badRequest, "invalid_parameter",
                "\(field) must be a day (2026-03-06), a time (2026-03-06 09:30) in \(identifier), RFC 3339 (2026-03-06T01:30:00Z) or seq:N, got \"\(text.prefix(64))\"",
                field: field)
        }
        let guess = Instant(seconds: asIfUTC.seconds - Int64(offsetSeconds(at: asIfUTC)))
        var instant = Instant(seconds: asIfUTC.seconds - Int64(offsetSeconds(at: guess)))
        if isDay && !dayStarts { instant = Instant(seconds: instant.seconds + 86_399, nanoseconds: 999_999_999) }
        return .time(instant)
    }
}

extension JSONValue {
    /// A value as an officer reads it: a string as itself, anything else as its JSON.
    var displayText: String {
        if case .string(let text) = self { return text }
        return String(decoding: CanonicalJSON.encode(self), as: UTF8.self)
    }
}
