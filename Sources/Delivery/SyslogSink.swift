import EventLog
import EventModel
import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import Projector

/// RFC 5424 messages over TCP (optionally TLS, as RFC 5425 does), framed by octet counting
/// (RFC 6587): `LEN SP <110>1 recordedAt host ledgerd pid MSGID [ledger@32473 seq="…" hash="…"] record`.
///
/// Facility 13 (log audit); MSGID `event` (severity 6, informational) or `finding` (severity 4, warning). The message is
/// the canonical record byte for byte (a finding: its JSON with sentence and evidence seqs), so a
/// SIEM can check it against the chain. Plain syslog has no acknowledgement: a message counts as
/// delivered once the connection took it; a broken connection is opened again and the batch resent.
final class SyslogSink: Sink {
    private let host: String
    private let port: Int
    private let tls: NIOSSLContext?
    private let serverName: String?
    private let localHost: String
    private let pid = ProcessInfo.processInfo.processIdentifier
    /// A write that takes longer than this means the receiver stopped reading: the connection is dropped.
    static let writeTimeout: Duration = .seconds(30)
    private let connection = ConnectionSlot()

    init(_ sink: SinksFile.Sink) throws {
        let (host, port) = SinksFile.hostPort(sink.address ?? "")!
        (self.host, self.port) = (host, port)
        if sink.tls {
            var configuration = TLSConfiguration.makeClientConfiguration()
            if let caFile = sink.caFile {
                configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
            }
            tls = try NIOSSLContext(configuration: configuration)
        } else {
            tls = nil
        }
        serverName = sink.serverName ?? (sink.tls && host.first?.isLetter == true ? host : nil)
        let name = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "-"
        localHost = Self.printable(name, limit: 255)
    }

    func send(events: [LoggedEvent]) async throws {
        var buffer = ByteBuffer()
        for event in events {
            let header = "<110>1 \(event.recordedAt) \(localHost) ledgerd \(pid) event [ledger@32473 seq=\"\(event.seq)\" hash=\"\(hexString(event.hash))\"] "
            Self.frame(header: header, message: event.record, into: &buffer)
        }
        try await write(buffer)
    }

    func send(findings: [Finding]) async throws {
        var buffer = ByteBuffer()
        let now = Instant.now().rfc3339()
        for finding in findings {
            let cursor = LiveProjector.cursor(of: finding)
            let header = "<108>1 \(now) \(localHost) ledgerd \(pid) finding [ledger@32473 finding=\"\(cursor)\" kind=\"\(finding.kind.rawValue)\" seq=\"\(finding.seq)\"] "
            Self.frame(header: header, message: CanonicalJSON.encode(finding.json), into: &buffer)
        }
        try await write(buffer)
    }

    func close() async {
        try? await connection.take()?.close()
    }

    static func frame(header: String, message: [UInt8], into buffer: inout ByteBuffer) {
        let length = header.utf8.count + message.count
        buffer.writeString("\(length) ")
        buffer.writeString(header)
        buffer.writeBytes(message)
    }

    /// Writes on the open connection, or a new one. A write the receiver does not take within
    /// `writeTimeout`, a failure or a cancellation closes the connection (which fails the write), so
    /// the next try reconnects and nothing waits for ever on a receiver that stopped reading.
    private func write(_ buffer: ByteBuffer) async throws {
        let channel: any Channel
        if let open = await connection.current() { channel = open } else { channel = try await connect() }
        let written = channel.eventLoop.makePromise(of: Void.self)
        let timeout = channel.eventLoop.scheduleTask(in: .seconds(Self.writeTimeout.components.seconds)) { channel.close(promise: nil) }
        defer { timeout.cancel() }
        channel.writeAndFlush(buffer, promise: written)
        do {
            try await withTaskCancellationHandler {
                try await written.futureResult.get()
            } onCancel: {
                channel.close(promise: nil)
            }
        } catch {
            _ = await connection.take()
            try? await channel.close()
            throw SinkError(description: "syslog \(host):\(port): \(error)")
        }
    }

    private func connect() async throws -> any Channel {
        let (tls, serverName) = (tls, serverName)
        do {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.seconds(5))
                .channelOption(.socketOption(.so_keepalive), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls, serverHostname: serverName)) }
                        try channel.pipeline.syncOperations.addHandler(DiscardInbound())
                    }
                }
                .connect(host: host, port: port).get()
            await connection.set(channel)
            return channel
        } catch {
            throw SinkError(description: "syslog \(host):\(port): cannot connect: \(error)")
        }
    }

    /// RFC 5424 header fields are printable US-ASCII without spaces.
    static func printable(_ text: String, limit: Int) -> String {
        let kept = text.unicodeScalars.filter { $0.value > 32 && $0.value < 127 }.prefix(limit)
        return kept.isEmpty ? "-" : String(String.UnicodeScalarView(kept))
    }
}

/// The open connection, if any: taken away when it fails.
private actor ConnectionSlot {
    private var channel: (any Channel)?

    func current() -> (any Channel)? {
        if let channel, !channel.isActive { self.channel = nil }
        return channel
    }

    func set(_ channel: any Channel) { self.channel = channel }

    func take() -> (any Channel)? {
        defer { channel = nil }
        return channel
    }
}

/// A syslog receiver sends nothing; whatever arrives is dropped, and a close is noticed by `isActive`.
private final class DiscardInbound: ChannelInboundHandler, Sendable {
    typealias InboundIn = NIOAny
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}
