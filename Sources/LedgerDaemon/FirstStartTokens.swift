import LedgerHTTP
import EventModel
#if canImport(Glibc)
import Glibc
#endif

/// Where the tokens come from (spec 7). ledgerd never runs open: with no tokens file it makes one
/// token per scope on first start, writes the tokens themselves to `initial-tokens` (0600) in the
/// data directory and their hashes to `tokens` beside it, and says where.
public enum TokenSource {
    public struct Loaded: Sendable {
        public var store: TokenStore
        public var path: String
        /// Set on first start: the file holding the new tokens themselves.
        public var createdTokensFile: String?
    }

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    public static func load(configuredFile: String?, dataDirectory: String) throws -> Loaded {
        if let configuredFile {
            guard let contents = readFile(configuredFile) else {
                throw Failure(description: "auth.tokensFile \(configuredFile) cannot be read; create it with `ledgerctl token new`, or leave auth.tokensFile unset to have tokens made on first start")
            }
            return Loaded(store: try TokenStore(contents: contents), path: configuredFile)
        }
        let hashes = dataDirectory + "/tokens"
        if let contents = readFile(hashes) {
            return Loaded(store: try TokenStore(contents: contents), path: hashes)
        }
        var lines: [String] = []
        var secrets: [String] = []
        for scope in Scope.allCases {
            let token = newToken()
            lines.append(TokenStore.line(name: "initial-\(scope.rawValue)", scopes: [scope], token: token))
            secrets.append("\(scope.rawValue) \(token)")
        }
        let secretsFile = dataDirectory + "/initial-tokens"
        try writeFile(secretsFile, "# ledgerd first-start tokens, one per scope: SCOPE TOKEN. Keep them secret.\n" + secrets.joined(separator: "\n") + "\n", mode: 0o600)
        try writeFile(hashes, "# NAME SCOPES SHA256-HEX-OF-TOKEN (spec 7)\n" + lines.joined(separator: "\n") + "\n", mode: 0o640)
        return Loaded(store: try TokenStore(contents: lines.joined(separator: "\n")), path: hashes, createdTokensFile: secretsFile)
    }

    /// 32 random bytes, URL-safe base64: `ldg_…`.
    public static func newToken() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return "ldg_" + Base64URL.encode(bytes)
    }

    static func readFile(_ path: String) -> String? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = fread(&buffer, 1, buffer.count, file)
            if n <= 0 { break }
            bytes.append(contentsOf: buffer[0..<n])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func writeFile(_ path: String, _ text: String, mode: mode_t) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode)
        guard fd >= 0 else { throw Failure(description: "cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        guard write(fd, bytes, bytes.count) == bytes.count, fsync(fd) == 0 else {
            throw Failure(description: "cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }
}
