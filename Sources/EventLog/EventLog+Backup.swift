import Foundation
import LMDB

extension EventLog {
    /// A hot, consistent, compacted copy of the ledger into `directory` (new or empty) while appends go
    /// on (`mdb_env_copy2`), plus `files` copied beside it with their permissions (the checkpoint key
    /// and its verifier key). The copy is opened and verified before this returns; a copy that does
    /// not verify is an error. The projection is not copied: ledgerd rebuilds it on start. The copy is
    /// private whatever the umask: the directory 0700, every file in it 0600 (it holds the signing key).
    public func backup(to directory: String, alongWith files: [String] = []) async throws -> ChainReport {
        let manager = FileManager.default
        if let existing = try? manager.contentsOfDirectory(atPath: directory), !existing.isEmpty {
            throw LogError(.invalid, "\(directory) is not empty")
        }
        try manager.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try manager.setAttributes([.posixPermissions: 0o700], ofItemAtPath: directory)
        try await read { log in try log.environment.copy(to: directory, compacting: true) }
        for file in files where manager.fileExists(atPath: file) {
            let target = directory + "/" + (file as NSString).lastPathComponent
            try manager.copyItem(atPath: file, toPath: target)
        }
        var settings = LogConfiguration(path: directory)
        settings.readOnly = true
        settings.readerThreads = 1
        let copy = try EventLog(settings, logger: logger)
        let report: ChainReport
        do {
            report = try await copy.read { try $0.verifyChain() }
        } catch {
            try? await copy.close()
            throw error
        }
        try await copy.close()
        for name in try manager.contentsOfDirectory(atPath: directory) {
            try manager.setAttributes([.posixPermissions: 0o600], ofItemAtPath: directory + "/" + name)
        }
        guard report.ok else {
            throw LogError(.corrupt, "the copy in \(directory) does not verify: \(report.problem ?? "first bad seq \(report.firstBadSeq ?? 0)")")
        }
        return report
    }
}
