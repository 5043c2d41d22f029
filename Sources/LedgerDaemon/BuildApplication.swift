import Delivery
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
    /// Nil when the configuration names no sinks.
    let delivery: DeliveryService?
    let logger: Logger

    /// The daemon's service group, in the order shutdown needs: the systemd notifier hears of it
    /// first (STOPPING=1), then the server stops taking requests and finishes those in flight,
    /// delivery stops (its cursors saved), and only then does the ledger finish queued appends and
    /// close LMDB. (A service group stops its services last to first.)
    public func runService() async throws {
        var services: [any Service] = [LedgerService(runtime: runtime, logger: logger)]
        if let delivery { services.append(delivery) }
        services += [
            application, SystemdService(notifier: notifier, log: runtime.log, logger: logger), TokenReloadService(runtime: runtime, logger: logger),
        ]
        let group = ServiceGroup(
            configuration: .init(
                services: services,
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
    let delivery = try settings.sinks.isEmpty
        ? nil
        : DeliveryService(
            settings.sinks, log: runtime.log, projector: runtime.projector, directory: settings.dataDirectory + "/delivery", logger: logger)
    let (api, requestMetrics) = (runtime.api, runtime.requestMetrics)
    let application = Application(
        router: runtime.router(),
        server: .http1(
            configuration: .init(additionalChannelHandlers: api.eventLoopHandlers(metrics: requestMetrics, logger: logger, serverName: "ledgerd"))),
        configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "ledgerd"),
        onServerRunning: { channel in
            logger.info("listening", metadata: ["http.address": "\(channel.localAddress?.description ?? "?")"])
            notifier.notify("READY=1")
        },
        logger: logger)
    return LedgerApplication(runtime: runtime, application: application, notifier: notifier, delivery: delivery, logger: logger)
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
