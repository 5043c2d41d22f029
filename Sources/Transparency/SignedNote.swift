import Crypto
import EventModel
import Foundation

/// Why a note, key or checkpoint was refused.
public struct NoteError: Error, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Signs text in the C2SP `signed-note` format with an Ed25519 key: the text, a blank line, then
/// `— <name> <base64(key ID ‖ signature)>`. Keys are written as Go's `sumdb/note` writes them, so
/// other tools read them: `PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 ‖ seed)>`.
public struct NoteSigner: Sendable {
    public let name: String
    public let keyID: [UInt8]
    private let key: Curve25519.Signing.PrivateKey

    public init(name: String, key: Curve25519.Signing.PrivateKey) throws {
        try NoteVerifier.checkName(name)
        self.name = name
        self.key = key
        keyID = NoteVerifier.keyID(name: name, publicKey: Array(key.publicKey.rawRepresentation))
    }

    public static func generate(name: String) throws -> NoteSigner {
        try NoteSigner(name: name, key: Curve25519.Signing.PrivateKey())
    }

    /// Reads `PRIVATE+KEY+name+id+key`.
    public init(signerKey: String) throws {
        // At most five fields: base64 itself may hold '+'.
        let parts = signerKey.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "+", maxSplits: 4, omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0] == "PRIVATE", parts[1] == "KEY",
            let raw = Data(base64Encoded: String(parts[4])), raw.count == 33, raw.first == 0x01
        else { throw NoteError("not a signed-note private key (PRIVATE+KEY+name+id+key)") }
        try self.init(name: String(parts[2]), key: try Curve25519.Signing.PrivateKey(rawRepresentation: raw.dropFirst()))
        guard hexString(keyID) == parts[3] else { throw NoteError("the private key's ID does not match its name and key") }
    }

    public var signerKey: String {
        "PRIVATE+KEY+\(name)+\(hexString(keyID))+\(Data([0x01] + key.rawRepresentation).base64EncodedString())"
    }

    public var verifier: NoteVerifier {
        NoteVerifier(name: name, keyID: keyID, publicKey: key.publicKey)
    }

    /// The signed note: `text` (which must end in a newline and hold no blank line) and one signature line.
    public func sign(_ text: String) throws -> String {
        guard text.hasSuffix("\n"), !text.contains("\n\n") else { throw NoteError("note text must end in a newline and hold no blank line") }
        let signature = try key.signature(for: Data(text.utf8))
        return text + "\n\u{2014} \(name) \(Data(keyID + signature).base64EncodedString())\n"
    }
}

/// Checks signed notes against one public key; the verifier key string is what an auditor keeps:
/// `<name>+<hex key ID>+<base64(0x01 ‖ public key)>`.
public struct NoteVerifier: Sendable, Equatable {
    public let name: String
    public let keyID: [UInt8]
    public let publicKey: Curve25519.Signing.PublicKey

    init(name: String, keyID: [UInt8], publicKey: Curve25519.Signing.PublicKey) {
        self.name = name
        self.keyID = keyID
        self.publicKey = publicKey
    }

    public init(verifierKey: String) throws {
        let parts = verifierKey.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "+", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, let raw = Data(base64Encoded: String(parts[2])), raw.count == 33, raw.first == 0x01 else {
            throw NoteError("not a signed-note Ed25519 verifier key (name+id+base64 key)")
        }
        let name = String(parts[0])
        try NoteVerifier.checkName(name)
        let publicKey = try Curve25519.Signing.PublicKey(rawRepresentation: raw.dropFirst())
        let id = NoteVerifier.keyID(name: name, publicKey: Array(publicKey.rawRepresentation))
        guard hexString(id) == parts[1] else { throw NoteError("the verifier key's ID does not match its name and key") }
        self.init(name: name, keyID: id, publicKey: publicKey)
    }

