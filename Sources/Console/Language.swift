import Hummingbird
import Projector

/// The console's languages: English, and Simplified Chinese for the CRM's own people. Picked on any
/// page (remembered in a cookie), else from `Accept-Language`, else English.
enum Language: String, CaseIterable, Sendable {
    case en, zh

    var htmlLang: String { self == .en ? "en" : "zh-Hans" }

    /// Each language's name in itself, as a switch shows it.
    var name: String { self == .en ? "English" : "简体中文" }

    static func of(_ request: Request, choice: String?) -> Language {
        if let choice, let language = Language(rawValue: choice) { return language }
        if let saved = request.cookies["ledger_lang"].flatMap({ Language(rawValue: $0.value) }) { return saved }
        return fromAcceptLanguage(request.headers[.acceptLanguage])
    }

    /// The preferred of the two by `q` (RFC 9110): `zh-CN,zh;q=0.9,en;q=0.8` → Chinese.
    static func fromAcceptLanguage(_ header: String?) -> Language {
        guard let header else { return .en }
        var best: (Language, Double)?
        for item in header.split(separator: ",") {
            let parts = item.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard let tag = parts.first else { continue }
            let q = parts.dropFirst().first { $0.hasPrefix("q=") }.flatMap { Double($0.dropFirst(2)) } ?? 1
            let language: Language? = tag == "zh" || tag.hasPrefix("zh-") ? .zh : tag == "en" || tag.hasPrefix("en-") ? .en : nil
            if let language, q > 0, q > (best?.1 ?? 0) { best = (language, q) }
        }
        return best?.0 ?? .en
    }

    func text(_ key: Text) -> String {
        switch self {
        case .en: key.english
        case .zh: key.chinese
        }
    }
}

/// Every word the console shows, in both languages: a switch per language, so a missing
/// translation does not compile.
enum Text: Sendable {
    case skipToContent, navLabel, navHome, navEvents, navFindings, navIntegrity, language, timeZone, apply, signOut
    case signInTitle, signInExplain, token, signIn, signInUnknownToken, signInNoReadScope, signInTooMany
    case errorTitle, errorRequestId, backHome
    case homeTitle, searchLabel, search, searchHint, searchResults, nothingFound, actor, openFindings, noFindings, latestEvents, allInTimeline
    case integrityStatus, head, latestCheckpoint, lastVerification, noCheckpointYet, neverVerified, verifiedOK, verifyFailed, records, by, age, treeSize
    case eventsTitle, filter, clearFilters, newestFirst, momentHint, since, until, noEvents, nextPage, nothing, downloadCSV, downloadBundle
    case colSeq, colTime, colType, colSubject, colSubjectType, colSubjectId, colActor, colChanges, colReason, colField, colValue, colEvent
    case colKind, colCount, colPermission, colScope, colLevel, colRole, colUser, colChange, colName
    case via, failed, rows, previousRows, nextRows, allInCSV
    case eventTitle, recordedAt, beforeThisEvent, chainHash, inclusionProof, proofHolds, proofFails, checkpointOf, proofPath, notYetCheckpointed, recordAsStored
    case asOf, show, now, currentState, setBy, fieldHistory, historyTitle, noSuchRecordThen, deletedRecord, onlyField, allFields
    case userTitle, status, lastReview, effectivePermissions, grantedThrough, adminLevels, roles, grantedBy, assignedBy, noSuchUserThen
    case compareTitle, from, to, compare, changesBetween, noAccessChanges, gained, lost, changedScope, causes, whatTheyDid, doneToThem
    case throughRole, directly, asAdmin
    case permissionTitle, holders, holdersCount, noHolders
    case roleTitle, grants, members, noSuchRoleThen
    case findingsTitle, allKinds, evidence
    case finding(Finding.Kind)
    case integrityTitle, verifyNow, verifyNowHint, verifyNeedsAdmin, verifierKey, downloadKey, checkpoints, signedAt, downloadNote
    case offlineCheck, offlineCheckExplain, offlineBundleExplain

