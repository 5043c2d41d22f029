import EventLog
import EventModel
import Projector

/// One way out of the ledger. A send that returns has been accepted by the receiver (a 2xx, or
/// written to the syslog connection); one that throws counts as not delivered at all and is sent
/// again, so the receiver may see an event twice and tells by its seq.
protocol Sink: Sendable {
    func send(events: [LoggedEvent]) async throws
    func send(findings: [Finding]) async throws
    func close() async
}

/// Why a send failed, for the log and the failures metric.
struct SinkError: Error, CustomStringConvertible {
    var description: String
}

extension LoggedEvent {
    /// The record's `recordedAt`, read from its fixed prefix `{"seq":N,"recordedAt":"…",`.
    var recordedAt: String {
        let marker = Array(#""recordedAt":""#.utf8)
        guard let start = record.firstRange(of: marker)?.upperBound,
            let end = record[start...].firstIndex(of: UInt8(ascii: "\""))
        else { return "-" }
        return String(decoding: record[start..<end], as: UTF8.self)
    }
}
