import CLMDB
import EventModel
import LMDB
import Testing

@testable import EventLog

@Suite struct AppendTests {
    @Test func recordsSurviveCloseAndReopen() async throws {
        let path = temporaryDirectory()
        var factory = EventFactory(seed: 1)
        let log = try openLog(path)
        let results = try await log.append(factory.events(300))
        #expect(results.map(\.seq) == Array(1...300))
        let before = try log.allEvents().map(\.0)
        try await log.close()

        let reopened = try openLog(path)
        #expect(try reopened.allEvents().map(\.0) == before)
        #expect(try reopened.head().seq == 300)
        #expect(try reopened.verifyChain().ok)
        let more = try await reopened.append(factory.events(1, idPrefix: "later"))
        #expect(more[0].seq == 301)
        try await reopened.close()
    }

    @Test func theRecordIsTheCanonicalEnvelopeWithItsPlace() async throws {
        let log = try openLog()
        let event = prepared(validJSON)
        let result = try await log.append([event])
        let stored = try #require(try log.event(seq: result[0].seq))
        let text = String(decoding: stored.record, as: UTF8.self)
        #expect(text.hasPrefix(#"{"seq":1,"recordedAt":""#))
        #expect(text.hasSuffix(String(decoding: event.body.dropFirst(), as: UTF8.self)))
        // hash(1) = SHA-256(32 zero bytes ‖ record(1))
        #expect(result[0].hash == sha256([UInt8](repeating: 0, count: 32) + stored.record))
        #expect(stored.hash == result[0].hash)
        try await log.close()
    }

    @Test func theSameIdTwiceAppendsOnceAndOtherContentIsRefused() async throws {
        let log = try openLog()
        let first = try await log.append([prepared(validJSON)])
        let again = try await log.append([prepared(validJSON)])
        #expect(again == [AppendResult(seq: first[0].seq, id: "evt-1", hash: first[0].hash, duplicate: true)])

        let other = prepared(validJSON.replacingOccurrences("1200", "1300"))
        let fresh = prepared(validJSON.replacingOccurrences("evt-1", "evt-2"))
        await #expect(throws: LogError.self) { try await log.append([fresh, other]) }
        do {
            _ = try await log.append([fresh, other])
        } catch let error as LogError {
            #expect(error.code == .conflict)
            #expect(error.index == 1)
        }
        #expect(try log.head().seq == 1)  // the batch with a conflict appended nothing, not even evt-2

        // Within one batch: a repeat is a duplicate of the first, other content is a conflict.
        let twice = try await log.append([fresh, fresh])
        #expect(twice.map(\.seq) == [2, 2])
        #expect(twice.map(\.duplicate) == [false, true])
        let third = prepared(validJSON.replacingOccurrences("evt-1", "evt-3"))
        let thirdOther = prepared(validJSON.replacingOccurrences("evt-1", "evt-3").replacingOccurrences("1200", "9"))
        await #expect(throws: LogError.self) { try await log.append([third, thirdOther]) }
        #expect(try log.head().seq == 2)
        #expect(try log.verifyChain().ok)
        try await log.close()
    }

    /// Ids reach the id table with the fold, not at commit: before it, after a reopen that did not
    /// fold, and after it, a retry is the same duplicate and other content under the id a conflict.
    @Test func idsPastTheWatermarkAreKnownBeforeTheFoldAcrossAReopenAndAfter() async throws {
        let path = temporaryDirectory()
        var factory = EventFactory(seed: 61)
        let batch = factory.events(40)
        var other = EventFactory(seed: 99)
        let conflicting = prepared(other.json(id: batch[5].envelope.id))
        func idTableCount(_ log: EventLog) throws -> Int {
            try log.store.environment.read { txn in
                try txn.withCursor(log.store.ids) { cursor in
                    var count = 0
                    var entry = try cursor.get(.first)
                    while entry != nil { count += 1; entry = try cursor.get(.next) }
                    return count
                }
            }
        }
        let unfolded: (inout LogConfiguration) -> Void = { $0.foldThreshold = 1_000_000; $0.foldIdleMilliseconds = 600_000; $0.foldOnClose = false }
        var log = try openLog(path, configure: unfolded)
        let first = try await log.append(batch)
        #expect(try idTableCount(log) == 0)
        #expect(try await log.append(batch) == first.map { var r = $0; r.duplicate = true; return r })
        await #expect(throws: LogError.self) { try await log.append([conflicting]) }
        try await log.close()

        log = try openLog(path, configure: unfolded)
        #expect(try await log.append(batch).map(\.seq) == first.map(\.seq))
        await #expect(throws: LogError.self) { try await log.append([conflicting]) }
        try await log.close()

        log = try openLog(path)  // folds on close what it found unfolded
        try await log.close()
        log = try openLog(path)
        #expect(try idTableCount(log) == 40)
        let after = try await log.append(batch)
        #expect(after.map(\.seq) == first.map(\.seq) && after.allSatisfy(\.duplicate))
        await #expect(throws: LogError.self) { try await log.append([conflicting]) }
        #expect(try log.head().seq == 40)
        try await log.close()
    }

