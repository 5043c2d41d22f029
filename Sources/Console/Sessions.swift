import LedgerHTTP
import Synchronization

/// Signed-in browsers. A session is a random id in a cookie, never the token: the token is
/// presented once, at sign-in, and the session keeps only its hash, so a token removed from the
/// tokens file (SIGHUP) ends every session it opened on the next request.
final class SessionStore: Sendable {
    struct Session: Sendable {
        let id: String
        let tokenName: String
        let tokenHash: [UInt8]
        var scopes: Set<Scope>
        var lastSeen: ContinuousClock.Instant

        var isAdmin: Bool { scopes.contains(.admin) }
    }

    private let sessions = Mutex<[String: Session]>([:])
    let idle: Duration
    private let clock: @Sendable () -> ContinuousClock.Instant

    /// `clock`: the time a session is judged by (a test moves it; the daemon reads the real one).
    init(idle: Duration, clock: @escaping @Sendable () -> ContinuousClock.Instant = { .now }) {
        self.idle = idle
        self.clock = clock
    }

    /// A new session for a token that may read; nil for one that may not (an ingest-only token).
    func open(for entry: TokenStore.Entry) -> Session? {
        guard !entry.scopes.isDisjoint(with: [.read, .admin]) else { return nil }
        var generator = SystemRandomNumberGenerator()  // getrandom(2) on Linux: fit for secrets
        let id = (0..<4).map { _ in generator.next() as UInt64 }.map { String($0, radix: 16).leftPadded(to: 16) }.joined()
        let now = clock()
        let session = Session(id: id, tokenName: entry.name, tokenHash: entry.hash, scopes: entry.scopes, lastSeen: now)
        sessions.withLock { all in
            all = all.filter { now - $0.value.lastSeen < idle }  // forget the expired while here
            all[id] = session
        }
        return session
    }

    /// The live session with this id, touched; nil when unknown, idle too long, or when its token
    /// is no longer in the tokens file or may no longer read.
    func session(id: String, tokens: TokenRegistry) -> Session? {
        let now = clock()
        return sessions.withLock { all -> Session? in
            guard var session = all[id] else { return nil }
            guard now - session.lastSeen < idle,
                let entry = tokens.store.entries.first(where: { $0.hash == session.tokenHash }),
                !entry.scopes.isDisjoint(with: [.read, .admin])
            else {
                all[id] = nil
                return nil
            }
            session.scopes = entry.scopes
            session.lastSeen = now
            all[id] = session
            return session
        }
    }

    func close(id: String) { sessions.withLock { $0[id] = nil } }
}

/// At most `perMinute` failed sign-ins a minute from one address: a token of 128 bits cannot be
/// guessed anyway, but nobody should be able to try.
final class SignInLimiter: Sendable {
    private let failures = Mutex<[String: [ContinuousClock.Instant]]>([:])
    let perMinute: Int

    init(perMinute: Int) { self.perMinute = perMinute }

    /// Whether `address` may try now.
    func allows(_ address: String) -> Bool {
        let cutoff = ContinuousClock.now - .seconds(60)
        return failures.withLock { all in
            all[address] = all[address]?.filter { $0 > cutoff }
            return (all[address]?.count ?? 0) < perMinute
        }
    }

    func failed(_ address: String) {
        failures.withLock { all in
            if all.count > 10_000 { all.removeAll() }  // bounded, whatever the number of addresses
            all[address, default: []].append(.now)
        }
    }

    func succeeded(_ address: String) { failures.withLock { $0[address] = nil } }
}

extension String {
    func leftPadded(to width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}
