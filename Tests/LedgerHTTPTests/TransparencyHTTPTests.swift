import EventLog
import EventModel
import Foundation
import Hummingbird
import HummingbirdTesting
import LedgerHTTP
import Testing
import Transparency

/// Checkpoints, proofs and backups over HTTP, checked the way an auditor would: with the public key
/// and the hash functions only.
@Suite struct TransparencyHTTPTests {
    func hexList(_ value: JSONValue?) -> [[UInt8]] {
        (value ?? .null).list.compactMap { $0.stringValue.flatMap(hexBytes) }
    }

    @Test func checkpointsAndProofsVerifyWithThePublicKeyAlone() async throws {
        let server = try Server()
        try await server.run { client in
            let batch = "[" + (1...40).map { event("t-\($0)", subject: "SO-\($0 % 5)", minute: $0 % 60) }.joined(separator: ",") + "]"
            _ = try await client.execute(uri: "/v1/events", method: .post, headers: auth("ingest"), body: ByteBuffer(string: batch))

            let key = try await client.execute(uri: "/v1/checkpoint/key", method: .get, headers: auth("read"))
            let verifier = try NoteVerifier(verifierKey: try #require(key.json["verifierKey"]?.stringValue))
            #expect(verifier == server.verifier)

            let first = try await client.execute(uri: "/v1/checkpoint", method: .get, headers: auth("read"))
            #expect(first.headers[.contentType]?.hasPrefix("text/plain") == true)
            let old = try Checkpoint(note: first.text, verifier: verifier)
            #expect(old.size == 40)

            let more = "[" + (41...100).map { event("t-\($0)", minute: $0 % 60) }.joined(separator: ",") + "]"
            _ = try await client.execute(uri: "/v1/events", method: .post, headers: auth("ingest"), body: ByteBuffer(string: more))
            let second = try await client.execute(uri: "/v1/checkpoint", method: .get, headers: auth("read"))
            let new = try Checkpoint(note: second.text, verifier: verifier)
            #expect(new.size == 100)

            for seq in [1, 17, 40, 64, 100] {
                let record = try await client.execute(uri: "/v1/export?afterSeq=\(seq - 1)&limit=1", method: .get, headers: auth("read"))
                #expect(record.text.filter { $0 == "\n" }.count == 1)
                let proof = try await client.execute(uri: "/v1/proof/inclusion?seq=\(seq)&treeSize=100", method: .get, headers: auth("read"))
                #expect(proof.status == .ok)
                let leaf = MerkleTree.leafHash(Array(record.text.dropLast().utf8))
                #expect(MerkleProofs.verifyInclusion(index: UInt64(seq - 1), size: 100, leafHash: leaf, proof: hexList(proof.json["proof"]), root: new.rootHash))
                #expect(proof.json["leafHash"]?.stringValue == hexString(leaf))
            }
            let consistency = try await client.execute(uri: "/v1/proof/consistency?from=40&to=100", method: .get, headers: auth("read"))
            #expect(MerkleProofs.verifyConsistency(from: 40, to: 100, fromRoot: old.rootHash, toRoot: new.rootHash, proof: hexList(consistency.json["proof"])))

            let listed = try await client.execute(uri: "/v1/checkpoints?limit=1", method: .get, headers: auth("read"))
            #expect(listed.json["checkpoints"]?.list.first?["treeSize"] == .number("40"))
            let cursor = try #require(listed.json["next"]?.stringValue)
            let rest = try await client.execute(uri: "/v1/checkpoints?cursor=\(cursor)", method: .get, headers: auth("read"))
            #expect(rest.json["checkpoints"]?.list.map { $0["treeSize"] } == [.number("100")])
            #expect(rest.json["next"] == .null)

            let verify = try await client.execute(uri: "/v1/verify", method: .get, headers: auth("read"))
            #expect(verify.json["ok"] == .bool(true))
            #expect(verify.json["latestCheckpointSignatureChecked"] == .bool(true))
            #expect(verify.json["merkleRoot"]?.stringValue == hexString(new.rootHash))

            for bad in ["/v1/proof/inclusion?seq=101&treeSize=100", "/v1/proof/inclusion?seq=1&treeSize=101", "/v1/proof/inclusion?seq=0&treeSize=5",
                        "/v1/proof/inclusion?treeSize=5", "/v1/proof/consistency?from=50&to=40", "/v1/proof/consistency?from=1&to=1000",
                        "/v1/proof/inclusion?seq=x&treeSize=5", "/v1/checkpoints?since=yesterday", "/v1/verify?indexes=maybe"] {
                let response = try await client.execute(uri: bad, method: .get, headers: auth("read"))
                #expect(response.status == .badRequest, "\(bad): \(response.status)")
                #expect(response.json["error"]?["message"]?.stringValue?.isEmpty == false)
            }
        }
    }

    @Test func backupGoesOnlyUnderTheRootAndTheCopyVerifies() async throws {
        let server = try Server()
        try await server.run { client in
            let batch = "[" + (1...30).map { event("b-\($0)", minute: $0) }.joined(separator: ",") + "]"
            _ = try await client.execute(uri: "/v1/events", method: .post, headers: auth("ingest"), body: ByteBuffer(string: batch))
            for scope in ["read", "ingest"] {
                let refused = try await client.execute(uri: "/v1/admin/backup", method: .post, headers: auth(scope), body: ByteBuffer(string: #"{"path":"x"}"#))
                #expect(refused.status == .forbidden)
            }
            let unauthenticated = try await client.execute(uri: "/v1/admin/backup", method: .post, headers: [:], body: ByteBuffer(string: #"{"path":"x"}"#))
            #expect(unauthenticated.status == .unauthorized)
            for body in [#"{"path":"../escape"}"#, #"{"path":"/etc/x"}"#, #"{"path":"a/./b"}"#, #"{"path":""}"#, #"{"dir":"x"}"#, "not json", #"{"path":"x","more":1}"#] {
                let response = try await client.execute(uri: "/v1/admin/backup", method: .post, headers: auth("admin"), body: ByteBuffer(string: body))
                #expect(response.status == .badRequest, "\(body)")
            }
            let made = try await client.execute(uri: "/v1/admin/backup", method: .post, headers: auth("admin"), body: ByteBuffer(string: #"{"path":"daily/one"}"#))
            #expect(made.status == .created, "\(made.text)")
            #expect(made.json["headSeq"] == .number("30"))
            let again = try await client.execute(uri: "/v1/admin/backup", method: .post, headers: auth("admin"), body: ByteBuffer(string: #"{"path":"daily/one"}"#))
            #expect(again.status == .conflict)

            var settings = LogConfiguration(path: server.backupRoot + "/daily/one")
            settings.readOnly = true
            let copy = try EventLog(settings)
            #expect(try copy.head() == server.log.head())
            #expect(try copy.verify(checkpointVerifier: server.verifier, indexes: true).ok)
            try await copy.close()
        }
    }
}
