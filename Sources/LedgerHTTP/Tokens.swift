import Crypto
import EventModel
import Synchronization

/// What a token may do (spec 5).
public enum Scope: String, Sendable, CaseIterable {
    case ingest, read, admin
}

/// The tokens file of spec 7: `NAME SCOPE[,SCOPE…] SHA256-HEX-OF-TOKEN` a line, `#` for comments.
/// Only hashes are kept; a presented token is hashed and compared against every entry in constant time.
public struct TokenStore: Sendable {
    public struct Entry: Sendable, Equatable {
        public var name: String
        public var scopes: Set<Scope>
        public var hash: [UInt8]
    }

    public struct ParseError: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    public let entries: [Entry]

    public init(entries: [Entry]) { self.entries = entries }

    public init(contents: String) throws {
        var entries: [Entry] = []
        for (number, rawLine) in contents.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if parts.isEmpty { continue }
            guard parts.count == 3 else {
                throw ParseError(description: "tokens file line \(number + 1): expected NAME SCOPES SHA256-HEX")
            }
            var scopes = Set<Scope>()
            for name in parts[1].split(separator: ",") {
                guard let scope = Scope(rawValue: String(name)) else {
                    throw ParseError(description: "tokens file line \(number + 1): unknown scope \"\(name)\" (ingest, read, admin)")
                }
                scopes.insert(scope)
            }
            guard let hash = hexBytes(parts[2]), hash.count == 32 else {
                throw ParseError(description: "tokens file line \(number + 1): the hash must be 64 hex digits (SHA-256 of the token)")
            }
            entries.append(Entry(name: String(parts[0]), scopes: scopes, hash: hash))
        }
        self.entries = entries
    }

    /// The entry whose hash matches the token. Every entry is compared, in full, whatever matches.
    public func authenticate(_ token: String) -> Entry? {
        var token = token
        return token.withUTF8 { authenticate(UnsafeRawBufferPointer($0)) }
    }

    func authenticate(_ token: UnsafeRawBufferPointer) -> Entry? {
        SHA256.hash(data: token).withUnsafeBytes { presented in
            var found: Entry?
            for entry in entries {
                var difference: UInt8 = 0
                for i in 0..<32 { difference |= entry.hash[i] ^ presented[i] }
                if difference == 0 && found == nil { found = entry }
            }
            return found
        }
    }

    /// The line for a token: `NAME SCOPES HASH`.
    public static func line(name: String, scopes: [Scope], token: String) -> String {
        "\(name) \(scopes.map(\.rawValue).joined(separator: ",")) \(sha256Hex(token))"
    }

    public static func sha256Hex(_ token: String) -> String {
        hexString(SHA256.hash(data: Array(token.utf8)))
    }
}

/// The tokens in force, replaced whole when the tokens file is read again (SIGHUP): a request
/// checks against one consistent set, old or new.
public final class TokenRegistry: Sendable {
    private let current: Mutex<TokenStore>

    public init(_ store: TokenStore) { current = Mutex(store) }

    public var store: TokenStore { current.withLock { $0 } }

    public func replace(with store: TokenStore) { current.withLock { $0 = store } }

    /// The token an `Authorization` header presents, if it is one of ours. The scheme is
    /// case-insensitive (RFC 7235): `bearer` and `BEARER` are `Bearer`.
    ///
    /// Every request asks this: an ASCII header is read in place, without lowered or trimmed copies
    /// (they were half of its cost, BENCHMARKS.md); any other goes the way of `Character`s.
    public func entry(authorization header: String?) -> TokenStore.Entry? {
        guard let header else { return nil }
        let store = store
        var utf8 = header
        return utf8.withUTF8 { bytes -> TokenStore.Entry? in
            guard bytes.allSatisfy({ $0 < 0x80 }) else { return Self.entry(nonASCII: header, in: store) }
            // "bearer" in any case (`| 0x20` lowers exactly the letters B, E, A, R here), a space, the token.
            let scheme = "bearer".utf8
            guard bytes.count > scheme.count, bytes[scheme.count] == UInt8(ascii: " "),
                zip(bytes, scheme).allSatisfy({ $0 | 0x20 == $1 })
            else { return nil }
            var start = scheme.count + 1
            while start < bytes.count, bytes[start] == UInt8(ascii: " ") { start += 1 }
            return store.authenticate(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes[start...])))
        }
    }

    /// The header read as `Character`s (any header; `entry(authorization:)` uses it for non-ASCII ones).
    static func entry(nonASCII header: String, in store: TokenStore) -> TokenStore.Entry? {
        guard let space = header.firstIndex(of: " "), header[..<space].lowercased() == "bearer" else { return nil }
        return store.authenticate(String(header[header.index(after: space)...].drop(while: { $0 == " " })))
    }
}
