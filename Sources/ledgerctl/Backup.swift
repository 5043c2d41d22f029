import ArgumentParser
import EventLog
import EventModel
import Foundation
import Logging

/// A hot, consistent, compacted copy of a data directory's ledger while ledgerd runs (`mdb_env_copy2`),
/// with the checkpoint key files and the tokens file (hashes) kept in that directory, so a daemon restored
/// from it signs with the same key and accepts the same tokens; checked after it is written. The projection is
/// not copied: ledgerd rebuilds it from the ledger on start. `POST /v1/admin/backup` does the same
/// from inside the daemon.
struct Backup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Copy the ledger of a data directory, consistently, while ledgerd runs.")
    @Argument(help: "An empty or new directory for the copy.") var directory: String
    @Option(name: .customLong("data-dir"), help: "The data directory to copy.") var dataDirectory: String

    func run() async throws {
        // The log alone, read-only (LMDB lets this reader in beside a running ledgerd): no projection.
        var logger = Logger(label: "ledgerctl")
        logger.logLevel = .error
        var configuration = LogConfiguration(path: dataDirectory)
        configuration.readOnly = true
        configuration.readerThreads = 1
        let log = try EventLog(configuration, logger: logger)
        let report: ChainReport
        do {
            report = try await log.backup(
                to: directory, alongWith: ["checkpoint.key", "checkpoint.vkey", "tokens"].map { dataDirectory + "/" + $0 })
        } catch let error as LogError {
            try? await log.close()
            throw CommandFailure(exitCode: error.code == .invalid ? 2 : error.code == .corrupt ? 4 : 5, description: error.message)
        }
        try await log.close()
        print("copied \(report.count) events to \(directory); head seq \(report.headSeq), hash \(hexString(report.headHash)), Merkle root \(hexString(report.merkleRoot)); the copy verifies")
    }
}
