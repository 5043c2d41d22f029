import EventModel
import Projector
import Testing

/// A stored value is its canonical JSON's length (a varint) and then the JSON, whatever its length.
@Suite struct StoredFormTests {
    static func value(bytes: Int) -> JSONValue {
        .object([JSONMember("n", .number("1.50")), JSONMember("text", .string(String(repeating: "é", count: bytes / 2)))])
    }

    @Test(arguments: [0, 10, 120, 125, 126, 127, 128, 200, 16_370, 16_380, 16_400, 70_000])
    func aValueIsItsLengthThenItsCanonicalJSON(size: Int) throws {
        let value = Self.value(bytes: size)
        var writer = ByteWriter()
        writer.write("before")
        writer.write(value)
        writer.write(UInt64(7))

        let json = CanonicalJSON.encode(value)
        var expected = ByteWriter()
        expected.write("before")
        expected.write(json.count)
        var bytes = expected.bytes + json
        var seven = ByteWriter()
        seven.write(UInt64(7))
        bytes += seven.bytes
        #expect(writer.bytes == bytes)

        try writer.bytes.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) throws in
            var reader = ByteReader(buffer)
            #expect(try reader.string() == "before")
            #expect(try reader.json() == value)
            #expect(try reader.uint64() == 7)
            #expect(reader.isAtEnd)
        }
    }
}
