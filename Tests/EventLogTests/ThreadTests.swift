import EventLog
import Foundation
import Testing

@Suite struct ThreadTests {
    /// The name is what `top -H` and `perf` show; Linux keeps its first 15 bytes.
    @Test func aDedicatedThreadCarriesItsName() {
        final class Seen: @unchecked Sendable { var name = "" }
        let seen = Seen()
        let thread = startThread(named: "ledger-test-long-name") {
            seen.name = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? ""
        }
        pthread_join(thread, nil)
        #expect(seen.name == "ledger-test-lon\n")
    }
}
