import ArgumentParser
import EventModel
import Foundation
import Workload

/// `ledgerctl demo`: realistic ledgers of any size from the project's own generator, and a short story
/// to load into a running ledger so a newcomer's first queries answer something.
struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print generated events (NDJSON), or load the demo story into a running ledger (--story).",
        discussion: """
            ledgerctl demo --events 5000 --seed 3 > events.ndjson     same seed and count, same bytes
            ledgerctl demo --events 5000 --batch 500                 one JSON array of 500 events a line
            ledgerctl demo --story                                   the story, appended over HTTP (ingest token)
            """)
    @Option(help: "How many events to generate.") var events: Int = 5000
    @Option(help: "The generator's seed; event ids carry it, so streams of other seeds never collide.") var seed: UInt64 = 1
    @Option(help: "Events per line, as a JSON array (default: one event a line).") var batch: Int?
    @Flag(help: "Append the hand-written demo story to the ledger instead (idempotent).") var story = false
    @OptionGroup var connection: Connection

    func run() async throws {
        if story { return try await loadStory() }
        guard events >= 0 else { throw ValidationError("--events must not be negative") }
        if let batch, !(1...10_000).contains(batch) { throw ValidationError("--batch must be 1 to 10000") }
        var generator = LedgerGenerator(seed: seed)
        let output = FileHandle.standardOutput
        var remaining = events
        // In chunks, so a million events never sit in memory as text all at once.
        while remaining > 0 {
            let chunk = min(remaining, batch.map { max(10_000 / $0, 1) * $0 } ?? 10_000)
            var bytes: [UInt8] = []
            for line in generator.lines(chunk, batch: batch) {
                bytes += line
                bytes.append(UInt8(ascii: "\n"))
            }
            output.write(Data(bytes))
            remaining -= chunk
        }
    }

    private func loadStory() async throws {
        let body = CanonicalJSON.encode(.array(DemoStory.events))
        try await withBackend(connection) { backend in
            let answer = try await backend.post(body)
            let results = (answer["results"] ?? .null).list
            let appended = results.filter { $0["duplicate"] != .bool(true) }.count
            print("demo story: \(results.count) events, \(appended) appended, \(results.count - appended) already in the ledger")
            print("try (with a read token in LEDGER_TOKEN):")
            for question in DemoStory.questions {
                print("  ledgerctl \(question.command)")
                print("      \(question.answer)")
            }
        }
    }
}
