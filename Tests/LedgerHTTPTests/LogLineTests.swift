import EventModel
@testable import LedgerDaemon
import Logging
import Testing

/// The daemon's log line: time, level, label, metadata sorted by key (the entry's own winning over
/// the handler's), source, message.
@Suite struct LogLineTests {
    @Test func aLineHoldsEveryPartInItsPlace() {
        var handler = LogLines(label: "ledgerd", metadataProvider: .init { ["trace.id": "t-1", "http.path": "provider"] })
        handler[metadataKey: "hb.request.id"] = "r-9"
        handler[metadataKey: "http.path"] = "handler"
        let event = LogEvent(
            level: .info, message: "request",
            metadata: ["http.status": "201", "http.path": "/v1/events", "list": .array(["a", "b"]), "note": "gröẞe ✓"],
            source: "LedgerHTTP", file: #fileID, function: #function, line: #line)
        let time = Instant(seconds: 1_773_387_901, nanoseconds: 123_456_789)
        let line = String(decoding: handler.line(for: event, at: time), as: UTF8.self)
        #expect(
            line
                == "2026-03-13T07:45:01.123Z info ledgerd: hb.request.id=r-9 http.path=/v1/events http.status=201 list=[\"a\", \"b\"] note=gröẞe ✓ trace.id=t-1 [LedgerHTTP] request\n"
        )
    }

    @Test func anErrorLineNamesItsLevel() {
        let handler = LogLines(label: "ledgerd")
        let event = LogEvent(level: .error, message: "internal error", metadata: nil, source: "S", file: #fileID, function: #function, line: #line)
        let line = String(decoding: handler.line(for: event, at: Instant(seconds: 0)), as: UTF8.self)
        #expect(line == "1970-01-01T00:00:00.000Z error ledgerd: [S] internal error\n")
    }
}