    var english: String {
        switch self {
        case .skipToContent: "Skip to content"
        case .navLabel: "Main"
        case .navHome: "Home"
        case .navEvents: "Events"
        case .navFindings: "Findings"
        case .navIntegrity: "Integrity"
        case .language: "Language"
        case .timeZone: "Time zone"
        case .apply: "Apply"
        case .signOut: "Sign out"
        case .signInTitle: "Sign in to AuditLedger"
        case .signInExplain: "Use a token with the read or admin scope. The token is checked once; the browser keeps only a session cookie."
        case .token: "Token"
        case .signIn: "Sign in"
        case .signInUnknownToken: "That token is not valid."
        case .signInNoReadScope: "That token may not read the ledger (it has no read or admin scope)."
        case .signInTooMany: "Too many failed attempts from this address. Wait a minute and try again."
        case .errorTitle: "That did not work"
        case .errorRequestId: "The server log has the cause under request id"
        case .backHome: "Back to the home page"
        case .homeTitle: "The ledger at a glance"
        case .searchLabel: "Find a user, a sales order or any record, a permission, a role or an event"
        case .search: "Search"
        case .searchHint: "An id (u-wang, SO-1001), a permission (sales_order.approve), type/id (sales_order/SO-1001) or an event number."
        case .searchResults: "Search:"
        case .nothingFound: "Nothing in the ledger matches."
        case .actor: "actor"
        case .openFindings: "Findings by kind"
        case .noFindings: "No findings."
        case .latestEvents: "Latest events"
        case .allInTimeline: "All of them in the timeline"
        case .integrityStatus: "Integrity"
        case .head: "Head (last event)"
        case .latestCheckpoint: "Latest signed checkpoint"
        case .lastVerification: "Last verification"
        case .noCheckpointYet: "None signed yet."
        case .neverVerified: "Not verified since the daemon started."
        case .verifiedOK: "Intact"
        case .verifyFailed: "FAILED"
        case .records: "records"
        case .by: "by"
        case .age: "age"
        case .treeSize: "Tree size"
        case .eventsTitle: "Events"
        case .filter: "Filter"
        case .clearFilters: "Clear"
        case .newestFirst: "Newest first"
        case .momentHint: "Moments: a day (2026-03-06, its end), a time (2026-03-06 09:30), RFC 3339 or seq:N. Times are in"
        case .since: "Since"
        case .until: "Until"
        case .noEvents: "No events."
        case .nextPage: "Older →"
        case .nothing: "Nothing."
        case .downloadCSV: "Download CSV"
        case .downloadBundle: "Download evidence bundle (records, inclusion proofs, signed checkpoint)"
        case .colSeq: "Event"
        case .colTime: "When"
        case .colType: "Type"
        case .colSubject: "Subject"
        case .colSubjectType: "Subject type"
        case .colSubjectId: "Subject id"
        case .colActor: "Actor"
        case .colChanges: "Changes"
        case .colReason: "Reason"
        case .colField: "Field"
        case .colValue: "Value"
        case .colEvent: "Event"
        case .colKind: "Kind"
        case .colCount: "Count"
        case .colPermission: "Permission"
        case .colScope: "Scope"
        case .colLevel: "Level"
        case .colRole: "Role"
        case .colUser: "User"
        case .colChange: "Change"
        case .colName: "Name"
        case .via: "via"
        case .rows: "Rows"
        case .previousRows: "← previous rows"
        case .nextRows: "next rows →"
        case .allInCSV: "The CSV download has every row."
        case .failed: "failed"
        case .eventTitle: "Event"
        case .recordedAt: "Recorded at"
        case .beforeThisEvent: "the record just before this event"
        case .chainHash: "Chain hash"
        case .inclusionProof: "Inclusion proof"
        case .proofHolds: "Proven: the record is in the tree signed by the checkpoint of size"
        case .proofFails: "The proof does NOT hold against the checkpoint of size"
        case .checkpointOf: "signed"
        case .proofPath: "Proof hashes"
        case .notYetCheckpointed: "Newer than the latest checkpoint: the next one (within a minute) will cover it."
        case .recordAsStored: "The record as stored (these bytes are hashed)"
        case .asOf: "As of"
        case .show: "Show"
        case .now: "now"
        case .currentState: "Fields"
        case .setBy: "Set by"
        case .fieldHistory: "its history"
        case .historyTitle: "History"
        case .noSuchRecordThen: "The ledger held no such record at that moment."
        case .deletedRecord: "The record was deleted."
        case .onlyField: "Only changes of"
        case .allFields: "all fields"
        case .userTitle: "User"
        case .status: "Status"
        case .lastReview: "Last access review"
        case .effectivePermissions: "Effective permissions and every path that grants them"
        case .grantedThrough: "Granted through"
        case .adminLevels: "Admin levels"
        case .roles: "Roles"
        case .grantedBy: "Granted by"
        case .assignedBy: "Assigned by"
        case .noSuchUserThen: "The ledger held no such user at that moment."
        case .compareTitle: "Compare two moments"
        case .from: "From"
        case .to: "To"
        case .compare: "Compare"
        case .changesBetween: "Gained and lost between"
        case .noAccessChanges: "No access gained or lost in between."
        case .gained: "gained"
        case .lost: "lost"
        case .changedScope: "scope changed"
        case .causes: "Through events"
        case .whatTheyDid: "What they did (as actor), newest first"
        case .doneToThem: "What was done to them, newest first"
        case .throughRole: "role"
        case .directly: "granted directly"
        case .asAdmin: "as admin"
        case .permissionTitle: "Permission"
        case .holders: "Holders"
        case .holdersCount: "holders"
        case .noHolders: "Nobody holds it."
        case .roleTitle: "Role"
        case .grants: "Permissions granted to the role"
        case .members: "Members"
        case .noSuchRoleThen: "The ledger held no such role at that moment."
        case .findingsTitle: "Findings"
        case .allKinds: "All kinds"
        case .evidence: "Evidence"
        case .finding(let kind):
            switch kind {
            case .unauthorizedChange: "Change by someone not allowed to make it"
            case .adminGrantedByNonSuperAdmin: "Admin rights granted by someone who is not a super admin"
            case .selfGrant: "Access granted to oneself"
            case .selfApproval: "Request approved by its requester"
            case .inactiveActor: "Action by an inactive user"
            case .lastSuperAdminRemoved: "Last super admin removed"
            case .stateMismatch: "Edit whose old value the ledger never saw"
            case .grantWithoutApproval: "Grant without an approved request"
            case .sodConflict: "Duties that must stay apart held together"
            case .moduleWithoutAdmin: "Module left without an admin"
            case .staleAccess: "Roles kept after a department change"
            }
        case .integrityTitle: "Integrity"
        case .verifyNow: "Verify now"
        case .verifyNowHint: "Rechecks the hash chain, the Merkle tree, every checkpoint signature and the indexes."
        case .verifyNeedsAdmin: "Verifying from here needs a token with the admin scope."
        case .verifierKey: "Verifier key"
        case .downloadKey: "Download the verifier key"
        case .checkpoints: "Latest signed checkpoints"
        case .signedAt: "Signed at"
        case .downloadNote: "Download note"
        case .offlineCheck: "Check the ledger offline"
        case .offlineCheckExplain: "With the verifier key you hold (compare it with the one above), an auditor checks every record without ledger code:"
        case .offlineBundleExplain: "An evidence bundle downloaded from any view of events is checked the same way:"
        }
    }

