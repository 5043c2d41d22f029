import Dispatch
import Foundation
import EventLog
import EventModel
import LMDB
import Logging
import Synchronization

/// The projection kept current. A writable projector has one owner of its state: a follower thread
/// that the log's writer wakes after every commit, which folds the new events and stores the findings.
/// Reads never fold or write: one that must include seq N (every event acknowledged before it) waits,
/// bounded, for the follower to reach N. A read-only projector (`ledgerctl --data-dir`, another
/// process) folds on demand in memory and stores nothing.
public final class LiveProjector: Sendable {
    public struct Configuration: Sendable {
        /// Directory of the projection's own LMDB environment (findings).
        public var path: String
        public var policy: Policy
        public var readOnly: Bool = false
        /// How long a read waits for the follower before it answers 503.
        public var readWaitMilliseconds: Int = 10_000

        public init(path: String, policy: Policy = Policy()) {
            self.path = path
            self.policy = policy
        }
    }

    public let configuration: Configuration
    private let log: EventLog
    private let store: FindingStore
    private let logger: Logger
    private let live: Mutex<ProjectionState>
    /// The seq folded through, raised by the follower; reads wait on it.
    private let applied = ProgressSignal(0)
    private let stopping = Atomic<Bool>(false)
    private let follower = Mutex<pthread_t?>(nil)

    /// Opens the findings store and folds the whole log (findings already stored are not stored again).
    public init(log: EventLog, configuration: Configuration, logger: Logger = Logger(label: "ledger.projector")) throws {
        self.log = log
        self.configuration = configuration
        self.logger = logger
        if !configuration.readOnly {
            store = try FindingStore(path: configuration.path, readOnly: false)
            _ = try store.prepare(policyTag: Array("requireApprovedRequest=\(configuration.policy.requireApprovedRequest)".utf8))
        } else {
            store = try FindingStore(path: configuration.path, readOnly: true)
        }
        live = Mutex(ProjectionState())
        // A read-only projection (ledgerctl --data-dir) folds on its first question, so commands that
        // need none (verify, export) do not pay for a fold.
        if configuration.readOnly { return }
        let clock = ContinuousClock()
        let elapsed = try clock.measure { _ = try catchUp() }
        // The first fold decoded the whole log a batch at a time: give that memory back.
        releaseFreedMemory()
        logger.info(
            "projection rebuilt from the log",
            metadata: ["projector.applied_through": "\(live.withLock { $0.appliedThrough })", "projector.seconds": "\(elapsed)"])
        follower.withLock { $0 = startThread { [self] in follow() } }
    }

    /// The follower: the only thread that folds a writable projection. It sleeps until a commit.
    private func follow() {
        while !stopping.load(ordering: .acquiring) {
            let through = applied.value
            if log.waitForCommit(beyond: through, timeoutMilliseconds: 5_000) <= through { continue }
            do {
                try catchUp()
            } catch {
                logger.error("projection catch-up failed; retried in a second", metadata: ["projector.error": "\(error)"])
                // A pause that `close` can cut short (it wakes every waiter on `applied`).
                applied.wait(beyond: .max, timeoutMilliseconds: 1_000)
            }
        }
    }

    /// The seq the projection has folded through.
    public var appliedThrough: UInt64 { applied.value }

    /// Waits until every event committed so far is folded (a writable projector), or folds them now
    /// (a read-only one, which owns its in-memory state alone).
    private func includeEverythingCommitted() throws {
        if configuration.readOnly {
            try catchUp()
            return
        }
        let head = log.committedHead
        let deadline = ContinuousClock.now + .milliseconds(configuration.readWaitMilliseconds)
        while case let through = applied.value, through < head {
            let left = deadline - .now
            guard left > .zero else {
                throw LogError(.storage, "the projection is behind the log (at seq \(through) of \(head)); try again")
            }
            applied.wait(beyond: through, timeoutMilliseconds: Int(left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000) + 1)
        }
    }

    /// Folds every event the log holds beyond what was applied; returns the seq now applied through.
    /// Called by the follower (and once at start), never by a read of a writable projector.
    @discardableResult
    private func catchUp() throws -> UInt64 {
        try live.withLock { state in
            let storedThrough = configuration.readOnly ? .max : try store.storedThrough()
            while true {
                let batch = try log.events(afterSeq: state.appliedThrough, limit: 20_000)
                if batch.isEmpty { break }
                let (events, undecodable) = Self.decode(batch)
                for seq in undecodable { log.reportUndecodable(seq: seq) }
                var found: [Finding] = []
                for event in events {
                    if event.seq > storedThrough {
                        state.apply(event, policy: configuration.policy, findings: &found)
                    } else {
                        state.apply(event)
                    }
                }
                // An undecodable record is passed over, not retried for ever: the fold moves past it.
                state.appliedThrough = max(state.appliedThrough, batch[batch.count - 1].seq)
                if !configuration.readOnly && state.appliedThrough > storedThrough {
                    try store.append(found, through: state.appliedThrough)
                }
                applied.advance(to: state.appliedThrough)
            }
            return state.appliedThrough
        }
    }

