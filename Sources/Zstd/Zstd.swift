import CZstd

/// A failure of the zstd library, with its own error name.
public struct ZstdError: Error, CustomStringConvertible, Sendable {
    public enum Code: Sendable { case training, compression, decompression, dictionary }
    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "zstd \(code): \(message)" }

    static func check(_ result: Int, _ code: Code, _ operation: String) throws(ZstdError) -> Int {
        guard ZSTD_isError(result) == 0 else {
            throw ZstdError(code, "\(operation): \(String(cString: ZSTD_getErrorName(result)))")
        }
        return result
    }
}

/// A dictionary trained on samples of the data it will compress, digested once for decompression.
/// Immutable after init, so one instance serves every thread. Only a compressor digests it for
/// compression (`ZstdCompressor`), which takes far more memory: readers never pay for that.
public final class ZstdDictionary: @unchecked Sendable {
    public let bytes: [UInt8]
    fileprivate let decompression: OpaquePointer

    public init(bytes: [UInt8]) throws(ZstdError) {
        guard let decompression = bytes.withUnsafeBytes({ ZSTD_createDDict($0.baseAddress, $0.count) }) else {
            throw ZstdError(.dictionary, "a dictionary of \(bytes.count) bytes could not be loaded")
        }
        self.bytes = bytes
        self.decompression = decompression
    }

    deinit { ZSTD_freeDDict(decompression) }

    /// Trains a dictionary of at most `capacity` bytes on the samples (ZDICT's default trainer).
    /// Fails when the samples are too few or too alike to teach anything.
    public static func train(samples: [[UInt8]], capacity: Int) throws(ZstdError) -> [UInt8] {
        var joined: [UInt8] = []
        joined.reserveCapacity(samples.reduce(0) { $0 + $1.count })
        for sample in samples { joined.append(contentsOf: sample) }
        let sizes = samples.map(\.count)
        var dictionary = [UInt8](repeating: 0, count: capacity)
        let size = dictionary.withUnsafeMutableBytes { out in
            joined.withUnsafeBytes { input in
                ZDICT_trainFromBuffer(out.baseAddress, out.count, input.baseAddress, sizes, UInt32(sizes.count))
            }
        }
        guard ZDICT_isError(size) == 0 else {
            throw ZstdError(.training, "\(samples.count) samples: \(String(cString: ZDICT_getErrorName(size)))")
        }
        return Array(dictionary.prefix(size))
    }
}

/// Compresses one buffer at a time into magicless frames (the caller records that they are frames).
/// Holds a zstd context: one thread at a time.
public final class ZstdCompressor {
    private let context: OpaquePointer
    private let level: Int32
    private var output: [UInt8] = []
    /// The dictionary it compresses with, digested for compression (kept while it is the one in use).
    private var digested: (dictionary: ZstdDictionary, compression: OpaquePointer)?

    public init(level: Int32 = 3) {
        self.level = level
        context = ZSTD_createCCtx()
        _ = ZSTD_CCtx_setParameter(context, ZSTD_c_experimentalParam2, Int32(ZSTD_f_zstd1_magicless.rawValue))
        _ = ZSTD_CCtx_setParameter(context, ZSTD_c_dictIDFlag, 0)
        _ = ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 0)
    }

    deinit {
        ZSTD_freeCCtx(context)
        ZSTD_freeCDict(digested?.compression)
    }

    /// The frame of `input` under `dictionary` (none: for inputs large enough to compress on their own),
    /// inside `body`.
    public func compress<R>(
        _ input: UnsafeRawBufferPointer, dictionary: ZstdDictionary?, _ body: (UnsafeRawBufferPointer) throws -> R
    ) throws -> R {
        let bound = ZSTD_compressBound(input.count)
        if output.count < bound { output = [UInt8](repeating: 0, count: bound) }
        let digested = try dictionary.map { dictionary throws(ZstdError) in try digestedForCompression(dictionary) }
        _ = try ZstdError.check(ZSTD_CCtx_refCDict(context, digested), .compression, "ZSTD_CCtx_refCDict")
        return try output.withUnsafeMutableBytes { out in
            let size = try ZstdError.check(
                ZSTD_compress2(context, out.baseAddress, out.count, input.baseAddress, input.count), .compression, "ZSTD_compress2")
            return try body(UnsafeRawBufferPointer(rebasing: out[..<size]))
        }
    }

    private func digestedForCompression(_ dictionary: ZstdDictionary) throws(ZstdError) -> OpaquePointer {
        if let digested, digested.dictionary === dictionary { return digested.compression }
        guard let compression = dictionary.bytes.withUnsafeBytes({ ZSTD_createCDict($0.baseAddress, $0.count, level) }) else {
            throw ZstdError(.dictionary, "a dictionary of \(dictionary.bytes.count) bytes could not be digested for compression")
        }
        if let previous = digested?.compression {
            _ = ZSTD_CCtx_refCDict(context, nil)
            ZSTD_freeCDict(previous)
        }
        digested = (dictionary, compression)
        return compression
    }
}

/// Decompresses magicless frames into a buffer it keeps and grows. Holds a zstd context: one thread at a
/// time, hence unchecked: a pool hands each instance to one reader after another.
public final class ZstdDecompressor: @unchecked Sendable {
    private let context: OpaquePointer
    private var output = UnsafeMutableRawBufferPointer.allocate(byteCount: 16 * 1024, alignment: 8)
    /// Past this a frame is refused rather than let a damaged one claim unbounded memory.
    private let limit: Int

    public init(limit: Int) {
        context = ZSTD_createDCtx()
        self.limit = limit
        _ = ZSTD_DCtx_setParameter(context, ZSTD_d_experimentalParam1, Int32(ZSTD_f_zstd1_magicless.rawValue))
    }

    deinit {
        ZSTD_freeDCtx(context)
        output.deallocate()
    }

    /// The bytes of `frame`, valid until the next call on this decompressor.
    public func decompress(_ frame: UnsafeRawBufferPointer, dictionary: ZstdDictionary?) throws(ZstdError) -> UnsafeRawBufferPointer {
        _ = try ZstdError.check(ZSTD_DCtx_refDDict(context, dictionary?.decompression), .decompression, "ZSTD_DCtx_refDDict")
        while true {
            let result = ZSTD_decompressDCtx(context, output.baseAddress, output.count, frame.baseAddress, frame.count)
            if ZSTD_isError(result) != 0, ZSTD_getErrorCode(result) == ZSTD_error_dstSize_tooSmall, output.count < limit {
                let larger = min(limit, output.count * 4)
                output.deallocate()
                output = UnsafeMutableRawBufferPointer.allocate(byteCount: larger, alignment: 8)
                continue
            }
            let size = try ZstdError.check(result, .decompression, "ZSTD_decompressDCtx")
            return UnsafeRawBufferPointer(rebasing: output[..<size])
        }
    }
}
