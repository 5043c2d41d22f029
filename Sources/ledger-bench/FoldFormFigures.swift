import EventModel
import Zstd

/// `--fold-parts`' figures for the log's fold forms (`FoldForm`, stored in blocks by `FoldForms`): what
/// making one costs the caller of an append, what reading one back costs a rebuild, and their size in
/// blocks of 1,024 compressed without a dictionary, as the log stores them.
enum FoldFormFigures {
    struct Differs: Error {}

    static func measure(_ events: [StoredEvent], passes: Int) throws -> String {
        var forms: [[UInt8]] = []
        var makeTimes: [Duration] = [], readTimes: [Duration] = []
        for _ in 0..<max(1, passes) {
            forms = []
            forms.reserveCapacity(events.count)
            var t = ContinuousClock.now
            for event in events { forms.append(FoldForm.bytes(of: event.envelope)) }
            makeTimes.append(ContinuousClock.now - t)
            var read: [StoredEvent] = []
            read.reserveCapacity(forms.count)
            t = ContinuousClock.now
            for (event, form) in zip(events, forms) {
                try form.withUnsafeBytes { bytes in
                    var r = ByteReader(bytes)
                    if case .event(let back) = try FoldForm.read(&r, seq: event.seq) { read.append(back) }
                }
            }
            readTimes.append(ContinuousClock.now - t)
            guard read == events else { throw Differs() }
        }
        let compressor = ZstdCompressor(level: 1)
        var stored = 0
        for start in stride(from: 0, to: forms.count, by: 1_024) {
            var block = ByteWriter(capacity: 128 * 1_024)
            for form in forms[start..<min(forms.count, start + 1_024)] {
                block.write(form.count)
                block.append(form)
            }
            stored += try block.bytes.withUnsafeBytes { try compressor.compress($0, dictionary: nil) { $0.count } } + 10
        }
        func ns(_ times: [Duration]) -> Int { Int((times.min()! / events.count).components.attoseconds / 1_000_000_000) }
        let bytes = forms.reduce(0) { $0 + $1.count }
        return "fold forms: made in \(ns(makeTimes)) ns/event, read back in \(ns(readTimes)) ns/event (fastest pass); "
            + "\(bytes / events.count) B/event, \(stored / events.count) B/event stored in blocks of 1,024"
    }
}
