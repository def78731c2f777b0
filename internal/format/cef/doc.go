// Package cef reads ArcSight Common Event Format (CEF) events, one per line,
// each optionally preceded by a syslog header.
//
// # Line layout
//
//	[syslog header] CEF:Version|Device Vendor|Device Product|Device Version|Device Event Class ID|Name|Severity|Extension
//
// The event starts at the first "CEF:" in the line. The text before it is
// parsed by ParseSyslogPrefix:
//
//   - RFC 5424 "<134>1 2024-11-20T08:15:02Z host app procid msgid SD ":
//     syslog.priority, syslog.timestamp, syslog.host, syslog.app_name,
//     syslog.procid, syslog.msgid, syslog.structured_data ("-" is absent);
//   - RFC 3164 "<134>Nov 20 08:15:02 host tag[pid]: " (PRI optional; also
//     "Mmm dd yyyy hh:mm:ss" and a single ISO 8601 timestamp token):
//     syslog.priority, syslog.timestamp (as written), syslog.host,
//     syslog.app_name and syslog.procid from the tag;
//   - anything else is kept whole, trimmed, in syslog.prefix.
//
// syslog.priority is a json.Number; every other value is a string.
//
// # Header
//
// The seven header fields are split on unescaped '|'; "\|" and "\\" are
// decoded, other backslashes are kept. They are stored, as strings and
// possibly empty, under cef.version, cef.device_vendor,
// cef.device_product, cef.device_version, cef.signature_id (Device Event
// Class ID), cef.name and cef.severity (as written: "10", "Very-High",
// "Unknown"). cef.version must be a number (0 or 1 in practice). Meta
// "cef.version" repeats it.
//
// # Extension
//
// The extension is a sequence of key=value pairs separated by spaces. A
// key is one or more of [A-Za-z0-9_.[]-] directly followed by '='; a value
// runs until the next space that is followed by a key and '=', so values
// may contain spaces, unescaped '|' and '=' not preceded by a key
// ("request=GET /a?b=c d=1" gives request "GET /a?b=c"); trailing spaces
// are trimmed and an empty value is "". In values "\=", "\\", "\|", "\n"
// (LF) and "\r" (CR) are decoded, other backslashes are kept as written.
// Extension keys are stored as written, except that the ArcSight full
// names of dictionary keys are stored under their short key
// (sourceAddress -> src, destinationPort -> dpt, requestUrl -> request,
// deviceCustomString1 -> cs1, ...; see keys.go). So a mapping profile
// references the short keys: "src", "dst", "spt", "dpt", "proto", "act",
// "app", "cat", "msg", "request", "requestMethod", "suser", "duser",
// "shost", "dhost", "smac", "dmac", "fname", "fileHash", "rt", "start",
// "end", "outcome", "dvc", "dvchost", "cs1".."cs6" with "cs1Label".., and
// vendor keys as the device writes them.
//
// Custom labels: for every key K whose K+"Label" key is also present (cs1
// and cs1Label, cn2 and cn2Label, c6a3 and c6a3Label, deviceCustomDate2 and
// deviceCustomDate2Label, ...), K's value is also stored under
// "cef.label." + the label ("cs5Label=Matched Category cs5=Business" gives
// cef.label.Matched Category = "Business"). Both raw keys stay. The label
// goes under the cef.label. prefix rather than becoming a top-level key, so
// a label can never overwrite a dictionary key; when two fields carry the
// same label the first one in the line wins.
//
// # Rejects and failures
//
// Rejects: invalid_cef (no "CEF:", fewer than seven '|'-terminated header
// fields, a version that is not a number); invalid_extension (extension
// text that does not start with key=); duplicate_key (a key twice, also
// via its full name, or an extension key equal to a header or syslog field
// name); invalid_utf8; field_too_long (a header field or value over
// Limits.MaxFieldBytes); too_many_fields (over Limits.MaxFields, counting
// header and syslog fields); line_too_long (a line over
// Limits.MaxLineBytes, read through and discarded without being
// buffered). Reasons name keys and positions, never values; a rejected
// record (but a line_too_long one) keeps a copy of its line in Raw, cut to
// Limits.MaxRejectRaw bytes. Blank lines
// are skipped (the only lines that yield no record). Next fails only when
// reading fails: read_error, or the underlying reader's own
// *format.Failure passed on.
package cef
