import EventModel
@testable import Projector
import Testing

/// The pieces that make the fold's look-ups cheap must not change what it answers: a user's parts
/// shared in one box, the tables' own hash of an id, and the memo of what a user holds of the rules'
/// permissions.
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
        state.setRole("clerk", RoleState(grants: ["sales_order.view": Grant(scope: .department, seq: 5)]))
        let touched = (users: ["u-1"], roles: ["clerk"])
        let before = AccessIntervals.Touched(users: touched.users, roles: touched.roles, in: state)

        state.users["u-1"]!.roles["auditor"] = nil                                  // ended
        state.users["u-1"]!.roles["approver"] = 9                                   // began
        state.users["u-1"]!.direct["sales_order.edit"] = Grant(scope: .all, seq: 9)  // changed
        var clerk = state.roles["clerk"]!
        clerk.setGrant("customer.view", Grant(scope: .all, seq: 9))                  // began
        state.setRole("clerk", clerk)
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
        clerk.deletedSeq = 13
        state.setRole("clerk", clerk)
        let gone = changes(AccessIntervals.Moment(seq: 13, before: live, after: AccessIntervals.Touched(users: [], roles: ["clerk"], in: state)))
        #expect(
            gone.closed == [
                key(.roleGrant, "clerk", "sales_order.view"), key(.grantingRole, "sales_order.view", "clerk"),
                key(.roleGrant, "clerk", "customer.view"), key(.grantingRole, "customer.view", "clerk"),
            ] && gone.opened.isEmpty)
    }

    /// Every way what u-li may do can change, each asked right after the memo was made: the
    /// answer is the rule's, never the memo's.
    @Test func theMemoOfWhatAUserHoldsIsAskedAgainAfterEveryChange() {
        var ledger = Events()
        var state = ProjectionState()
        var findings: [Finding] = []
        /// Whether u-li's edit of their order is an unauthorized change.
        func edit(_ state: inout ProjectionState) -> Bool {
            findings = []
            state.apply(ledger.event("sales_order.updated", "sales_order", "SO-1", actor: "u-li", changes: #"[{"field":"amount","new":2}]"#), policy: Policy(), findings: &findings)
            return findings.contains { $0.kind == .unauthorizedChange }
        }
        func fold(_ type: String, _ subject: String, _ id: String, data: String? = nil, changes: String? = nil) {
            state.apply(ledger.event(type, subject, id, data: data, changes: changes), policy: Policy(), findings: &findings)
        }
        fold("user.created", "user", "u-root")
        fold("user.admin_granted", "user", "u-root", data: #"{"level":"super_admin"}"#)
        fold("role.created", "role", "rep")
        fold("role.permission_granted", "role", "rep", data: #"{"permission":"sales_order.edit","scope":"own"}"#)
        fold("user.created", "user", "u-li")
        fold("user.role_assigned", "user", "u-li", data: #"{"role":"rep"}"#)
        state.apply(ledger.event("sales_order.created", "sales_order", "SO-1", actor: "u-li", changes: #"[{"field":"owner","new":"u-li"}]"#), policy: Policy(), findings: &findings)
        #expect(edit(&state) == false)

        // A copy shares u-li's box and memo; the copy's roles change, the original's do not.
        var copy = state
        copy.apply(ledger.event("role.permission_revoked", "role", "rep", data: #"{"permission":"sales_order.edit"}"#), policy: Policy(), findings: &findings)
        #expect(edit(&copy) == true)
        #expect(edit(&state) == false)

        // A grant of another permission leaves the memo; of a rule's permission, or the role gone, does not.
        fold("role.permission_granted", "role", "rep", data: #"{"permission":"customer.view","scope":"all"}"#)
        #expect(edit(&state) == false)
        fold("role.permission_granted", "role", "rep", data: #"{"permission":"sales_order.edit","scope":"department"}"#)
        fold("role.permission_revoked", "role", "rep", data: #"{"permission":"sales_order.edit"}"#)
        #expect(edit(&state) == true)
        fold("role.permission_granted", "role", "rep", data: #"{"permission":"sales_order.edit","scope":"own"}"#)
        #expect(edit(&state) == false)
        fold("role.deleted", "role", "rep")
        #expect(edit(&state) == true)
        fold("role.created", "role", "rep")
        fold("role.permission_granted", "role", "rep", data: #"{"permission":"sales_order.edit","scope":"own"}"#)
        #expect(edit(&state) == true)  // deleting the role took u-li out of it
        fold("user.role_assigned", "user", "u-li", data: #"{"role":"rep"}"#)
        #expect(edit(&state) == false)

        // The user's own changes: the role taken away, a direct grant, an admin level, the status.
        fold("user.role_revoked", "user", "u-li", data: #"{"role":"rep"}"#)
        #expect(edit(&state) == true)
        fold("user.permission_granted", "user", "u-li", data: #"{"permission":"sales_order.edit","scope":"own"}"#)
        #expect(edit(&state) == false)
        fold("user.permission_revoked", "user", "u-li", data: #"{"permission":"sales_order.edit"}"#)
        #expect(edit(&state) == true)
        fold("user.admin_granted", "user", "u-li", data: #"{"level":"module_admin","module":"sales_order"}"#)
        #expect(edit(&state) == false)
        fold("user.disabled", "user", "u-li")
        #expect(edit(&state) == true)
        fold("user.enabled", "user", "u-li")
        #expect(edit(&state) == false)

        // Roles laid over by a read-only projector's tail, and put in place by an as-of replay.
        fold("user.admin_revoked", "user", "u-li", data: #"{"level":"module_admin","module":"sales_order"}"#)
        fold("user.role_assigned", "user", "u-li", data: #"{"role":"rep"}"#)
        var tail = state
        tail.apply(ledger.event("role.permission_revoked", "role", "rep", data: #"{"permission":"sales_order.edit"}"#))
        #expect(edit(&state) == false)
        state.overlay(tail)
        #expect(edit(&state) == true)
        fold("role.permission_granted", "role", "rep", data: #"{"permission":"sales_order.edit","scope":"own"}"#)
        #expect(edit(&state) == false)
        state.setRole("rep", RoleState(grants: ["sales_order.view": Grant(scope: .all, seq: 1)]))
        #expect(edit(&state) == true)

        // Each of the six permissions keeps its own scope in the memo.
        var scopes = RuleScopes()
        for (i, permission) in RulePermission.allCases.enumerated() { scopes[permission] = [nil, .own, .department, .all][i % 4] }
        #expect(RulePermission.allCases.enumerated().allSatisfy { scopes[$1] == [nil, .own, .department, .all][$0 % 4] })
        scopes[.salesOrderApprove] = nil
        #expect(scopes[.salesOrderApprove] == nil && scopes[.salesOrderEdit] == .all && scopes[.userManage] == nil)
        #expect(RulePermission.allCases.allSatisfy { RulePermission(name: $0.name) == $0 } && RulePermission(name: "customer.view") == nil)
    }

    /// Stored events with consecutive seqs, for a fold in memory.
    struct Events {
        var seq: UInt64 = 0

        mutating func event(
            _ type: String, _ subjectType: String, _ id: String, actor: String = "u-root", data: String? = nil, changes: String? = nil
        ) -> StoredEvent {
            seq += 1
            var json = #"{"seq":\#(seq),"recordedAt":"2026-03-01T00:00:00Z","id":"e\#(seq)","type":"\#(type)","time":"2026-03-01T00:00:00Z","actor":{"id":"\#(actor)"},"subject":{"type":"\#(subjectType)","id":"\#(id)"},"outcome":"success""#
            if let changes { json += #","changes":\#(changes)"# }
            if let data { json += #","data":\#(data)"# }
            return try! StoredEvent.decode(Array((json + "}").utf8))
        }
    }
}
