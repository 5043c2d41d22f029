import ArgumentParser
import EventLog
import EventModel
import Foundation
import Transparency

/// `ledgerctl checkpoint`: a signed checkpoint of the ledger as it is now (over HTTP), or the latest
/// stored one (`--data-dir`), as the C2SP note an auditor keeps.
struct CheckpointCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint", abstract: "Print a signed checkpoint (C2SP tlog-checkpoint note) of the ledger.")
    @Option(help: "Also write the note to this file.") var out: String?
    @OptionGroup var connection: Connection

    func run() async throws {
        try await withBackend(connection) { backend in
            let note = try await backend.getBytes(["v1", "checkpoint"], [])
            if let out { try Data(note).write(to: URL(fileURLWithPath: out)) }
            FileHandle.standardOutput.write(Data(note))
        }
    }
}

/// `ledgerctl key`: the public key that signs checkpoints, as a note verifier key.
struct KeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "key", abstract: "Print the checkpoint signing key's public half and verifier key.")
    @OptionGroup var connection: Connection
    @OptionGroup var output: Output

    func run() async throws {
        let r = try output.renderer()
        try await withBackend(connection) { backend in
            let json = try await backend.get(["v1", "checkpoint", "key"], [])
            r.emit(json: json, header: ["NAME", "ALGORITHM", "PUBLIC KEY", "VERIFIER KEY"], rows: [[
                json["name"]?.stringValue ?? "", json["algorithm"]?.stringValue ?? "", json["publicKey"]?.stringValue ?? "",
                json["verifierKey"]?.stringValue ?? "",
            ]])
        }
    }
}

/// `ledgerctl verify-proof`: checks, with nothing but a saved checkpoint and the public key, that a
/// record is in the signed tree, or that an older signed tree is a prefix of a newer one. The server
/// only supplies the record and the proof hashes; every hash is recomputed here.
struct VerifyProof: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify-proof",
        abstract: "Check an inclusion (--seq) or consistency (--old-checkpoint) proof against a saved checkpoint; exits 4 when it fails.")
    @Option(help: "The saved checkpoint note (from `ledgerctl checkpoint --out`).") var checkpoint: String
    @Option(help: "The note verifier key (name+id+key), or @FILE to read it from a file.") var key: String
    @Option(help: "Prove that this record is in the checkpoint's tree.") var seq: UInt64?
    @Option(name: .customLong("old-checkpoint"), help: "Prove that this older checkpoint's tree is a prefix of the checkpoint's.") var oldCheckpoint: String?
    @OptionGroup var connection: Connection
    @OptionGroup var output: Output

    func run() async throws {
        guard (seq == nil) != (oldCheckpoint == nil) else { throw ValidationError("give exactly one of --seq and --old-checkpoint") }
        let r = try output.renderer()
        let verifier = try loadVerifier(key)
        let signed = try openCheckpoint(checkpoint, verifier)
        try await withBackend(connection) { backend in
            if let seq {
                guard seq >= 1, seq <= signed.size else {
                    throw CommandFailure(exitCode: 2, description: "seq \(seq) is not in a checkpoint of \(signed.size) records")
                }
                let record = try await backend.getBytes(["v1", "export"], [("afterSeq", String(seq - 1)), ("limit", "1")]).dropLast()
                guard (try? StoredEvent.decode(Array(record)))?.seq == seq else {
                    throw CommandFailure(exitCode: 4, description: "the ledger did not return record \(seq)")
                }
                let json = try await backend.get(["v1", "proof", "inclusion"], [("seq", String(seq)), ("treeSize", String(signed.size))])
                let ok = MerkleProofs.verifyInclusion(
                    index: seq - 1, size: signed.size, leafHash: MerkleTree.leafHash(Array(record)), proof: try hashes(json["proof"]),
                    root: signed.rootHash)
                r.emit(json: .object([JSONMember("ok", .bool(ok)), JSONMember("seq", .number(String(seq))), JSONMember("treeSize", .number(String(signed.size))),
                                      JSONMember("rootHash", .string(hexString(signed.rootHash))), JSONMember("signedBy", .string(verifier.name))]),
                    header: ["OK", "SEQ", "TREE SIZE", "ROOT", "SIGNED BY"],
                    rows: [[ok ? "yes" : "NO", String(seq), String(signed.size), hexString(signed.rootHash), verifier.name]])
                if !ok { throw CommandFailure(exitCode: 4, description: "record \(seq) is not in the signed tree of \(signed.size) records") }
            } else if let oldCheckpoint {
                let old = try openCheckpoint(oldCheckpoint, verifier)
                guard old.size <= signed.size else {
                    throw CommandFailure(exitCode: 2, description: "the old checkpoint (\(old.size)) is larger than the new one (\(signed.size))")
                }
                let json = try await backend.get(["v1", "proof", "consistency"], [("from", String(old.size)), ("to", String(signed.size))])
                let ok = MerkleProofs.verifyConsistency(
                    from: old.size, to: signed.size, fromRoot: old.rootHash, toRoot: signed.rootHash, proof: try hashes(json["proof"]))
                r.emit(json: .object([JSONMember("ok", .bool(ok)), JSONMember("from", .number(String(old.size))), JSONMember("to", .number(String(signed.size)))]),
                    header: ["OK", "FROM", "TO"], rows: [[ok ? "yes" : "NO", String(old.size), String(signed.size)]])
                if !ok { throw CommandFailure(exitCode: 4, description: "the tree of \(old.size) records is not a prefix of the signed tree of \(signed.size)") }
            }
        }
    }

    private func hashes(_ value: JSONValue?) throws -> [[UInt8]] {
        try (value ?? .null).list.map { item in
            guard let text = item.stringValue, let bytes = hexBytes(text) else {
                throw CommandFailure(exitCode: 4, description: "the proof holds something that is not a hex hash")
            }
            return bytes
        }
    }
}

