import Foundation
import Glibc
import Testing

/// The auditor's round trip with the real binaries: checkpoint and key from a live ledgerd, proofs
/// checked by ledgerctl against the saved checkpoint, the export checked by the independent Python
/// verifier, import reproducing the root, and a hot backup that a restarted ledgerd serves.
@Suite(.serialized) struct TransparencyCLITests {
    let cli = LedgerctlTests()

    static func events(_ range: ClosedRange<Int>) -> String {
        range.map { i in
            #"{"id":"t\#(i)","type":"sales_order.updated","time":"2026-03-02T10:\#(String(format: "%02d", i % 60)):00Z","actor":{"id":"u-\#(i % 7)"},"subject":{"type":"sales_order","id":"SO-\#(i % 13)"},"changes":[{"field":"amount","new":\#(i)}]}"#
        }.joined(separator: "\n") + "\n"
    }

    func python(_ arguments: [String]) async throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../scripts/verify_export.py").standardized.path] + arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        await process.exited()
        return process.terminationStatus
    }

    @Test func checkpointsProofsExportImportAndRestoreAgree() async throws {
        let daemon = try await LedgerctlTests.Daemon()
        defer { daemon.end() }
        let read = daemon.tokens["read"]
        let ingest = daemon.tokens["ingest"]
        let work = daemon.data + "-audit"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)

        #expect(try await cli.ctl(["append", "-"], token: ingest, url: daemon.url, stdin: Self.events(1...150)).0 == 0)
        let (keyStatus, keyJSON) = try await cli.ctl(["key", "--format", "json"], token: read, url: daemon.url)
        #expect(keyStatus == 0)
        let verifierKey = try #require(keyJSON.split(separator: "\"").first(where: { $0.contains("+") && $0.hasPrefix("auditledger/") }).map(String.init))
        let (_, localKey) = try await cli.ctl(["key", "--format", "json", "--data-dir", daemon.data])
        #expect(localKey == keyJSON)
        try verifierKey.write(toFile: work + "/vkey", atomically: false, encoding: .utf8)

        let old = work + "/checkpoint-150"
        #expect(try await cli.ctl(["checkpoint", "--out", old], token: read, url: daemon.url).0 == 0)
        #expect(try String(contentsOfFile: old, encoding: .utf8).split(separator: "\n")[1] == "150")

        #expect(try await cli.ctl(["append", "-"], token: ingest, url: daemon.url, stdin: Self.events(151...260)).0 == 0)
        let new = work + "/checkpoint-260"
        #expect(try await cli.ctl(["checkpoint", "--out", new], token: read, url: daemon.url).0 == 0)

        // Proofs, checked here against the saved notes, over HTTP and on the data directory.
        for seq in ["1", "77", "150", "260"] {
            #expect(try await cli.ctl(["verify-proof", "--checkpoint", new, "--key", verifierKey, "--seq", seq], token: read, url: daemon.url).0 == 0, "seq \(seq)")
        }
        #expect(try await cli.ctl(["verify-proof", "--checkpoint", new, "--key", "@" + work + "/vkey", "--seq", "5", "--data-dir", daemon.data]).0 == 0)
        #expect(try await cli.ctl(["verify-proof", "--checkpoint", new, "--old-checkpoint", old, "--key", verifierKey], token: read, url: daemon.url).0 == 0)
        // A note whose root was changed, or another key, fails with exit 4.
        let forged = work + "/forged"
        let note = try String(contentsOfFile: new, encoding: .utf8)
        var lines = note.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        lines[2] = String(lines[2].reversed())
        try lines.joined(separator: "\n").write(toFile: forged, atomically: false, encoding: .utf8)
        #expect(try await cli.ctl(["verify-proof", "--checkpoint", forged, "--key", verifierKey, "--seq", "3"], token: read, url: daemon.url).0 == 4)
        let otherKey = "auditledger/other+" + verifierKey.split(separator: "+", maxSplits: 1)[1]
        #expect(try await cli.ctl(["verify-proof", "--checkpoint", new, "--key", otherKey, "--seq", "3"], token: read, url: daemon.url).0 != 0)
        #expect(try await cli.ctl(["verify-proof", "--checkpoint", new, "--key", verifierKey, "--seq", "261"], token: read, url: daemon.url).0 == 2)

        // The export, checked by a verifier that shares no code with the ledger.
        let (exportStatus, export) = try await cli.ctl(["export"], token: read, url: daemon.url)
        #expect(exportStatus == 0)
        try export.write(toFile: work + "/export.ndjson", atomically: false, encoding: .utf8)
        #expect(try await python([work + "/export.ndjson", new, verifierKey]) == 0)
        #expect(try await python([work + "/export.ndjson", old, "@" + work + "/vkey"]) == 0)
        try export.replacingOccurrences(of: #""new":77}"#, with: #""new":78}"#).write(toFile: work + "/altered.ndjson", atomically: false, encoding: .utf8)
        #expect(try await python([work + "/altered.ndjson", new, verifierKey]) == 1)
        #expect(try await python([work + "/export.ndjson", forged, verifierKey]) == 1)

        // Import into an empty directory reproduces the chain head and the signed root.
        let imported = work + "/imported"
        #expect(try await cli.ctl(["import", work + "/export.ndjson", "--data-dir", imported, "--checkpoint", new, "--key", verifierKey]).0 == 0)
        let (_, sourceVerify) = try await cli.ctl(["verify", "--format", "json"], token: read, url: daemon.url)
        let (importedStatus, importedVerify) = try await cli.ctl(["verify", "--format", "json", "--data-dir", imported])
        #expect(importedStatus == 0)
        func field(_ json: String, _ name: String) -> String? {
            json.components(separatedBy: "\"\(name)\":\"").dropFirst().first?.split(separator: "\"").first.map(String.init)
        }
        #expect(field(importedVerify, "headHash") == field(sourceVerify, "headHash"))
        #expect(field(importedVerify, "merkleRoot") == field(sourceVerify, "merkleRoot"))
        #expect(try await cli.ctl(["import", work + "/export.ndjson", "--data-dir", imported]).0 == 2)

        // A hot backup, then ledgerd started on the copy: same head, same key, verifies.
        let backup = work + "/backup"
        #expect(try await cli.ctl(["backup", backup, "--data-dir", daemon.data]).0 == 0)
        // Private whatever the umask (it holds the signing key), and it carries the tokens file.
        #expect((try FileManager.default.attributesOfItem(atPath: backup)[.posixPermissions] as? Int) == 0o700)
        for name in ["data.mdb", "checkpoint.key", "tokens"] {
            #expect((try FileManager.default.attributesOfItem(atPath: backup + "/" + name)[.posixPermissions] as? Int) == 0o600, "\(name)")
        }
        let restored = try await LedgerctlTests.Daemon(dataDirectory: backup)
        defer { restored.end() }
        // The restored daemon mints no new tokens: the CRM's and the auditor's keep working.
        #expect(restored.tokens.isEmpty)
        let (restoredStatus, restoredVerify) = try await cli.ctl(["verify", "--format", "json"], token: daemon.tokens["read"], url: restored.url)
        #expect(restoredStatus == 0, "\(restoredVerify)")
        #expect(field(restoredVerify, "headHash") == field(sourceVerify, "headHash"))
        #expect(restoredVerify.contains(#""latestCheckpointSignatureChecked":true"#))
        let (_, restoredKey) = try await cli.ctl(["key", "--format", "json"], token: daemon.tokens["read"], url: restored.url)
        #expect(restoredKey == keyJSON)
    }
}
