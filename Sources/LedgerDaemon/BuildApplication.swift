import EventLog
import Hummingbird
import LedgerHTTP
import Logging
import Prometheus
import ServiceLifecycle
import UnixSignals

/// ledgerd as the tests and the daemon run it: the runtime, the HTTP application over its router,
/// and the services around them.
public struct LedgerApplication: Sendable {
    public let runtime: LedgerRuntime
    public let application: Application<RouterResponder<LedgerRequestContext>>
    let notifier: SystemdNotifier
    let logger: Logger

    /// The daemon's service group, in the order shutdown needs: the systemd notifier hears of it
    /// first (STOPPING=1), then the server stops taking requests and finishes those in flight, and
    /// only then does the ledger finish queued appends and close LMDB.
    public func runService() async throws {
        let group = ServiceGroup(
            configuration: .init(
                services: [
                    LedgerService(runtime: runtime, logger: logger), application, SystemdService(notifier: notifier, log: runtime.log, logger: logger),
                    TokenReloadService(runtime: runtime, logger: logger),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// The one composition root. `environment` is the process's, for `NOTIFY_SOCKET` and `WATCHDOG_USEC`.
public func buildApplication(
    _ settings: DaemonConfiguration, environment: [String: String], metrics: PrometheusCollectorRegistry, logger: Logger
) throws -> LedgerApplication {
    if let problem = settings.problems.first { throw DaemonConfiguration.Invalid(description: problem) }
    let runtime = try LedgerRuntime.open(settings, metrics: metrics, logger: logger)
    let notifier = SystemdNotifier(environment: environment)
    let application = Application(
        router: runtime.router(),
        configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "ledgerd"),
        onServerRunning: { channel in
            logger.info("listening", metadata: ["http.address": "\(channel.localAddress?.description ?? "?")"])
            notifier.notify("READY=1")
        },
        logger: logger)
    return LedgerApplication(runtime: runtime, application: application, notifier: notifier, logger: logger)
}

/// SIGHUP reads the tokens file again (systemd's `ExecReload`), so a new token needs no restart.
struct TokenReloadService: Service {
    let runtime: LedgerRuntime
    let logger: Logger

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        await cancelWhenGracefulShutdown {
            for await _ in signals { runtime.reloadTokens(logger: logger) }
        }
    }
}
