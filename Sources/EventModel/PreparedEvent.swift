/// An event ready to append: validated and in canonical form, so that a retry (same id, same content)
/// is told from a conflict (same id, other content) by comparing bytes.
public struct PreparedEvent: Sendable {
    public let envelope: Envelope
    /// The canonical envelope, without the `seq` and `recordedAt` the ledger adds.
    public let body: [UInt8]

    /// `sizeHint`: the bytes the client sent for it, which the canonical form rarely exceeds by much.
    public init(_ envelope: Envelope, sizeHint: Int = 256) {
        self.envelope = envelope
        self.body = CanonicalJSON.encode(.object(envelope.members), capacity: sizeHint + 64)
    }

    /// An event whose posted bytes were canonical already (`JSONParser.Spanned.isCanonical`): the body is
    /// those bytes with the members the validator added after the posted ones (`id`, `outcome`) put in
    /// key order, the same bytes `init(_:sizeHint:)` writes. `memberStarts`: where each posted member starts.
    init(_ envelope: Envelope, canonicalPost posted: UnsafeRawBufferPointer, memberStarts: [Int]) {
        self.envelope = envelope
        let members = envelope.members
        let postedCount = memberStarts.count
        guard members.count > postedCount else {
            body = members.count == postedCount ? Array(posted) : CanonicalJSON.encode(.object(members), capacity: posted.count + 64)
            return
        }
        // The posted members are in key order; the added ones are put in it.
        let added = members[postedCount...].sorted { utf8Compare($0.key, $1.key) < 0 }
        var out: [UInt8] = []
        out.reserveCapacity(posted.count + 64)
        out.append(UInt8(ascii: "{"))
        var next = 0
        for i in 0..<postedCount {
            while next < added.count, utf8Compare(added[next].key, members[i].key) < 0 {
                CanonicalJSON.writeMember(added[next], first: out.count == 1, into: &out)
                next += 1
            }
            if out.count > 1 { out.append(UInt8(ascii: ",")) }
            let end = i + 1 < postedCount ? memberStarts[i + 1] - 1 : posted.count - 1
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: posted[memberStarts[i]..<end]))
        }
        for member in added[next...] { CanonicalJSON.writeMember(member, first: out.count == 1, into: &out) }
        out.append(UInt8(ascii: "}"))
        body = out
    }
}

/// Turns a request body (one event object or an array of them) into prepared events,
/// refusing the whole body at the first problem.
public enum EventBody {
    /// A request body is at most 16 MiB.
    public static let maxBodyBytes = 16 * 1024 * 1024

    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(ValidationError) -> (events: [PreparedEvent], isBatch: Bool) {
        guard bytes.count <= maxBodyBytes else {
            throw ValidationError(.bodyTooLarge, "the body is \(bytes.count) bytes; the limit is \(maxBodyBytes)")
        }
        let parsed: (elements: [JSONParser.Spanned], isArray: Bool)
        do {
            parsed = try JSONParser.parseBody(bytes, maxElementBytes: EnvelopeValidator.maxEventBytes)
        } catch where error.tooLarge {
            // Refused while parsing: an event is known to be too large before it is all read.
            throw ValidationError(
                .eventTooLarge, "the event starting at byte \(error.offset) is larger than the limit of \(EnvelopeValidator.maxEventBytes) bytes",
                index: error.element)
        } catch {
            throw ValidationError(.invalidJSON, "invalid JSON: \(error.description)")
        }
        guard !parsed.elements.isEmpty else { throw ValidationError(.emptyBatch, "the batch is empty") }
        var events: [PreparedEvent] = []
        events.reserveCapacity(parsed.elements.count)
        for (i, element) in parsed.elements.enumerated() {
            let index = parsed.isArray ? i : nil
            guard element.range.count <= EnvelopeValidator.maxEventBytes else {
                throw ValidationError(
                    .eventTooLarge, "the event is \(element.range.count) bytes; the limit is \(EnvelopeValidator.maxEventBytes)",
                    index: index)
            }
            let envelope = try EnvelopeValidator.validate(element.value, index: index)
            let event = element.isCanonical
                ? PreparedEvent(envelope, canonicalPost: UnsafeRawBufferPointer(rebasing: bytes[element.range]), memberStarts: element.memberStarts)
                : PreparedEvent(envelope, sizeHint: element.range.count)
            guard event.body.count <= EnvelopeValidator.maxEventBytes else {
                throw ValidationError(
                    .eventTooLarge, "the event is \(event.body.count) bytes in canonical form; the limit is \(EnvelopeValidator.maxEventBytes)",
                    index: index)
            }
            events.append(event)
        }
        return (events, parsed.isArray)
    }

    public static func parse(_ bytes: [UInt8]) throws -> (events: [PreparedEvent], isBatch: Bool) {
        try bytes.withUnsafeBytes { raw in try parse(raw) }
    }
}
