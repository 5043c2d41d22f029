import ArgumentParser
import Crypto
import EventModel
import Foundation
import LedgerDaemon
import LedgerHTTP

/// ledgerctl: the AuditLedger command line. Talks to ledgerd (`--url`, `--token`, or LEDGER_URL,
/// LEDGER_TOKEN), or opens a data directory read-only (`--data-dir`) beside the running daemon.
///
/// Exit codes: 0 done; 2 bad input or a request the ledger refused; 3 not authorized;
/// 4 verification found a bad record; 5 the ledger cannot be reached or failed; 6 the data directory is
/// in use by another writer (`import` beside a running ledgerd).
@main
struct Ledgerctl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledgerctl",
        abstract: "The AuditLedger command line.",
        discussion: "Exit codes: 0 done, 2 bad input or refused request, 3 not authorized, 4 verification failed, 5 ledger unreachable or failed, 6 data directory in use by another writer.",
        subcommands: [
            Append.self, History.self, Activity.self, Events.self, State.self, Access.self, Holders.self, Role.self, Findings.self,
            AccessChanges.self, ReviewReportCommand.self, Requests.self, Tail.self, Verify.self,
            Export.self, CheckpointCommand.self, KeyCommand.self, VerifyProof.self, Backup.self, Import.self, TokenCommand.self, Demo.self,
        ])

    /// ArgumentParser exits 64 for usage errors; the documented code is 2.
    static func main() async {
        do {
            try refuseUnknownCommand(Array(CommandLine.arguments.dropFirst()))
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let failure as CommandFailure {
            // The message may quote what the ledger holds: shown as text, never as terminal control.
            FileHandle.standardError.write(Data(("ledgerctl: " + TerminalText.visible(failure.description) + "\n").utf8))
            Foundation.exit(failure.exitCode)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                // --help, --version: their text goes to standard output.
                print(fullMessage(for: error))
                Foundation.exit(0)
            }
            FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
            Foundation.exit(code == .validationFailure ? 2 : code.rawValue)
        }
    }
}

extension Ledgerctl {
    /// A first word that is no command fails with the closest command's name.
    static func refuseUnknownCommand(_ arguments: [String]) throws {
        guard let word = arguments.first, !word.hasPrefix("-"), word != "help" else { return }
        let names = configuration.subcommands.compactMap { $0.configuration.commandName ?? $0._commandName }
        guard !names.contains(word) else { return }
        throw Mistakes.failure("unknown command \(word)\(Mistakes.hint(word, among: names)) (ledgerctl --help lists them)")
    }
}

struct Connection: ParsableArguments {
    @Option(help: "ledgerd's URL (default: LEDGER_URL or http://127.0.0.1:8427).")
    var url: String?

    @Option(help: "Bearer token (default: LEDGER_TOKEN).")
    var token: String?

    @Option(name: .customLong("data-dir"), help: "Read a data directory directly (read-only; works beside a running ledgerd).")
    var dataDirectory: String?

    func backend() throws -> Backend { try Backend.make(url: url, token: token, dataDirectory: dataDirectory) }
}

struct Output: ParsableArguments {
    @Option(help: "table (for people), json or csv.")
    var format: String = "table"

    @Option(help: "Show and read times in this zone: an IANA name (Asia/Shanghai) or an offset (+08:00). Default UTC.")
    var tz: String?

    func renderer() throws -> Renderer {
        guard let format = Format(rawValue: format) else {
            throw Mistakes.failure("--format \(format) is not a format\(Mistakes.hint(format, among: Format.allCases.map(\.rawValue))): table, json or csv")
        }
        return Renderer(format: format, zone: try tz.flatMap(ZoneInput.parse))
    }

    /// Times as people write them, read in `--tz`.
    func times() throws -> TimeInput { TimeInput(zone: try tz.flatMap(ZoneInput.parse)) }
}

/// `--as-of`, for the questions asked about a moment.
struct Moment: ParsableArguments {
    @Option(name: .customLong("as-of"), help: "seq:N (events 1…N), or a time (every event with time ≤ it): a date, a local time in --tz, or RFC 3339. Default: now.")
    var asOf: String?
}

/// `--since` and `--until` on `time`.
struct Period: ParsableArguments {
    @Option(help: "From this time: a date (2026-03-01), a local time in --tz (2026-03-01 09:00), or RFC 3339.") var since: String?
    @Option(help: "Until this time, included (same forms).") var until: String?
}

/// Runs a command's body, always closing the backend.
func withBackend(_ connection: Connection, _ body: (Backend) async throws -> Void) async throws {
    let backend = try connection.backend()
    do {
        try await body(backend)
    } catch {
        try? await backend.close()
        throw error
    }
    try await backend.close()
}

struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-check the hash chain, the Merkle tree against every stored checkpoint (the latest one's signature too), every index entry and every fold form; exits 4 at the first bad record.")
    @Flag(name: .customLong("skip-indexes"), help: "Leave out the index and fold-form checks (they decode every record).") var skipIndexes = false
    @OptionGroup var connection: Connection
    @OptionGroup var output: Output

    func run() async throws {
        let r = try output.renderer()
        var ok = false
        var firstBad = ""
        var problem = ""
        try await withBackend(connection) { backend in
            let json = try await backend.get(["v1", "verify"], [("indexes", skipIndexes ? "false" : nil)])
            ok = json["ok"] == .bool(true)
            firstBad = r.number(json["firstBadSeq"])
            problem = json["problem"]?.stringValue ?? ""
            r.emit(json: json, header: ["OK", "COUNT", "HEAD SEQ", "HEAD HASH", "MERKLE ROOT", "CHECKPOINTS", "INDEX ENTRIES", "FIRST BAD SEQ", "PROBLEM"],
                rows: [[ok ? "yes" : "NO", r.number(json["count"]), r.number(json["headSeq"]), json["headHash"]?.stringValue ?? "",
                        json["merkleRoot"]?.stringValue ?? "", r.number(json["checkpointsChecked"]),
                        json["indexEntries"] == .null ? "not checked" : r.number(json["indexEntries"]), firstBad == "null" ? "" : firstBad, problem]])
        }
        if !ok { throw CommandFailure(exitCode: 4, description: "verification failed at seq \(firstBad): \(problem)") }
    }
}

struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The records as NDJSON, byte for byte, to standard output.")
    @Option(name: .customLong("after-seq"), help: "Only records after this seq.") var afterSeq: UInt64?
    @OptionGroup var connection: Connection

    func run() async throws {
        try await withBackend(connection) { backend in
            FileHandle.standardOutput.write(Data(try await backend.getBytes(["v1", "export"], [("afterSeq", afterSeq.map(String.init))])))
        }
    }
}

struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "token", abstract: "Tokens.", subcommands: [New.self])

    struct New: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a fresh random token and the line to add to the tokens file.")
        @Option(help: "The token's name, shown in the request log.") var name: String
        @Option(help: "Scopes, comma-separated: ingest, read, admin.") var scope: String

        func run() async throws {
            let scopes = try scope.split(separator: ",").map { name in
                guard let scope = LedgerHTTP.Scope(rawValue: String(name)) else { throw ValidationError("unknown scope \(name): use ingest, read, admin") }
                return scope
            }
            guard !name.isEmpty, !name.contains(where: \.isWhitespace) else { throw ValidationError("--name must be one word") }
            let token = TokenSource.newToken()
            print("token: \(token)")
            print("line for the tokens file:")
            print(TokenStore.line(name: name, scopes: scopes, token: token))
        }
    }
}
