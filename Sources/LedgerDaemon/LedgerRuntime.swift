import Console
import EventLog
import Foundation
import Hummingbird
import LedgerHTTP
import Logging
import Projector
import Prometheus
import Queries
import Transparency

/// Everything a running ledger holds open: the log, the projection, the API over them. Made in one
/// place for the daemon, the tests and `ledgerctl --data-dir`, so all three answer through the same
/// routes with the same checks.
public struct LedgerRuntime: Sendable {
    public let log: EventLog
    public let projector: LiveProjector
    public let api: LedgerAPI
    /// The public half of the checkpoint key, when there is one.
    public let verifier: NoteVerifier?
    /// The tokens file the daemon reads again on SIGHUP (nil for a read-only runtime).
    public let tokensFile: String?
    /// The web console, when `ui.enabled` (never for a read-only runtime).
    public var console: Console? = nil
    /// Request counts and durations, shared by the router and the handlers that answer on the event loop.
    let requestMetrics = RequestMetricHandles()

    /// Opens a data directory for writing, as ledgerd does: the writer lock first (before anything is
    /// written there), then the checkpoint key, the log, the projection and the tokens. Throws
    /// `LogError(.locked)` when another process writes the directory.
    public static func open(_ settings: DaemonConfiguration, metrics: PrometheusCollectorRegistry, logger: Logger) throws -> LedgerRuntime {
        try FileManager.default.createDirectory(atPath: settings.dataDirectory, withIntermediateDirectories: true)
        let writerLock = try EventLog.lockDataDirectory(settings.dataDirectory)
        let (signer, keyCreated) = try CheckpointKey.loadOrCreate(
            path: settings.checkpointKeyFile, name: settings.checkpointOrigin,
            defaultName: "auditledger/\(ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "ledgerd")")
        try CheckpointKey.writeVerifierKey(signer.verifier, to: settings.verifierKeyFile)
        logger.log(
            level: keyCreated ? .notice : .info, keyCreated ? "made a checkpoint signing key" : "checkpoint signing key loaded",
            metadata: ["checkpoint.key_file": "\(settings.checkpointKeyFile)", "checkpoint.verifier_key": "\(signer.verifier.verifierKey)"])
        var logSettings = LogConfiguration(path: settings.dataDirectory)
        logSettings.checkpoints = CheckpointPolicy(
            signer: signer, everyEvents: UInt64(settings.checkpointEveryEvents), everySeconds: Int64(settings.checkpointEverySeconds))
        let log = try EventLog(logSettings, writerLock: writerLock, logger: logger)
        var projection = LiveProjector.Configuration(path: settings.dataDirectory + "/projection", policy: settings.policy)
        projection.batchSize = settings.projectionBatchEvents
        projection.gatherMilliseconds = settings.projectionGatherMilliseconds
        projection.gatherBelowEvents = UInt64(settings.projectionGatherEvents)
        projection.syncWhenIdleMilliseconds = settings.projectionSyncWhenIdleMilliseconds
        projection.memoryBudgetBytes = settings.projectionMemoryBudgetMiB.map { $0 << 20 }
        let projector = try LiveProjector(log: log, configuration: projection, logger: logger)
        let tokens = try TokenSource.load(configuredFile: settings.tokensFile, dataDirectory: settings.dataDirectory)
        if let created = tokens.createdTokensFile {
            logger.notice(
                "first start: made one token per scope; the tokens are in the first file, their hashes in the second",
                metadata: ["auth.tokens_file": "\(created)", "auth.hashes_file": "\(tokens.path)"])
        }
        // A backup carries the key files and the tokens file that live in the data directory, as a data
        // directory does: a daemon restored from it signs with the same key and accepts the same tokens.
        let dataDirectory = (settings.dataDirectory as NSString).standardizingPath
        let keyFiles = [settings.checkpointKeyFile, settings.verifierKeyFile, tokens.path].filter {
            (($0 as NSString).deletingLastPathComponent as NSString).standardizingPath == dataDirectory
        }
        var api = LedgerAPI(
            log: log, queries: LedgerQueries(log: log, projector: projector), tokens: TokenRegistry(tokens.store), metrics: metrics,
            checkpointVerifier: signer.verifier, backupRoot: settings.backupRoot, backupFiles: keyFiles)
        api.streamHeartbeat = .seconds(settings.streamHeartbeatSeconds)
        api.streamStalledWrite = .seconds(settings.streamStalledWriteSeconds)
        var runtime = LedgerRuntime(log: log, projector: projector, api: api, verifier: signer.verifier, tokensFile: tokens.path)
        if settings.console.enabled { runtime.console = Console(api: api, settings: settings.console) }
        return runtime
    }

    /// Opens a data directory read-only, beside a running ledgerd or none (LMDB lets readers in), with
    /// one token of scope read made for this process alone: `ledgerctl --data-dir` sends it to the
    /// same router, so every parameter check and every answer is the daemon's.
    public static func openReadOnly(dataDirectory: String, logger: Logger) throws -> (runtime: LedgerRuntime, token: String) {
        var configuration = LogConfiguration(path: dataDirectory)
        configuration.readOnly = true
        configuration.readerThreads = 1
        let log = try EventLog(configuration, logger: logger)
        // The stored projection if it is one of this log; else (a backup, an import) one folded in memory.
        var projection = LiveProjector.Configuration(path: dataDirectory + "/projection")
        projection.readOnly = true
        let projector = try LiveProjector(log: log, configuration: projection, logger: logger)
        let token = TokenSource.newToken()
        let verifier = (try? String(contentsOfFile: dataDirectory + "/checkpoint.vkey", encoding: .utf8)).flatMap { try? NoteVerifier(verifierKey: $0) }
        let api = LedgerAPI(
            log: log, queries: LedgerQueries(log: log, projector: projector),
            tokens: TokenRegistry(try TokenStore(contents: TokenStore.line(name: "ledgerctl", scopes: [.read], token: token))),
            metrics: PrometheusCollectorRegistry(), checkpointVerifier: verifier)
        return (LedgerRuntime(log: log, projector: projector, api: api, verifier: verifier, tokensFile: nil), token)
    }

    /// Reads the tokens file again (SIGHUP): new lines are accepted from now on, removed ones no
    /// longer. A file that does not parse changes nothing and is reported.
    public func reloadTokens(logger: Logger) {
        guard let tokensFile else { return }
        do {
            guard let contents = TokenSource.readFile(tokensFile) else {
                throw TokenSource.Failure(description: "cannot read \(tokensFile)")
            }
            let store = try TokenStore(contents: contents)
            api.tokens.replace(with: store)
            logger.notice("tokens file read again", metadata: ["auth.tokens_file": "\(tokensFile)", "auth.tokens": "\(store.entries.count)"])
        } catch {
            logger.error("tokens file not reloaded; the tokens in force are kept", metadata: ["auth.tokens_file": "\(tokensFile)", "auth.error": "\(error)"])
        }
    }

    /// The routes of spec 5 behind the request log and the metrics.
    public func router() -> Router<LedgerRequestContext> {
        let router = Router(context: LedgerRequestContext.self)
        router.add(middleware: RequestLogMiddleware())
        router.add(middleware: RequestMetricsMiddleware(handles: requestMetrics))
        api.addRoutes(to: router)
        console?.addRoutes(to: router)
        router.add(middleware: UnmatchedRouteMiddleware(routes: router.routes))
        return router
    }

    /// Stops following the log, finishes queued appends and closes LMDB (the writer lock goes with it).
    public func close() async throws {
        projector.close()
        try await log.close()
    }
}
