import Foundation
import Hummingbird
import LedgerHTTP
import Testing
import Yams

/// openapi.yaml describes exactly the routes the server registers: none missing, none extra.
@Suite struct OpenAPITests {
    @Test func theDocumentAndTheRouterAgree() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../openapi.yaml").standardized
        let document = try #require(try Yams.load(yaml: String(contentsOf: path, encoding: .utf8)) as? [String: Any])
        #expect((document["openapi"] as? String)?.hasPrefix("3.1") == true)
        let paths = try #require(document["paths"] as? [String: Any])
        var documented = Set<String>()
        for (path, operations) in paths {
            for method in (operations as? [String: Any] ?? [:]).keys where ["get", "post", "put", "delete", "patch"].contains(method) {
                documented.insert("\(method.uppercased()) \(path)")
            }
        }

        let server = try Server()
        let router = Router(context: LedgerRequestContext.self)
        server.api.addRoutes(to: router)
        let registered = Set(router.routes.map { route in
            // Hummingbird writes parameters as :name, OpenAPI as {name}.
            let path = route.path.description.split(separator: "/").map { $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0) }
            return "\(route.method.rawValue) /" + path.joined(separator: "/")
        })
        #expect(registered.subtracting(documented).isEmpty, "registered but not documented: \(registered.subtracting(documented).sorted())")
        #expect(documented.subtracting(registered).isEmpty, "documented but not registered: \(documented.subtracting(registered).sorted())")
        #expect(registered.count == 28)
    }
}
