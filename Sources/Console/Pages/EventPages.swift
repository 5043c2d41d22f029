import EventLog
import EventModel
import Foundation
import Hummingbird
import LedgerHTTP
import Projector
import Queries
import Transparency

/// The timeline, one event with its proof, and the evidence bundle of any view of events.
extension Console {
    static let pageSize = 50

    func events(_ request: Request, _ context: LedgerRequestContext, _ c: PageContext) async throws -> Response {
        try c.allow(["subjectType", "subjectId", "actor", "type", "field", "since", "until", "cursor"])
        let since = try c.zone.parseMoment(c["since"], field: "since", dayStarts: true).instantOrNil(field: "since")
        let until = try c.zone.parseMoment(c["until"], field: "until").instantOrNil(field: "until")
        if let type = c["type"], !Catalog.isTypeFilter(type) {
            throw APIError(.badRequest, "invalid_parameter", "type must be an event type or a prefix such as user.* or user.admin_*", field: "type")
        }
        let query = EventQuery(
            subjectType: c["subjectType"], subjectId: c["subjectId"], actor: c["actor"], type: c["type"], field: c["field"], since: since,
            until: until, order: .desc, limit: Self.pageSize, cursor: c["cursor"])
        let page = try await api.run { try $0.log.events(query) }
        if c.wantsBundle { return try await bundle(page.events) }
        let decoded = try page.events.map { try $0.decode() }
        if c.wantsCSV { return try c.download(["events": PageContext.eventsCSV(decoded)]) }
        let filters: [(String, Text, String)] = [
            ("subjectType", .colSubjectType, "sales_order"), ("subjectId", .colSubjectId, "SO-1001"), ("actor", .colActor, "u-wang"),
            ("type", .colType, "user.admin_*"), ("field", .colField, "amount"), ("since", .since, "2026-03-01"), ("until", .until, "2026-03-31"),
        ]
        let inputs = filters.map { name, label, example in
            HTML("<label>\(c.t(label)) <input name=\"\(name)\" value=\"\(c[name] ?? "")\" placeholder=\"\(example)\"></label>")
        }
        return c.respond(
            title: c.t(.eventsTitle),
            """
            <form class="filters" method="get" action="/ui/events">
            \(inputs)
            <button type="submit">\(c.t(.filter))</button> <a href="/ui/events">\(c.t(.clearFilters))</a>
            </form>
            <p class="hint">\(c.t(.momentHint)) \(c.zone.identifier)</p>
            \(c.eventsTable("events", caption: c.t(.newestFirst), events: decoded, more: c.nextPage(page.next)))
            """)
    }

    func event(_ request: Request, _ context: LedgerRequestContext, _ c: PageContext) async throws -> Response {
        try c.allow([])
        guard let seq = context.parameters.get("seq").flatMap(UInt64.init), seq > 0 else {
            throw APIError(.badRequest, "invalid_parameter", "an event is named by its seq, a whole number ≥ 1", field: "seq")
        }
        let (logged, checkpoint, proof) = try await api.run { api -> (LoggedEvent?, StoredCheckpoint?, InclusionProof?) in
            guard let logged = try api.log.event(seq: seq) else { return (nil, nil, nil) }
            let checkpoint = try api.log.latestCheckpoint()
            let proof = try checkpoint.flatMap { $0.treeSize >= seq ? try api.log.inclusionProof(seq: seq, treeSize: $0.treeSize) : nil }
            return (logged, checkpoint, proof)
        }
        guard let logged else { throw APIError(.notFound, "not_found", "there is no event \(seq)") }
        if c.wantsBundle { return try await bundle([logged]) }
        let e = try logged.decode()
        let proofCheck: HTML
        if let checkpoint, let proof {
            let holds = checkInclusion(record: logged.record, proof: proof, checkpoint: checkpoint)
            proofCheck = """
                <p class="\(holds ? "ok" : "bad")">\(holds ? c.t(.proofHolds) : c.t(.proofFails)) \(c.t(.checkpointOf)) \(checkpoint.treeSize), \(c.time(checkpoint.signedAt))</p>
                <details><summary>\(c.t(.proofPath)) (\(proof.path.count))</summary><ol class="hashes">\(proof.path.map { HTML("<li><code>\(hexString($0))</code></li>") })</ol></details>
                """
        } else {
            proofCheck = "<p class=\"pending\">\(c.t(.notYetCheckpointed))</p>"
        }
        let record = String(decoding: logged.record, as: UTF8.self)
        return c.respond(
            title: "\(c.t(.eventTitle)) #\(seq)",
            """
            <dl class="facts">
            <dt>\(c.t(.colType))</dt><dd><code>\(e.envelope.type)</code></dd>
            <dt>\(c.t(.colTime))</dt><dd>\(c.time(e.envelope.instant))</dd>
            <dt>\(c.t(.recordedAt))</dt><dd>\(c.value(e.recordedAt))</dd>
            <dt>\(c.t(.colSubject))</dt><dd>\(c.subjectLink(e.envelope.subject)) · <a href="\(URLPath("subjects", e.envelope.subject.type, e.envelope.subject.id, query: [("asOf", "seq:\(seq - 1)")]))">\(c.t(.beforeThisEvent))</a></dd>
            <dt>\(c.t(.colActor))</dt><dd>\(c.actor(e.envelope.actor))</dd>
            <dt>\(c.t(.colChanges))</dt><dd>\(c.changes(e.envelope.changes))\(c.data(e.envelope.data))</dd>
            <dt>\(c.t(.colReason))</dt><dd>\(c.value(e.envelope.reason ?? "—"))</dd>
            <dt>\(c.t(.chainHash))</dt><dd><code>\(hexString(logged.hash))</code></dd>
            </dl>
            <section><h2>\(c.t(.inclusionProof))</h2>\(proofCheck)</section>
            <section><h2>\(c.t(.recordAsStored))</h2><pre class="record">\(record)</pre>
            <p class="download"><a href="\(c.url(replacing: ["format": "bundle"]))">\(c.t(.downloadBundle))</a></p></section>
            """)
    }

