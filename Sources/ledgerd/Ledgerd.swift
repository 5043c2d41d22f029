import ArgumentParser
import Configuration
import EventLog
import Foundation
import LedgerDaemon
import Logging
import Metrics
import Prometheus
import SystemPackage

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
        LoggingSystem.bootstrap { label in LogLines(label: label) }
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
        let ledger: LedgerApplication
        do {
            ledger = try buildApplication(settings, environment: ProcessInfo.processInfo.environment, metrics: registry, logger: logger)
        } catch let error as LogError where error.code == .locked {
            logger.critical("not started: \(error.message)", metadata: ["storage.path": "\(settings.dataDirectory)"])
            throw ExitCode(Ledgerd.dataDirectoryInUse)
        }
        try await ledger.runService()
    }
}
