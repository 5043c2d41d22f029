// swift-tools-version:6.1
import PackageDescription

/// Dependencies point one way: executables → HTTP → queries → projector → event log → LMDB layer → C shim
/// (and the log → the zstd layer → its C shim);
/// the log also stands on the event model and on Transparency (Merkle trees, signed notes, the chain hash,
/// with SHA-256 from libcrypto's C shim).
/// Nothing below knows what stands above it.
let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "AuditLedger",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "EventLog", targets: ["EventLog"]),
        .executable(name: "ledgerd", targets: ["ledgerd"]),
        .executable(name: "ledgerctl", targets: ["ledgerctl"]),
        .executable(name: "ledger-bench", targets: ["ledger-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-configuration.git", from: "1.4.0", traits: [.defaults, "YAML"]),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams.git", "5.4.0"..<"7.0.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
    ],
    targets: [
        // The C library from Debian's liblmdb-dev.
        .systemLibrary(
            name: "CLMDB",
            pkgConfig: "lmdb",
            providers: [.apt(["liblmdb-dev"])]
        ),
        // The C library from Debian's libzstd-dev: records compressed under dictionaries trained on the ledger.
        .systemLibrary(
            name: "CZstd",
            pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"])]
        ),
        // SHA-256 from Debian's libssl-dev, on stack contexts: the log's chain and Merkle hashes, three per record.
        .systemLibrary(
            name: "CLibcrypto",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),
        // The daemon's allocator, Debian's libjemalloc-dev, with its compiled-in options (malloc_conf.c).
        // Linked into ledgerd (and ledger-bench, to measure what the daemon runs): it replaces glibc's malloc for the whole process.
        .target(name: "CJemalloc", linkerSettings: [.linkedLibrary("jemalloc")]),
        // A small safe layer over zstd: trained dictionaries, compression and decompression contexts. Knows no events.
        .target(name: "Zstd", dependencies: ["CZstd"], swiftSettings: strict),
        // A small safe layer over LMDB: environment, scoped transactions, cursors, errors. Knows no events.
        .target(name: "LMDB", dependencies: ["CLMDB"], swiftSettings: strict),
        // The envelope of spec 3.1, its validation, the catalog of 3.3 and the canonical record of 3.2.
        .target(
            name: "EventModel",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            // Release builds make its functions inlinable where others call them: the fold and the stored
            // forms call its byte coding, JSON values and UTF-8 helpers at every event (a rebuild's CPU fell
            // about 3%, BENCHMARKS.md). LMDB's layer crashes the compiler with this flag (Swift 6.3.1).
            // Values may end at their last use rather than their scope's end (no lexical lifetimes), as
            // for the projector below: nothing here ties an object's lifetime to a pointer's.
            swiftSettings: strict + [.unsafeFlags(["-cross-module-optimization", "-Xfrontend", "-enable-lexical-lifetimes=false"], .when(configuration: .release))]
        ),
        // RFC 6962 Merkle trees and proofs, C2SP signed notes and checkpoints: what an auditor needs without the log.
        .target(
            name: "Transparency",
            dependencies: ["EventModel", "CLibcrypto", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict
        ),
        // The append-only hash-chained log: group-commit writer, derived indexes, reads, verification.
        .target(
            name: "EventLog",
            dependencies: [
                "LMDB", "Zstd", "EventModel", "Transparency",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
        // Folds the log into users, roles, grants, admin levels, requests and records, with lineage and findings.
        .target(
            name: "Projector",
            dependencies: [
                "EventLog", "EventModel", "LMDB", .product(name: "Logging", package: "swift-log"), .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            // Release builds leave out the run-time exclusivity checks of the entity cache's class storage,
            // touched on every look-up of a fold: the follower's CPU fell about 5% in a rebuild
            // (BENCHMARKS.md). Debug builds, which every test runs, keep checking. They also let a value
            // end at its last use rather than at its scope's end (no lexical lifetimes), which drops
            // retains and releases the fold paid at every event: the follower's CPU fell 4–7%. Its
            // pointers into LMDB and into buffers live inside closures that keep their owner alive.
            swiftSettings: strict + [.unsafeFlags(["-enforce-exclusivity=unchecked", "-Xfrontend", "-enable-lexical-lifetimes=false"], .when(configuration: .release))]
        ),
        // What compliance officers ask: history, state as of, activity, access, holders, roles, findings.
        .target(
            name: "Queries",
            dependencies: ["Projector", "EventLog", "EventModel", "Transparency", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict),
        // Delivery to a SIEM: the sinks file, syslog (RFC 5424/6587, TLS) and signed webhooks, a cursor per
        // route in LMDB, alerts on findings. Reads the log and the projection; knows no HTTP routes.
        .target(
            name: "Delivery",
            dependencies: [
                "Projector", "EventLog", "EventModel", "LMDB",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strict
        ),
        // The HTTP API of spec 5: routes, bearer tokens with scopes, errors that render themselves.
        .target(
            name: "LedgerHTTP",
            dependencies: [
                "Queries", "Projector", "EventLog", "EventModel", "Transparency",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
        // The web console of compliance officers under /ui/: server-rendered pages over the same queries,
        // escaped by construction, sessions opened with a read or admin token, English and Chinese.
        .target(
            name: "Console",
            dependencies: [
                "LedgerHTTP", "Queries", "Projector", "EventLog", "EventModel", "Transparency",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // The daemon's runtime and the one composition root (buildApplication): configuration, first-start
        // tokens, the service group, systemd notification, and the router answering in-process for ledgerctl.
        .target(
            name: "LedgerDaemon",
            dependencies: [
                "LedgerHTTP", "Console", "Delivery", "Queries", "Projector", "EventLog", "EventModel", "Transparency",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // The daemon's entry point: flags and configuration into buildApplication. Thin: the work is in LedgerDaemon.
        .executableTarget(
            name: "ledgerd",
            dependencies: [
                "LedgerDaemon", "EventLog", "CJemalloc",
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
        // A deterministic generator of realistic CRM ledgers and the demo story: for tests, benchmarks and newcomers.
        .target(name: "Workload", dependencies: ["EventModel"], swiftSettings: strict),
        // The command line: the daemon over HTTP, or a data directory read-only. Thin: rendering only.
        .executableTarget(
            name: "ledgerctl",
            dependencies: [
                "LedgerDaemon", "LedgerHTTP", "Queries", "Projector", "EventLog", "EventModel", "Transparency", "Workload",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // `make bench`: the log against raw LMDB on the generated workload; and the floor of HTTP in Swift.
        .executableTarget(
            name: "ledger-bench",
            dependencies: [
                "CJemalloc", "EventLog", "EventModel", "LMDB", "CLMDB", "Projector", "Queries", "Transparency", "Workload", "Zstd",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // A child process for the crash test: appends in a loop and prints each acknowledged seq.
        .executableTarget(
            name: "ledger-crash-child",
            dependencies: ["EventLog", "EventModel", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        // Scratch directories that the tests remove when they finish.
        .target(name: "TestSupport", path: "Tests/TestSupport", swiftSettings: strict),
        .testTarget(name: "LMDBTests", dependencies: ["LMDB", "CLMDB", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "EventModelTests", dependencies: ["EventModel"], swiftSettings: strict),
        .testTarget(
            name: "TransparencyTests",
            dependencies: ["Transparency", "EventModel", "TestSupport", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "LedgerdTests",
            dependencies: ["LedgerDaemon", "Delivery", "TestSupport",
                "ledgerd", "ledgerctl", "EventLog", "EventModel", "LMDB", "CLMDB", "Transparency", "Projector", "Workload",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "LedgerHTTPTests",
            dependencies: ["LedgerDaemon", "Console", "TestSupport", "Workload",
                "LedgerHTTP", "Queries", "Projector", "EventLog", "EventModel", "Transparency",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ProjectorTests",
            dependencies: ["TestSupport", "Projector", "Queries", "EventLog", "EventModel", "LMDB", "Workload", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "EventLogTests",
            dependencies: ["TestSupport", 
                "EventLog", "EventModel", "LMDB", "CLMDB", "Transparency", "ledger-crash-child",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
    ]
)
