import AsyncHTTPClient
import Crypto
import EventLog
import EventModel
import Foundation
import NIOCore
import NIOHTTP1
import Projector

/// HTTP POST of NDJSON batches, signed as the Standard Webhooks specification says:
/// `webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature: v1,<base64 HMAC-SHA256
/// of "id.timestamp.body">` under the secret's key. Only a 2xx counts as delivered.
///
/// Each line is `{"type":"event","seq":N,"hash":"…","record":{…}}` or
/// `{"type":"finding","cursor":"…","finding":{…}}`. The id names the batch (`<sink>-<first>-<last>`),
/// so a batch sent again carries the same id.
final class WebhookSink: Sink {
    private let name: String
    private let url: String
    private let key: SymmetricKey
    private let client: HTTPClient
    static let requestTimeout: TimeAmount = .seconds(15)

    init(_ sink: SinksFile.Sink) {
        name = sink.name
        url = sink.url!
        key = SymmetricKey(data: Self.key(sink.secret!)!)
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(5), read: Self.requestTimeout)
        configuration.redirectConfiguration = .disallow
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// The key of a `whsec_<base64>` secret, or nil when it is not one (24 to 64 bytes).
    static func key(_ secret: String) -> [UInt8]? {
        guard secret.hasPrefix("whsec_"), let bytes = Data(base64Encoded: String(secret.dropFirst(6))), (24...64).contains(bytes.count) else {
            return nil
        }
        return Array(bytes)
    }

    /// `v1,<base64>` for this id, timestamp and body.
    static func signature(key: SymmetricKey, id: String, timestamp: Int64, body: [UInt8]) -> String {
        var signed = Array("\(id).\(timestamp).".utf8)
        signed.append(contentsOf: body)
        return "v1," + Data(HMAC<SHA256>.authenticationCode(for: signed, using: key)).base64EncodedString()
    }

    func send(events: [LoggedEvent]) async throws {
        guard let first = events.first, let last = events.last else { return }
        var body: [UInt8] = []
        for event in events {
            body.append(contentsOf: #"{"type":"event","seq":\#(event.seq),"hash":"\#(hexString(event.hash))","record":"#.utf8)
            body.append(contentsOf: event.record)
            body.append(contentsOf: "}\n".utf8)
        }
        try await post(id: "\(name)-\(first.seq)-\(last.seq)", body: body)
    }

    func send(findings: [Finding]) async throws {
        guard let first = findings.first, let last = findings.last else { return }
        var body: [UInt8] = []
        for finding in findings {
            body.append(contentsOf: #"{"type":"finding","cursor":"\#(LiveProjector.cursor(of: finding))","finding":"#.utf8)
            body.append(contentsOf: CanonicalJSON.encode(finding.json))
            body.append(contentsOf: "}\n".utf8)
        }
        try await post(id: "\(name)-\(LiveProjector.cursor(of: first))-\(LiveProjector.cursor(of: last))", body: body)
    }

    private func post(id: String, body: [UInt8]) async throws {
        let timestamp = Int64(Date().timeIntervalSince1970)
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-ndjson")
        request.headers.add(name: "User-Agent", value: "ledgerd")
        request.headers.add(name: "webhook-id", value: id)
        request.headers.add(name: "webhook-timestamp", value: String(timestamp))
        request.headers.add(name: "webhook-signature", value: Self.signature(key: key, id: id, timestamp: timestamp, body: body))
        request.body = .bytes(ByteBuffer(bytes: body))
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: Self.requestTimeout)
        } catch {
            throw SinkError(description: "webhook \(url): \(error)")
        }
        let answer = (try? await response.body.collect(upTo: 1024)).map { String(buffer: $0) } ?? ""
        guard (200..<300).contains(response.status.code) else {
            throw SinkError(description: "webhook \(url) answered \(response.status.code): \(answer.prefix(200))")
        }
    }

    func close() async {
        try? await client.shutdown()
    }
}
