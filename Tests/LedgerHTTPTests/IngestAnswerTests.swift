import EventLog
import EventModel
@testable import LedgerHTTP
import Testing

/// The append's answer is written straight into bytes; it must be the canonical encoding of the
/// results as values, whatever the ids hold.
@Suite struct IngestAnswerTests {
    /// The answer as it was made before: a tree of values, sorted and encoded.
    static func asValues(_ results: [AppendResult]) -> [UInt8] {
        let items = results.map { result in
            JSONValue.object([
                JSONMember("seq", .number(String(result.seq))), JSONMember("id", .string(result.id)),
                JSONMember("hash", .string(hexString(result.hash))), JSONMember("duplicate", .bool(result.duplicate)),
            ])
        }
        return CanonicalJSON.encode(.object([JSONMember("results", .array(items))]))
    }

    @Test func theAnswerIsTheCanonicalEncodingOfTheResults() async throws {
        let server = try Server()
        let ids = ["evt-1", "evt-\"quoted\"", "evt-back\\slash", "evt-事件", "evt-😀"]
        let body = "[" + ids.enumerated().map { index, id in
            let escaped = String(decoding: CanonicalJSON.encode(.string(id)), as: UTF8.self)
            return #"{"id":\#(escaped),"type":"user.updated","time":"2026-01-05T01:00:0\#(index).000Z","actor":{"id":"u-1"},"subject":{"type":"user","id":"u-\#(index)"},"changes":[{"field":"name","new":"n"}]}"#
        }.joined(separator: ",") + "]"
        let fresh = try await server.log.append(try EventBody.parse(Array(body.utf8)).events)
        let again = try await server.log.append(try EventBody.parse(Array(body.utf8)).events)
        for results in [fresh, again, [fresh[0]], Array(fresh.prefix(2)) + Array(again.suffix(2))] {
            let (status, bytes) = LedgerAPI.ingestAnswer(results)
            #expect(bytes == Self.asValues(results))
            #expect(status == (results.allSatisfy(\.duplicate) ? .ok : .created))
        }
        #expect(again.allSatisfy(\.duplicate) && !fresh.contains(where: \.duplicate))
        #expect(fresh.map(\.id) == ids)
        try await server.ledger.runtime.close()
    }
}
