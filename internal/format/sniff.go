package format

import (
	"bytes"
	"encoding/json"
)

// Sniff names the format of an input from its first bytes, or returns ""
// when it is not sure. Pass the start of the decompressed input, at least
// its first line (a few KiB); a UTF-8 byte order mark and leading
// whitespace are skipped, and so are leading banner lines that start with
// "##" (as in Zeek test baselines) except for the delimited check. The
// names:
//
//   - "zeek": Zeek TSV, which starts with a "#separator" line;
//   - "zeek-json", "eve", "ndjson": a first line that starts with '{'. The
//     top-level keys of the object, as far as the line is valid JSON,
//     decide: "_path", "id.orig_h", or "ts" with "uid" mean Zeek JSON;
//     "event_type" with "timestamp" mean Suricata EVE; anything else is
//     plain NDJSON (whose reader rejects lines that are not objects);
//   - "json": a JSON array of objects ('[' then '{' or ']');
//   - "cef", "leef": a first line that starts with "CEF:<version>|" or
//     "LEEF:<version>|", or has it after a space (a syslog prefix);
//   - "tsv", "csv": the complete records in the prefix (up to 8; quotes
//     respected) all have the same number of fields, at least two, split
//     at tabs (tried first) or commas.
//
// Semicolon- or pipe-separated input is "" (ask for the delimiter).
func Sniff(prefix []byte) string {
	b := bytes.TrimPrefix(prefix, []byte{0xEF, 0xBB, 0xBF})
	b = bytes.TrimLeft(b, " \t\r\n")
	body := skipBanner(b)
	if len(body) == 0 {
		return ""
	}
	if rest, ok := bytes.CutPrefix(body, []byte("#separator")); ok && (len(rest) == 0 || rest[0] == ' ' || rest[0] == '\t') {
		return "zeek"
	}
	line, _ := firstLine(body)
	switch body[0] {
	case '{':
		return sniffJSONLine(line)
	case '[':
		rest := bytes.TrimLeft(body[1:], " \t\r\n")
		if len(rest) > 0 && (rest[0] == '{' || rest[0] == ']') {
			return "json"
		}
		return ""
	}
	switch {
	case hasMarker(line, "CEF:", false):
		return "cef"
	case hasMarker(line, "LEEF:", true):
		return "leef"
	}
	for _, d := range []struct {
		sep  byte
		name string
	}{{'\t', "tsv"}, {',', "csv"}} {
		if consistentFields(b, d.sep) {
			return d.name
		}
	}
	return ""
}

// firstLine returns b up to its first LF, and whether there was one.
func firstLine(b []byte) ([]byte, bool) {
	line, _, found := bytes.Cut(b, []byte{'\n'})
	return line, found
}

// skipBanner skips leading lines that start with "##" and the whitespace
// after them.
func skipBanner(b []byte) []byte {
	for bytes.HasPrefix(b, []byte("##")) {
		_, rest, found := bytes.Cut(b, []byte{'\n'})
		if !found {
			return nil
		}
		b = bytes.TrimLeft(rest, " \t\r\n")
	}
	return b
}

// sniffJSONLine names the JSON-lines format of a first line that starts
// with '{'.
func sniffJSONLine(line []byte) string {
	keys := topLevelKeys(line)
	switch {
	case keys["_path"] || keys["id.orig_h"] || keys["ts"] && keys["uid"]:
		return "zeek-json"
	case keys["event_type"] && keys["timestamp"]:
		return "eve"
	}
	return "ndjson"
}

// topLevelKeys returns the keys of the object that starts line, as far as
// line holds valid JSON.
func topLevelKeys(line []byte) map[string]bool {
	keys := map[string]bool{}
	dec := json.NewDecoder(bytes.NewReader(line))
	depth, expectKey := 0, false
	for {
		tok, err := dec.Token()
		if err != nil {
			return keys
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				depth++
				expectKey = depth == 1
				continue
			default:
				depth--
			}
		case string:
			if depth == 1 && expectKey {
				keys[t] = true
				expectKey = false
				continue
			}
		}
		if depth == 0 {
			return keys
		}
		// A value at depth 1 is complete: a key comes next.
		expectKey = depth == 1
	}
}

// hasMarker reports whether line starts with marker followed by a version
// and '|', or has that after a space. LEEF versions are digits, a dot and
// digits; CEF versions digits.
func hasMarker(line []byte, marker string, dotted bool) bool {
	for off := 0; ; {
		i := bytes.Index(line[off:], []byte(marker))
		if i < 0 {
			return false
		}
		i += off
		if i == 0 || line[i-1] == ' ' {
			rest := line[i+len(marker):]
			n := digits(rest)
			if n > 0 && dotted && n < len(rest) && rest[n] == '.' {
				if m := digits(rest[n+1:]); m > 0 {
					n += 1 + m
				} else {
					n = 0
				}
			}
			if n > 0 && n < len(rest) && rest[n] == '|' {
				return true
			}
		}
		off = i + 1
	}
}

func digits(b []byte) int {
	n := 0
	for n < len(b) && '0' <= b[n] && b[n] <= '9' {
		n++
	}
	return n
}

// consistentFields reports whether the complete records of b (at most 8,
// blank lines skipped, quoted fields respected) all have the same number of
// fields, at least two, when split at sep.
func consistentFields(b []byte, sep byte) bool {
	const maxRecords = 8
	want, records := 0, 0
	fields, inQuote, blank := 1, false, true
	for _, c := range b {
		switch {
		case c == '"':
			inQuote = !inQuote
			blank = false
		case inQuote:
		case c == sep:
			fields++
			blank = false
		case c == '\n':
			if !blank {
				if records == 0 {
					want = fields
				} else if fields != want {
					return false
				}
				if records++; records == maxRecords {
					return want >= 2
				}
			}
			fields, blank = 1, true
		case c != '\r':
			blank = false
		}
	}
	return records > 0 && want >= 2
}
