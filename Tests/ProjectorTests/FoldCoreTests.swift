import EventModel
@testable import Projector
import Testing

/// The two pieces that make the fold's look-ups cheap must not change what it answers: a user's
/// parts shared in one box, and the tables' own hash of an id.
@Suite struct FoldCoreTests {
    @Test func aCopiedUserIsItsOwnValue() {
        var original = UserState(createdSeq: 1)
        original.fields["department"] = Fact(value: .string("sales"), seq: 1)
        original.roles["clerk"] = 2
        let snapshot = original

        var changed = original
        changed.roles["auditor"] = 3
        changed.fields["department"] = Fact(value: .string("it"), seq: 4)
        changed.status = .disabled
        changed.lastReview = (5, "keep")

        #expect(original == snapshot)
        #expect(original.roles == ["clerk": 2])
        #expect(original.department == "sales")
        #expect(original.status == .active)
        #expect(original.lastReview == nil)
        #expect(changed.roles == ["clerk": 2, "auditor": 3])
        #expect(changed.department == "it")
        #expect(changed != original)
    }

    @Test func aCopiedRoleIsItsOwnValue() {
        var original = RoleState(createdSeq: 1, grants: ["sales_order.edit": Grant(scope: .own, seq: 2)])
        var changed = original
        changed.grants["sales_order.approve"] = Grant(scope: .all, seq: 3)
        changed.fields["name"] = Fact(value: .string("Clerk"), seq: 4)
        changed.deletedSeq = 5
        #expect(original.grants.keys.sorted() == ["sales_order.edit"] && original.fields.isEmpty && original.isLive)
        #expect(changed.grants.count == 2 && !changed.isLive && changed != original)
        original.deletedSeq = 5
        #expect(changed.deletedSeq == 5 && original.grants.count == 1)

        // One grant read and changed by name agrees with the dictionary.
        #expect(changed.grant("sales_order.approve") == Grant(scope: .all, seq: 3) && changed.grant("sales_order.delete") == nil)
        changed.setGrant("sales_order.edit", nil)
        changed.setGrant("sales_order.delete", Grant(scope: .department, seq: 6))
        #expect(changed.grants == ["sales_order.approve": Grant(scope: .all, seq: 3), "sales_order.delete": Grant(scope: .department, seq: 6)])
        #expect(original.grant("sales_order.edit") == Grant(scope: .own, seq: 2) && original.grant("sales_order.delete") == nil)
    }

    @Test func theDepartmentFollowsTheFieldsHoweverTheyChange() throws {
        var user = UserState()
        #expect(user.department == nil)
        user.fields = ["department": Fact(value: .string("ops"), seq: 1)]
        #expect(user.department == "ops")
        user.fields["department"] = Fact(value: .number("7"), seq: 2)
        #expect(user.department == nil)
        user.fields["department"] = Fact(value: .string("hr"), seq: 3)
        user.fields["department"] = nil
        #expect(user.department == nil)

        // A user read back from its stored form knows its department too.
        user.fields["department"] = Fact(value: .string("finance"), seq: 4)
        var writer = ByteWriter()
        user.write(to: &writer)
        let read = try writer.bytes.withUnsafeBytes { buffer in
            var reader = ByteReader(buffer)
            return try UserState(from: &reader)
        }
        #expect(read == user)
        #expect(read.department == "finance")
    }

