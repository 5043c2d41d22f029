/// Text from the ledger made safe and measurable for a terminal. Event values come from the CRM, typed
/// by anyone: a newline would forge a row, an escape sequence would draw on the auditor's screen, a
/// bidi override would reorder what they read. In a table every such character is shown as an escape
/// (`\n`, `\x1b`, `\u{202e}`), and columns are measured in display width (East Asian wide characters
/// take two columns, combining marks none). JSON and CSV output stay byte-exact.
enum TerminalText {
    /// The longest cell, in columns, before it is cut with an ellipsis.
    static let maxCellWidth = 60

    /// `text` with every control, bidi and invisible formatting character made visible.
    static func visible(_ text: String) -> String {
        var out = ""
        out.unicodeScalars.reserveCapacity(text.unicodeScalars.count)
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x0A: out += "\\n"
            case 0x0D: out += "\\r"
            case 0x09: out += "\\t"
            case 0x00...0x1F, 0x7F...0x9F: out += "\\x" + hex(scalar.value, digits: 2)
            case _ where isFormatting(scalar): out += "\\u{" + hex(scalar.value, digits: 4) + "}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// Bidi controls, zero-width characters and other invisible formatting (general category Cf),
    /// plus the line and paragraph separators.
    static func isFormatting(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.generalCategory == .format || scalar.value == 0x2028 || scalar.value == 0x2029
    }

    /// Columns `text` takes on a terminal.
    static func width(_ text: String) -> Int {
        text.unicodeScalars.reduce(0) { $0 + width(of: $1) }
    }

    static func width(of scalar: Unicode.Scalar) -> Int {
        switch scalar.properties.generalCategory {
        case .nonspacingMark, .enclosingMark, .format: return 0
        default: break
        }
        let v = scalar.value
        let wide =
            (0x1100...0x115F).contains(v) || (0x2E80...0x303E).contains(v) || (0x3041...0x33FF).contains(v)
            || (0x3400...0x4DBF).contains(v) || (0x4E00...0x9FFF).contains(v) || (0xA000...0xA4CF).contains(v)
            || (0xAC00...0xD7A3).contains(v) || (0xF900...0xFAFF).contains(v) || (0xFE30...0xFE4F).contains(v)
            || (0xFF00...0xFF60).contains(v) || (0xFFE0...0xFFE6).contains(v) || (0x1F300...0x1F64F).contains(v)
            || (0x1F900...0x1F9FF).contains(v) || (0x20000...0x3FFFD).contains(v)
        return wide ? 2 : 1
    }

    /// A table cell: visible, and cut to `maxWidth` columns with an ellipsis.
    static func cell(_ text: String, maxWidth: Int = maxCellWidth) -> String {
        let shown = visible(text)
        guard width(shown) > maxWidth else { return shown }
        var out = ""
        var used = 0
        for character in shown {
            let w = width(String(character))
            if used + w > maxWidth - 1 { break }
            out.append(character)
            used += w
        }
        return out + "…"
    }

    /// `text` padded with spaces to `columns` display columns.
    static func padded(_ text: String, to columns: Int) -> String {
        text + String(repeating: " ", count: max(0, columns - width(text)))
    }

    private static func hex(_ value: UInt32, digits: Int) -> String {
        let s = String(value, radix: 16)
        return String(repeating: "0", count: max(0, digits - s.count)) + s
    }
}
