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
            Append.self, History.self, Activity.self, State.self, Access.self, Holders.self, Findings.self, Verify.self, Export.self,
            CheckpointCommand.self, KeyCommand.self, VerifyProof.self, Backup.self, Import.self, TokenCommand.self, Demo.self,
        ])

    /// ArgumentParser exits 64 for usage errors; the documented code is 2.
    static func main() async {
        do {
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

    @Option(help: "Show times in this zone: an IANA name (Asia/Shanghai) or an offset (+08:00). Default UTC.")
    var tz: String?

    func renderer() throws -> Renderer {
        guard let format = Format(rawValue: format) else { throw ValidationError("--format must be table, json or csv") }
        var zone: TimeZone?
        if let tz {
            if let named = TimeZone(identifier: tz) {
                zone = named
            } else if let seconds = Self.offsetSeconds(tz), let fixed = TimeZone(secondsFromGMT: seconds) {
                zone = fixed
            } else {
                throw ValidationError("--tz must be a zone name such as Asia/Shanghai or an offset such as +08:00")
            }
        }
        return Renderer(format: format, zone: zone)
    }

    static func offsetSeconds(_ text: String) -> Int? {
        let b = Array(text.utf8)
        guard b.count == 6, b[0] == UInt8(ascii: "+") || b[0] == UInt8(ascii: "-"), b[3] == UInt8(ascii: ":"),
            let h = Int(String(text.dropFirst().prefix(2))), let m = Int(String(text.suffix(2))), h <= 23, m <= 59
        else { return nil }
        return (h * 3600 + m * 60) * (b[0] == UInt8(ascii: "-") ? -1 : 1)
    }
}

/// `--as-of`, for the questions asked about a moment.
struct Moment: ParsableArguments {
    @Option(name: .customLong("as-of"), help: "An RFC 3339 instant (every event with time ≤ it) or seq:N (events 1…N). Default: now.")
    var asOf: String?
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

struct History: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Who changed what on one record, oldest first.")
    @Argument var type: String
    @Argument var id: String
    @Option(help: "Only this field, with its values.") var field: String?
    @Option(help: "At most this many entries.") var limit: Int = 1000
    @OptionGroup var connection: Connection
    @OptionGroup var output: Output

    func run() async throws {
        let r = try output.renderer()
        try await withBackend(connection) { backend in
            let json = try await backend.get(["v1", "subjects", type, id, "history"], [("field", field), ("limit", String(limit))])
            let rows = (json["entries"] ?? .null).list.map { e in
                [r.number(e["seq"]), r.time(e["time"]), e["actor"]?["id"]?.stringValue ?? "", e["type"]?.stringValue ?? "", r.changes(e["changes"]), e["reason"]?.stringValue ?? ""]
            }
            r.emit(json: json, header: ["SEQ", "TIME", "ACTOR", "TYPE", "CHANGES", "REASON"], rows: rows)
        }
    }
}

struct Activity: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Everything an actor did.")
    @Argument var actor: String
    @Option(help: "From this RFC 3339 instant.") var since: String?
    @Option(help: "Until this RFC 3339 instant.") var until: String?
    @Option(help: "At most this many events.") var limit: Int = 1000
    @OptionGroup var connection: Connection
    @OptionGroup var output: Output

    func run() async throws {
        let r = try output.renderer()
        try await withBackend(connection) { backend in
            let json = try await backend.get(["v1", "actors", actor, "activity"], [("since", since), ("until", until), ("limit", String(limit))])
            let rows = (json["events"] ?? .null).list.map { e in
                [r.number(e["seq"]), r.time(e["time"]), e["type"]?.stringValue ?? "", "\(e["subject"]?["type"]?.stringValue ?? "")/\(e["subject"]?["id"]?.stringValue ?? "")", r.changes(e["changes"])]
            }
            r.emit(json: json, header: ["SEQ", "TIME", "TYPE", "SUBJECT", "CHANGES"], rows: rows)
        }
    }
}

struct State: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "A record's fields as of a moment, each with the event that set it.")
    @Argument var type: String
    @Argument var id: String
    @OptionGroup var moment: Moment
    @OptionGroup var connection: Connection
    @OptionGroup var output: Output

    func run() async throws {
        let r = try output.renderer()
        try await withBackend(connection) { backend in
            let json = try await backend.get(["v1", "subjects", type, id, "state"], [("asOf", moment.asOf)])
            let rows = (json["fields"]?.objectMembers ?? []).map { m in
                [m.key, r.short(m.value["value"] ?? .null), r.number(m.value["seq"]), m.value["actor"]?.stringValue ?? "", r.time(m.value["time"])]
            }
            let exists = json["exists"] == .bool(true) ? (json["deleted"] == .bool(true) ? "deleted" : "exists") : "does not exist"
            r.emit(json: json, header: ["FIELD", "VALUE", "SEQ", "ACTOR", "TIME"], rows: rows,
                preamble: ["\(type) \(id) as of \(json["asOf"]?.stringValue ?? ""): \(exists)"])
        }
    }
}

