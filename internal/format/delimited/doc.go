// Package delimited reads CSV and TSV (and ';' or '|' separated) input with
// a header row, one format.Record per row, with memory bounded by the
// limits whatever the input holds. It does not use encoding/csv, which has
// no field size limit and buffers whole records: a small state machine over
// a bufio.Reader applies the limits byte by byte.
//
// # Syntax
//
// Quoting follows RFC 4180 for every delimiter (TSV included): a field that
// starts with '"' is quoted, may hold delimiters, CR and LF, and writes a
// quote as "". Records end at LF or CRLF outside quotes; quoted content is
// kept byte for byte (a CRLF inside quotes stays CRLF). A quote inside an
// unquoted field is taken literally (a"b is the three bytes a"b: the
// meaning is unambiguous); a closing quote followed by anything but a
// delimiter or a line end ("a"b) is a bad_quote reject. A UTF-8 byte order
// mark at the start is skipped. Empty lines are skipped (a line holding ""
// is a record with one empty field). With Options.Comment set, lines that
// start with that character where a record would start are skipped. Skipped
// lines yield nothing; Line still counts every physical line.
//
// # Header
//
// Options.Header names the columns; when it is empty the first record is
// the header. Names are kept verbatim; an empty name becomes column_<n>
// (1-based). Two columns with the same name are a duplicate_header
// Failure. A header row that cannot be read (too long, bad quoting,
// invalid UTF-8) is a bad_header Failure, one with more than
// Limits.MaxFields columns a too_many_fields Failure.
//
// # Records
//
// Record.Fields maps each column name to the field's string value (an
// empty field is ""); Meta is nil. Line is the physical line where the
// record starts and Offset the byte offset of its first byte (the BOM
// counts). A row that cannot be accepted is a Record with a Reject:
//
//   - record_too_long: the record exceeds Limits.MaxRecordBytes bytes (not
//     counting its line ending);
//   - unclosed_quote: the input ends inside a quoted field;
//   - field_too_long: a field's value exceeds Limits.MaxFieldBytes bytes;
//   - bad_quote: a closing quote is followed by something other than a
//     delimiter or a line end;
//   - ragged_row: the row has a different number of fields than the header;
//   - invalid_utf8: a field is not valid UTF-8.
//
// When several apply the first in this list wins. Limits.MaxLineBytes is
// not used: a CSV record may span lines, and MaxRecordBytes bounds it.
//
// A rejected record keeps a copy of its bytes as read in Record.Raw, cut to
// Limits.MaxRejectRaw bytes: from its first byte to its line ending (LF or
// CRLF, not included), quotes and quoted line breaks included, so a
// multi-line record keeps all its lines, not just the first. The reader
// copies each record's first bytes (at most MaxRejectRaw+1) into a reused
// buffer as it scans, since ragged_row and invalid_utf8 are only known at
// the end. A record_too_long reject has no Raw: its bytes are discarded
// unread (see below).
//
// # Resynchronisation
//
// An unclosed quote would otherwise swallow the rest of the input into one
// field. So when a record grows past MaxRecordBytes, the reader stops
// parsing it: it discards bytes, without buffering them and ignoring
// quotes, up to and including the first LF at or after the byte that
// crossed the limit, rejects the record with record_too_long (its reason
// names the line where reading resumes), and starts the next record on the
// following line. Every physical line from the record's first line to that
// LF belongs to the rejected record, so rows swallowed by a runaway quote
// are accounted for by one reject rather than silently lost; later rows
// parse normally. An unquoted record past the limit is handled the same
// way (its LF simply comes sooner). Memory stays bounded by about
// MaxRecordBytes plus a 64 KiB read buffer.
//
// Read errors of the underlying reader are returned as they are when they
// are already a *format.Failure (for example from package decompress), and
// otherwise wrapped in a read_error Failure. Errors are sticky. Reject
// reasons and failures name positions (line, byte, field and column
// numbers), never values.
package delimited
