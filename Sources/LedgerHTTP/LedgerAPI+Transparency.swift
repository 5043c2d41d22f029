import EventLog
import EventModel
import Foundation
import Hummingbird
import Transparency

/// Checkpoints, Merkle proofs and backups: what lets an auditor check the ledger without trusting it.
extension LedgerAPI {
    /// A checkpoint of everything committed, signed now (and stored) unless nothing came since the last one.
    func checkpoint(_ request: Request) async throws -> Response {
        _ = try QueryParameters(request, allowed: [])
        let stored: StoredCheckpoint
        if log.configuration.readOnly {
            // A data directory read beside (or without) its daemon cannot sign: the latest it signed.
            guard let latest = try await run({ try $0.log.latestCheckpoint() }) else {
                throw APIError(.notFound, "no_checkpoint", "the data directory holds no checkpoint yet (ledgerd signs them)")
            }
            stored = latest
        } else {
            do {
                stored = try await log.signCheckpoint()
            } catch {
                throw APIError.from(error)
            }
        }
        return Response(
            status: .ok, headers: [.contentType: "text/plain; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: stored.note)))
    }

    func checkpointKey(_ request: Request) throws -> Response {
        _ = try QueryParameters(request, allowed: [])
        guard let verifier = checkpointVerifier else {
            throw APIError(.serviceUnavailable, "unsigned", "no checkpoint signing key is configured")
        }
        return jsonResponse(verifier.json)
    }

    /// Stored checkpoints oldest first, `since` a signing time, paged by tree size.
    func checkpoints(_ request: Request) async throws -> Response {
        let p = try QueryParameters(request, allowed: ["since", "limit", "cursor"])
        let since = try p.instant("since")
        let limit = try p.limit()
        var after: UInt64?
        if let cursor = try p.string("cursor", maxLength: 32) {
            guard let size = UInt64(cursor) else {
                throw APIError(.badRequest, "bad_cursor", "cursor must come from a previous page's next", field: "cursor")
            }
            after = size
        }
        let afterSize = after
        let page = try await run { try $0.log.checkpoints(since: since, afterSize: afterSize, limit: limit + 1) }
        let items = page.prefix(limit).map(\.json)
        let next: JSONValue = page.count > limit ? .string(String(page[limit - 1].treeSize)) : .null
        return jsonResponse(.object([JSONMember("checkpoints", .array(Array(items))), JSONMember("next", next)]))
    }

    func inclusionProof(_ request: Request) async throws -> Response {
        let p = try QueryParameters(request, allowed: ["seq", "treeSize"])
        let seq = try required(p.seq("seq"), "seq")
        let treeSize = try required(p.seq("treeSize"), "treeSize")
        return jsonResponse(try await run { try $0.log.inclusionProof(seq: seq, treeSize: treeSize) }.json)
    }

    func consistencyProof(_ request: Request) async throws -> Response {
        let p = try QueryParameters(request, allowed: ["from", "to"])
        let from = try required(p.seq("from"), "from")
        let to = try required(p.seq("to"), "to")
        return jsonResponse(try await run { try $0.log.consistencyProof(from: from, to: to) }.json)
    }

    /// `{"path": "relative/dir"}`: a verified hot copy under the configured backup root, with the
    /// checkpoint key files when they live in the data directory.
    func backup(_ request: Request) async throws -> Response {
        _ = try QueryParameters(request, allowed: [])
        try requireJSON(request)
        guard let backupRoot else {
            // Off by configuration, not a failure of the server: the endpoint is not there.
            throw APIError(.notFound, "not_configured", "backups over HTTP are off: set backup.root")
        }
        let body = try await request.body.collect(upTo: 64 * 1024)
        guard case .object(let members)? = try? JSONParser.parse(Array(body.readableBytesView)),
            let path = members.first(where: { $0.key == "path" })?.value.stringValue, members.count == 1
        else {
            throw APIError(.badRequest, "invalid_body", "the body must be {\"path\": \"a/relative/directory\"}", field: "path")
        }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard !path.isEmpty, path.utf8.count <= 255, !path.hasPrefix("/"),
            parts.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." && !$0.contains("\0") })
        else {
            throw APIError(.badRequest, "invalid_parameter", "path must be a relative directory under the backup root, without . or .. parts", field: "path")
        }
        let target = (backupRoot as NSString).standardizingPath + "/" + path
        let report: ChainReport
        do {
            report = try await log.backup(to: target, alongWith: backupFiles)
        } catch let error as LogError where error.code == .invalid {
            throw APIError(.conflict, "exists", error.message, field: "path")
        } catch {
            throw APIError.from(error)
        }
        return jsonResponse(
            .object([
                JSONMember("path", .string(target)), JSONMember("count", .number(String(report.count))),
                JSONMember("headSeq", .number(String(report.headSeq))), JSONMember("headHash", .string(hexString(report.headHash))),
                JSONMember("merkleRoot", .string(hexString(report.merkleRoot))),
            ]), status: .created)
    }

    private func required<T>(_ value: T?, _ name: String) throws -> T {
        guard let value else { throw APIError(.badRequest, "missing_parameter", "\(name) is required", field: name) }
        return value
    }
}

extension InclusionProof {
    /// The shape of `GET /v1/proof/inclusion`: hashes in lowercase hex, the leaf index is seq − 1.
    public var json: JSONValue {
        .object([
            JSONMember("seq", .number(String(seq))), JSONMember("leafIndex", .number(String(seq - 1))),
            JSONMember("treeSize", .number(String(treeSize))), JSONMember("leafHash", .string(hexString(leafHash))),
            JSONMember("rootHash", .string(hexString(rootHash))), JSONMember("proof", .array(path.map { .string(hexString($0)) })),
        ])
    }
}

extension ConsistencyProof {
    /// The shape of `GET /v1/proof/consistency`.
    public var json: JSONValue {
        .object([
            JSONMember("from", .number(String(from))), JSONMember("to", .number(String(to))),
            JSONMember("fromRoot", .string(hexString(fromRoot))), JSONMember("toRoot", .string(hexString(toRoot))),
            JSONMember("proof", .array(path.map { .string(hexString($0)) })),
        ])
    }
}

extension StoredCheckpoint {
    public var json: JSONValue {
        .object([
            JSONMember("treeSize", .number(String(treeSize))), JSONMember("signedAt", .string(signedAt.rfc3339(fractionDigits: 6))),
            JSONMember("note", .string(note)),
        ])
    }
}

extension NoteVerifier {
    /// `GET /v1/checkpoint/key`: the note verifier key string and the raw Ed25519 public key.
    public var json: JSONValue {
        .object([
            JSONMember("name", .string(name)), JSONMember("verifierKey", .string(verifierKey)),
            JSONMember("publicKey", .string(Data(publicKey.rawRepresentation).base64EncodedString())),
            JSONMember("algorithm", .string("Ed25519")),
        ])
    }
}
