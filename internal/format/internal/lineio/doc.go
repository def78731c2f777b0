// Package lineio splits an input into physical lines with bounded memory,
// for the line-oriented format readers (cef, leef, eve, zeek, ndjson).
//
// A Reader yields each line with its 1-based number and the byte offset of
// its first byte. Lines end at LF; a CR before the LF is dropped, as is a
// UTF-8 byte order mark at the very start of the input, and a last line
// without LF is still a line (there is no empty line after a final LF).
//
// Memory is bounded by the line limit whatever the input holds: a line with
// more than max bytes of content (line ending and byte order mark not
// counted) is reported TooLong, without its Data, after it was read through
// and discarded, never buffered whole. The Reader keeps at most max+2 bytes
// of a line besides a bufio.Reader of at most 64 KiB.
//
// Next returns io.EOF after the last line. A *format.Failure from the
// underlying reader (for example from package decompress) is returned as
// it is, any other read error is wrapped in a read_error Failure, and
// errors are sticky. A read error loses the partial line it interrupts.
//
// Raw is the one copy-and-cut rule every format reader (the line readers,
// and also the delimited and JSON array readers) applies to the bytes of a
// rejected record for format.Record.Raw.
package lineio
