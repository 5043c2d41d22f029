import ArgumentParser
import Configuration
import EventLog
import Foundation
import Hummingbird
import LedgerHTTP
import Logging
import Metrics
import Prometheus
import Projector
import Queries
import ServiceLifecycle
import SystemPackage
import Transparency

/// ledgerd: the AuditLedger daemon. Settings come from flags, `LEDGERD_*` variables and the YAML
/// file, in that order of precedence (see `DaemonConfiguration` for every key).
@main
struct Ledgerd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledgerd", abstract: "The AuditLedger daemon: an append-only, hash-chained audit ledger over HTTP.",
        discussion: "Exit codes: 0 stopped cleanly, 1 failed, 6 the data directory is in use by another writer.")

    @Option(help: "YAML configuration file (e.g. /etc/ledgerd/ledgerd.yaml).")
    var config: String?

    @Option(help: "Address to listen on (http.host).")
    var host: String?

    @Option(help: "Port to listen on (http.port).")
    var port: Int?

    @Option(name: .customLong("data-dir"), help: "Data directory (storage.path).")
    var dataDirectory: String?

    @Option(name: .customLong("tokens-file"), help: "Tokens file (auth.tokensFile).")
    var tokensFile: String?

    /// The exit code when another process (ledgerd, `ledgerctl import`) writes the data directory.
    static let dataDirectoryInUse: Int32 = 6

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .info
            return handler
        }
        let logger = Logger(label: "ledgerd")
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        var flags: [AbsoluteConfigKey: ConfigValue] = [:]
        if let host { flags["http.host"] = ConfigValue(.string(host), isSecret: false) }
        if let port { flags["http.port"] = ConfigValue(.int(port), isSecret: false) }
        if let dataDirectory { flags["storage.path"] = ConfigValue(.string(dataDirectory), isSecret: false) }
        if let tokensFile { flags["auth.tokensFile"] = ConfigValue(.string(tokensFile), isSecret: false) }
        var providers: [any ConfigProvider] = [
            InMemoryProvider(name: "flags", values: flags),
            EnvironmentVariablesProvider(environmentVariables: DaemonConfiguration.environment(ProcessInfo.processInfo.environment)),
        ]
        if let config { providers.append(try await FileProvider<YAMLSnapshot>(filePath: FilePath(config))) }
        let settings = DaemonConfiguration(reader: ConfigReader(providers: providers))

        try FileManager.default.createDirectory(atPath: settings.dataDirectory, withIntermediateDirectories: true)
        // Before anything is written there (keys, tokens, the log): one writing process per directory.
        let writerLock: DataDirectoryLock
        do {
            writerLock = try EventLog.lockDataDirectory(settings.dataDirectory)
        } catch let error as LogError where error.code == .locked {
            logger.critical("not started: \(error.message)", metadata: ["storage.path": "\(settings.dataDirectory)"])
            throw ExitCode(Ledgerd.dataDirectoryInUse)
        }
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
        let projector = try LiveProjector(
            log: log, configuration: .init(path: settings.dataDirectory + "/projection", policy: settings.policy), logger: logger)
        let tokens = try TokenSource.load(configuredFile: settings.tokensFile, dataDirectory: settings.dataDirectory)
        if let created = tokens.createdTokensFile {
            logger.notice(
                "first start: made one token per scope; the tokens are in the first file, their hashes in the second",
                metadata: ["auth.tokens_file": "\(created)", "auth.hashes_file": "\(tokens.path)"])
        }
        // A backup carries the key files that live in the data directory, as a data directory does.
        let dataDirectory = (settings.dataDirectory as NSString).standardizingPath
        let keyFiles = [settings.checkpointKeyFile, settings.verifierKeyFile].filter {
            (($0 as NSString).deletingLastPathComponent as NSString).standardizingPath == dataDirectory
        }
        let api = LedgerAPI(
            log: log, queries: LedgerQueries(log: log, projector: projector), tokens: tokens.store, metrics: registry,
            checkpointVerifier: signer.verifier, backupRoot: settings.backupRoot, backupFiles: keyFiles)
        let router = Router(context: LedgerRequestContext.self)
        router.add(middleware: RequestLogMiddleware())
        router.add(middleware: MetricsMiddleware())
        api.addRoutes(to: router)

        let notifier = SystemdNotifier(environment: ProcessInfo.processInfo.environment)
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "ledgerd"),
            onServerRunning: { channel in
                logger.info("listening", metadata: ["http.address": "\(channel.localAddress?.description ?? "?")"])
                notifier.notify("READY=1")
            },
            logger: logger)
        let group = ServiceGroup(
            configuration: .init(
                services: [
                    LedgerService(log: log, projector: projector, logger: logger), app,
                    SystemdService(notifier: notifier, log: log, logger: logger),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