func loadVerifier(_ key: String) throws -> NoteVerifier {
    let text = key.hasPrefix("@") ? try String(contentsOfFile: String(key.dropFirst()), encoding: .utf8) : key
    do {
        return try NoteVerifier(verifierKey: text)
    } catch {
        throw CommandFailure(exitCode: 2, description: "--key: \(error)")
    }
}

func openCheckpoint(_ path: String, _ verifier: NoteVerifier) throws -> Checkpoint {
    let note: String
    do {
        note = try String(contentsOfFile: path, encoding: .utf8)
    } catch {
        throw CommandFailure(exitCode: 2, description: "cannot read \(path): \(error.localizedDescription)")
    }
    do {
        return try Checkpoint(note: note, verifier: verifier)
    } catch {
        throw CommandFailure(exitCode: 4, description: "\(path): \(error)")
    }
}

/// `ledgerctl import`: an export back into an empty data directory, byte for byte, so the chain head and
/// Merkle root come out as in the source. It takes the directory's writer lock, so it refuses (exit 6) a
/// directory ledgerd runs on.
struct Import: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load an export (NDJSON records) into an empty data directory; exits 6 when ledgerd (or another import) writes it.")
    @Argument(help: "The export file, or - for standard input.") var file: String
    @Option(name: .customLong("data-dir"), help: "The data directory to fill (new or empty ledger).") var dataDirectory: String
    @Option(help: "A saved checkpoint the imported ledger must match (with --key).") var checkpoint: String?
    @Option(help: "The note verifier key for --checkpoint (name+id+key, or @FILE).") var key: String?

    func run() async throws {
        let expected = try checkpoint.map { path -> Checkpoint in
            guard let key else { throw ValidationError("--checkpoint needs --key") }
            return try openCheckpoint(path, try loadVerifier(key))
        }
        let input = file == "-" ? FileHandle.standardInput : try FileHandle(forReadingFrom: URL(fileURLWithPath: file))
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        let log: EventLog
        do {
            log = try EventLog(LogConfiguration(path: dataDirectory))
        } catch let error as LogError where error.code == .locked {
            throw CommandFailure(exitCode: 6, description: error.message)
        }
        do {
            guard try log.head().seq == 0 else {
                throw CommandFailure(exitCode: 2, description: "\(dataDirectory) already holds a ledger; import only into an empty one")
            }
            var batch: [[UInt8]] = []
            var pending: [UInt8] = []
            var imported = 0
            func flush() async throws {
                guard !batch.isEmpty else { return }
                do {
                    imported += try await log.importRecords(batch).count
                } catch let error as LogError {
                    throw CommandFailure(exitCode: 2, description: "record \(imported + (error.index ?? 0) + 1): \(error.message)")
                }
                batch.removeAll(keepingCapacity: true)
            }
            while let chunk = try input.read(upToCount: 1 << 20), !chunk.isEmpty {
                pending.append(contentsOf: chunk)
                var start = 0
                while let newline = pending[start...].firstIndex(of: 0x0A) {
                    if newline > start { batch.append(Array(pending[start..<newline])) }
                    start = newline + 1
                    if batch.count == 1000 { try await flush() }
                }
                pending.removeFirst(start)
            }
            if !pending.isEmpty { batch.append(pending) }
            try await flush()
            let head = try log.head()
            var line = "imported \(imported) records; head seq \(head.seq), hash \(hexString(head.hash))"
            if head.seq > 0 { line += ", Merkle root \(hexString(try log.merkleRoot(treeSize: head.seq)))" }
            if let expected {
                guard expected.size <= head.seq, try log.merkleRoot(treeSize: expected.size) == expected.rootHash else {
                    throw CommandFailure(exitCode: 4, description: "the imported ledger does not match the checkpoint of \(expected.size) records")
                }
                line += "; matches the signed checkpoint of \(expected.size) records"
            }
            print(line)
        } catch {
            try? await log.close()
            throw error
        }
        try await log.close()
    }
}
