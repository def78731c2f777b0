// Package ndjson reads JSON records: NDJSON (one JSON object per line, see
// NewReader) and a JSON array of objects streamed element by element (see
// NewArrayReader). Both share one strict object parser, ParseObject (and
// Parser, the same with a key cache kept between records), which the EVE
// and Zeek-JSON readers reuse.
//
// # Strictness
//
// ParseObject accepts exactly one JSON object (RFC 8259) and rejects, with a
// format.Reject, anything encoding/json would silently accept or repair:
//
//   - invalid_utf8: a byte sequence that is not UTF-8 anywhere in the input,
//     or a \uXXXX escape that is an unpaired UTF-16 surrogate (encoding/json
//     replaces both with U+FFFD);
//   - duplicate_key: the same key twice in one object, at any depth, compared
//     after unescaping (encoding/json keeps the last value);
//   - too_deep: more than Limits.MaxDepth nested objects and arrays (the top
//     object is depth 1). Depth is checked token by token on an explicit
//     stack, so a 10k-deep input costs no more than MaxDepth tokens;
//   - too_many_fields: more than Limits.MaxFields keys in one object (the
//     limit is per object; the size of the record as a whole is bounded by
//     the line limit);
//   - field_too_long: a key or string value longer than Limits.MaxFieldBytes
//     bytes after unescaping;
//   - not_an_object: valid JSON that is not an object;
//   - invalid_json: a syntax error, with its byte position in the record.
//
// ParseObject is a small iterative parser over the bytes (an explicit stack,
// no recursion) rather than json.Decoder's Token API, which builds an error
// string for every scalar token and ran at 2-7 MB/s here. Its tests compare
// it with encoding/json (same grammar, same values) and with a Token-API
// implementation kept as a test oracle (same accept/reject decisions).
//
// Numbers are json.Number (their exact text); the other values are string,
// bool, nil, []any (never nil: [] is an empty slice) and map[string]any.
// Positions in reject reasons are 0-based byte offsets within the record;
// the record's own Line and Offset locate it in the input. No reason quotes
// input.
//
// # NDJSON
//
// NewReader splits the input at LF (a CR before the LF is dropped), skips a
// UTF-8 byte order mark at the start, and skips lines holding only JSON
// whitespace (space, tab, CR) without yielding anything for them; Line is
// still the physical line number. A line longer than Limits.MaxLineBytes
// (not counting its line ending) is a line_too_long reject, and its
// remainder is read and discarded without being buffered, so memory stays
// bounded by MaxLineBytes whatever the input holds. Every other line yields
// exactly one Record, accepted or rejected; a rejected one keeps a copy of
// the line's content (without the line ending) in Record.Raw, cut to
// Limits.MaxRejectRaw bytes, except a line_too_long one, whose bytes were
// not kept.
//
// # JSON arrays
//
// NewArrayReader reads one top-level JSON array and yields one Record per
// element, located at the element's first byte. It never holds more than one
// element: a small scanner finds each element's end (tracking strings,
// escapes and bracket depth with a counter, so deep nesting costs nothing),
// keeps at most Limits.MaxRecordBytes of it and hands it to ParseObject. An
// element larger than MaxRecordBytes is a record_too_long reject; the
// scanner still finds its end without buffering it and continues with the
// next element. A non-object element is a not_an_object reject. A rejected
// element keeps a copy of its bytes (from its first to its last byte, line
// breaks included) in Record.Raw, cut to Limits.MaxRejectRaw bytes, except
// a record_too_long one, whose bytes were not kept.
//
// A syntax error, however, cannot be recovered from inside an array: once
// the structure is broken there is no reliable way to find where the next
// element starts. So a syntax error in an element or between elements, input
// that ends inside the array, or data after the closing bracket is a
// whole-input *format.Failure (invalid_json or truncated), returned by Next
// after the records that preceded it; input that is not an array at all is
// a not_an_array Failure. Empty input (or only whitespace) yields no records.
//
// Read errors of the underlying reader are returned as they are when they
// are already a *format.Failure (for example from package decompress), and
// otherwise wrapped in a read_error Failure. Errors are sticky: once Next
// returned an error it returns the same error again.
package ndjson
