import EventLog
import EventModel
import Foundation
import NIOSSL
import Projector
import Yams

/// The sinks file (`delivery.sinksFile`): where events and findings are delivered as they happen.
/// A YAML file beside the configuration, because the configuration library has no lists of objects.
///
/// ```yaml
/// sinks:
///   - name: siem                  # a word; the sink's cursor is kept under it
///     kind: syslog                # RFC 5424 over TCP, octet-counted (RFC 6587)
///     address: 127.0.0.1:6514
///     tls: true                   # optional; caFile: /etc/ssl/siem-ca.pem, serverName: siem.example.com
///     filter: {type: "user.*"}    # optional: subjectType, subjectId, actor, type (or prefix), field
///     start: beginning            # beginning (default) or now: where a new sink's cursor starts
///   - name: alerts
///     kind: webhook               # POST of NDJSON batches, signed as Standard Webhooks say
///     url: https://hooks.example.com/ledger
///     secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
///     batch: 100                  # optional: events a request holds at most
/// alerts:
///   - sink: alerts                # new findings of these kinds go to that sink
///     kinds: [self_grant, admin_granted_by_non_super_admin]
/// ```
public struct SinksFile: Sendable, Equatable {
    public enum Kind: String, Sendable { case syslog, webhook }

    public struct Sink: Sendable, Equatable {
        public var name: String
        public var kind: Kind
        /// syslog: `host:port`.
        public var address: String?
        public var tls = false
        public var caFile: String?
        public var serverName: String?
        /// webhook.
        public var url: String?
        public var secret: String?
        public var filter = EventQuery()
        public var batch = 500
        public var startAtBeginning = true
    }

    public struct Alert: Sendable, Equatable {
        public var sink: String
        public var kinds: [Finding.Kind]
        /// The cursor's name: `alert:<sink>:<kinds>`.
        public var name: String { "alert:\(sink):" + kinds.map(\.rawValue).joined(separator: ",") }
    }

    public struct Invalid: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    public var sinks: [Sink] = []
    public var alerts: [Alert] = []
    public var isEmpty: Bool { sinks.isEmpty }

    public init(sinks: [Sink] = [], alerts: [Alert] = []) {
        self.sinks = sinks
        self.alerts = alerts
    }

