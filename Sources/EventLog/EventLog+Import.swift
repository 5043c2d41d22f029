import EventModel

extension EventLog {
    /// Appends exported records (NDJSON lines of `GET /v1/export`) byte for byte, at their own seq and
    /// recordedAt, so the chain head and Merkle root come out as in the ledger they came from. Each line
    /// must be a canonical record of a valid event continuing this ledger: the next seq, a recordedAt
    /// not before the last one, an id not yet taken. A bad line refuses the whole call, naming its index.
    public func importRecords(_ lines: [[UInt8]]) async throws -> [AppendResult] {
        guard let writer else { throw LogError(.closed, "the ledger is open read-only") }
        guard !closed.load(ordering: .relaxed) else { throw LogError(.closed, "the ledger is shutting down") }
        var events: [ImportedEvent] = []
        events.reserveCapacity(lines.count)
        for (index, line) in lines.enumerated() {
            events.append(try Self.imported(line, index: index, handOff: writer.handsOff))
        }
        if events.isEmpty { return [] }
        return try await writer.importRecords(events)
    }

    static func imported(_ line: [UInt8], index: Int, handOff: Bool) throws -> ImportedEvent {
        func refuse(_ why: String) -> LogError { LogError(.invalid, "line \(index + 1): \(why)", index: index) }
        let stored: StoredEvent
        do {
            stored = try StoredEvent.decode(line)
        } catch {
            throw refuse("not a record: \(error)")
        }
        guard let recordedAt = Instant(rfc3339: stored.recordedAt), recordedAt.rfc3339(fractionDigits: 6) == stored.recordedAt else {
            throw refuse("recordedAt \"\(stored.recordedAt)\" is not as the ledger writes it")
        }
        let prefix = CanonicalRecord.prefix(seq: stored.seq, recordedAt: stored.recordedAt)
        guard line.count > prefix.count, line.starts(with: prefix) else { throw refuse("seq and recordedAt do not come first") }
        let body = [UInt8(ascii: "{")] + line[prefix.count...]
        let parsed: [PreparedEvent]
        do {
            parsed = try EventBody.parse(body).events
        } catch {
            throw refuse("not a valid event: \(error)")
        }
        guard parsed.count == 1, CanonicalRecord.make(seq: stored.seq, recordedAt: stored.recordedAt, body: parsed[0].body) == line else {
            throw refuse("not in canonical form")
        }
        return ImportedEvent(seq: stored.seq, recordedAt: recordedAt, event: QueuedEvent(parsed[0], handOff: handOff))
    }
}
