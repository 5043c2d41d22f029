import EventModel
import Glibc
import Logging
import Synchronization

/// The daemon's log handler: one line per entry on standard error (journald under systemd), as
/// `2026-03-13T07:45:01.123Z info ledgerd: http.path=/v1/events http.status=201 [LedgerHTTP] request`.
/// Every request logs a line, so it is cheap: the time in UTC without the C library's time-zone
/// lookups, the line built in one buffer and written with one `write(2)`, metadata sorted by key.
public struct LogLines: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String

    /// One line at a time, so that lines longer than a pipe's atomic write never interleave.
    private static let output = Mutex<Int32>(STDERR_FILENO)

    public init(label: String, metadataProvider: Logger.MetadataProvider? = nil) {
        self.label = label
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let explicit = event.metadata { merged.merge(explicit) { $1 } }
        var line = Instant.now().rfc3339(fractionDigits: 3)
        line += " \(event.level) \(label):"
        for key in merged.keys.sorted() { line += " \(key)=\(merged[key]!)" }
        line += " [\(event.source)] \(event.message)\n"
        Self.output.withLock { fd in
            line.withUTF8 { bytes in
                var offset = 0
                while offset < bytes.count {
                    let written = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                    if written > 0 {
                        offset += written
                    } else if written < 0 && errno == EINTR {
                        continue
                    } else {
                        return  // standard error is gone: nothing better to do with the line
                    }
                }
            }
        }
    }
}
