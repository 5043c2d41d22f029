import Crypto
import EventModel

/// Seq and chain hash (lowercase hex) of every event id in an export, the chain recomputed here
/// from the records alone: what the kill -9 and full-disk tests hold acknowledgements against.
func chainedEvents(inExport export: [UInt8]) throws -> [String: (seq: UInt64, hash: String)] {
    var chain = [UInt8](repeating: 0, count: 32)
    var found: [String: (seq: UInt64, hash: String)] = [:]
    for line in export.split(separator: UInt8(ascii: "\n")) {
        chain = Array(SHA256.hash(data: chain + line))
        let event = try StoredEvent.decode(Array(line))
        found[event.envelope.id] = (event.seq, hexString(chain))
    }
    return found
}
