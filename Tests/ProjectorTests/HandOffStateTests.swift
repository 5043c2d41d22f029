import EventModel
@testable import Projector
import Testing

/// A state over a stored projection hands its changes to the store's writer, then folds on over a
/// snapshot that may not hold them yet: it keeps them until the next hand-off.
@Suite struct HandOffStateTests {
    /// A store with nothing in it: whatever the state answers, it holds itself.
    final class EmptyStore: ProjectionSource, @unchecked Sendable {
        func load(_ table: ProjectionTable, _ key: String) -> [UInt8]? { nil }
        func scan(_ table: ProjectionTable) -> [(key: String, value: [UInt8])] { [] }
        func members(_ set: ProjectionSet, _ key: String) -> [String] { [] }
        func scan(_ set: ProjectionSet) -> [(key: String, member: String)] { [] }
        func firstMember(_ set: ProjectionSet, _ key: String, where accept: (String) -> Bool) -> String? { nil }
        func noteFailure(_ error: any Error) {}
    }

    @Test func whatWasHandedOffStaysReadableUntilTheNextHandOff() {
        var state = ProjectionState(source: EmptyStore(), appliedThrough: 0, bootstrapped: false)
        state.roleMembersEver.insert("u-1", into: "clerk")
        for i in 0..<100 { state.users["u-\(i)"] = UserState(createdSeq: UInt64(i + 1)) }

        state.handedOff()
        // The writer may still be writing them, and the store read meanwhile does not hold them.
        #expect(state.roleMembersEver["clerk"] == ["u-1"])
        #expect(state.roleMembersEver.first("clerk") { _ in true } == "u-1")
        #expect(state.roleMembersEver.all == ["clerk": ["u-1"]])
        for i in 0..<100 { #expect(state.users["u-\(i)"]?.createdSeq == UInt64(i + 1)) }
        // Nothing changed since: the next batch's writes are empty.
        var changed = 0
        state.users.forEachEntry { _, _ in changed += 1 }
        #expect(changed == 0)
        #expect(state.roleMembersEver.added.isEmpty)

        // At the next hand-off the store holds them (the follower waited for the write): the set
        // lets them go, and reads them from the store (here, an empty one).
        state.handedOff()
        #expect(state.roleMembersEver["clerk"].isEmpty)
    }
}