    public init(path: String) throws {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw Invalid(description: "delivery.sinksFile \(path) cannot be read")
        }
        try self.init(yaml: text, path: path)
    }

    /// Every mistake is refused with its place: a sink that silently does nothing is worse than none.
    public init(yaml text: String, path: String = "the sinks file") throws {
        let root: [String: Any]
        do {
            guard let loaded = try Yams.load(yaml: text) as? [String: Any] else {
                throw Invalid(description: "\(path): expected a mapping with sinks and alerts")
            }
            root = loaded
        } catch let error as Invalid {
            throw error
        } catch {
            throw Invalid(description: "\(path): not YAML: \(error)")
        }
        for key in root.keys where key != "sinks" && key != "alerts" {
            throw Invalid(description: "\(path): unknown key \(key) (sinks, alerts)")
        }
        for (index, entry) in ((root["sinks"] as? [Any]) ?? []).enumerated() {
            let place = "\(path): sinks[\(index)]"
            guard let fields = entry as? [String: Any] else { throw Invalid(description: "\(place) is not a mapping") }
            let known: Set = ["name", "kind", "address", "tls", "caFile", "serverName", "url", "secret", "filter", "batch", "start"]
            if let unknown = fields.keys.first(where: { !known.contains($0) }) {
                throw Invalid(description: "\(place): unknown key \(unknown) (\(known.sorted().joined(separator: ", ")))")
            }
            guard let name = fields["name"] as? String, !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_".contains($0) }) else {
                throw Invalid(description: "\(place): name must be a word (letters, digits, - and _)")
            }
            guard !sinks.contains(where: { $0.name == name }) else { throw Invalid(description: "\(place): a second sink named \(name)") }
            guard let kindText = fields["kind"] as? String, let kind = Kind(rawValue: kindText) else {
                throw Invalid(description: "\(place): kind must be syslog or webhook")
            }
            var sink = Sink(name: name, kind: kind)
            switch kind {
            case .syslog:
                guard let address = fields["address"] as? String, Self.hostPort(address) != nil else {
                    throw Invalid(description: "\(place): a syslog sink needs address: host:port")
                }
                sink.address = address
                sink.tls = fields["tls"] as? Bool ?? false
                sink.caFile = fields["caFile"] as? String
                if let caFile = sink.caFile, (try? NIOSSLCertificate.fromPEMFile(caFile))?.isEmpty != false {
                    throw Invalid(description: "\(place): caFile \(caFile) is not a readable PEM file of certificates")
                }
                sink.serverName = fields["serverName"] as? String
            case .webhook:
                guard let url = fields["url"] as? String, let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme ?? "") else {
                    throw Invalid(description: "\(place): a webhook sink needs url: http(s)://…")
                }
                guard let secret = fields["secret"] as? String, WebhookSink.key(secret) != nil else {
                    throw Invalid(description: "\(place): a webhook sink needs secret: whsec_<base64 of 24 to 64 bytes>")
                }
                sink.url = url
                sink.secret = secret
            }
            if let batch = fields["batch"] {
                guard let n = batch as? Int, (1...10_000).contains(n) else { throw Invalid(description: "\(place): batch must be 1 to 10000") }
                sink.batch = n
            }
            if let start = fields["start"] {
                guard let word = start as? String, ["beginning", "now"].contains(word) else { throw Invalid(description: "\(place): start must be beginning or now") }
                sink.startAtBeginning = word == "beginning"
            }
            if let filter = fields["filter"] {
                guard let filter = filter as? [String: Any] else { throw Invalid(description: "\(place): filter must be a mapping") }
                for (key, value) in filter {
                    guard let text = value as? String, !text.isEmpty else { throw Invalid(description: "\(place): filter.\(key) must be a string") }
                    switch key {
                    case "subjectType": sink.filter.subjectType = text
                    case "subjectId": sink.filter.subjectId = text
                    case "actor": sink.filter.actor = text
                    case "field": sink.filter.field = text
                    case "type":
                        guard Catalog.isTypeFilter(text) else {
                            throw Invalid(description: "\(place): filter.type must be an event type or a prefix such as user.*")
                        }
                        sink.filter.type = text
                    default: throw Invalid(description: "\(place): unknown filter \(key) (subjectType, subjectId, actor, type, field)")
                    }
                }
                if sink.filter.subjectId != nil && sink.filter.subjectType == nil {
                    throw Invalid(description: "\(place): filter.subjectId needs filter.subjectType")
                }
            }
            sinks.append(sink)
        }
        for (index, entry) in ((root["alerts"] as? [Any]) ?? []).enumerated() {
            let place = "\(path): alerts[\(index)]"
            guard let fields = entry as? [String: Any], let sink = fields["sink"] as? String else {
                throw Invalid(description: "\(place) needs sink: NAME")
            }
            guard sinks.contains(where: { $0.name == sink }) else { throw Invalid(description: "\(place): no sink named \(sink)") }
            guard let names = fields["kinds"] as? [String], !names.isEmpty else { throw Invalid(description: "\(place) needs kinds: [finding kinds]") }
            let kinds = try names.map { name in
                guard let kind = Finding.Kind(rawValue: name) else {
                    throw Invalid(description: "\(place): unknown finding kind \(name) (\(Finding.Kind.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                return kind
            }
            alerts.append(Alert(sink: sink, kinds: kinds))
        }
    }

    static func hostPort(_ address: String) -> (host: String, port: Int)? {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]), (1...65535).contains(port) else { return nil }
        let host = String(address[..<colon])
        return host.isEmpty ? nil : (host, port)
    }
}
