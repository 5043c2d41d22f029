import EventModel
import Foundation
import Testing

@testable import EventLog

/// A child appends in a loop and prints each acknowledged seq; we kill it with SIGKILL at a random
/// moment and check that every acknowledged event is there, the chain verifies, and every index
/// finds every acknowledged event. A few rounds by default; `LEDGER_TORTURE=1` runs many.
@Suite struct CrashTests {
    static var rounds: Int {
        let env = ProcessInfo.processInfo.environment
        if let n = env["LEDGER_CRASH_ROUNDS"].flatMap(Int.init) { return n }
        return env["LEDGER_TORTURE"] == "1" ? 50 : 3
    }

    static var childPath: String {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var directory = URL(fileURLWithPath: executable).deletingLastPathComponent()
        // The test bundle may sit one level down (…/debug/X.xctest/…); the executables sit in …/debug.
        while !FileManager.default.fileExists(atPath: directory.appendingPathComponent("ledger-crash-child").path),
            directory.path != "/"
        {
            directory = directory.deletingLastPathComponent()
        }
        return directory.appendingPathComponent("ledger-crash-child").path
    }

    @Test func everyAcknowledgedEventSurvivesSIGKILL() async throws {
        let path = temporaryDirectory()
        var acknowledged: [UInt64: String] = [:]
        var generator = SystemRandomNumberGenerator()
        for round in 0..<Self.rounds {
            let child = Process()
            child.executableURL = URL(fileURLWithPath: Self.childPath)
            child.arguments = [path, "r\(round)"]
            let output = Pipe()
            child.standardOutput = output
            try child.run()
            // Let it get going (including the first fold and map growth), then kill it somewhere.
            try await Task.sleep(for: .milliseconds(Int.random(in: 150...900, using: &generator)))
            kill(child.processIdentifier, SIGKILL)
            child.waitUntilExit()
            #expect(child.terminationReason == .uncaughtSignal)
            let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            var acksThisRound = 0
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: " ")
                // The last line may have been cut by the kill: only whole lines count.
                guard parts.count == 3, parts[0] == "ack", let seq = UInt64(parts[1]), parts[2].hasPrefix("r\(round)-") else { continue }
                acknowledged[seq] = String(parts[2])
                acksThisRound += 1
            }
            #expect(acksThisRound > 0, "round \(round): the child acknowledged nothing before the kill")
            try await check(path: path, acknowledged: acknowledged, thisRound: "r\(round)-")
        }
    }

    /// Every acknowledged event must be there with its id; this round's, and a sample of earlier ones,
    /// must also be found through every index (earlier rounds checked theirs in full).
    func check(path: String, acknowledged: [UInt64: String], thisRound: String) async throws {
        let log = try openLog(path) { $0.foldIdleMilliseconds = 600_000; $0.mapSize = 1 << 20 }
        let report = try log.verifyChain()
        #expect(report.ok, "\(report)")
        #expect(report.headSeq >= acknowledged.keys.max() ?? 0)
        // A kill between a fold's transactions leaves index entries past the watermark: they must
        // be what their records imply, and counted once.
        let withIndexes = try log.verify(checkpointVerifier: nil, indexes: true)
        #expect(withIndexes.ok, "\(withIndexes)")
        for (seq, id) in acknowledged.sorted(by: { $0.key < $1.key }) {
            guard let logged = try log.event(seq: seq) else {
                Issue.record("acknowledged seq \(seq) (\(id)) is missing")
                continue
            }
            let event = try logged.decode().envelope
            #expect(event.id == id)
            guard id.hasPrefix(thisRound) || seq % 50 == 0 else { continue }
            let after = seq - 1
            let queries = [
                EventQuery(subjectType: event.subject.type, subjectId: event.subject.id, afterSeq: after, limit: 1),
                EventQuery(subjectType: event.subject.type, subjectId: event.subject.id, field: event.changes[0].field, afterSeq: after, limit: 1),
                EventQuery(actor: event.actor.id, afterSeq: after, limit: 1),
                EventQuery(type: event.type, afterSeq: after, limit: 1),
                EventQuery(since: event.instant, until: event.instant, afterSeq: after, limit: 1),
            ]
            for query in queries {
                #expect(try log.events(query).events.first?.seq == seq, "seq \(seq) not found by \(query)")
            }
        }
        try await log.close()
    }
}