    @Test func anOrdersFieldsReadByNameAndAsADictionaryAgree() throws {
        var state = ProjectionState()
        func record(_ seq: Int, _ type: String, _ changes: String) throws -> StoredEvent {
            let json = #"{"seq":\#(seq),"recordedAt":"2026-03-01T00:00:00Z","id":"e\#(seq)","type":"\#(type)","time":"2026-03-01T00:00:0\#(seq)Z","actor":{"id":"u-1"},"subject":{"type":"sales_order","id":"SO-1"},"outcome":"success","changes":\#(changes)}"#
            return try StoredEvent.decode(Array(json.utf8))
        }
        state.apply(try record(1, "sales_order.created", #"[{"field":"owner","new":"u-1"},{"field":"amount","new":100}]"#))
        state.apply(try record(2, "sales_order.updated", #"[{"field":"amount","old":100,"new":120},{"field":"note","old":null,"new":"rush"},{"field":"owner","old":"u-1"}]"#))
        let order = try #require(state.orders["SO-1"])
        #expect(order.fields == ["amount": Fact(value: .number("120"), seq: 2), "note": Fact(value: .string("rush"), seq: 2)])
        #expect(order[field: "amount"] == Fact(value: .number("120"), seq: 2) && order[field: "owner"] == nil && order.owner == nil)

        var writer = ByteWriter()
        order.write(to: &writer)
        let read = try writer.bytes.withUnsafeBytes { buffer in
            var reader = ByteReader(buffer)
            return try RecordState(from: &reader)
        }
        #expect(read == order && read.fields == order.fields && read.createdSeq == 1)
    }

    @Test func equalIdsHashAlikeAndDistinctIdsDoNotCollide() {
        // Lengths on each side of the 8-byte words the hash reads, and ids that differ in one byte.
        var ids: [String] = ["", "a", "é", "销售", String(repeating: "x", count: 300)]
        for length in 1...24 {
            ids.append(String(repeating: "u", count: length))
            ids.append(String(repeating: "u", count: length - 1) + "v")
        }
        for i in 0..<5_000 { ids.append("so-\(i)") }
        let unique = Set(ids)

        for seed in [0, 1, -7, Int.max] {
            var hashes: Set<Int> = []
            for id in unique {
                #expect(TableKey(id)._rawHashValue(seed: seed) == TableKey(String(decoding: Array(id.utf8), as: UTF8.self))._rawHashValue(seed: seed))
                hashes.insert(TableKey(id)._rawHashValue(seed: seed))
            }
            #expect(hashes.count == unique.count, "seed \(seed)")
        }
        #expect(TableKey("so-1")._rawHashValue(seed: 1) != TableKey("so-1")._rawHashValue(seed: 2))

        var table: [TableKey: Int] = [:]
        for (at, id) in unique.enumerated() { table[TableKey(id)] = at }
        for (at, id) in unique.enumerated() { #expect(table[TableKey(id)] == at) }
        #expect(table[TableKey("so-5000")] == nil)
    }

    /// An id is its bytes, as the store keys it: two ids `String` calls equal (the same letter
    /// composed and decomposed) are two entities, in memory and over a store, where the entity cache
    /// remembers the last id asked for.
    @Test func idsThatDifferInBytesAreDifferentEntities() {
        let composed = "u-\u{E9}", decomposed = "u-e\u{301}"
        #expect(composed == decomposed && Array(composed.utf8) != Array(decomposed.utf8))
        #expect(TableKey(composed) != TableKey(decomposed))
        for source in [nil, HandOffStateTests.EmptyStore()] as [(any ProjectionSource)?] {
            var state = source.map { ProjectionState(source: $0, appliedThrough: 0, bootstrapped: false) } ?? ProjectionState()
            state.users[composed] = UserState(createdSeq: 1)
            #expect(state.users[decomposed] == nil, "over a store: \(source != nil)")
            state.users[decomposed] = UserState(createdSeq: 2)
            // Asked one after the other, each id finds its own entity.
            for _ in 0..<2 {
                #expect(state.users[composed]?.createdSeq == 1)
                #expect(state.users[decomposed]?.createdSeq == 2)
            }
            state.users[composed, default: UserState()].status = .disabled
            #expect(state.users[decomposed]?.status == .active && state.users[composed]?.status == .disabled)
        }
    }

    @Test func intervalsCloseWhatEndedAndOpenWhatBeganOrChanged() {
        func key(_ kind: AccessIntervals.Kind, _ group: String, _ member: String) -> AccessIntervals.Key {
            AccessIntervals.Key(kind: kind, group: group, member: member)
        }
        /// The keys a moment closes and opens, every close before every open.
        func changes(_ moment: AccessIntervals.Moment) -> (closed: Set<AccessIntervals.Key>, opened: Set<AccessIntervals.Key>) {
            var closed: Set<AccessIntervals.Key> = []
            var opened: Set<AccessIntervals.Key> = []
            for change in moment.changes {
                switch change {
                case .close(let key, let at):
                    #expect(at == moment.seq && opened.isEmpty, "every close comes before every open")
                    closed.insert(key)
                case .open(let key, _, let from):
                    #expect(from == moment.seq)
                    opened.insert(key)
                }
            }
            return (closed, opened)
        }
        var state = ProjectionState()
        state.users["u-1"] = UserState(createdSeq: 1)
        state.users["u-1"]!.roles = ["clerk": 2, "auditor": 3]
        state.users["u-1"]!.direct = ["sales_order.edit": Grant(scope: .own, seq: 4)]
        state.roles["clerk"] = RoleState(grants: ["sales_order.view": Grant(scope: .department, seq: 5)])
        let touched = (users: ["u-1"], roles: ["clerk"])
        let before = AccessIntervals.Touched(users: touched.users, roles: touched.roles, in: state)

        state.users["u-1"]!.roles["auditor"] = nil                                  // ended
        state.users["u-1"]!.roles["approver"] = 9                                   // began
        state.users["u-1"]!.direct["sales_order.edit"] = Grant(scope: .all, seq: 9)  // changed
        state.roles["clerk"]!.setGrant("customer.view", Grant(scope: .all, seq: 9))   // began
        let after = AccessIntervals.Touched(users: touched.users, roles: touched.roles, in: state)
        let (closed, opened) = changes(AccessIntervals.Moment(seq: 9, before: before, after: after))
        #expect(closed == [key(.assignment, "auditor", "u-1"), key(.membership, "auditor", "u-1"), key(.direct, "sales_order.edit", "u-1")])
        #expect(
            opened == [
                key(.assignment, "approver", "u-1"), key(.membership, "approver", "u-1"), key(.direct, "sales_order.edit", "u-1"),
                key(.roleGrant, "clerk", "customer.view"), key(.grantingRole, "customer.view", "clerk"),
            ])
        #expect(AccessIntervals.Moment(seq: 10, before: after, after: after).changes.isEmpty)

        // Disabled: every fact of the user closes but the assignments; enabled again, they reopen.
        let active = AccessIntervals.Touched(users: touched.users, roles: [], in: state)
        state.users["u-1"]!.status = .disabled
        let disabled = AccessIntervals.Touched(users: touched.users, roles: [], in: state)
        let held = [key(.membership, "clerk", "u-1"), key(.membership, "approver", "u-1"), key(.direct, "sales_order.edit", "u-1")]
        let whenDisabled = changes(AccessIntervals.Moment(seq: 11, before: active, after: disabled))
        #expect(whenDisabled.closed == Set(held) && whenDisabled.opened.isEmpty)
        state.users["u-1"]!.status = .active
        let whenEnabled = changes(AccessIntervals.Moment(seq: 12, before: disabled, after: AccessIntervals.Touched(users: touched.users, roles: [], in: state)))
        #expect(whenEnabled.opened == Set(held) && whenEnabled.closed.isEmpty)

        // A role deleted (not live): all its grants close.
        let live = AccessIntervals.Touched(users: [], roles: ["clerk"], in: state)
        state.roles["clerk"]!.deletedSeq = 13
        let gone = changes(AccessIntervals.Moment(seq: 13, before: live, after: AccessIntervals.Touched(users: [], roles: ["clerk"], in: state)))
        #expect(
            gone.closed == [
                key(.roleGrant, "clerk", "sales_order.view"), key(.grantingRole, "sales_order.view", "clerk"),
                key(.roleGrant, "clerk", "customer.view"), key(.grantingRole, "customer.view", "clerk"),
            ] && gone.opened.isEmpty)
    }
}
