import Crypto
import Foundation
import Glibc
import HTTPTypes
import Hummingbird
import Synchronization
import TestSupport

/// A real syslog receiver: Debian's rsyslogd in the foreground, `imtcp` on a loopback port, every
/// message written to a file as `MSGID SD MSG`.
final class Rsyslog {
    let port: Int
    let directory = Scratch.directory("rsyslog")
    var output: String { directory + "/received.log" }
    private var process: Process?
    /// With TLS: the CA that signed the receiver's certificate (for `localhost` and 127.0.0.1).
    let tlsCA: String?

    init(port: Int? = nil, tls: Bool = false) async throws {
        self.port = port ?? freePort()
        tlsCA = tls ? try await Self.makeCertificates(in: directory) : nil
        try await start()
    }

    /// A CA and a server certificate it signs, made with the openssl command; returns the CA's path.
    static func makeCertificates(in directory: String) async throws -> String {
        let steps = [
            ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=ledger test CA",
             "-keyout", "ca.key", "-out", "ca.pem", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=keyCertSign"],
            ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", "server.key", "-out", "server.csr"],
            ["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-out", "server.pem",
             "-extfile", "san.cnf"],
        ]
        try "subjectAltName=DNS:localhost,IP:127.0.0.1\n".write(toFile: directory + "/san.cnf", atomically: true, encoding: .utf8)
        for step in steps {
            let openssl = Process()
            openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
            openssl.arguments = step
            openssl.currentDirectoryURL = URL(fileURLWithPath: directory)
            openssl.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
            openssl.standardError = FileHandle(forWritingAtPath: "/dev/null")
            try openssl.run()
            await openssl.exited()
            guard openssl.terminationStatus == 0 else { throw CocoaError(.fileWriteUnknown, userInfo: ["step": step.joined(separator: " ")]) }
        }
        return directory + "/ca.pem"
    }

    func start() async throws {
        // TLS through rsyslog's openssl driver (Debian's rsyslog-openssl), the receiver's certificate
        // signed by the test's CA.
        let tlsGlobals = tlsCA == nil ? "" : """
             DefaultNetstreamDriver="ossl" DefaultNetstreamDriverCAFile="\(directory)/ca.pem"
             DefaultNetstreamDriverCertFile="\(directory)/server.pem" DefaultNetstreamDriverKeyFile="\(directory)/server.key"
            """
        let tlsModule = tlsCA == nil ? "" : #" StreamDriver.Name="ossl" StreamDriver.Mode="1" StreamDriver.AuthMode="anon""#
        let configuration = """
            global(workDirectory="\(directory)" maxMessageSize="256k"\(tlsGlobals))
            module(load="imtcp"\(tlsModule))
            input(type="imtcp" port="\(port)" address="127.0.0.1" ruleset="ledger")
            template(name="ledger" type="list") {
              property(name="msgid") constant(value=" ") property(name="structured-data") constant(value=" ")
              property(name="msg") constant(value="\\n")
            }
            ruleset(name="ledger") { action(type="omfile" file="\(output)" template="ledger") }
            """
        try configuration.write(toFile: directory + "/rsyslog.conf", atomically: true, encoding: .utf8)
        let process = Process()
        // Through env: a child of this process inherits its blocked signals, SIGTERM among them.
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["--default-signal", "/usr/sbin/rsyslogd", "-n", "-f", directory + "/rsyslog.conf", "-i", directory + "/rsyslogd.pid"]
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        self.process = process
        // Listening once a connection is accepted.
        for _ in 0..<100 where !acceptsConnections(port) { try await Task.sleep(for: .microseconds(50_000)) }
    }

    func stop() {
        guard let process else { return }
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        self.process = nil
    }

    deinit { stop() }

