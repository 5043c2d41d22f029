import Configuration
import Projector

/// ledgerd's settings (spec 7), read from flags, then `LEDGERD_*` environment variables, then
/// the YAML file, then these defaults.
///
/// - `http.host` (string, default `127.0.0.1`): the address to listen on.
/// - `http.port` (int, default 8427).
/// - `storage.path` (string, default `/var/lib/ledgerd`): the data directory (LMDB files, the
///   projection, first-start tokens).
/// - `auth.tokensFile` (string, optional): the tokens file (`NAME SCOPES SHA256-HEX` a line).
///   Without it, ledgerd uses `<storage.path>/tokens`, which it creates on first start.
/// - `policy.requireApprovedRequest` (bool, default false): flag grants with no approved access
///   request in the 30 days before (`grant_without_approval`).
public struct DaemonConfiguration: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var dataDirectory: String
    public var tokensFile: String?
    public var policy: Policy

    public init(reader: ConfigReader) {
        host = reader.string(forKey: "http.host", default: "127.0.0.1")
        port = reader.int(forKey: "http.port", default: 8427)
        dataDirectory = reader.string(forKey: "storage.path", default: "/var/lib/ledgerd")
        tokensFile = reader.string(forKey: "auth.tokensFile")
        policy = Policy(requireApprovedRequest: reader.bool(forKey: "policy.requireApprovedRequest", default: false))
    }

    /// The environment's `LEDGERD_*` variables without their prefix, for `EnvironmentVariablesProvider`
    /// (`LEDGERD_HTTP_PORT` → `http.port`, `LEDGERD_AUTH_TOKENS_FILE` → `auth.tokensFile`).
    public static func environment(_ all: [String: String]) -> [String: String] {
        var out: [String: String] = [:]
        for (key, value) in all where key.hasPrefix("LEDGERD_") { out[String(key.dropFirst(8))] = value }
        return out
    }
}
