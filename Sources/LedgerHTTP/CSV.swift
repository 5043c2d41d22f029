import Hummingbird

/// CSV for spreadsheets (RFC 4180 quoting, one row a line). A cell that a spreadsheet would run as a
/// formula (`=`, `+`, `-`, `@`, a tab or a carriage return first) gets a leading `'`: what the CRM
/// sent is hostile to spreadsheets too.
public struct CSV: Sendable {
    public private(set) var text = ""

    public init(header: [String]) { append(header) }

    public mutating func append(_ row: [String]) {
        text += row.map(CSV.cell).joined(separator: ",") + "\n"
    }

    public static func cell(_ value: String) -> String {
        var value = value
        if let first = value.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first) { value = "'" + value }
        guard value.unicodeScalars.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

/// A CSV answer; `filename` makes browsers save it rather than show it.
public func csvResponse(_ text: String, filename: String? = nil) -> Response {
    let body = ByteBuffer(string: text)
    guard let filename else { return Response(status: .ok, headers: [.contentType: "text/csv; charset=utf-8"], body: .init(byteBuffer: body)) }
    return attachment(body, contentType: "text/csv; charset=utf-8", filename: filename)
}

/// A download: browsers save it as `filename` rather than show it.
public func attachment(_ body: ByteBuffer, contentType: String, filename: String) -> Response {
    Response(
        status: .ok, headers: [.contentType: contentType, .contentDisposition: "attachment; filename=\"\(filename)\""],
        body: .init(byteBuffer: body))
}