    /// What arrived, in order: `(msgid, seq or finding cursor, message)`.
    func received() -> [(msgid: String, position: String, message: String)] {
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            // event [ledger@32473 seq="12" hash="…"] {…}   finding [ledger@32473 finding="f12.3.0" …] {…}
            guard let space = line.firstIndex(of: " "), let close = line.range(of: "] ") else { return nil }
            let data = line[line.index(after: space)..<close.lowerBound]
            let key = line.hasPrefix("event ") ? "seq=\"" : "finding=\""
            guard let start = data.range(of: key)?.upperBound, let end = data[start...].firstIndex(of: "\"") else { return nil }
            return (String(line[..<space]), String(data[start..<end]), String(line[close.upperBound...]))
        }
    }

    /// The records of the events received, each seq once (its first arrival), after checking that
    /// no seq ever came before every earlier one had: at least once, in order, nothing skipped.
    func deliveredRecords() -> (records: [String], skipped: [UInt64]) {
        var seen = Set<UInt64>()
        var records: [String] = []
        var skipped: [UInt64] = []
        for entry in received() where entry.msgid == "event" {
            guard let seq = UInt64(entry.position) else { continue }
            if seen.contains(seq) { continue }
            if seq != UInt64(records.count) + 1 { skipped.append(seq) }
            seen.insert(seq)
            records.append(entry.message)
        }
        return (records, skipped)
    }
}

/// A webhook receiver checking every request as Standard Webhooks says; it can refuse the first
/// few requests (503) to make the sender retry.
final class WebhookReceiver: Sendable {
    struct Delivery: Sendable {
        var id: String
        var lines: [String]
        var signatureValid: Bool
        var status: Int
    }

    let secret = "whsec_" + Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
    private let state = Mutex<(deliveries: [Delivery], refuse: Int)>(([], 0))
    private let port = Mutex<Int>(0)
    private let task = Mutex<Task<Void, any Error>?>(nil)

    init(refusingFirst refuse: Int = 0) async throws {
        state.withLock { $0.refuse = refuse }
        let router = Router()
        let key = SymmetricKey(data: Data(base64Encoded: String(secret.dropFirst(6)))!)
        router.post("/hook") { [self] request, _ -> Response in
            let body = try await request.body.collect(upTo: 64 << 20)
            let bytes = Array(body.readableBytesView)
            let id = request.headers[HTTPField.Name("webhook-id")!] ?? ""
            let timestamp = request.headers[HTTPField.Name("webhook-timestamp")!] ?? ""
            let signatures = (request.headers[HTTPField.Name("webhook-signature")!] ?? "").split(separator: " ")
            let expected = "v1," + Data(HMAC<SHA256>.authenticationCode(for: Array("\(id).\(timestamp).".utf8) + bytes, using: key)).base64EncodedString()
            let fresh = Int64(timestamp).map { abs(Int64(Date().timeIntervalSince1970) - $0) < 300 } ?? false
            let status = self.state.withLock { state -> Int in
                let status = state.refuse > 0 ? 503 : 200
                state.refuse -= 1
                state.deliveries.append(
                    Delivery(
                        id: id, lines: String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init),
                        signatureValid: fresh && signatures.contains { $0 == expected }, status: status))
                return status
            }
            return Response(status: .init(code: status))
        }
        let started = AsyncStream<Int>.makeStream()
        let application = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in started.continuation.yield(channel.localAddress?.port ?? 0) })
        task.withLock { $0 = Task { try await application.run() } }
        for await port in started.stream {
            self.port.withLock { $0 = port }
            break
        }
    }

    var url: String { "http://127.0.0.1:\(port.withLock { $0 })/hook" }
    var deliveries: [Delivery] { state.withLock { $0.deliveries } }

    func stop() { task.withLock { $0?.cancel() } }
}

/// A port nobody listens on now.
func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
            bind(fd, pointer, length)
            return getsockname(fd, pointer, &length)
        }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

func acceptsConnections(_ port: Int) -> Bool {
    guard let fd = connectToLoopback(port: port) else { return false }
    close(fd)
    return true
}

/// Waits until `done` holds, checking every 50 ms; false when `seconds` pass first. It sleeps as a
/// task, never blocking a thread: the cooperative pool has two (one a core), and a test that held one
/// for a minute starved every in-process server of the test run (the webhook receiver, the HTTP tests).
func eventually(within seconds: Double, _ done: () -> Bool) async -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if done() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return done()
}
