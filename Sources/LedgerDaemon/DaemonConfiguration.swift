import Configuration
import Console
import Delivery
import LedgerHTTP
import Projector

/// ledgerd's settings (spec 7), read from flags, then `LEDGERD_*` environment variables, then
/// the YAML file, then these defaults.
///
/// - `http.host` (string, default `127.0.0.1`): the address to listen on.
/// - `http.port` (int, default 8427).
/// - `storage.path` (string, default `/var/lib/ledgerd`): the data directory (LMDB files, the
///   projection, first-start tokens).
/// - `auth.tokensFile` (string, optional): the tokens file (`NAME SCOPES SHA256-HEX` a line).
///   Without it, ledgerd uses `<storage.path>/tokens`, which it creates on first start.
/// - `policy.requireApprovedRequest` (bool, default false): flag grants with no approved access
///   request in the 30 days before (`grant_without_approval`).
/// - `policy.separationOfDuties` (list of strings, default none): duties one user must not hold
///   together, each `a+b`, where a duty is a permission (`sales_order.approve`) or an admin level
///   (`super_admin`, `admin`, `module_admin:sales_order`) (`sod_conflict`).
/// - `policy.staleAccessDays` (int, default 30; 0 off): flag a user moved to another department
///   whose roles did not change in this many days (`stale_access`).
/// - `checkpoint.keyFile` (string, default `<storage.path>/checkpoint.key`): the Ed25519 key that
///   signs checkpoints; made (mode 0600) on first start when missing. Its public verifier key is
///   written beside the data as `<storage.path>/checkpoint.vkey`.
/// - `checkpoint.origin` (string, optional): the log's name in checkpoints and the key's name, e.g.
///   `audit.example.com/ledger`; a new key takes it (default `auditledger/<hostname>`), an existing
///   key must carry it.
/// - `checkpoint.everyEvents` (int, default 10000) and `checkpoint.everySeconds` (int, default 60):
///   sign and store a checkpoint after this many new events, or this long after the last one when
///   events came since.
/// - `projection.batchEvents` (int, default 40000): events the projection folds per transaction
///   when it is far behind (a rebuild, a restart after a long stop). Larger batches rebuild faster
///   and hold more in memory meanwhile; each batch is written whole or not at all, so a kill loses
///   at most one batch of folding (never an event).
/// - `projection.memoryBudgetMiB` (int, default 80; 0 off): far behind, the projection also writes
///   a batch as soon as ledgerd's resident anonymous memory reaches this. LMDB holds every page a
///   transaction changes in memory, and a batch's changes spread over more pages as the ledger
///   grows: it keeps a large rebuild's memory flat, at the price of smaller batches once it binds
///   (measured at 1M and 3M events in `LiveProjector.Configuration.memoryBudgetBytes`).
/// - `projection.gatherMilliseconds` (int, default 100; 0 off): how long the projection lets small
///   commits gather before it folds them in one transaction. A read that needs the projection never
///   waits for it: it has the follower fold at once. Findings streams and alerts see an event up to
///   this much later. Each fold rewrites the pages of what it changed: under single events, 100 ms
///   took a fifth off the follower's CPU against 20 (BENCHMARKS.md, "The follower gathers longer").
/// - `projection.gatherEvents` (int, default 1000): a backlog of this many events is folded at once,
///   without waiting out `gatherMilliseconds`.
/// - `projection.syncWhenIdleMilliseconds` (int, default 1000; 0: every fold syncs): the projection's
///   transactions skip their fsync while events keep coming, and it is synced once none came for
///   this long, and on shutdown. Its syncs competed with the log's for the disk (batch ingest 9–30%
///   faster without them, a rebuild of 3M events a third faster). A kill loses nothing of it; a
///   system crash while it is unsynced has ledgerd rebuild it from the log on the next start.
/// - `stream.heartbeatSeconds` (int, default 15): a stream with nothing to send sends a comment
///   this often, so proxies keep it open.
/// - `stream.stalledWriteSeconds` (int, default 10): a stream client that lets one write wait this
///   long (it stopped reading) is cut off; it never slows ingest or other readers.
/// - `delivery.sinksFile` (string, optional): the YAML file of sinks (syslog, webhook) and alert
///   rules that ledgerd delivers events and findings to (see `SinksFile`); read at start, a mistake
///   in it stops the start. Each route's cursor is kept in `<storage.path>/delivery`.
/// - `backup.root` (string, optional): the only directory `POST /v1/admin/backup` writes under;
///   without it that endpoint answers 404.
/// - `ui.enabled` (bool, default true): the web console under `/ui/` on the same port.
/// - `ui.sessionIdleSeconds` (int, default 1800): a console session unused this long ends.
/// - `ui.secureCookies` (bool, default false): mark the session cookie `Secure` always (set it
///   behind a TLS proxy; a proxy that sends `X-Forwarded-Proto: https` gets `Secure` anyway).
/// - `ui.signInAttemptsPerMinute` (int, default 10): failed console sign-ins a minute from one
///   address before it must wait.
public struct DaemonConfiguration: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var dataDirectory: String
    public var tokensFile: String?
    public var policy: Policy
    public var checkpointKeyFile: String
    public var checkpointOrigin: String?
    public var checkpointEveryEvents: Int
    public var checkpointEverySeconds: Int
    public var projectionBatchEvents: Int
    public var projectionGatherMilliseconds: Int
    public var projectionGatherEvents: Int
    public var projectionSyncWhenIdleMilliseconds: Int
    /// nil: no limit.
    public var projectionMemoryBudgetMiB: Int?
    public var backupRoot: String?
    public var streamHeartbeatSeconds: Int
    public var streamStalledWriteSeconds: Int
    public var sinksFile: String?
    public var sinks = SinksFile()
    public var console = ConsoleSettings()
    /// What the configuration says that cannot be used: the daemon refuses to start on it.
    public var problems: [String] = []

    public struct Invalid: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    public init(reader: ConfigReader) {
        host = reader.string(forKey: "http.host", default: "127.0.0.1")
        port = reader.int(forKey: "http.port", default: 8427)
        dataDirectory = reader.string(forKey: "storage.path", default: "/var/lib/ledgerd")
        tokensFile = reader.string(forKey: "auth.tokensFile")
        var duties: [Policy.DutyPair] = []
        var problems: [String] = []
        for text in reader.stringArray(forKey: "policy.separationOfDuties", default: []) {
            if let pair = Policy.DutyPair(text) {
                duties.append(pair)
            } else {
                problems.append("policy.separationOfDuties: \"\(text)\" is not two duties a+b (a permission such as sales_order.approve, or super_admin, admin, module_admin:MODULE)")
            }
        }
        let staleDays = reader.int(forKey: "policy.staleAccessDays", default: 30)
        if staleDays < 0 { problems.append("policy.staleAccessDays must be 0 (off) or more, got \(staleDays)") }
        policy = Policy(
            requireApprovedRequest: reader.bool(forKey: "policy.requireApprovedRequest", default: false), separationOfDuties: duties,
            staleAccessDays: max(0, staleDays))
        self.problems = problems
        checkpointKeyFile = reader.string(forKey: "checkpoint.keyFile", default: dataDirectory + "/checkpoint.key")
        checkpointOrigin = reader.string(forKey: "checkpoint.origin")
        checkpointEveryEvents = max(1, reader.int(forKey: "checkpoint.everyEvents", default: 10_000))
        checkpointEverySeconds = max(1, reader.int(forKey: "checkpoint.everySeconds", default: 60))
        projectionBatchEvents = min(max(1, reader.int(forKey: "projection.batchEvents", default: 40_000)), 1_000_000)
        projectionGatherMilliseconds = min(max(0, reader.int(forKey: "projection.gatherMilliseconds", default: 100)), 1_000)
        projectionGatherEvents = min(max(1, reader.int(forKey: "projection.gatherEvents", default: 1_000)), projectionBatchEvents)
        projectionSyncWhenIdleMilliseconds = min(max(0, reader.int(forKey: "projection.syncWhenIdleMilliseconds", default: 1_000)), 60_000)
        let budget = reader.int(forKey: "projection.memoryBudgetMiB", default: 80)
        projectionMemoryBudgetMiB = budget > 0 ? min(budget, 1 << 20) : nil
        backupRoot = reader.string(forKey: "backup.root")
        streamHeartbeatSeconds = max(1, reader.int(forKey: "stream.heartbeatSeconds", default: 15))
        streamStalledWriteSeconds = max(1, reader.int(forKey: "stream.stalledWriteSeconds", default: 10))
        console.enabled = reader.bool(forKey: "ui.enabled", default: true)
        console.sessionIdle = .seconds(max(1, reader.int(forKey: "ui.sessionIdleSeconds", default: 1800)))
        console.secureCookies = reader.bool(forKey: "ui.secureCookies", default: false)
        console.signInAttemptsPerMinute = max(1, reader.int(forKey: "ui.signInAttemptsPerMinute", default: 10))
        sinksFile = reader.string(forKey: "delivery.sinksFile")
        if let sinksFile {
            do {
                sinks = try SinksFile(path: sinksFile)
            } catch {
                self.problems.append("delivery.sinksFile: \(error)")
            }
        }
    }

    /// Where the public verifier key is written for auditors and `ledgerctl key --data-dir`.
    public var verifierKeyFile: String { dataDirectory + "/checkpoint.vkey" }

    /// The environment's `LEDGERD_*` variables without their prefix, for `EnvironmentVariablesProvider`
    /// (`LEDGERD_HTTP_PORT` → `http.port`, `LEDGERD_AUTH_TOKENS_FILE` → `auth.tokensFile`).
    public static func environment(_ all: [String: String]) -> [String: String] {
        var out: [String: String] = [:]
        for (key, value) in all where key.hasPrefix("LEDGERD_") { out[String(key.dropFirst(8))] = value }
        return out
    }
}
