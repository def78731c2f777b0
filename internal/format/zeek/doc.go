// Package zeek reads Zeek (formerly Bro) logs: the tab-separated ASCII
// format (NewReader) and the JSON format, one object per line
// (NewJSONReader). Both stream with memory bounded by format.Limits and set
// Meta["zeek.path"] (MetaPath) to the log path: conn, dns, http, ssl, files,
// x509, ...
//
// # TSV
//
// A TSV log is a header block followed by rows:
//
//	#separator \x09
//	#set_separator	,
//	#empty_field	(empty)
//	#unset_field	-
//	#path	conn
//	#open	2014-04-01-23-15-49
//	#fields	ts	uid	id.orig_h	id.orig_p	...
//	#types	time	string	addr	port	...
//	1329843175.736107	CjhGID4nQcgTWjvg4c	141.142.220.235	37604	...
//	#close	2014-04-01-23-15-49
//
// "#separator " is followed by the separator, with \xNN escapes decoded;
// the other header lines are split on that separator. #set_separator,
// #empty_field, #unset_field, #path, #fields and #types set the state of
// the section. Any other line starting with '#' (#open, #close, the
// "### BTest baseline data ..." banner of Zeek's test baselines, a
// masked "#open XXXX-XX-XX-XX-XX-XX") is a comment, as are empty lines;
// these are the documented lines that yield no record. A file may hold
// several sections: #close ends one, and a header line after data rows
// starts a new one, resetting separators, path, fields and types to their
// defaults. A line starting with '#' is always a header or comment, never
// data.
//
// A row is turned into Fields keyed by the #fields names exactly as written
// (flat, dotted: "id.orig_h", "certificate.serial"):
//
//   - the unset marker ("-") makes the field absent;
//   - the empty marker ("(empty)") is an empty []any for a container type
//     and "" for a string-like type (Zeek writes empty strings so);
//   - set[T], vector[T] and table[T] (old Bro 2.x) become []any, split on
//     the set separator, each element converted as T (an element equal to
//     the unset marker is nil);
//   - count, int, port, double, interval and time are kept as json.Number
//     text as written, after checking it is a valid JSON number of that
//     kind (count and port unsigned, port at most 65535, int signed without
//     a fraction); time is the epoch text, e.g. "1329843175.736107" (the
//     mapping layer converts it);
//   - bool T and F become true and false;
//   - addr, subnet, string, enum, pattern, file, func and unknown types stay
//     strings, with \xNN escapes decoded (Zeek escapes the separator,
//     non-printable bytes and a value that equals a marker). Bytes that do
//     not form UTF-8, raw or decoded, are written back as the \xNN text so
//     every string is valid UTF-8 and nothing is lost. Other backslashes are
//     kept as written.
//
// Without #types every field is a string.
//
// Whole-input failures (a *format.Failure, returned by Next; sticky):
// missing_header for a data row before any #fields (or after #close
// without a new #fields); invalid_header for an empty #separator or
// #set_separator, #fields naming no field, an empty or repeated field name,
// more than Limits.MaxFields fields, or #types and #fields of different
// lengths; read_error when the underlying reader fails (a
// *format.Failure from it, for example from package decompress, is passed
// on as it is).
//
// Rejects (the record keeps its Line, Offset and Meta, and a copy of the
// line in Raw, cut to Limits.MaxRejectRaw bytes): ragged_row when a
// row's field count differs from #fields; invalid_value when a value does
// not fit its type, naming the field (for instance the masked
// "XXXXXXXXXX.XXXXXX" timestamps of Zeek's btest baselines in "ts");
// field_too_long for a value over Limits.MaxFieldBytes; line_too_long for
// a line over Limits.MaxLineBytes, which is read through and discarded
// without being buffered (so it has no Raw).
//
// # JSON
//
// NewJSONReader parses each line with ndjson.ParseObject (strict: numbers
// as json.Number, duplicate keys, invalid UTF-8, depth, field count and
// field size are rejects with ndjson's codes: invalid_json, duplicate_key,
// invalid_utf8, too_deep, too_many_fields, field_too_long, not_an_object).
// Fields are the object as Zeek wrote it, with flat dotted keys; ts is a
// json.Number epoch, or a string with json.timestamps=JSON::TS_ISO8601.
// Blank lines and the btest banner are skipped; any other line is a record
// or a reject (a masked btest timestamp makes its line invalid_json).
//
// Meta["zeek.path"] is, in this order: the Path option; the record's
// "_path" string; a guess from the field names (GuessPath: x509, files,
// conn, dns, http, ssl - see there); otherwise absent.
//
// # Options
//
// Path forces Meta["zeek.path"] for both readers, for uploads whose path is
// known from elsewhere (a file name such as dns.log).
package zeek