    /// The same new event from many callers at once (likely in one commit): stored once.
    @Test func oneEventFromManyCallersAtOnceIsStoredOnce() async throws {
        let log = try openLog()
        var factory = EventFactory(seed: 62)
        let event = factory.events(1)
        let results = try await withThrowingTaskGroup(of: AppendResult.self) { group in
            for _ in 0..<16 { group.addTask { try await log.append(event)[0] } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(Set(results.map(\.seq)) == [1] && results.filter { !$0.duplicate }.count == 1)
        #expect(try log.head().seq == 1)
        try await log.close()
    }

    @Test func manyConcurrentAppendersGetDistinctGaplessSeqs() async throws {
        let log = try openLog { $0.foldThreshold = 500 }
        let seqs = try await withThrowingTaskGroup(of: [UInt64].self) { group in
            for task in 0..<64 {
                group.addTask {
                    var factory = EventFactory(seed: UInt64(task))
                    var mine: [UInt64] = []
                    for i in 0..<20 {
                        let batch = factory.events(1 + i % 3, idPrefix: "t\(task)-\(i)")
                        mine += try await log.append(batch).map(\.seq)
                    }
                    return mine
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(seqs.sorted() == Array(1...UInt64(seqs.count)))
        let report = try log.verifyChain()
        #expect(report.ok)
        #expect(report.count == UInt64(seqs.count))
        try await log.close()
    }

    @Test func mapGrowthInTheMiddleOfALargeBatchLosesNothing() async throws {
        let path = temporaryDirectory()
        let log = try openLog(path) { $0.mapSize = 256 * 1024 }
        var factory = EventFactory(seed: 9)
        let before = log.environment.mapSize
        let results = try await log.append(factory.events(5_000))
        #expect(results.map(\.seq) == Array(1...5_000))
        #expect(log.environment.mapSize > before)
        let more = try await log.append(factory.events(5_000, idPrefix: "second"))
        #expect(more.last?.seq == 10_000)
        try await log.close()
        let reopened = try openLog(path)
        #expect(try reopened.verifyChain().count == 10_000)
        #expect(try reopened.allPages(EventQuery(type: "user.*", limit: 1000)).count > 0)
        try await reopened.close()
    }

    /// Spec 9: a full map grows. Here it grows many times while 32 tasks append and readers read.
    @Test func mapGrowthUnderConcurrentLoadLosesNothing() async throws {
        let path = temporaryDirectory()
        let log = try openLog(path) { $0.mapSize = 128 * 1024; $0.foldThreshold = 2_000 }
        let before = log.environment.mapSize
        let results = try await withThrowingTaskGroup(of: [AppendResult].self) { group in
            for task in 0..<32 {
                group.addTask {
                    var factory = EventFactory(seed: UInt64(100 + task))
                    var acknowledged: [AppendResult] = []
                    for round in 0..<20 {
                        acknowledged += try await log.append(factory.events(15, idPrefix: "t\(task)-r\(round)"))
                        _ = try log.events(EventQuery(actor: "u-1", limit: 10))
                    }
                    return acknowledged
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(log.environment.mapSize >= before * 8, "the map grew several times")
        #expect(results.map(\.seq).sorted() == Array(1...9_600))
        try await log.close()
        let reopened = try openLog(path)
        #expect(try reopened.verify(checkpointVerifier: nil, indexes: true).ok)
        for result in results.shuffled().prefix(500) {
            #expect(try reopened.event(seq: result.seq)?.hash == result.hash)
        }
        try await reopened.close()
    }

    @Test func aForgedByteIsFoundAtExactlyItsSeq() async throws {
        let path = temporaryDirectory()
        var factory = EventFactory(seed: 3)
        let log = try openLog(path)
        _ = try await log.append(factory.events(100))
        try await log.close()

        try forge(path: path, seq: 37) { record in record[40] ^= 0x01 }
        let reopened = try openLog(path)
        let report = try reopened.verifyChain()
        #expect(!report.ok)
        #expect(report.firstBadSeq == 37)
        #expect(report.count == 36)
        #expect(report.headSeq == 36)
        try await reopened.close()
    }

    /// Verification checks the links of alternate chunks of 4,096 records on its two threads: a forged
    /// record is named the same way, with the same last good record, whichever thread meets it.
    @Test(arguments: [UInt64(4_100), 8_195])
    func aForgedRecordPastTheFirstChunksIsFoundAtItsSeq(_ forged: UInt64) async throws {
        let path = temporaryDirectory()
        var factory = EventFactory(seed: 5)
        let log = try openLog(path) { $0.dictionaries = nil }
        for round in 0..<41 { _ = try await log.append(factory.events(200, idPrefix: "f\(round)")) }
        let lastGood = try #require(try log.event(seq: forged - 1))
        try await log.close()

        try forge(path: path, seq: forged) { record in record[60] ^= 0x01 }
        let reopened = try openLog(path)
        let report = try reopened.verifyChain()
        #expect(!report.ok)
        #expect(report.firstBadSeq == forged)
        #expect(report.problem == "record \(forged) does not match its chain hash")
        #expect(report.count == forged - 1 && report.headSeq == forged - 1)
        #expect(report.headHash == lastGood.hash)
        try await reopened.close()
    }

    @Test func aRecordAlteredBeyondDecodingStillLetsTheLedgerOpen() async throws {
        let path = temporaryDirectory()
        var factory = EventFactory(seed: 6)
        // Not folded: reopening re-indexes the tail, which meets the altered record.
        let log = try openLog(path) { $0.foldOnClose = false; $0.foldIdleMilliseconds = 600_000 }
        _ = try await log.append(factory.events(30))
        try await log.close()
        try forge(path: path, seq: 12) { record in record[32] = UInt8(ascii: "[") }
        let reopened = try openLog(path)
        let report = try reopened.verifyChain()
        #expect(report.firstBadSeq == 12)
        #expect(try reopened.event(seq: 13) != nil)
        #expect(try reopened.events(EventQuery(limit: 100)).events.count == 30)
        try await reopened.close()
    }

    @Test func aDeletedRecordIsFoundAsAGap() async throws {
        let path = temporaryDirectory()
        var factory = EventFactory(seed: 4)
        let log = try openLog(path)
        _ = try await log.append(factory.events(50))
        try await log.close()
        try forge(path: path, seq: 20, delete: true) { _ in }
        let reopened = try openLog(path)
        let report = try reopened.verifyChain()
        #expect(report.firstBadSeq == 20)
        #expect(report.problem?.contains("missing") == true)
        try await reopened.close()
    }

    @Test func appendsAfterCloseAreRefusedAndReadOnlyCannotAppend() async throws {
        let path = temporaryDirectory()
        let log = try openLog(path)
        _ = try await log.append([prepared(validJSON)])
        let reader = try openLog(path) { $0.readOnly = true }
        #expect(try reader.head().seq == 1)
        await #expect(throws: LogError.self) { try await reader.append([prepared(validJSON)]) }
        try await reader.close()
        try await log.close()
        await #expect(throws: LogError.self) { try await log.append([prepared(validJSON)]) }
    }
}

/// Changes a stored record with the raw LMDB C API, as an attacker with file access would.
func forge(path: String, seq: UInt64, delete: Bool = false, _ change: (inout [UInt8]) -> Void) throws {
    var env: OpaquePointer?
    mdb_env_create(&env)
    mdb_env_set_maxdbs(env, 16)
    #expect(mdb_env_open(env, path, 0, 0o640) == 0)
    var txn: OpaquePointer?
    mdb_txn_begin(env, nil, 0, &txn)
    var dbi: MDB_dbi = 0
    #expect(mdb_dbi_open(txn, "records", 0, &dbi) == 0)
    var keyBytes = bigEndianBytes(seq)
    try keyBytes.withUnsafeMutableBytes { kb in
        var key = MDB_val(mv_size: 8, mv_data: kb.baseAddress)
        if delete {
            #expect(mdb_del(txn, dbi, &key, nil) == 0)
            return
        }
        var value = MDB_val()
        #expect(mdb_get(txn, dbi, &key, &value) == 0)
        var bytes = Array(UnsafeRawBufferPointer(start: value.mv_data, count: value.mv_size))
        change(&bytes)
        try bytes.withUnsafeMutableBytes { vb in
            var newValue = MDB_val(mv_size: vb.count, mv_data: vb.baseAddress)
            let rc = mdb_put(txn, dbi, &key, &newValue, 0)
            if rc != 0 { throw LMDBError(code: rc, operation: "forge") }
        }
    }
    #expect(mdb_txn_commit(txn) == 0)
    mdb_env_close(env)
}

let validJSON = #"{"id":"evt-1","type":"sales_order.updated","time":"2026-03-13T07:45:01.123Z","actor":{"id":"u-1001","name":"王芳"},"subject":{"type":"sales_order","id":"SO-1"},"changes":[{"field":"amount","old":1000,"new":1200}]}"#

import Crypto

func sha256(_ bytes: [UInt8]) -> [UInt8] { Array(SHA256.hash(data: bytes)) }

extension String {
    func replacingOccurrences(_ target: String, _ replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}

@Suite struct RefusedBatchTests {
    @Test func aBatchWithOneBadEventAppendsNothing() async throws {
        let log = try openLog()
        var factory = EventFactory(seed: 5)
        let good = (0..<4).map { factory.json(id: "good-\($0)") }
        let bad = good[2].replacingOccurrences(#""actor":{"id":"#, #""actor":{"ip":"#)
        let body = "[" + [good[0], good[1], bad, good[3]].joined(separator: ",") + "]"
        var appended = false
        do {
            let events = try EventBody.parse(Array(body.utf8)).events
            _ = try await log.append(events)
            appended = true
        } catch let error as ValidationError {
            #expect(error.index == 2)
            #expect(error.field == "actor.id")
        }
        #expect(!appended)
        #expect(try log.head().seq == 0)
        #expect(try log.events(EventQuery()).events.isEmpty)
        try await log.close()
    }
}
