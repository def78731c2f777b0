package leef

import (
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/heimdallhub/heimdall/internal/format"
	"github.com/heimdallhub/heimdall/internal/format/cef"
	"github.com/heimdallhub/heimdall/internal/format/internal/linerec"
)

// Header field names.
const (
	FieldVersion        = "leef.version"
	FieldVendor         = "leef.vendor"
	FieldProduct        = "leef.product"
	FieldProductVersion = "leef.product_version"
	FieldEventID        = "leef.event_id"
)

// MetaVersion is the Meta key holding the LEEF version as written ("1.0",
// "2.0").
const MetaVersion = "leef.version"

var headerFields = [...]string{FieldVersion, FieldVendor, FieldProduct, FieldProductVersion, FieldEventID}

// NewReader reads LEEF 1.0 and 2.0 events from r, one per line, each
// optionally preceded by a syslog header. See the package documentation.
func NewReader(r io.Reader, lim format.Limits) format.Reader {
	lim = lim.WithDefaults()
	return linerec.NewReader(r, lim, nil, func(n int64, data []byte) (map[string]any, map[string]string, *format.Reject) {
		f, rej := Parse(data, lim)
		if rej != nil {
			rej.Reason = "line " + strconv.FormatInt(n, 10) + ": " + rej.Reason
			return nil, nil, rej
		}
		return f, map[string]string{MetaVersion: f[FieldVersion].(string)}, nil
	})
}

// Parse parses one LEEF line (without its terminator), with an optional
// syslog prefix, into fields.
func Parse(b []byte, lim format.Limits) (map[string]any, *format.Reject) {
	lim = lim.WithDefaults()
	if !utf8.Valid(b) {
		return nil, format.Rejectf("invalid_utf8", "the line is not valid UTF-8")
	}
	s := string(b)
	start := strings.Index(s, "LEEF:")
	if start < 0 {
		return nil, format.Rejectf("invalid_leef", "no LEEF: header")
	}
	f := make(map[string]any, 16)
	cef.ParseSyslogPrefix(s[:start]).AddTo(f)
	rest := s[start+5:]
	for i := 0; i < len(headerFields); i++ {
		v, r, ok := cef.HeaderField(rest)
		if !ok {
			if i == len(headerFields)-1 {
				// An event ID ending the line: no attributes.
				v, r = unescapeHeader(rest), ""
			} else {
				return nil, format.Rejectf("invalid_leef", "the header has %d of the 5 '|'-terminated fields", i)
			}
		}
		if len(v) > lim.MaxFieldBytes {
			return nil, format.Rejectf("field_too_long", "header field %s is longer than %d bytes", headerFields[i], lim.MaxFieldBytes)
		}
		if i == 0 {
			v = strings.TrimSpace(v)
			if !validVersion(v) {
				return nil, format.Rejectf("invalid_leef", "the LEEF version is not 1.x or 2.x")
			}
		}
		f[headerFields[i]] = v
		rest = r
	}
	delim := "\t"
	if strings.HasPrefix(f[FieldVersion].(string), "2") {
		// LEEF 2.0: a delimiter field precedes the attributes. It is
		// missing in some emitters (and in templates); a first segment that
		// is no valid delimiter is taken as the start of the attributes.
		if i := strings.IndexByte(rest, '|'); i >= 0 {
			if d, ok := parseDelimiter(rest[:i]); ok {
				delim, rest = d, rest[i+1:]
			}
		}
	}
	if delim == "\t" && strings.IndexByte(rest, '\t') < 0 && strings.Contains(rest, `\t`) {
		// Templates and misconfigured emitters write the two characters
		// `\t` instead of a tab.
		delim = `\t`
	}
	if rej := parseAttributes(rest, delim, f, lim); rej != nil {
		return nil, rej
	}
	return f, nil
}

func validVersion(v string) bool {
	if v == "" || (v[0] != '1' && v[0] != '2') {
		return false
	}
	if len(v) == 1 {
		return true
	}
	if v[1] != '.' || len(v) == 2 || len(v) > 6 {
		return false
	}
	for i := 2; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return false
		}
	}
	return true
}

// parseDelimiter reads a LEEF 2.0 delimiter field: empty (tab), one
// character, or its code in hex written xHH or 0xHH (also \xHH).
func parseDelimiter(s string) (string, bool) {
	if s == "" {
		return "\t", true
	}
	if r, size := utf8.DecodeRuneInString(s); size == len(s) {
		if r == '=' {
			return "", false
		}
		return s, true
	}
	h := s
	switch {
	case strings.HasPrefix(h, "0x"), strings.HasPrefix(h, "0X"), strings.HasPrefix(h, `\x`):
		h = h[2:]
	case strings.HasPrefix(h, "x"), strings.HasPrefix(h, "X"):
		h = h[1:]
	default:
		return "", false
	}
	if len(h) < 1 || len(h) > 4 {
		return "", false
	}
	n, err := strconv.ParseUint(h, 16, 32)
	if err != nil || n == 0 || n == '=' || !utf8.ValidRune(rune(n)) {
		return "", false
	}
	return string(rune(n)), true
}

func unescapeHeader(s string) string {
	v, _, _ := cef.HeaderField(s + "|")
	return v
}

// parseAttributes splits key=value attributes on delim into f.
func parseAttributes(s, delim string, f map[string]any, lim format.Limits) *format.Reject {
	n := 0
	for s != "" {
		var a string
		if i := strings.Index(s, delim); i >= 0 {
			a, s = s[:i], s[i+len(delim):]
		} else {
			a, s = s, ""
		}
		n++
		if strings.TrimSpace(a) == "" {
			continue // empty attribute (doubled or trailing delimiter)
		}
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			return format.Rejectf("invalid_leef", "attribute %d has no '='", n)
		}
		k = strings.TrimSpace(k)
		if k == "" {
			return format.Rejectf("invalid_leef", "attribute %d has an empty key", n)
		}
		if len(v) > lim.MaxFieldBytes {
			return format.Rejectf("field_too_long", "attribute %q has a value longer than %d bytes", clip(k), lim.MaxFieldBytes)
		}
		if _, dup := f[k]; dup {
			return format.Rejectf("duplicate_key", "attribute %q occurs twice (or repeats a header or syslog field)", clip(k))
		}
		if len(f) >= lim.MaxFields {
			return format.Rejectf("too_many_fields", "more than %d fields", lim.MaxFields)
		}
		f[k] = v
	}
	return nil
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
