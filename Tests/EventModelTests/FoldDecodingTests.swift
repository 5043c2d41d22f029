@testable import EventModel
import Testing

/// `StoredEvent.decodeForFold` reads only what a fold needs but must accept exactly the records
/// `StoredEvent.decode` accepts (one rule for an undecodable record) and read the same values.
@Suite struct FoldDecodingTests {
    static let events = [
        #"{"id":"e-1","type":"sales_order.updated","time":"2026-03-01T09:00:00.250+08:00","actor":{"id":"u-王芳","ip":"10.1.2.3","via":"web"},"subject":{"type":"sales_order","id":"SO-1"},"changes":[{"field":"amount","old":1000,"new":1200.50},{"field":"note","new":{"a":[1,"x",null,true]}},{"field":"gone","old":"x"}],"reason":"CR-42 \"quoted\"\n","requestId":"r-1","source":"crm"}"#,
        #"{"id":"e-2","type":"role.permission_granted","time":"2026-03-01T09:00:00Z","actor":{"id":"u-root"},"subject":{"type":"role","id":"sales_rep"},"data":{"permission":"sales_order.edit","scope":"own"}}"#,
        #"{"id":"e-3","type":"user.admin_granted","time":"2026-03-01T09:00:00Z","actor":{"id":"u-root"},"subject":{"type":"user","id":"u-\u00e9x"},"data":{"level":"module_admin","module":"sales_order"},"outcome":"failure"}"#,
        #"{"id":"e-4","type":"crm.custom_thing","time":"2026-03-01T09:00:00Z","actor":{"id":"a"},"subject":{"type":"widget","id":"w\\1"},"data":{"permission":"x.y","count":3,"note":{"deep":[{"x":1}]},"role":7}}"#,
    ]

    static func record(_ json: String, seq: UInt64) throws -> [UInt8] {
        let event = try EventBody.parse(Array(json.utf8)).events[0]
        return CanonicalRecord.make(seq: seq, recordedAt: "2026-03-01T09:00:01.000000000Z", body: event.body)
    }

    /// What a fold reads, as text, so two decodes can be compared whole.
    static func foldView(_ event: StoredEvent) -> String {
        let e = event.envelope
        let changes = e.changes.map { "\($0.field)=\(String(describing: $0.old))→\(String(describing: $0.new))" }
        let data = StoredEvent.foldDataKeys.map { "\($0)=\(e.dataString($0) ?? "-")" }
        return "\(event.seq) \(e.type) \(e.instant) \(e.actor.id) \(e.subject.type)/\(e.subject.id) \(e.outcome) \(changes) \(data)"
    }

    @Test func readsWhatTheFullDecoderReads() throws {
        for (i, json) in Self.events.enumerated() {
            let record = try Self.record(json, seq: UInt64(i + 1))
            let full = try StoredEvent.decode(record)
            let fold = try StoredEvent.decodeForFold(record)
            #expect(Self.foldView(fold) == Self.foldView(full))
            #expect(fold.envelope.changes == full.envelope.changes)
        }
    }

    /// The projection's follower folds the events the writer hands it in `foldForm`: equal to what
    /// `decodeForFold` reads back from their records, so a live fold and a rebuild fold the same.
    @Test func theFoldFormOfAnAppendedEventIsWhatItsRecordDecodesTo() throws {
        let more = [
            #"{"id":"e-5","type":"user.updated","time":"2026-03-01T09:00:00.5Z","actor":{"id":"u-1","name":"王"},"subject":{"type":"user","id":"u-2"},"changes":[{"field":"addr","old":null,"new":{"z":1,"a":{"y":[{"b":2,"a":1}],"é":"\u00e9\n","e":"x"}}},{"field":"tags","new":[3,{"k":{"c":1,"b":[]}}]},{"field":"n","old":1.50e+2}]}"#,
            #"{"id":"e-8","type":"crm.custom_thing","time":"2026-03-01T09:00:00Z","actor":{"id":"u-1"},"subject":{"type":"widget","id":"w"},"data":{"user":"u-1","scope":"all","role":"r","permission":"p.q","extra":"x","level":{"no":1},"decision":"keep"}}"#,
            #"{"id":"e-6","type":"access_request.submitted","time":"2026-03-01T09:00:00Z","actor":{"id":"u-1"},"subject":{"type":"access_request","id":"ar-1"},"data":{"user":"u-2","role":"r","justification":"needs \"it\"\u0001"}}"#,
            #"{"id":"e-7","type":"access_request.approved","time":"2026-03-01T09:00:00Z","actor":{"id":"u-1"},"subject":{"type":"access_request","id":"ar-1"},"data":{"reason":"ok"},"outcome":"success","reason":"x"}"#,
        ]
        for (i, json) in (Self.events + more).enumerated() {
            let seq = UInt64(i + 1)
            let prepared = try EventBody.parse(Array(json.utf8)).events[0]
            let record = CanonicalRecord.make(seq: seq, recordedAt: "2026-03-01T09:00:01.000000000Z", body: prepared.body)
            let appended = StoredEvent(seq: seq, recordedAt: "", envelope: prepared.envelope.foldForm)
            #expect(appended == (try StoredEvent.decodeForFold(record)), "\(json)")
        }
    }

