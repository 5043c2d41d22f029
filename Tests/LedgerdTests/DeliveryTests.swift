import AsyncHTTPClient
import Delivery
import Foundation
import Glibc
import Testing
import TestSupport

/// Delivery to a real rsyslogd and to a webhook receiver, through kill -9 and a receiver outage;
/// `/metrics` as promtool judges it; `ledgerctl tail -f`.
@Suite(.serialized) struct DeliveryTests {
    /// Appends `count` generated events (seed `seed`) through ledgerctl; returns nothing, expects success.
    static func append(_ daemon: LedgerctlTests.Daemon, count: Int, seed: Int, batch: Int = 500) async throws {
        let events = try await LedgerctlTests.run(["demo", "--events", String(count), "--seed", String(seed)])
        let appended = try await LedgerctlTests.run(["append", "-", "--batch", String(batch)], token: daemon.tokens["ingest"], url: daemon.url, stdin: events.out)
        #expect(appended.code == 0, "\(appended.err)")
    }

    static func export(_ daemon: LedgerctlTests.Daemon) async throws -> [String] {
        try await LedgerctlTests.run(["export"], token: daemon.tokens["read"], url: daemon.url).out.split(separator: "\n").map(String.init)
    }

    static func get(_ url: String, token: String?) async throws -> (status: Int, body: String) {
        var request = HTTPClientRequest(url: url)
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 64 << 20)
        return (Int(response.status.code), String(buffer: body))
    }

    static func sinksFile(_ text: String) throws -> String {
        let path = Scratch.path("sinks.yaml")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func syslogReceivesTheExportInOrderAndTheWebhookEverySignedBatch() async throws {
        let rsyslog = try await Rsyslog()
        defer { rsyslog.stop() }
        // The receiver refuses the first two requests: the sender retries them, same id, same body.
        let webhook = try await WebhookReceiver(refusingFirst: 2)
        defer { webhook.stop() }
        let sinks = try Self.sinksFile(
            """
            sinks:
              - name: siem
                kind: syslog
                address: 127.0.0.1:\(rsyslog.port)
              - name: hook
                kind: webhook
                url: \(webhook.url)
                secret: \(webhook.secret)
                filter: {type: "user.*"}
                batch: 50
            alerts:
              - sink: hook
                kinds: [self_grant, admin_granted_by_non_super_admin]
            """)
        let daemon = try await LedgerctlTests.Daemon(environment: ["LEDGERD_DELIVERY_SINKS_FILE": sinks])
        defer { daemon.end() }
        try await Self.append(daemon, count: 3000, seed: 5)
        let export = try await Self.export(daemon)
        #expect(export.count == 3000)

        // Syslog: everything the export holds, byte for byte, in seq order.
        #expect(await eventually(within: 60) { rsyslog.deliveredRecords().records.count == export.count })
        let (records, skipped) = rsyslog.deliveredRecords()
        #expect(skipped.isEmpty)
        #expect(records == export)

        // Webhook: the user.* events in order and the alerts, every request signed.
        let userEvents = export.filter { $0.contains(#""type":"user."#) }
        let findingsAnswer = try await Self.get(daemon.url + "/v1/findings?limit=1000", token: daemon.tokens["read"])
        let alertKinds = ["self_grant", "admin_granted_by_non_super_admin"]
        let expectedFindings = findingsAnswer.body.components(separatedBy: #""kind":""#).dropFirst()
            .filter { kind in alertKinds.contains { kind.hasPrefix($0 + "\"") } }.count
        #expect(expectedFindings > 0)
        func accepted(_ type: String) -> [String] {
            webhook.deliveries.filter { $0.status == 200 }.flatMap(\.lines).filter { $0.hasPrefix(#"{"type":"\#(type)""#) }
        }
        #expect(await eventually(within: 60) { accepted("event").count >= userEvents.count && accepted("finding").count >= expectedFindings })
        let deliveries = webhook.deliveries
        #expect(deliveries.allSatisfy { $0.signatureValid })
        #expect(deliveries.filter { $0.status == 503 }.count == 2)
        // Each refused batch came again under the same id, and was taken.
        for refused in deliveries where refused.status == 503 {
            #expect(deliveries.contains { $0.status == 200 && $0.id == refused.id && $0.lines == refused.lines })
        }
        var firstArrivals: [String] = []
        var seen = Set<String>()
        for line in accepted("event") {
            let seq = line.split(separator: ",")[1]
            if seen.insert(String(seq)).inserted { firstArrivals.append(line) }
        }
        #expect(firstArrivals.map { line in String(line[line.range(of: #""record":"#)!.upperBound...].dropLast()) } == userEvents)
        #expect(Set(accepted("finding")).count == expectedFindings)
        #expect(accepted("finding").allSatisfy { line in alertKinds.contains { line.contains(#""kind":"\#($0)""#) } && line.contains(#""evidence":["#) })

        // Metrics: what was delivered and failed, and nothing promtool objects to.
        let metrics = try await Self.get(daemon.url + "/metrics", token: daemon.tokens["admin"])
        #expect(metrics.body.contains(#"ledger_delivery_delivered_total{sink="siem",route="events"} 3000"#), "\(metrics.body)")
        #expect(metrics.body.contains(#"ledger_delivery_failures_total{sink="hook",route="#))
        #expect(metrics.body.contains("process_resident_memory_bytes "))
        #expect(metrics.body.contains(#"ledger_findings{kind="self_grant"} "#))
        let promtool = Process()
        promtool.executableURL = URL(fileURLWithPath: "/usr/bin/promtool")
        promtool.arguments = ["check", "metrics"]
        let input = Pipe()
        let output = Pipe()
        promtool.standardInput = input
        promtool.standardOutput = output
        promtool.standardError = output
        try promtool.run()
        input.fileHandleForWriting.write(Data(metrics.body.utf8))
        try input.fileHandleForWriting.close()
        let complaints = String(decoding: await output.fileHandleForReading.readToTheEnd(), as: UTF8.self)
        await promtool.exited()
        #expect(promtool.terminationStatus == 0 && complaints.isEmpty, "\(complaints)")
    }

    @Test func deliveryGoesOnAfterKill9AndCatchesUpAfterTheReceiverWasDown() async throws {
        let rsyslog = try await Rsyslog()
        defer { rsyslog.stop() }
        // Small batches, each followed by a saved cursor: the kill lands in the middle of delivery.
        let sinks = try Self.sinksFile(
            """
            sinks:
              - {name: siem, kind: syslog, address: "127.0.0.1:\(rsyslog.port)", batch: 10}
            """)
        let data = Scratch.path("data")
        // The events first, the sink after: it starts from the beginning, 2,000 batches to go.
        var daemon = try await LedgerctlTests.Daemon(dataDirectory: data)
        try await Self.append(daemon, count: 20_000, seed: 7)
        await daemon.stop()
        daemon = try await LedgerctlTests.Daemon(dataDirectory: data, environment: ["LEDGERD_DELIVERY_SINKS_FILE": sinks])
        // Killed as soon as the receiver shows some: it writes its file in bursts, and waiting for
        // 2,000 once let all 20,000 arrive first (the check below then fails, proving nothing).
        #expect(await eventually(within: 60) { rsyslog.received().count >= 200 })
        kill(daemon.process.processIdentifier, SIGKILL)
        await daemon.process.exited()
        let atKill = rsyslog.deliveredRecords().records.count
        #expect(atKill < 20_000, "delivery finished before the kill: the test proved nothing")

        daemon = try await LedgerctlTests.Daemon(dataDirectory: data, environment: ["LEDGERD_DELIVERY_SINKS_FILE": sinks])
        defer { daemon.end() }
        #expect(await eventually(within: 120) { rsyslog.deliveredRecords().records.count == 20_000 })
        var (records, skipped) = rsyslog.deliveredRecords()
        #expect(skipped.isEmpty)
        #expect(records == (try await Self.export(daemon)))

        // The receiver goes away; events keep coming; the sink falls behind, alone.
        rsyslog.stop()
        try await Self.append(daemon, count: 1_000, seed: 8)
        let (url, admin) = (daemon.url, daemon.tokens["admin"])
        var metrics = ""
        for _ in 0..<60 {
            metrics = try await Self.get(url + "/metrics", token: admin).body
            if metrics.contains(#"ledger_delivery_lag_seqs{sink="siem",route="events"} 1000.0"#)
                && !metrics.contains(#"ledger_delivery_failures_total{sink="siem",route="events"} 0"#) { break }
            try await Task.sleep(for: .milliseconds(500))
        }
        #expect(metrics.contains(#"ledger_delivery_lag_seqs{sink="siem",route="events"} 1000.0"#), "\(metrics)")
        #expect(!metrics.contains(#"ledger_delivery_failures_total{sink="siem",route="events"} 0"#))
        #expect(!metrics.contains(#"ledger_delivery_lag_seconds{sink="siem",route="events"} 0.0"#))
        // Back: it catches up from its cursor.
        try await rsyslog.start()
        #expect(await eventually(within: 90) { rsyslog.deliveredRecords().records.count == 21_000 })
        (records, skipped) = rsyslog.deliveredRecords()
        #expect(skipped.isEmpty)
        #expect(records == (try await Self.export(daemon)))
    }

    @Test func syslogOverTLSReachesAReceiverWhoseCertificateIsTrustedAndNoOther() async throws {
        let rsyslog = try await Rsyslog(tls: true)
        defer { rsyslog.stop() }
        // The same receiver twice: trusted through the test's CA, and against the system's roots,
        // which do not know that CA: nothing may reach it that way.
        let sinks = try Self.sinksFile(
            """
            sinks:
              - {name: trusted, kind: syslog, address: "127.0.0.1:\(rsyslog.port)", tls: true, caFile: "\(rsyslog.tlsCA!)", serverName: localhost}
              - {name: untrusted, kind: syslog, address: "127.0.0.1:\(rsyslog.port)", tls: true, serverName: localhost, filter: {type: "user.created"}}
            """)
        let daemon = try await LedgerctlTests.Daemon(environment: ["LEDGERD_DELIVERY_SINKS_FILE": sinks])
        defer { daemon.end() }
        try await Self.append(daemon, count: 500, seed: 6)
        let export = try await Self.export(daemon)
        #expect(await eventually(within: 60) { rsyslog.deliveredRecords().records.count == export.count })
        let (records, skipped) = rsyslog.deliveredRecords()
        #expect(skipped.isEmpty)
        #expect(records == export)
        // Every message arrived once: the untrusted sink delivered nothing and counts its failures.
        #expect(rsyslog.received().count == export.count)
        let metrics = try await Self.get(daemon.url + "/metrics", token: daemon.tokens["admin"]).body
        #expect(!metrics.contains(#"ledger_delivery_failures_total{sink="untrusted",route="events"} 0"#))
        #expect(metrics.contains(#"ledger_delivery_delivered_total{sink="untrusted",route="events"} 0"#), "\(metrics)")
    }

    @Test func tailFollowsNewEventsAndFindings() async throws {
        let daemon = try await LedgerctlTests.Daemon()
        defer { daemon.end() }
        try await Self.append(daemon, count: 200, seed: 3)
        func tail(_ arguments: [String]) throws -> (Process, Pipe) {
            let follow = Process()
            follow.executableURL = URL(fileURLWithPath: LedgerctlTests.ledgerctlPath)
            follow.arguments = ["tail", "-f", "--format", "json", "--url", daemon.url, "--token", daemon.tokens["read"]!] + arguments
            let output = Pipe()
            follow.standardOutput = output
            try follow.run()
            return (follow, output)
        }
        let (follow, output) = try tail(["-n", "5", "--type", "user.*"])
        defer { follow.terminate() }
        let (followFindings, findingsOutput) = try tail(["-n", "0", "--findings"])
        defer { followFindings.terminate() }
        try await Task.sleep(for: .microseconds(300_000))  // both streams open before the new events come
        try await Self.append(daemon, count: 2_000, seed: 4)
        let expected = try await Self.export(daemon).filter { $0.contains(#""type":"user."#) }
        // The last five user.* events of the first 200, then every new one, once each and in order.
        let firstNew = expected.firstIndex { line in Int(line.split(separator: ",")[0].dropFirst(7))! > 200 }!
        let wanted = Array(expected[(firstNew - 5)...])
        // Each line is the stored record (as canonical JSON, keys sorted), the first five as well.
        func object(_ line: String) -> NSDictionary {
            try! JSONSerialization.jsonObject(with: Data(line.utf8)) as! NSDictionary
        }
        let lines = LineReader(output.fileHandleForReading).read(count: wanted.count, within: 30)
        #expect(lines.map(object) == wanted.map(object))

        // Findings: those of the new events only, as /v1/findings lists them.
        let all = try await Self.get(daemon.url + "/v1/findings?limit=1000", token: daemon.tokens["read"])
        let listed = (try JSONSerialization.jsonObject(with: Data(all.body.utf8)) as! [String: Any])["findings"] as! [NSDictionary]
        let newFindings = listed.filter { ($0["seq"] as! Int) > 200 }
        #expect(!newFindings.isEmpty)
        let findingLines = LineReader(findingsOutput.fileHandleForReading).read(count: newFindings.count, within: 30)
        #expect(findingLines.map(object) == newFindings)

        let local = try await LedgerctlTests.run(["tail", "-f", "--data-dir", daemon.data])
        #expect(local.code == 2 && local.err.contains("needs the daemon"), "\(local.err)")
    }

    @Test func mistakesInTheSinksFileAreNamed() throws {
        func problem(_ yaml: String) -> String {
            do {
                _ = try SinksFile(yaml: yaml)
                return "accepted"
            } catch {
                return "\(error)"
            }
        }
        #expect(problem("sinks:\n  - {name: a, kind: kafka}").contains("sinks[0]: kind must be syslog or webhook"))
        #expect(problem("sinks:\n  - {name: a, kind: syslog, adress: 'x:1'}").contains("sinks[0]: unknown key adress"))
        #expect(problem("sinks:\n  - {name: a, kind: syslog, address: 'nohost'}").contains("needs address: host:port"))
        #expect(problem("sinks:\n  - {name: a, kind: webhook, url: 'http://x/', secret: 'plain'}").contains("whsec_"))
        #expect(problem("sinks:\n  - {name: a, kind: syslog, address: 'h:1', filter: {type: 'not a type'}}").contains("filter.type"))
        #expect(problem("sinks:\n  - {name: a, kind: syslog, address: 'h:1'}\n  - {name: a, kind: syslog, address: 'h:2'}").contains("a second sink named a"))
        #expect(problem("sinks:\n  - {name: a, kind: syslog, address: 'h:1'}\nalerts:\n  - {sink: b, kinds: [self_grant]}").contains("alerts[0]: no sink named b"))
        #expect(problem("sinks:\n  - {name: a, kind: syslog, address: 'h:1'}\nalerts:\n  - {sink: a, kinds: [self_grnt]}").contains("unknown finding kind self_grnt"))
        #expect(problem("sinks:\n  - {name: a, kind: syslog, address: 'h:1', tls: true, caFile: /nonexistent.pem}").contains("caFile"))
        #expect(problem("sinks:\n  - {name: a, kind: syslog, address: 'h:1'}") == "accepted")
        // The example shipped beside the configuration is a valid file.
        let example = try String(contentsOf: ReadmeTourTests.repository.appendingPathComponent("config/sinks.example.yaml"), encoding: .utf8)
        let parsed = try SinksFile(yaml: example)
        #expect(parsed.sinks.map(\.name) == ["siem", "hook"] && parsed.alerts.count == 1)
    }
}

/// Reads lines from a pipe as they come.
final class LineReader {
    private let handle: FileHandle
    private var buffer: [UInt8] = []

    init(_ handle: FileHandle) { self.handle = handle }

    /// Up to `count` lines, or fewer once `seconds` pass.
    func read(count: Int, within seconds: Double) -> [String] {
        var lines: [String] = []
        let deadline = Date().addingTimeInterval(seconds)
        let fd = handle.fileDescriptor
        while lines.count < count, Date() < deadline {
            if let newline = buffer.firstIndex(of: 0x0A) {
                lines.append(String(decoding: buffer[..<newline], as: UTF8.self))
                buffer.removeSubrange(...newline)
                continue
            }
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 200) > 0 else { continue }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = Glibc.read(fd, &chunk, chunk.count)
            guard n > 0 else { break }
            buffer += chunk[0..<n]
        }
        return lines
    }
}
