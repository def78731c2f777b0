// Package leef reads IBM QRadar Log Event Extended Format (LEEF) 1.0 and
// 2.0 events, one per line, each optionally preceded by a syslog header.
//
//	[syslog header] LEEF:1.0|Vendor|Product|Version|EventID|key=value<TAB>key=value...
//	[syslog header] LEEF:2.0|Vendor|Product|Version|EventID|Delimiter|key=value<D>key=value...
//
// The syslog header before "LEEF:" is parsed as for CEF
// (cef.ParseSyslogPrefix): syslog.priority (json.Number),
// syslog.timestamp, syslog.host, syslog.app_name, syslog.procid,
// syslog.msgid, syslog.structured_data, or syslog.prefix when it is neither
// RFC 3164 nor RFC 5424.
//
// Header fields, split on unescaped '|' ("\|" and "\\" decoded), are
// stored as strings under leef.version ("1.0", "2.0", also "1" or "2"),
// leef.vendor, leef.product, leef.product_version and leef.event_id. An
// event ID that ends the line (no attributes, no final '|') is accepted.
// Meta "leef.version" repeats the version.
//
// LEEF 2.0 has a delimiter field after the event ID: one character ("^"),
// or its code in hex as "xHH", "0xHH" or "\xHH" ("x09" is a tab); empty
// means tab. Some emitters leave the field out: when the text up to the
// next '|' is no valid delimiter (or there is no further '|'), it is taken
// as the start of the attributes and the delimiter is a tab. LEEF 1.0
// always uses a tab.
//
// Attributes are split on the delimiter and each at its first '='; the key
// is trimmed of spaces, the value kept as written (it may contain '=' and
// be empty). Empty attributes (doubled or trailing delimiters) are
// skipped. Keys are stored as written: "src", "dst", "srcPort", "dstPort",
// "proto", "usrName", "sev", "cat", "devTime", "devTimeFormat", "srcMAC",
// "identSrc", "url", "msg", ... All values are strings.
//
// Templates: a tab-delimited line that holds no tab but the two characters
// `\t` is split on those two characters. This is how the PAN-OS syslog
// templates in testdata (LEEF 2.0, no delimiter field, "$placeholders" as
// values) are read: each template line becomes one record whose values are
// the placeholders ("cat" = "$type", "usrName" = "$admin"); nothing marks
// it as a template, so such an upload should not be mapped as events.
//
// Rejects: invalid_leef (no "LEEF:", fewer than four '|'-terminated header
// fields before the event ID, a version other than 1.x or 2.x, an
// attribute without '=' or with an empty key); duplicate_key (an attribute
// twice, or named like a header or syslog field); invalid_utf8;
// field_too_long; too_many_fields; line_too_long (read through and
// discarded without being buffered). Reasons name keys and positions,
// never values; a rejected record (but a line_too_long one) keeps a copy of
// its line in Raw, cut to Limits.MaxRejectRaw bytes. Blank lines are
// skipped (the only lines that yield no
// record). Next fails only when reading fails: read_error, or the
// underlying reader's own *format.Failure passed on.
package leef
