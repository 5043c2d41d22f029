import Foundation
import Testing
import Transparency
import TestSupport

@Suite struct SignedNoteTests {
    // The example key and note published with Go's golang.org/x/mod/sumdb/note.
    static let signerKey = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
    static let verifierKey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
    static let text = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
    static let note = text + "\n\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"

    @Test func signsThePublishedExampleByteForByte() throws {
        let signer = try NoteSigner(signerKey: Self.signerKey)
        #expect(signer.signerKey == Self.signerKey)
        #expect(signer.verifier.verifierKey == Self.verifierKey)
        #expect(try signer.sign(Self.text) == Self.note)
        #expect(try NoteVerifier(verifierKey: Self.verifierKey).open(Self.note) == Self.text)
    }

    @Test func refusesAlteredNotesAndOtherKeys() throws {
        let verifier = try NoteVerifier(verifierKey: Self.verifierKey)
        #expect(throws: NoteError.self) { try verifier.open(Self.note.replacingOccurrences(of: "problem,", with: "problem;")) }
        #expect(throws: NoteError.self) { try verifier.open(Self.note.replacingOccurrences(of: "x08go", with: "x08gp")) }
        #expect(throws: NoteError.self) { try verifier.open(Self.text) }
        let stranger = try NoteSigner.generate(name: "PeterNeumann")
        #expect(throws: NoteError.self) { try stranger.verifier.open(Self.note) }
        #expect(throws: NoteError.self) { try NoteVerifier(verifierKey: "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW") }
        #expect(throws: NoteError.self) { try NoteSigner.generate(name: "has space") }
    }

    @Test func checkpointsRoundTripAndRefuseMalformedBodies() throws {
        let signer = try NoteSigner.generate(name: "auditledger.test/log")
        let checkpoint = Checkpoint(origin: signer.name, size: 42, rootHash: MerkleTree.emptyRoot)
        let note = try signer.sign(checkpoint.text)
        #expect(note.hasPrefix("auditledger.test/log\n42\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n\u{2014} auditledger.test/log "))
        #expect(try Checkpoint(note: note, verifier: signer.verifier) == checkpoint)
        #expect(throws: NoteError.self) { try Checkpoint(text: "origin\n042\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n") }
        #expect(throws: NoteError.self) { try Checkpoint(text: "origin\n42\nAAAA\n") }
        #expect(throws: NoteError.self) { try Checkpoint(text: "origin\n42\n") }
    }

    @Test func keyFileIsCreatedPrivateAndLoadedAgain() throws {
        let directory = Scratch.path("note")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/checkpoint.key"
        let (created, wasCreated) = try CheckpointKey.loadOrCreate(path: path, name: nil, defaultName: "example.org/log")
        #expect(wasCreated)
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let (loaded, wasCreatedAgain) = try CheckpointKey.loadOrCreate(path: path, name: "example.org/log", defaultName: "unused")
        #expect(!wasCreatedAgain)
        #expect(loaded.verifier == created.verifier)
        #expect(throws: NoteError.self) { try CheckpointKey.loadOrCreate(path: path, name: "other/log", defaultName: "unused") }
    }
}