struct Access: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "A user's status, admin levels, roles and effective permissions as of a moment.")
    @Argument var user: String
    @OptionGroup var moment: Moment
    @OptionGroup var connection: Connection
    @OptionGroup var output: Output

    func run() async throws {
        let r = try output.renderer()
        try await withBackend(connection) { backend in
            let json = try await backend.get(["v1", "users", user, "access"], [("asOf", moment.asOf)])
            let via = { (paths: JSONValue?) in
                (paths ?? .null).list.map { p in
                    let what = p["role"]?.stringValue.map { "role \($0)" } ?? p["level"]?.stringValue.map { "admin \($0)\(p["module"]?.stringValue.map { " " + $0 } ?? "")" } ?? "direct"
                    return "\(what) [\((p["seqs"] ?? .null).list.map { r.number($0) }.joined(separator: ","))]"
                }.joined(separator: "; ")
            }
            let rows = (json["permissions"] ?? .null).list.map { p in
                [p["permission"]?.stringValue ?? "", p["scope"]?.stringValue ?? "", via(p["via"])]
            }
            let levels = (json["adminLevels"] ?? .null).list.map { "\($0["level"]?.stringValue ?? "")\($0["module"]?.stringValue.map { " " + $0 } ?? "") (seq \(r.number($0["seq"])))" }
            let roles = (json["roles"] ?? .null).list.map { "\($0["role"]?.stringValue ?? "") (seq \(r.number($0["seq"])))" }
            let exists = json["exists"] == .bool(true)
            r.emit(json: json, header: ["PERMISSION", "SCOPE", "VIA"], rows: rows, preamble: [
                "\(user) as of \(json["asOf"]?.stringValue ?? ""): \(exists ? json["status"]?.stringValue ?? "" : "does not exist")",
                "admin levels: \(levels.isEmpty ? "none" : levels.joined(separator: ", "))",
                "roles: \(roles.isEmpty ? "none" : roles.joined(separator: ", "))",
            ])
        }
    }
}

struct Holders: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Who held a permission as of a moment, and through which paths.")
    @Argument var permission: String
    @OptionGroup var moment: Moment
    @OptionGroup var connection: Connection
    @OptionGroup var output: Output

    func run() async throws {
        let r = try output.renderer()
        try await withBackend(connection) { backend in
            let json = try await backend.get(["v1", "permissions", permission, "holders"], [("asOf", moment.asOf)])
            let rows = (json["holders"] ?? .null).list.map { h in
                [h["user"]?.stringValue ?? "", h["scope"]?.stringValue ?? "",
                 (h["via"] ?? .null).list.map { $0["role"]?.stringValue.map { "role " + $0 } ?? $0["level"]?.stringValue.map { "admin " + $0 } ?? "direct" }.joined(separator: "; ")]
            }
            r.emit(json: json, header: ["USER", "SCOPE", "VIA"], rows: rows, preamble: ["\(permission) as of \(json["asOf"]?.stringValue ?? "")"])
        }
    }
}

struct Findings: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Policy violations, in seq order.")
    @Option(help: "Only this kind (e.g. unauthorized_change).") var kind: String?
    @Option(help: "At most this many findings.") var limit: Int = 1000
    @OptionGroup var connection: Connection
    @OptionGroup var output: Output

    func run() async throws {
        let r = try output.renderer()
        try await withBackend(connection) { backend in
            let json = try await backend.get(["v1", "findings"], [("kind", kind), ("limit", String(limit))])
            let rows = (json["findings"] ?? .null).list.map { f in
                [r.number(f["seq"]), r.time(f["time"]), f["kind"]?.stringValue ?? "", f["actor"]?.stringValue ?? "", f["message"]?.stringValue ?? ""]
            }
            r.emit(json: json, header: ["SEQ", "TIME", "KIND", "ACTOR", "MESSAGE"], rows: rows)
        }
    }
}

struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-check the hash chain, the Merkle tree against every stored checkpoint (the latest one's signature too), and every index entry; exits 4 at the first bad record.")
    @Flag(name: .customLong("skip-indexes"), help: "Leave out the index check (it decodes every record).") var skipIndexes = false
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