    var chinese: String {
        switch self {
        case .skipToContent: "跳到正文"
        case .navLabel: "主导航"
        case .navHome: "首页"
        case .navEvents: "事件"
        case .navFindings: "违规发现"
        case .navIntegrity: "完整性"
        case .language: "语言"
        case .timeZone: "时区"
        case .apply: "应用"
        case .signOut: "退出"
        case .signInTitle: "登录 AuditLedger"
        case .signInExplain: "请使用具有 read 或 admin 权限范围的令牌。令牌只校验一次；浏览器只保存会话 Cookie。"
        case .token: "令牌"
        case .signIn: "登录"
        case .signInUnknownToken: "该令牌无效。"
        case .signInNoReadScope: "该令牌无权读取账本（没有 read 或 admin 权限范围）。"
        case .signInTooMany: "此地址登录失败次数过多，请一分钟后再试。"
        case .errorTitle: "操作未成功"
        case .errorRequestId: "服务器日志中记录了原因，请求编号"
        case .backHome: "返回首页"
        case .homeTitle: "账本概览"
        case .searchLabel: "查找用户、销售订单或任何记录、权限、角色或事件"
        case .search: "搜索"
        case .searchHint: "输入编号（u-wang、SO-1001）、权限（sales_order.approve）、类型/编号（sales_order/SO-1001）或事件序号。"
        case .searchResults: "搜索："
        case .nothingFound: "账本中没有匹配项。"
        case .actor: "操作人"
        case .openFindings: "按类型统计的违规发现"
        case .noFindings: "没有违规发现。"
        case .latestEvents: "最新事件"
        case .allInTimeline: "在时间线中查看全部"
        case .integrityStatus: "完整性"
        case .head: "最新事件"
        case .latestCheckpoint: "最新签名检查点"
        case .lastVerification: "最近一次校验"
        case .noCheckpointYet: "尚未签名任何检查点。"
        case .neverVerified: "守护进程启动以来尚未校验。"
        case .verifiedOK: "完好"
        case .verifyFailed: "校验失败"
        case .records: "条记录"
        case .by: "执行者"
        case .age: "距今"
        case .treeSize: "树大小"
        case .eventsTitle: "事件"
        case .filter: "筛选"
        case .clearFilters: "清除"
        case .newestFirst: "最新的在前"
        case .momentHint: "时间可写为：日期（2026-03-06，指当天结束时）、时间（2026-03-06 09:30）、RFC 3339 或 seq:N。时区："
        case .since: "起始"
        case .until: "截止"
        case .noEvents: "没有事件。"
        case .nextPage: "更早 →"
        case .nothing: "无。"
        case .downloadCSV: "下载 CSV"
        case .downloadBundle: "下载证据包（记录、包含证明、签名检查点）"
        case .colSeq: "事件"
        case .colTime: "时间"
        case .colType: "类型"
        case .colSubject: "对象"
        case .colSubjectType: "对象类型"
        case .colSubjectId: "对象编号"
        case .colActor: "操作人"
        case .colChanges: "变更"
        case .colReason: "原因"
        case .colField: "字段"
        case .colValue: "值"
        case .colEvent: "事件"
        case .colKind: "类型"
        case .colCount: "数量"
        case .colPermission: "权限"
        case .colScope: "范围"
        case .colLevel: "级别"
        case .colRole: "角色"
        case .colUser: "用户"
        case .colChange: "变化"
        case .colName: "名称"
        case .via: "通过"
        case .rows: "行"
        case .previousRows: "← 上一页"
        case .nextRows: "下一页 →"
        case .allInCSV: "下载 CSV 可获得全部行。"
        case .failed: "失败"
        case .eventTitle: "事件"
        case .recordedAt: "记录时间"
        case .beforeThisEvent: "此事件之前的记录"
        case .chainHash: "链哈希"
        case .inclusionProof: "包含证明"
        case .proofHolds: "已证明：该记录包含在检查点签名的树中，树大小"
        case .proofFails: "证明与检查点不符！树大小"
        case .checkpointOf: "签名于"
        case .proofPath: "证明哈希"
        case .notYetCheckpointed: "晚于最新检查点：下一个检查点（一分钟内）将覆盖它。"
        case .recordAsStored: "存储的原始记录（对这些字节计算哈希）"
        case .asOf: "截至"
        case .show: "显示"
        case .now: "当前"
        case .currentState: "字段"
        case .setBy: "设置人"
        case .fieldHistory: "该字段的历史"
        case .historyTitle: "历史"
        case .noSuchRecordThen: "该时刻账本中没有此记录。"
        case .deletedRecord: "该记录已删除。"
        case .onlyField: "仅显示字段"
        case .allFields: "全部字段"
        case .userTitle: "用户"
        case .status: "状态"
        case .lastReview: "最近一次权限复核"
        case .effectivePermissions: "有效权限及授予它们的每条路径"
        case .grantedThrough: "授予途径"
        case .adminLevels: "管理员级别"
        case .roles: "角色"
        case .grantedBy: "授予人"
        case .assignedBy: "分配人"
        case .noSuchUserThen: "该时刻账本中没有此用户。"
        case .compareTitle: "比较两个时刻"
        case .from: "从"
        case .to: "到"
        case .compare: "比较"
        case .changesBetween: "期间获得和失去的权限"
        case .noAccessChanges: "期间没有获得或失去任何权限。"
        case .gained: "获得"
        case .lost: "失去"
        case .changedScope: "范围变化"
        case .causes: "相关事件"
        case .whatTheyDid: "其操作（作为操作人），最新的在前"
        case .doneToThem: "对其所做的操作，最新的在前"
        case .throughRole: "角色"
        case .directly: "直接授予"
        case .asAdmin: "管理员"
        case .permissionTitle: "权限"
        case .holders: "持有人"
        case .holdersCount: "位持有人"
        case .noHolders: "无人持有。"
        case .roleTitle: "角色"
        case .grants: "授予该角色的权限"
        case .members: "成员"
        case .noSuchRoleThen: "该时刻账本中没有此角色。"
        case .findingsTitle: "违规发现"
        case .allKinds: "全部类型"
        case .evidence: "证据"
        case .finding(let kind):
            switch kind {
            case .unauthorizedChange: "无权限者所做的变更"
            case .adminGrantedByNonSuperAdmin: "非超级管理员授予了管理员权限"
            case .selfGrant: "给自己授予权限"
            case .selfApproval: "申请人自己批准了申请"
            case .inactiveActor: "非活跃用户的操作"
            case .lastSuperAdminRemoved: "移除了最后一位超级管理员"
            case .stateMismatch: "编辑的旧值与账本记录不符"
            case .grantWithoutApproval: "未经批准申请的授权"
            case .sodConflict: "同时持有必须分离的职责"
            case .moduleWithoutAdmin: "模块失去了管理员"
            case .staleAccess: "部门变更后仍保留原角色"
            }
        case .integrityTitle: "完整性"
        case .verifyNow: "立即校验"
        case .verifyNowHint: "重新校验哈希链、默克尔树、每个检查点签名和索引。"
        case .verifyNeedsAdmin: "在此校验需要具有 admin 权限范围的令牌。"
        case .verifierKey: "验证公钥"
        case .downloadKey: "下载验证公钥"
        case .checkpoints: "最新的签名检查点"
        case .signedAt: "签名时间"
        case .downloadNote: "下载签名文件"
        case .offlineCheck: "离线校验账本"
        case .offlineCheckExplain: "审计人员使用自己持有的验证公钥（请与上面的比对），无需账本代码即可校验每条记录："
        case .offlineBundleExplain: "从任何事件视图下载的证据包也用同样方式校验："
        }
    }
}
