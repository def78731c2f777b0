// Package eve reads Suricata EVE JSON: one JSON object per line (NDJSON),
// each parsed strictly by ndjson.ParseObject.
//
// A record's Fields are the event object as Suricata wrote it, nested:
// numbers are json.Number, arrays []any, objects map[string]any. Nothing is
// flattened or renamed, so the mapping layer reads dotted paths through the
// nesting: "event_type", "timestamp", "src_ip", "src_port", "dest_ip",
// "dest_port", "proto", "app_proto", "flow_id", "alert.signature",
// "alert.signature_id", "alert.category", "alert.severity",
// "alert.action", "dns.rrname", "dns.rrtype", "dns.rdata", "dns.answers",
// "dns.queries", "http.hostname", "http.url", "http.http_method",
// "http.status", "http.http_user_agent", "tls.sni", "tls.subject",
// "tls.issuerdn", "tls.fingerprint", "tls.ja3.hash", "fileinfo.filename",
// "fileinfo.sha256", "fileinfo.md5", "fileinfo.size", "flow.bytes_toserver",
// "flow.state", ...
//
// Meta:
//
//   - "eve.event_type" (MetaEventType): the event_type (alert, dns, http,
//     tls, flow, fileinfo, stats, anomaly, ...). A line whose object has no
//     non-empty string event_type is rejected not_eve.
//   - "eve.dns.version" (MetaDNSVersion), when the record has a "dns" object
//     (dns events and alerts on DNS): the record's dns.version when it is a
//     number 1-9; else "3" when dns.queries is present (the Suricata 8
//     layout: queries[] of {rrname, rrtype} and answers[] of {rrname,
//     rrtype, ttl, rdata}, type "request"/"response"); else "2", the flat
//     layout of Suricata 4-7 (type "query"/"answer", dns.rrname and
//     dns.rrtype at the top, and dns.answers[] and/or dns.grouped in
//     answers, or one record per answer with dns.rdata in the old v1
//     style). Both layouts are accepted as they are; the mapping profile
//     picks its paths by this key.
//
// Rejects: not_eve; ndjson's invalid_json, duplicate_key, invalid_utf8,
// too_deep, too_many_fields, field_too_long and not_an_object;
// line_too_long for a line over Limits.MaxLineBytes, which is read through
// and discarded without being buffered. A rejected record (but a
// line_too_long one) keeps a copy of its line in Raw, cut to
// Limits.MaxRejectRaw bytes. Blank lines are skipped (the only
// lines that yield no record); CRLF line ends and a leading UTF-8 BOM are
// accepted. Next fails only when reading fails: read_error, or the
// underlying reader's own *format.Failure passed on.
package eve