    public var verifierKey: String {
        "\(name)+\(hexString(keyID))+\(Data([0x01] + publicKey.rawRepresentation).base64EncodedString())"
    }

    /// The note's text when it carries a valid signature by this key; throws otherwise.
    public func open(_ note: String) throws -> String {
        let (text, lines) = try Self.split(note)
        for line in lines {
            guard line.hasPrefix("\u{2014} ") else { throw NoteError("malformed signature line: \(line)") }
            let fields = line.dropFirst(2).split(separator: " ", omittingEmptySubsequences: false)
            guard fields.count == 2, let raw = Data(base64Encoded: String(fields[1])), raw.count > 4 else {
                throw NoteError("malformed signature line: \(line)")
            }
            guard fields[0] == name, Array(raw.prefix(4)) == keyID else { continue }
            guard publicKey.isValidSignature(raw.dropFirst(4), for: Data(text.utf8)) else {
                throw NoteError("the signature by \(name) does not verify")
            }
            return text
        }
        throw NoteError("the note is not signed by \(name)+\(hexString(keyID))")
    }

    /// A note's text (with its final newline) and its signature lines, not yet checked: the text
    /// ends at the last blank line.
    static func split(_ note: String) throws -> (text: String, signatures: [Substring]) {
        guard let split = note.range(of: "\n\n", options: .backwards) else { throw NoteError("not a signed note: no blank line before the signatures") }
        let lines = note[split.upperBound...].split(separator: "\n", omittingEmptySubsequences: false)
        guard note.hasSuffix("\n"), lines.count >= 2 else { throw NoteError("not a signed note: no signature lines") }
        return (String(note[..<split.lowerBound]) + "\n", Array(lines.dropLast()))
    }

    static func keyID(name: String, publicKey: [UInt8]) -> [UInt8] {
        Array(SHA256.hash(data: Array(name.utf8) + [0x0A, 0x01] + publicKey).prefix(4))
    }

    static func checkName(_ name: String) throws {
        guard !name.isEmpty, !name.contains(where: { $0 == "+" || $0.isWhitespace }) else {
            throw NoteError("a key name must be non-empty, without spaces or '+': \"\(name)\"")
        }
    }

    public static func == (a: NoteVerifier, b: NoteVerifier) -> Bool {
        a.name == b.name && a.keyID == b.keyID && a.publicKey.rawRepresentation == b.publicKey.rawRepresentation
    }
}

/// A C2SP `tlog-checkpoint` body: origin, tree size, base64 root hash, one per line.
public struct Checkpoint: Sendable, Equatable {
    public var origin: String
    public var size: UInt64
    public var rootHash: [UInt8]

    public init(origin: String, size: UInt64, rootHash: [UInt8]) {
        self.origin = origin
        self.size = size
        self.rootHash = rootHash
    }

    public var text: String { "\(origin)\n\(size)\n\(Data(rootHash).base64EncodedString())\n" }

    /// Parses a note's verified text; extension lines after the third are allowed and ignored.
    public init(text: String) throws {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count >= 4, lines.last == "", !lines[0].isEmpty else { throw NoteError("a checkpoint has an origin, a size and a root hash line") }
        guard let size = UInt64(lines[1]), String(size) == lines[1] else { throw NoteError("checkpoint size \"\(lines[1])\" is not a decimal number") }
        guard let root = Data(base64Encoded: String(lines[2])), root.count == MerkleTree.hashSize else {
            throw NoteError("checkpoint root hash is not 32 bytes of base64")
        }
        self.init(origin: String(lines[0]), size: size, rootHash: Array(root))
    }

    /// Opens a signed checkpoint note with `verifier` and parses it.
    public init(note: String, verifier: NoteVerifier) throws {
        try self.init(text: verifier.open(note))
    }

    /// Parses a signed checkpoint note without checking its signature (a root to compare).
    public init(unverifiedNote note: String) throws {
        try self.init(text: NoteVerifier.split(note).text)
    }
}
