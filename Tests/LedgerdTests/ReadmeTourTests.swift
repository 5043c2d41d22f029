import Foundation
import Testing
import TestSupport

/// The README's tours run as written: their shell blocks, in order, against a live ledgerd, in a
/// directory laid out as the README assumes (`data/`, `.build/debug/ledgerctl`, `scripts/`).
@Suite struct ReadmeTourTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The `sh` blocks under a heading, up to the next heading.
    static func blocks(under heading: String, in readme: String) -> [String] {
        guard let start = readme.range(of: "\n" + heading + "\n") else { return [] }
        let rest = readme[start.upperBound...]
        let section = rest.range(of: "\n## ").map { rest[..<$0.lowerBound] } ?? rest
        let sectionText = section.range(of: "\n### ").map { section[..<$0.lowerBound] } ?? section
        var out: [String] = []
        var remaining = sectionText[...]
        while let open = remaining.range(of: "```sh\n"), let close = remaining[open.upperBound...].range(of: "```") {
            out.append(String(remaining[open.upperBound..<close.lowerBound]))
            remaining = remaining[close.upperBound...]
        }
        return out
    }

    @Test func theToursRunAsWritten() async throws {
        let readme = try String(contentsOf: Self.repository.appendingPathComponent("README.md"), encoding: .utf8)
        let daemon = try await LedgerctlTests.Daemon()
        defer { daemon.end() }
        let work = Scratch.directory("readme-tour")
        let files = FileManager.default
        try files.createDirectory(atPath: work + "/.build/debug", withIntermediateDirectories: true)
        try files.createSymbolicLink(atPath: work + "/.build/debug/ledgerctl", withDestinationPath: LedgerctlTests.ledgerctlPath)
        try files.createSymbolicLink(atPath: work + "/data", withDestinationPath: daemon.data)
        try files.createSymbolicLink(atPath: work + "/scripts", withDestinationPath: Self.repository.appendingPathComponent("scripts").path)

        let tours = [
            "### First queries: the demo story", "### A tour for an integrator", "### A tour for a compliance officer", "### A tour of access governance",
            "### A tour for an auditor who trusts nothing but a public key",
        ]
        var ran = 0
        for tour in tours {
            let blocks = Self.blocks(under: tour, in: readme)
            #expect(!blocks.isEmpty, "no shell block under \(tour)")
            for block in blocks {
                // The README's commands start from `ctl` and the default address; here they are the test's daemon.
                let script = "ctl=.build/debug/ledgerctl\n" + block.replacingOccurrences(of: "http://127.0.0.1:8427", with: daemon.url)
                let process = Process()
                process.executableURL = URL(fileURLWithPath: "/bin/bash")
                process.arguments = ["-e", "-o", "pipefail", "-c", script]
                process.currentDirectoryURL = URL(fileURLWithPath: work)
                var environment = ProcessInfo.processInfo.environment
                environment["LEDGER_URL"] = daemon.url
                environment.removeValue(forKey: "LEDGER_TOKEN")
                process.environment = environment
                let output = Pipe()
                process.standardOutput = output
                process.standardError = output
                try process.run()
                let text = String(decoding: await output.fileHandleForReading.readToTheEnd(), as: UTF8.self)
                await process.exited()
                #expect(process.terminationStatus == 0, "\(tour): \(block)\n---\n\(text.suffix(3000))")
                ran += 1
            }
        }
        #expect(ran >= 5)
        // What the tours wrote is what they promised: an export that the independent verifier accepted.
        #expect(files.fileExists(atPath: work + "/ledger.ndjson"))
    }
}
