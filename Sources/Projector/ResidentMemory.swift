#if canImport(Glibc)
import Glibc
#endif

/// The process's resident anonymous memory (RssAnon: heap and stacks, not the mapped LMDB files):
/// resident minus shared pages, from `/proc/self/statm`. Nil where that file cannot be read. What the
/// projection's memory budget is held to, and what the benchmarks report.
public enum ResidentMemory {
    public static func anonymousBytes() -> Int? {
        guard let file = fopen("/proc/self/statm", "r") else { return nil }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 256)
        guard fgets(&line, Int32(line.count), file) != nil else { return nil }
        // size resident shared text lib data dt, in pages
        let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let pages = text.split(whereSeparator: { $0 == " " || $0 == "\n" }).prefix(3).compactMap { Int($0) }
        guard pages.count == 3 else { return nil }
        return max(0, pages[1] - pages[2]) * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
