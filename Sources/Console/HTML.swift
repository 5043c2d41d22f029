/// Markup that is safe by construction. The only way in for text is interpolation, which escapes
/// it; the only unescaped text is what this program's own source spells out as literals, or
/// another `HTML`. Every value from the CRM is therefore text on the page, never markup, whatever
/// it holds (`<script>`, a quote that tries to leave an attribute, a `javascript:` URL: links are
/// built by `URLPath`, never taken from data).
struct HTML: Sendable, ExpressibleByStringInterpolation {
    private(set) var text: String

    init(stringLiteral literal: StaticString) { text = literal.description }

    init(stringInterpolation: Interpolation) { text = stringInterpolation.text }

    private init(trusted: String) { text = trusted }

    static let empty = HTML(trusted: "")

    /// Markup built from parts that are each `HTML` already.
    init(joining parts: some Sequence<HTML>, separator: HTML = .empty) {
        var out = ""
        for (i, part) in parts.enumerated() {
            if i > 0 { out += separator.text }
            out += part.text
        }
        text = out
    }

    struct Interpolation: StringInterpolationProtocol {
        var text = ""

        init(literalCapacity: Int, interpolationCount: Int) { text.reserveCapacity(literalCapacity + interpolationCount * 16) }

        /// Literals are the program's own markup.
        mutating func appendLiteral(_ literal: StaticString) { text += literal.description }

        mutating func appendInterpolation(_ html: HTML) { text += html.text }

        mutating func appendInterpolation(_ parts: [HTML]) { for part in parts { text += part.text } }

        mutating func appendInterpolation(_ html: HTML?) { if let html { text += html.text } }

        /// Text: escaped for element content and for double-quoted attributes alike.
        mutating func appendInterpolation(_ value: String) { HTML.escape(value, into: &text) }

        mutating func appendInterpolation(_ value: Substring) { HTML.escape(String(value), into: &text) }

        mutating func appendInterpolation(_ number: some BinaryInteger) { text += String(number) }

        mutating func appendInterpolation(_ url: URLPath) { HTML.escape(url.text, into: &text) }
    }

    static func escape(_ value: String, into out: inout String) {
        // Most values have nothing to escape: appended whole.
        if !value.utf8.contains(where: { $0 == 0x26 || $0 == 0x3C || $0 == 0x3E || $0 == 0x22 || $0 == 0x27 }) {
            out += value
            return
        }
        for scalar in value.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(scalar)
            }
        }
    }
}

/// A link inside the console: a fixed path under `/ui/`, each data part percent-encoded, and a
/// query built from names and values. Nothing a CRM sends can make it point elsewhere.
struct URLPath: Sendable, Equatable, CustomStringConvertible {
    private(set) var text: String

    /// `parts` are path segments after `/ui/`; each is encoded whole, so a `/` in an id stays in its segment.
    init(_ parts: String..., query: [(String, String?)] = []) {
        self.init(parts: parts, query: query)
    }

    init(parts: [String], query: [(String, String?)] = []) {
        text = "/ui/" + parts.map { URLPath.encode($0) }.joined(separator: "/")
        let pairs = query.compactMap { name, value in value.map { URLPath.encode(name) + "=" + URLPath.encode($0) } }
        if !pairs.isEmpty { text += "?" + pairs.joined(separator: "&") }
    }

    var description: String { text }

    /// Percent-encodes everything but RFC 3986's unreserved characters.
    static func encode(_ value: String) -> String {
        var out = ""
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let digits = Array("0123456789ABCDEF".unicodeScalars)
                out += "%"
                out.unicodeScalars.append(digits[Int(byte >> 4)])
                out.unicodeScalars.append(digits[Int(byte & 0x0F)])
            }
        }
        return out
    }
}