    /// Every record altered at every byte (a byte replaced by a troublesome one, or cut out): each
    /// decoder accepts it exactly when the other does, and then reads the same.
    @Test func acceptsExactlyWhatTheFullDecoderAccepts() throws {
        let replacements: [UInt8] = [0x22, 0x5C, 0x7B, 0x7D, 0x5B, 0x5D, 0x2C, 0x3A, 0x30, 0x2D, 0x65, 0x20, 0x01, 0x80, 0xC3, 0xE4, 0xFF, 0x61]
        var accepted = 0
        var refused = 0
        for (i, json) in Self.events.enumerated() {
            let record = try Self.record(json, seq: UInt64(i + 1))
            var variants: [[UInt8]] = []
            for position in record.indices {
                for byte in replacements where byte != record[position] {
                    var altered = record
                    altered[position] = byte
                    variants.append(altered)
                }
                var cut = record
                cut.remove(at: position)
                variants.append(cut)
            }
            for altered in variants {
                let full = try? StoredEvent.decode(altered)
                let fold = try? StoredEvent.decodeForFold(altered)
                #expect((full == nil) == (fold == nil), "\(String(decoding: altered, as: UTF8.self))")
                if let full, let fold {
                    #expect(Self.foldView(fold) == Self.foldView(full), "\(String(decoding: altered, as: UTF8.self))")
                    accepted += 1
                } else {
                    refused += 1
                }
            }
        }
        // Both kinds were really tried.
        #expect(accepted > 500 && refused > 5_000)
    }

    /// The eight-bytes-at-a-time scan of a string stops at a word exactly when one of its bytes is a
    /// quote, a backslash or a control character, wherever it is and whatever the other bytes are.
    @Test func aWordOfAStringStopsTheFastScanExactlyWhenOneOfItsBytesWould() {
        func stops(_ byte: UInt8) -> Bool { byte == 0x22 || byte == 0x5C || byte < 0x20 }
        for fill: UInt8 in [0x61, 0x00, 0x20, 0x21, 0x23, 0x5B, 0x5D, 0x7F, 0x80, 0xE4, 0xFF] {
            for position in 0..<8 {
                for value in 0...255 {
                    var bytes = [UInt8](repeating: fill, count: 8)
                    bytes[position] = UInt8(value)
                    let word = bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
                    #expect(JSONParser.holdsStringStop(word) == bytes.contains(where: stops), "\(bytes)")
                }
            }
        }
    }

    @Test func duplicateKeysUnsortedKeysAndEscapedKeysAreJudgedAsTheParserJudgesThem() throws {
        let cases = [
            #"{"seq":1,"recordedAt":"t","id":"a","type":"x.y","time":"2026-03-01T09:00:00Z","actor":{"id":"a"},"subject":{"type":"t","id":"i"},"id":"b"}"#,
            #"{"type":"x.y","seq":1,"recordedAt":"t","id":"a","time":"2026-03-01T09:00:00Z","actor":{"id":"a"},"subject":{"type":"t","id":"i"}}"#,
            #"{"seq":1,"recordedAt":"t","\u0069d":"a","id":"b","type":"x.y","time":"2026-03-01T09:00:00Z","actor":{"id":"a"},"subject":{"type":"t","id":"i"}}"#,
            #"{"seq":1,"recordedAt":"t","id":"a","t\u0079pe":"x.y","time":"2026-03-01T09:00:00Z","actor":{"\u0069d":"a"},"subject":{"type":"t","id":"i"}}"#,
            #"{"seq":1,"recordedAt":"t","id":"a","type":"x.y","time":"2026-03-01T09:00:00Z","actor":{"id":"a","id":"b"},"subject":{"type":"t","id":"i"}}"#,
            // The two leading keys a record starts with, repeated later, repeated at once, swapped, escaped.
            #"{"seq":1,"recordedAt":"t","actor":{"id":"a"},"id":"a","seq":2,"subject":{"type":"t","id":"i"},"time":"2026-03-01T09:00:00Z","type":"x.y"}"#,
            #"{"seq":1,"recordedAt":"t","actor":{"id":"a"},"id":"a","recordedAt":"u","subject":{"type":"t","id":"i"},"time":"2026-03-01T09:00:00Z","type":"x.y"}"#,
            #"{"seq":1,"seq":2,"recordedAt":"t","actor":{"id":"a"},"id":"a","subject":{"type":"t","id":"i"},"time":"2026-03-01T09:00:00Z","type":"x.y"}"#,
            #"{"recordedAt":"t","seq":1,"actor":{"id":"a"},"id":"a","subject":{"type":"t","id":"i"},"time":"2026-03-01T09:00:00Z","type":"x.y"}"#,
            #"{"seq":1,"\u0072ecordedAt":"t","actor":{"id":"a"},"id":"a","subject":{"type":"t","id":"i"},"time":"2026-03-01T09:00:00Z","type":"x.y"}"#,
            #"{"seq":1,"recordedAt":"t","actor":{"id":"a"},"id":"a","subject":{"type":"t","id":"i"},"time":"2026-03-01T09:00:00Z","type":"x.y","s\u0065q":2}"#,
            // The order broken deep in an object after the leading keys: earlier keys gathered again, nested values skipped.
            #"{"seq":1,"recordedAt":"t","actor":{"id":"a"},"id":"a","subject":{"type":"t","id":"i"},"time":"2026-03-01T09:00:00Z","type":"x.y","data":{"k":[1,{"z":1,"a":2}]},"actor":{"id":"b"}}"#,
            #"{"seq":1,"recordedAt":"t","actor":{"id":"a"},"id":"a","subject":{"type":"t","id":"i"},"time":"2026-03-01T09:00:00Z","type":"x.y","data":{"k":[1,{"z":1,"a":2}]}}"#,
        ]
        var decoded = 0
        for text in cases {
            let bytes = Array(text.utf8)
            let full = try? StoredEvent.decode(bytes)
            let fold = try? StoredEvent.decodeForFold(bytes)
            #expect((full == nil) == (fold == nil), "\(text)")
            if let full, let fold {
                #expect(Self.foldView(fold) == Self.foldView(full))
                decoded += 1
            }
        }
        // Both kinds are among the cases: some decode, some are refused.
        #expect(decoded > 0 && decoded < cases.count)
    }
}
