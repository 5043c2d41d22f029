import AsyncHTTPClient
import EventLog
import EventModel
import Foundation
import Glibc
import NIOCore
import Projector
import Testing
import Workload
import TestSupport

/// ledgerd itself under concurrent ingest, killed with SIGKILL at random moments and restarted on the
/// same data directory. After every restart: each acknowledged event is there with the seq and hash
/// it was acknowledged with, full verification passes (chain, tree, checkpoints, indexes), and the
/// findings the daemon serves equal those of a projection folded afresh from the log.
/// Three rounds by default; `make torture` (LEDGER_TORTURE=1) runs 50, LEDGER_DAEMON_ROUNDS=N any number.
@Suite(.serialized) struct DaemonTortureTests {
    static var rounds: Int {
        let env = ProcessInfo.processInfo.environment
        if let n = env["LEDGER_DAEMON_ROUNDS"].flatMap(Int.init) { return n }
        return env["LEDGER_TORTURE"] == "1" ? 50 : 3
    }
    static let eventsPerRound = 1_500

    struct Ack: Sendable {
        var seq: UInt64
        var hash: String
    }

    /// Acknowledged events by id, from every client.
    final class Acks: @unchecked Sendable {
        private let lock = NSLock()
        private var byId: [String: Ack] = [:]
        func add(_ id: String, _ ack: Ack) { lock.withLock { byId[id] = ack } }
        var all: [String: Ack] { lock.withLock { byId } }
    }

    /// Hands out the workload's lines a batch at a time, up to the round's budget.
    final class Feed: @unchecked Sendable {
        private let lock = NSLock()
        private let lines: [Substring]
        private var next = 0
        private var budget = 0
        init(_ lines: [Substring]) { self.lines = lines }
        func allow(_ count: Int) { lock.withLock { budget = count } }
        func take(_ count: Int) -> [Substring] {
            lock.withLock {
                let n = min(count, budget, lines.count - next)
                guard n > 0 else { return [] }
                defer { next += n; budget -= n }
                return Array(lines[next..<next + n])
            }
        }
    }

    static func workload(events: Int) -> [Substring] {
        var generator = LedgerGenerator(seed: 17)
        return generator.lines(events).map { Substring(String(decoding: $0, as: UTF8.self)) }
    }

    @Test func everyAcknowledgedEventSurvivesKill9OfTheDaemon() async throws {
        let feed = Feed(Self.workload(events: Self.rounds * Self.eventsPerRound))
        let data = Scratch.path("data")
        let acks = Acks()
        // Short timeouts: a request cut by the kill must not hold the round up (it was not acknowledged).
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(timeout: .init(connect: .seconds(1), read: .seconds(3))))
        // A client dropped without shutdown() stops the whole test process: shut it down on every way out.
        do {
            try await tortureRounds(feed: feed, data: data, acks: acks, client: client)
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
    }

