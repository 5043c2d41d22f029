// The crash test's victim: appends batches from several tasks until it is killed, printing
// `ack SEQ ID` for every event only after its append returned, i.e. after the commit was synced.
// Usage: ledger-crash-child DATA_DIR RUN_TAG
import EventLog
import EventModel
import Glibc
import Logging

/// One write(2) per call: a batch's lines stay under PIPE_BUF, so lines from concurrent tasks never interleave.
func emit(_ text: String, to fd: Int32 = 1) {
    var bytes = Array(text.utf8)
    _ = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress, $0.count) }
}

let arguments = CommandLine.arguments
guard arguments.count == 3 else {
    emit("usage: ledger-crash-child DATA_DIR RUN_TAG\n", to: 2)
    exit(2)
}
var configuration = LogConfiguration(path: arguments[1])
configuration.foldThreshold = 400  // fold often, so kills land in folds too
configuration.mapSize = 1 << 20  // and grow the map while being killed
var logger = Logger(label: "crash-child")
logger.logLevel = .error
let log = try EventLog(configuration, logger: logger)
let tag = arguments[2]
let fields = ["amount", "status", "owner"]

func event(_ task: Int, _ n: Int, _ i: Int) -> String {
    let id = "\(tag)-\(task)-\(n)-\(i)"
    let time = Instant(seconds: 1_767_574_800 + Int64(n * 7 + i), nanoseconds: Int32(task * 1000)).rfc3339(fractionDigits: 6)
    return #"{"id":"\#(id)","type":"sales_order.updated","time":"\#(time)","actor":{"id":"u-\#(task)"},"#
        + #""subject":{"type":"sales_order","id":"SO-\#(n % 17)"},"changes":[{"field":"\#(fields[i % 3])","new":\#(n)}]}"#
}

await withTaskGroup(of: Void.self) { group in
    for task in 0..<4 {
        group.addTask {
            var n = 0
            while true {
                let batch = "[" + (0..<(1 + n % 25)).map { event(task, n, $0) }.joined(separator: ",") + "]"
                do {
                    let events = try EventBody.parse(Array(batch.utf8)).events
                    let results = try await log.append(events)
                    var lines = ""
                    for result in results { lines += "ack \(result.seq) \(result.id)\n" }
                    emit(lines)
                } catch {
                    emit("error \(error)\n", to: 2)
                    exit(1)
                }
                n += 1
            }
        }
    }
}
