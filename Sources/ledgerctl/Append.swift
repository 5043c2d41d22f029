import ArgumentParser
import Crypto
import EventModel
import Foundation

/// Sends events from a file or standard input in batches. Every event gets an id (its own, or one
/// derived from its content), so running the same input again after an interruption appends
/// nothing twice: the ledger answers duplicates with their original seqs.
struct Append: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Append events from a JSON or NDJSON file (or - for standard input), in batches.")
    @Argument(help: "A JSON file (an event or an array) or NDJSON (an event or an array a line); - for standard input.")
    var file: String = "-"
    @Option(help: "Events per request (each request is one atomic batch).") var batch: Int = 500
    @OptionGroup var connection: Connection

    func run() async throws {
        guard (1...10_000).contains(batch) else { throw ValidationError("--batch must be 1 to 10000") }
        let bytes: [UInt8]
        if file == "-" {
            bytes = Array(FileHandle.standardInput.readDataToEndOfFile())
        } else {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw CommandFailure(exitCode: 2, description: "cannot read \(file)")
            }
            bytes = Array(data)
        }
        let events = try Self.events(in: bytes)
        let showProgress = isatty(2) == 1
        try await withBackend(connection) { backend in
            var appended = 0
            var duplicates = 0
            var start = 0
            while start < events.count {
                let chunk = events[start..<min(start + batch, events.count)]
                let body = [UInt8(ascii: "[")] + chunk.enumerated().flatMap { ($0.offset > 0 ? [UInt8(ascii: ",")] : []) + $0.element } + [UInt8(ascii: "]")]
                do {
                    let answer = try await backend.post(body)
                    for result in (answer["results"] ?? .null).list {
                        if result["duplicate"] == .bool(true) { duplicates += 1 } else { appended += 1 }
                    }
                } catch var failure as CommandFailure {
                    failure.description += " — in the batch of events \(start + 1)–\(start + chunk.count); \(appended) appended before it"
                    throw failure
                }
                start += chunk.count
                if showProgress {
                    FileHandle.standardError.write(Data("\r\(start)/\(events.count) sent: \(appended) appended, \(duplicates) already there".utf8))
                }
            }
            if showProgress { FileHandle.standardError.write(Data("\n".utf8)) }
            print("\(events.count) events: \(appended) appended, \(duplicates) already in the ledger")
        }
    }

    /// Each event of the input as canonical JSON with an id.
    static func events(in bytes: [UInt8]) throws -> [[UInt8]] {
        var values: [JSONValue] = []
        do {
            // One JSON document (an event or an array), else NDJSON.
            if let whole = try? JSONParser.parse(bytes) {
                values = whole.list.isEmpty && whole.objectMembers != nil ? [whole] : whole.list
            } else {
                for (number, line) in bytes.split(separator: UInt8(ascii: "\n")).enumerated() {
                    guard line.contains(where: { $0 != 0x20 && $0 != 0x0D && $0 != 0x09 }) else { continue }
                    do {
                        let value = try JSONParser.parse(Array(line))
                        values += value.objectMembers != nil ? [value] : value.list
                    } catch {
                        throw CommandFailure(exitCode: 2, description: "line \(number + 1) is not JSON: \(error)")
                    }
                }
            }
        }
        return try values.enumerated().map { index, value in
            guard case .object(var members) = value else {
                throw CommandFailure(exitCode: 2, description: "event \(index + 1) is not a JSON object")
            }
            if !members.contains(where: { $0.key == "id" }) {
                members.append(JSONMember("id", .string("ctl-" + hexString(SHA256.hash(data: CanonicalJSON.encode(value)).prefix(16)))))
            }
            return CanonicalJSON.encode(.object(members))
        }
    }
}