    private func tortureRounds(feed: Feed, data: String, acks: Acks, client: HTTPClient) async throws {
        var killedWhileBusy = 0
        for round in 0..<Self.rounds {
            let daemon = try await LedgerctlTests.Daemon(dataDirectory: data)
            let ingest = try #require(daemon.tokens["ingest"])
            // What the previous round's kill left must hold before anything new is appended.
            try await check(daemon, acks: acks, round: round)
            feed.allow(Self.eventsPerRound)
            let stop = ManagedAtomicFlag()
            let url = daemon.url
            let writers = (0..<4).map { _ in
                Task {
                    while !stop.isSet {
                        let lines = feed.take(Int.random(in: 1...8))
                        if lines.isEmpty {
                            try? await Task.sleep(for: .milliseconds(5))
                            continue
                        }
                        var request = HTTPClientRequest(url: url + "/v1/events")
                        request.method = .POST
                        request.headers.add(name: "Authorization", value: "Bearer \(ingest)")
                        request.body = .bytes(ByteBuffer(string: "[" + lines.joined(separator: ",") + "]"))
                        guard let response = try? await client.execute(request, timeout: .seconds(3)),
                            let body = try? await response.body.collect(upTo: 1 << 20), response.status.code < 300
                        else { continue }
                        let json = try? JSONParser.parse(Array(body.readableBytesView))
                        for result in json?["results"]?.list ?? [] {
                            guard let id = result["id"]?.stringValue, case .number(let seq)? = result["seq"],
                                let hash = result["hash"]?.stringValue
                            else { continue }
                            acks.add(id, Ack(seq: UInt64(seq)!, hash: hash))
                        }
                    }
                }
            }
            // Kill once ingest is under way (the first acknowledgements are in), at a random moment after.
            let before = acks.all.count
            let started = ContinuousClock.now
            while acks.all.count - before < 20, ContinuousClock.now - started < .seconds(20) {
                try await Task.sleep(for: .milliseconds(5))
            }
            try await Task.sleep(for: .milliseconds(Int.random(in: 0...400)))
            kill(daemon.process.processIdentifier, SIGKILL)
            await daemon.process.exited()
            stop.set()
            for writer in writers { _ = await writer.result }
            if acks.all.count > before, acks.all.count - before < Self.eventsPerRound { killedWhileBusy += 1 }
        }
        let last = try await LedgerctlTests.Daemon(dataDirectory: data)
        try await check(last, acks: acks, round: Self.rounds)
        await last.stop()
        #expect(acks.all.count >= Self.rounds * 20, "the clients got acknowledgements in every round")
        print("daemon torture: \(Self.rounds) kill -9 rounds, \(killedWhileBusy) of them mid-ingest, \(acks.all.count) acknowledged events, none lost")
    }

    /// Acknowledged events present with their seq and hash, full verification, findings equal a fresh fold.
    /// Through the shared client: the ingest client's 3 s read timeout is for requests a kill cuts,
    /// and a full export or verification of a debug build on a loaded machine can pause longer.
    func check(_ daemon: LedgerctlTests.Daemon, acks: Acks, round: Int) async throws {
        let client = HTTPClient.shared
        let read = try #require(daemon.tokens["read"])
        func get(_ path: String) async throws -> [UInt8] {
            var request = HTTPClientRequest(url: daemon.url + path)
            request.headers.add(name: "Authorization", value: "Bearer \(read)")
            let response = try await client.execute(request, timeout: .seconds(120))
            #expect(response.status == .ok, "\(path) after round \(round)")
            return Array(try await response.body.collect(upTo: 1 << 30).readableBytesView)
        }
        let verify = try JSONParser.parse(try await get("/v1/verify"))
        #expect(verify["ok"] == .bool(true), "verification after round \(round): \(verify)")

        // The export, its chain recomputed here: every acknowledged id at its seq with its hash.
        let found = try chainedEvents(inExport: try await get("/v1/export"))
        for (id, ack) in acks.all {
            #expect(found[id]?.seq == ack.seq && found[id]?.hash == ack.hash, "acknowledged \(id) at \(ack.seq) after round \(round)")
        }

        // The daemon's findings (stored as found, across kills) against a projection folded afresh.
        var served: [String] = []
        var cursor: String?
        repeat {
            let page = try JSONParser.parse(try await get("/v1/findings?limit=1000" + (cursor.map { "&cursor=" + $0 } ?? "")))
            served += (page["findings"]?.list ?? []).compactMap { $0["id"]?.stringValue }
            cursor = page["next"]?.stringValue
        } while cursor != nil
        var settings = LogConfiguration(path: daemon.data)
        settings.readOnly = true
        let log = try EventLog(settings)
        let fresh = Scratch.path("fold-\(round)")
        let projector = try LiveProjector(log: log, configuration: .init(path: fresh))
        var folded: [String] = []
        var next: String?
        repeat {
            let page = try projector.findings(.init(limit: 10_000, cursor: next))
            folded += page.findings.map(\.id)
            next = page.next
        } while next != nil
        #expect(served == folded, "findings after round \(round): \(served.count) served, \(folded.count) folded afresh")
        #expect(try projector.snapshot() == projector.rebuild())
        projector.close()
        try await log.close()
        try? FileManager.default.removeItem(atPath: fresh)
    }
}

/// A flag the writers poll to stop.
final class ManagedAtomicFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}