    /// Whether a record is in the tree the checkpoint signs, by its inclusion proof.
    func checkInclusion(record: [UInt8], proof: InclusionProof, checkpoint: StoredCheckpoint) -> Bool {
        guard let verifier = api.checkpointVerifier, let signed = try? Checkpoint(note: checkpoint.note, verifier: verifier) else { return false }
        return MerkleProofs.verifyInclusion(
            index: proof.seq - 1, size: signed.size, leafHash: MerkleTree.leafHash(record), proof: proof.path, root: signed.rootHash)
    }

    /// The evidence for the events of a view: each record byte for byte, its inclusion proof against
    /// the latest signed checkpoint, that checkpoint's note and the verifier key. An auditor checks it
    /// with `scripts/verify_export.py --bundle` and no ledger code. Events newer than the checkpoint
    /// are listed as not yet provable (the next checkpoint comes within `checkpoint.everySeconds`).
    func bundle(_ events: [LoggedEvent]) async throws -> Response {
        guard let verifier = api.checkpointVerifier else {
            throw APIError(.serviceUnavailable, "unsigned", "no checkpoint signing key is configured, so there is nothing to prove against")
        }
        let seqs = events.map(\.seq)
        let (checkpoint, proofs) = try await api.run { api -> (StoredCheckpoint?, [InclusionProof]) in
            guard let checkpoint = try api.log.latestCheckpoint() else { return (nil, []) }
            return (checkpoint, try seqs.filter { $0 <= checkpoint.treeSize }.map { try api.log.inclusionProof(seq: $0, treeSize: checkpoint.treeSize) })
        }
        guard let checkpoint else {
            throw APIError(.serviceUnavailable, "no_checkpoint", "no checkpoint is signed yet; the first comes within checkpoint.everySeconds")
        }
        let bySeq = Dictionary(uniqueKeysWithValues: events.map { ($0.seq, $0) })
        let records = proofs.map { proof -> JSONValue in
            .object([
                JSONMember("seq", .number(String(proof.seq))), JSONMember("leafIndex", .number(String(proof.seq - 1))),
                JSONMember("record", .string(String(decoding: bySeq[proof.seq]!.record, as: UTF8.self))),
                JSONMember("proof", .array(proof.path.map { .string(hexString($0)) })),
            ])
        }
        let bundle = JSONValue.object([
            JSONMember("format", .string("auditledger-evidence-1")),
            JSONMember("checkpoint", .string(checkpoint.note)), JSONMember("treeSize", .number(String(checkpoint.treeSize))),
            JSONMember("verifierKey", .string(verifier.verifierKey)), JSONMember("records", .array(records)),
            JSONMember("notYetCheckpointed", .array(seqs.filter { $0 > checkpoint.treeSize }.map { .number(String($0)) })),
        ])
        return attachment(
            ByteBuffer(bytes: CanonicalJSON.encode(bundle) + [0x0A]), contentType: "application/json; charset=utf-8",
            filename: "evidence-\(checkpoint.treeSize).json")
    }
}

extension AsOf {
    /// A `since`/`until` bound: a moment in time, not a seq.
    func instantOrNil(field: String) throws -> Instant? {
        switch self {
        case .now: return nil
        case .time(let instant): return instant
        case .seq: throw APIError(.badRequest, "invalid_parameter", "\(field) is a time, not a seq", field: field)
        }
    }
}
