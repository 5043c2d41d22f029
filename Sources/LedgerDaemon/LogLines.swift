import EventLog
import EventModel
import Glibc
import Logging
import Synchronization

/// The daemon's log handler: one line per entry on standard error (journald under systemd), as
/// `2026-03-13T07:45:01.123Z info ledgerd: http.path=/v1/events http.status=201 [LedgerHTTP] request`.
/// Every request logs a line, so it is cheap: the time in UTC without the C library's time-zone
/// lookups, metadata sorted by key without building a merged dictionary, and the line handed to a
/// thread of its own (`LineWriter`) that writes whatever has queued up with one `write(2)`, so an
/// event loop never waits on journald. Lines at `error` and above are written before `log` returns,
/// behind every line queued before them.
public struct LogLines: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String

    public init(label: String, metadataProvider: Logger.MetadataProvider? = nil) {
        self.label = label
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let line = line(for: event, at: Instant.now())
        if event.level >= .error {
            LineWriter.shared.writeNow(line)
        } else {
            LineWriter.shared.enqueue(line)
        }
    }

    /// The entry's line, as bytes (one is made for every request: built in place, not by
    /// concatenating strings).
    func line(for event: LogEvent, at time: Instant) -> [UInt8] {
        // Later sources win for a key given twice: handler, then provider, then the entry's own,
        // gathered in that order, so that among equal keys the later place wins. The places are
        // sorted, by their keys alone: sorting (key, value) pairs copied each value through a generic
        // witness at every move and comparison, a third of the line's cost (BENCHMARKS.md).
        let count = metadata.count + (event.metadata?.count ?? 0)
        var keys: [String] = [], values: [Logger.Metadata.Value] = []
        keys.reserveCapacity(count)
        values.reserveCapacity(count)
        for (key, value) in metadata { keys.append(key); values.append(value) }
        if let provided = metadataProvider?.get() { for (key, value) in provided { keys.append(key); values.append(value) } }
        if let explicit = event.metadata { for (key, value) in explicit { keys.append(key); values.append(value) } }
        // An insertion sort, by hand: a line has a handful of keys, and the standard sort's
        // machinery around them cost more than their comparisons (BENCHMARKS.md).
        var order = Array(keys.indices)
        for i in order.indices.dropFirst() {
            let place = order[i]
            var j = i
            while j > 0, keys[order[j - 1]] > keys[place] {
                order[j] = order[j - 1]
                j -= 1
            }
            order[j] = place
        }
        var line: [UInt8] = []
        line.reserveCapacity(256)  // a request's line is 190–250 bytes
        time.appendRFC3339(fractionDigits: 3, to: &line)
        line.append(UInt8(ascii: " "))
        line += event.level.rawValue.utf8
        line.append(UInt8(ascii: " "))
        line += label.utf8
        line.append(UInt8(ascii: ":"))
        for (index, place) in order.enumerated() where index + 1 == order.count || keys[order[index + 1]] != keys[place] {
            line.append(UInt8(ascii: " "))
            line += keys[place].utf8
            line.append(UInt8(ascii: "="))
            line += values[place].description.utf8
        }
        line += " [".utf8
        line += event.source.utf8
        line += "] ".utf8
        line += event.message.description.utf8
        line.append(UInt8(ascii: "\n"))
        return line
    }
}

/// Standard error's one writer: a thread that sleeps until lines are queued, lets them gather for
/// `gatherMilliseconds`, then writes them all; at exit, what is still queued is written. Writes
/// happen under `output`, so a line written at once never overtakes one queued before it.
///
/// Lines come one a request: woken for each, the thread cost 4% of the daemon's CPU under 17k
/// requests/s (futex wake-ups and one `write(2)` a few lines), and each wake-up a system call on an
/// event loop. Gathering, it wakes and writes at most 50 times a second.
final class LineWriter: Sendable {
    static let gatherMilliseconds = 20

    static let shared: LineWriter = {
        let writer = LineWriter()
        _ = startThread(named: "ledger-loglines") { writer.run() }
        atexit { LineWriter.shared.writeNow([]) }
        return writer
    }()

    /// Lines not yet written, and how many times the queue went from empty to not.
    private let pending = Mutex<(bytes: [UInt8], batches: UInt64)>(([], 0))
    /// The batch count, for the thread to wait on.
    private let batches = ProgressSignal(0)
    private let output = Mutex<Int32>(STDERR_FILENO)

    func enqueue(_ line: [UInt8]) {
        let batch = pending.withLock { queue -> UInt64? in
            let wasEmpty = queue.bytes.isEmpty
            queue.bytes.append(contentsOf: line)
            guard wasEmpty else { return nil }  // the thread is already on its way: this line rides along
            queue.batches += 1
            return queue.batches
        }
        if let batch { batches.advance(to: batch) }
    }

    /// Writes what is queued, then `line`, before returning.
    func writeNow(_ line: [UInt8]) {
        output.withLock { fd in
            var bytes: [UInt8] = []
            pending.withLock { swap(&bytes, &$0.bytes) }
            bytes.append(contentsOf: line)
            if !bytes.isEmpty { Self.write(fd, bytes) }
        }
    }

    private func run() {
        var seen: UInt64 = 0
        while true {
            seen = batches.wait(beyond: seen, timeoutMilliseconds: 60_000)
            // Nothing advances `batches` while the queue holds lines, so this waits the whole time
            // (or less, if a line written at once emptied the queue and a new one came).
            seen = batches.wait(beyond: seen, timeoutMilliseconds: Self.gatherMilliseconds)
            writeNow([])
        }
    }

    private static func write(_ fd: Int32, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if written > 0 {
                    offset += written
                } else if written < 0 && errno == EINTR {
                    continue
                } else {
                    return  // standard error is gone: nothing better to do with the lines
                }
            }
        }
    }
}
