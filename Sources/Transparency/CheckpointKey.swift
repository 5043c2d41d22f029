import Foundation

/// The checkpoint signing key on disk: created on first start with mode 0600, and a public
/// verifier key file beside it (0644) for auditors.
public enum CheckpointKey {
    /// Loads the key at `path`, or makes one named `name` when there is none. A key that exists
    /// keeps its own name: a different `name` is an error, since every checkpoint signed so far carries it.
    public static func loadOrCreate(path: String, name: String?, defaultName: @autoclosure () -> String) throws -> (signer: NoteSigner, created: Bool) {
        let manager = FileManager.default
        if manager.fileExists(atPath: path) {
            let text = try String(contentsOfFile: path, encoding: .utf8)
            let signer = try NoteSigner(signerKey: text)
            if let name, name != signer.name {
                throw NoteError("the checkpoint key at \(path) is named \(signer.name), not \(name) as configured")
            }
            return (signer, false)
        }
        let signer = try NoteSigner.generate(name: name ?? defaultName())
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty { try manager.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        let temporary = path + ".tmp"
        guard manager.createFile(atPath: temporary, contents: Data((signer.signerKey + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
            throw NoteError("cannot write the checkpoint key to \(temporary)")
        }
        try manager.setAttributes([.posixPermissions: 0o600], ofItemAtPath: temporary)
        guard rename(temporary, path) == 0 else { throw NoteError("cannot move the checkpoint key into \(path)") }
        return (signer, true)
    }

    /// Writes the verifier key where auditors and `ledgerctl key --data-dir` find it.
    public static func writeVerifierKey(_ verifier: NoteVerifier, to path: String) throws {
        try Data((verifier.verifierKey + "\n").utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