    /// Decodes records on every core: parsing dominates a rebuild, folding is cheap. Records that do
    /// not decode (altered on disk) come back as seqs, to be reported; verification names them too.
    static func decode(_ batch: [LoggedEvent]) -> (events: [StoredEvent], undecodable: [UInt64]) {
        let workers = batch.count >= 2_000 ? 2 : 1
        let results = Mutex<[Int: ([StoredEvent], [UInt64])]>([:])
        let chunk = (batch.count + workers - 1) / workers
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            var events: [StoredEvent] = []
            var failed: [UInt64] = []
            for logged in batch[(worker * chunk)..<min(batch.count, (worker + 1) * chunk)] {
                if let event = try? logged.decode() { events.append(event) } else { failed.append(logged.seq) }
            }
            results.withLock { $0[worker] = (events, failed) }
        }
        let parts = (0..<workers).map { worker in results.withLock { $0[worker]! } }
        return (parts.flatMap(\.0), parts.flatMap(\.1))
    }

    /// Reads the live state, caught up with every event acknowledged before the call.
    public func withState<R>(_ body: (borrowing ProjectionState) throws -> R) throws -> R {
        try includeEverythingCommitted()
        return try live.withLock { try body($0) }
    }

    /// The state folded from nothing, for checking that a rebuild equals the live projection.
    public func rebuild() throws -> ProjectionState {
        var state = ProjectionState()
        var after: UInt64 = 0
        while true {
            let batch = try log.events(afterSeq: after, limit: 20_000)
            guard let last = batch.last else { return state }
            for event in Self.decode(batch).events { state.apply(event) }
            after = last.seq
        }
    }

    // MARK: - Findings

    public struct FindingQuery: Sendable {
        public var kind: Finding.Kind?
        public var since: Instant?
        public var until: Instant?
        public var limit: Int
        public var cursor: String?

        public init(kind: Finding.Kind? = nil, since: Instant? = nil, until: Instant? = nil, limit: Int = 100, cursor: String? = nil) {
            self.kind = kind
            self.since = since
            self.until = until
            self.limit = limit
            self.cursor = cursor
        }
    }

    public struct FindingPage: Sendable {
        public var findings: [Finding]
        public var next: String?
    }

    /// Stored findings in seq order, filtered, one page; includes every acknowledged event's.
    public func findings(_ query: FindingQuery) throws -> FindingPage {
        try includeEverythingCommitted()
        let limit = min(max(query.limit, 1), 10_000)
        var start: [UInt8] = bigEndianBytes(0)
        if let cursor = query.cursor {
            guard let (seq, code) = Self.decodeCursor(cursor) else {
                throw LogError(.badCursor, "cursor is not one this server made")
            }
            start = bigEndianBytes(seq) + [code &+ 1]
        }
        return try store.environment.read { txn in
            try txn.withCursor(store.findings) { cursor in
                var out: [Finding] = []
                var entry = try cursor.get(.keyRange, key: start)
                while let (key, value) = entry {
                    if let kind = query.kind, key[8] != kind.code {
                        entry = try cursor.get(.next)
                        continue
                    }
                    if let finding = (try? JSONParser.parse(value)).flatMap(Finding.init(json:)),
                        query.since.map({ !(finding.time < $0) }) ?? true, query.until.map({ !($0 < finding.time) }) ?? true
                    {
                        if out.count == limit {
                            return FindingPage(findings: out, next: Self.encodeCursor(out[limit - 1]))
                        }
                        out.append(finding)
                    }
                    entry = try cursor.get(.next)
                }
                return FindingPage(findings: out, next: nil)
            }
        }
    }

    static func encodeCursor(_ f: Finding) -> String { "f\(f.seq).\(f.kind.code)" }

    static func decodeCursor(_ text: String) -> (UInt64, UInt8)? {
        guard text.hasPrefix("f") else { return nil }
        let parts = text.dropFirst().split(separator: ".")
        guard parts.count == 2, let seq = UInt64(parts[0]), let code = UInt8(parts[1]) else { return nil }
        return (seq, code)
    }

    // MARK: - Closing

    /// Stops the follower (it finishes the fold it is in) and closes the findings store.
    public func close() {
        stopping.store(true, ordering: .releasing)
        log.wakeCommitWaiters()
        applied.wakeAll()
        if let thread = follower.withLock({ $0.take() }) { pthread_join(thread, nil) }
        store.environment.close()
    }
}
