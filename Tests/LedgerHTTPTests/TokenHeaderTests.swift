@testable import LedgerHTTP
import Testing

/// The `Authorization` header read in place gives what reading it as `Character`s gave: the scheme
/// in any case, then spaces, then the token, hashed as it was sent.
@Suite struct TokenHeaderTests {
    static let registry = try! TokenRegistry(
        TokenStore(
            contents: [
                TokenStore.line(name: "crm", scopes: [.ingest], token: "s3cret-Token_1"),
                TokenStore.line(name: "umlaut", scopes: [.read], token: "tök"),
                TokenStore.line(name: "trailing", scopes: [.read], token: "abc "),
            ].joined(separator: "\n")))

    /// The reading by `Character`s, which non-ASCII headers still take: the reference.
    static func byCharacters(_ header: String) -> TokenStore.Entry? { TokenRegistry.entry(nonASCII: header, in: registry.store) }

    @Test(arguments: [
        "Bearer s3cret-Token_1", "bearer s3cret-Token_1", "BEARER    s3cret-Token_1", "bEaReR s3cret-Token_1",
        "Bearer tök", "Bearer  abc ", "Bearer abc",
        "Bearer\ts3cret-Token_1", "Bearers3cret-Token_1", "Basic s3cret-Token_1", "Bearer", "Bearer ", "Bearer s3cret-Token_2",
        "Bearer s3cret-Token_1 ", " Bearer s3cret-Token_1", "Bearér s3cret-Token_1", "Bearer \u{301}s3cret-Token_1",
        "Bearer s3cret-Token_1\u{301}", "", "Rearer s3cret-Token_1", "Bearer s3cret-token_1",
    ])
    func aHeaderNamesTheSameCallerAsBefore(_ header: String) {
        #expect(Self.registry.entry(authorization: header)?.name == Self.byCharacters(header)?.name)
    }

    @Test func theTokensThatMatchAreTheOnesListed() {
        #expect(Self.registry.entry(authorization: "bearer s3cret-Token_1")?.name == "crm")
        #expect(Self.registry.entry(authorization: "Bearer tök")?.name == "umlaut")
        #expect(Self.registry.entry(authorization: "Bearer   abc ")?.name == "trailing")
        #expect(Self.registry.entry(authorization: "Bearer abc") == nil)
        #expect(Self.registry.entry(authorization: nil) == nil)
    }
}
