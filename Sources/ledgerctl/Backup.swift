import ArgumentParser
import EventLog
import EventModel
import Foundation

/// A hot, consistent, compacted copy of a data directory's ledger while ledgerd runs (`mdb_env_copy2`),
/// checked after it is written. The projection is not copied: ledgerd rebuilds it from the ledger on start.
struct Backup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Copy the ledger of a data directory, consistently, while ledgerd runs.")
    @Argument(help: "An empty or new directory for the copy.") var directory: String
    @Option(name: .customLong("data-dir"), help: "The data directory to copy.") var dataDirectory: String

    func run() async throws {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        guard files.isEmpty else { throw CommandFailure(exitCode: 2, description: "\(directory) is not empty") }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let (log, _) = try openReadOnly(dataDirectory)
        do {
            try log.environment.copy(to: directory, compacting: true)
        } catch {
            try? await log.close()
            throw CommandFailure(exitCode: 5, description: "the copy failed: \(error)")
        }
        try await log.close()
        let (copied, _) = try openReadOnly(directory)
        let report = try copied.verifyChain()
        try await copied.close()
        guard report.ok else {
            throw CommandFailure(exitCode: 4, description: "the copy does not verify: first bad seq \(report.firstBadSeq.map(String.init) ?? "?")")
        }
        print("copied \(report.count) events to \(directory); head seq \(report.headSeq), hash \(hexString(report.headHash)); the copy verifies")
    }
}
