// Package decompress unwraps an upload body compressed with gzip or zstd,
// with limits that keep a decompression bomb from costing more than a
// bounded amount of memory and time.
//
// Open chooses the decoder from the Content-Encoding header (gzip, x-gzip,
// zstd, identity; case-insensitive; identity entries in a list are
// ignored) or, when the header is empty, from the first bytes of the body
// (1f 8b: gzip; 28 b5 2f fd: zstd; anything else: not compressed), peeked
// without being consumed. It returns the decompressed stream and what it
// detected ("", "gzip" or "zstd").
//
// # Limits
//
//   - MaxCompressedBytes bounds the body as read (also when it is not
//     compressed): past it Read fails with too_large.
//   - MaxDecompressedBytes bounds the output: past it Read fails with
//     too_large.
//   - MaxRatio bounds output bytes per compressed byte consumed, checked
//     on every Read once the output exceeds RatioMinBytes (so small, very
//     repetitive bodies pass): past it Read fails with decompression_bomb.
//     A stream of zeros, which gzip shrinks about 1000 times and zstd far
//     more, is caught after RatioMinBytes of output.
//   - MaxDecoderMemory bounds the zstd window (WithDecoderMaxMemory and
//     WithDecoderMaxWindow): a frame that declares a larger window fails
//     with too_large. The zstd decoder runs synchronously (no goroutines)
//     in low-memory mode; gzip needs a fixed 32 KiB window.
//
// Concatenated gzip members and zstd frames are read as one stream.
//
// # Errors
//
// Every error of Open and Read other than io.EOF is a *format.Failure:
//
//   - unsupported_encoding: the Content-Encoding names something else, or
//     more than one encoding;
//   - too_large, decompression_bomb: a limit above was exceeded;
//   - truncated: the stream ends before its end marker (a gzip reader's
//     io.ErrUnexpectedEOF is never taken for the end of the input), or a
//     body declared compressed is empty;
//   - corrupt_compression: a bad header, bad data, a checksum mismatch, or
//     data after the last gzip member;
//   - read_error: the body itself failed to read (the error is kept in
//     Failure.Err, for example an *http.MaxBytesError). A body reader error
//     that is already a *format.Failure is returned as it is.
//
// Errors are sticky. A zstd stream that ends exactly between two frames
// cannot be told from a complete one (nor can gzip between members); the
// format has no end marker for the stream as a whole.
//
// Close releases the decoder; it does not close the body.
package decompress
