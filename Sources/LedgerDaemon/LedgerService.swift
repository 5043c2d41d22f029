import LedgerHTTP
import EventLog
import EventModel
import Logging
import Projector
import ServiceLifecycle

/// Owns the ledger while the daemon runs: on graceful shutdown (after the HTTP server has stopped
/// taking requests and finished those in flight) it finishes queued appends and closes LMDB.
public struct LedgerService: Service {
    let runtime: LedgerRuntime
    let logger: Logger

    public init(runtime: LedgerRuntime, logger: Logger) {
        self.runtime = runtime
        self.logger = logger
    }

    public func run() async throws {
        try? await gracefulShutdown()
        try await runtime.close()
        logger.info("ledger closed cleanly")
    }
}

/// Tells systemd how the daemon is doing: `WATCHDOG=1` at half of `WATCHDOG_USEC` while the writer
/// thread goes round its loop and has not halted, and `STOPPING=1` as soon as shutdown begins. Listed last in the
/// service group so it is the first to hear of the shutdown.
public struct SystemdService: Service {
    let notifier: SystemdNotifier
    let log: EventLog
    let logger: Logger

    public init(notifier: SystemdNotifier, log: EventLog, logger: Logger) {
        self.notifier = notifier
        self.log = log
        self.logger = logger
    }

    public func run() async throws {
        await withGracefulShutdownHandler {
            guard let interval = notifier.watchdogInterval else {
                try? await gracefulShutdown()
                return
            }
            var toldHalted = false
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                if log.writerHalted != nil {
                    // systemd restarts the unit; the restart resumes from what is on disk.
                    if !toldHalted { logger.error("the writer halted: watchdog pings stop so systemd restarts ledgerd") }
                    toldHalted = true
                } else if let heartbeat = log.writerHeartbeat, Instant.now().seconds - heartbeat <= 5 {
                    notifier.notify("WATCHDOG=1")
                } else {
                    logger.warning("the writer thread is not going round its loop: no watchdog ping")
                }
                try? await Task.sleep(for: interval)
            }
        } onGracefulShutdown: {
            notifier.notify("STOPPING=1")
        }
    }
}

