import EventLog
import Foundation
import Glibc
import Logging
import Testing
import TestSupport

/// The real ledgerd binary under a NOTIFY_SOCKET the test has bound, as systemd would run it.
@Suite struct NotifyTests {
    static var ledgerdPath: String {
        var directory = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
            .deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: directory.appendingPathComponent("ledgerd").path), directory.path != "/" {
            directory = directory.deletingLastPathComponent()
        }
        return directory.appendingPathComponent("ledgerd").path
    }

    /// A bound datagram socket and the messages that arrive on it.
    final class NotifySocket: Sendable {
        let fd: Int32
        let path: String

        init() {
            path = Scratch.path("notify.sock")
            fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                for (i, byte) in path.utf8.enumerated() { raw[i] = byte }
            }
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            precondition(bound == 0, "bind \(path): \(errno)")
            var timeout = timeval(tv_sec: 1, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }

        deinit {
            close(fd)
            unlink(path)
        }

        /// Waits up to `seconds` for a message containing `expected`, on a thread of its own (`offThePool`).
        func wait(for expected: String, seconds: Int) async -> [String] {
            await offThePool { self.receive(until: expected, seconds: seconds) }
        }

        private func receive(until expected: String, seconds: Int) -> [String] {
            var seen: [String] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            for _ in 0..<seconds {
                let n = recv(fd, &buffer, buffer.count, 0)
                if n > 0 {
                    let message = String(decoding: buffer[0..<n], as: UTF8.self)
                    seen.append(message)
                    if message.contains(expected) { return seen }
                }
            }
            return seen
        }
    }

    @Test func readyThenStoppingThenACleanExit() async throws {
        let notify = NotifySocket()
        let data = Scratch.path("data")
        let daemon = Process()
        daemon.executableURL = URL(fileURLWithPath: Self.ledgerdPath)
        daemon.arguments = ["--data-dir", data, "--port", "0"]
        var environment = ProcessInfo.processInfo.environment
        environment["NOTIFY_SOCKET"] = notify.path
        environment["WATCHDOG_USEC"] = "400000"
        daemon.environment = environment
        let errors = Pipe()
        daemon.standardError = errors
        try daemon.run()

        let untilReady = await notify.wait(for: "READY=1", seconds: 60)
        #expect(untilReady.last == "READY=1", "got \(untilReady)")
        // Watchdog pings come at half of WATCHDOG_USEC while the writer is healthy.
        let pings = await notify.wait(for: "WATCHDOG=1", seconds: 5)
        #expect(pings.last == "WATCHDOG=1")

        kill(daemon.processIdentifier, SIGTERM)
        let untilStopping = await notify.wait(for: "STOPPING=1", seconds: 30)
        #expect(untilStopping.last == "STOPPING=1", "got \(untilStopping)")
        await daemon.exited()
        #expect(daemon.terminationReason == .exit)
        #expect(daemon.terminationStatus == 0)
        let log = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(log.contains("ledger closed cleanly"))

        // The store opens and verifies after the daemon is gone.
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        let reopened = try EventLog(LogConfiguration(path: data), logger: logger)
        #expect(try reopened.verifyChain().ok)
        try await reopened.close()
    }
}

@Suite struct ConfigurationFileTests {
    /// The example configuration parses, and flags override what it says (its data directory is /var/lib/ledgerd).
    @Test func theExampleConfigurationStartsTheDaemon() async throws {
        let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../config/ledgerd.yaml").standardized.path
        let notify = NotifyTests.NotifySocket()
        let data = Scratch.path("data")
        let daemon = Process()
        daemon.executableURL = URL(fileURLWithPath: NotifyTests.ledgerdPath)
        daemon.arguments = ["--config", example, "--data-dir", data, "--port", "0"]
        var environment = ProcessInfo.processInfo.environment
        environment["NOTIFY_SOCKET"] = notify.path
        daemon.environment = environment
        daemon.standardError = FileHandle.nullDevice
        try daemon.run()
        let messages = await notify.wait(for: "READY=1", seconds: 60)
        #expect(messages.last == "READY=1")
        #expect(FileManager.default.fileExists(atPath: data + "/tokens"))
        // The checkpoint key is made private on first start, its verifier key public beside it.
        #expect(try FileManager.default.attributesOfItem(atPath: data + "/checkpoint.key")[.posixPermissions] as? Int == 0o600)
        #expect(FileManager.default.fileExists(atPath: data + "/checkpoint.vkey"))
        kill(daemon.processIdentifier, SIGTERM)
        await daemon.exited()
        #expect(daemon.terminationStatus == 0)

        // LEDGERD_* variables configure it too: here the data directory.
        let fromEnvironment = data + "-env"
        let configured = Process()
        configured.executableURL = URL(fileURLWithPath: NotifyTests.ledgerdPath)
        configured.arguments = ["--port", "0"]
        var variables = ProcessInfo.processInfo.environment
        variables["LEDGERD_STORAGE_PATH"] = fromEnvironment
        variables["NOTIFY_SOCKET"] = notify.path
        configured.environment = variables
        configured.standardError = FileHandle.nullDevice
        try configured.run()
        #expect(await notify.wait(for: "READY=1", seconds: 60).last == "READY=1")
        #expect(FileManager.default.fileExists(atPath: fromEnvironment + "/tokens"))
        kill(configured.processIdentifier, SIGTERM)
        await configured.exited()
        #expect(configured.terminationStatus == 0)

        // A malformed file stops the daemon with an error, not a silent default.
        let broken = data + "-broken.yaml"
        _ = FileManager.default.createFile(atPath: broken, contents: Array("http: [unclosed".utf8).withUnsafeBytes { Data($0) })
        let refused = Process()
        refused.executableURL = URL(fileURLWithPath: NotifyTests.ledgerdPath)
        refused.arguments = ["--config", broken, "--data-dir", data, "--port", "0"]
        refused.standardError = FileHandle.nullDevice
        try refused.run()
        await refused.exited()
        #expect(refused.terminationStatus != 0)
    }
}
