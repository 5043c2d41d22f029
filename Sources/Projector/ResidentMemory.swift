#if canImport(Glibc)
import Glibc
#endif

/// The process's resident anonymous memory (RssAnon: heap and stacks, not the mapped LMDB files),
/// read from `/proc/self/statm` as resident minus shared pages. Nil where that file is missing.
enum ResidentMemory {
    static func anonymousBytes() -> Int? {
        guard let file = fopen("/proc/self/statm", "r") else { return nil }
        defer { fclose(file) }
        var size = 0, resident = 0, shared = 0
        guard fscanf_statm(file, &size, &resident, &shared) else { return nil }
        return max(0, resident - shared) * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    private static func fscanf_statm(_ file: UnsafeMutablePointer<FILE>, _ size: inout Int, _ resident: inout Int, _ shared: inout Int) -> Bool {
        var line = [CChar](repeating: 0, count: 256)
        guard fgets(&line, Int32(line.count), file) != nil else { return false }
        let fields = String(cString: line).split(separator: " ").prefix(3).compactMap { Int($0) }
        guard fields.count == 3 else { return false }
        (size, resident, shared) = (fields[0], fields[1], fields[2])
        return true
    }
}
