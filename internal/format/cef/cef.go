package cef

import (
	"io"
	"strings"
	"unicode/utf8"

	"github.com/heimdallhub/heimdall/internal/format"
	"github.com/heimdallhub/heimdall/internal/format/internal/linerec"
)

// Header field names.
const (
	FieldVersion       = "cef.version"
	FieldDeviceVendor  = "cef.device_vendor"
	FieldDeviceProduct = "cef.device_product"
	FieldDeviceVersion = "cef.device_version"
	FieldSignatureID   = "cef.signature_id"
	FieldName          = "cef.name"
	FieldSeverity      = "cef.severity"
	// LabelPrefix prefixes the convenience copies of labelled custom fields:
	// cs1Label=Foo cs1=bar also gives Fields["cef.label.Foo"] = "bar".
	LabelPrefix = "cef.label."
)

var headerFields = [...]string{FieldVersion, FieldDeviceVendor, FieldDeviceProduct, FieldDeviceVersion, FieldSignatureID, FieldName, FieldSeverity}

// NewReader reads ArcSight CEF events from r, one per line, each optionally
// preceded by a syslog header. See the package documentation.
func NewReader(r io.Reader, lim format.Limits) format.Reader {
	lim = lim.WithDefaults()
	return linerec.NewReader(r, lim, nil, func(n int64, data []byte) (map[string]any, map[string]string, *format.Reject) {
		f, rej := Parse(data, lim)
		if rej != nil {
			rej.Reason = "line " + itoa(n) + ": " + rej.Reason
			return nil, nil, rej
		}
		return f, map[string]string{MetaVersion: f[FieldVersion].(string)}, nil
	})
}

// MetaVersion is the Meta key holding the CEF version ("0" or "1").
const MetaVersion = "cef.version"

func itoa(n int64) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

// Parse parses one CEF line (without its line terminator), with an optional
// syslog prefix, into fields.
func Parse(b []byte, lim format.Limits) (map[string]any, *format.Reject) {
	lim = lim.WithDefaults()
	if !utf8.Valid(b) {
		return nil, format.Rejectf("invalid_utf8", "the line is not valid UTF-8")
	}
	s := string(b)
	start := strings.Index(s, "CEF:")
	if start < 0 {
		return nil, format.Rejectf("invalid_cef", "no CEF: header")
	}
	f := make(map[string]any, 16)
	ParseSyslogPrefix(s[:start]).AddTo(f)
	rest := s[start+4:]
	for i := 0; i < len(headerFields); i++ {
		v, r, ok := HeaderField(rest)
		if !ok {
			return nil, format.Rejectf("invalid_cef", "the header has %d of the 7 '|'-terminated fields", i)
		}
		if len(v) > lim.MaxFieldBytes {
			return nil, format.Rejectf("field_too_long", "header field %s is longer than %d bytes", headerFields[i], lim.MaxFieldBytes)
		}
		if i == 0 {
			v = strings.TrimSpace(v)
			if !allDigits(v) || len(v) > 3 {
				return nil, format.Rejectf("invalid_cef", "the CEF version is not a number")
			}
		}
		f[headerFields[i]] = v
		rest = r
	}
	if rej := parseExtension(rest, f, lim); rej != nil {
		return nil, rej
	}
	return f, nil
}

// HeaderField reads one header field up to an unescaped '|', decoding \|
// and \\ (other backslashes are kept). ok is false when no '|' follows.
// LEEF headers use the same escaping.
func HeaderField(s string) (v, rest string, ok bool) {
	i := 0
	for i < len(s) && s[i] != '|' && s[i] != '\\' {
		i++
	}
	if i < len(s) && s[i] == '|' {
		return s[:i], s[i+1:], true // fast path: no escapes
	}
	var sb strings.Builder
	sb.WriteString(s[:i])
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && (s[i+1] == '|' || s[i+1] == '\\'):
			sb.WriteByte(s[i+1])
			i++
		case c == '|':
			return sb.String(), s[i+1:], true
		default:
			sb.WriteByte(c)
		}
	}
	return "", "", false
}

func isKeyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '.' || c == '[' || c == ']' || c == '-'
}

// keyAt returns the end of a key starting at i (the index of its '='), or
// -1 when s[i:] does not start with key=.
func keyAt(s string, i int) int {
	j := i
	for j < len(s) && isKeyByte(s[j]) {
		j++
	}
	if j == i || j >= len(s) || s[j] != '=' {
		return -1
	}
	return j
}

// parseExtension parses the key=value pairs of the extension into f.
func parseExtension(ext string, f map[string]any, lim format.Limits) *format.Reject {
	i := 0
	for i < len(ext) && ext[i] == ' ' {
		i++
	}
	if i == len(ext) {
		return nil
	}
	var keys []string
	for i < len(ext) {
		j := keyAt(ext, i)
		if j < 0 {
			return format.Rejectf("invalid_extension", "the extension does not continue with key=value at byte %d of the extension", i)
		}
		key := canonicalKey(ext[i:j])
		// The value runs to the next " key=" or the end.
		k := j + 1
		end, next := len(ext), len(ext)
		for k < len(ext) {
			sp := strings.IndexByte(ext[k:], ' ')
			if sp < 0 {
				break
			}
			k += sp + 1
			if keyAt(ext, k) >= 0 {
				end, next = k-1, k
				break
			}
		}
		raw := strings.TrimRight(ext[j+1:end], " ")
		if len(raw) > lim.MaxFieldBytes {
			return format.Rejectf("field_too_long", "extension key %q has a value longer than %d bytes", clip(key), lim.MaxFieldBytes)
		}
		if _, dup := f[key]; dup {
			return format.Rejectf("duplicate_key", "extension key %q occurs twice (or repeats a header or syslog field)", clip(key))
		}
		if len(f) >= lim.MaxFields {
			return format.Rejectf("too_many_fields", "more than %d fields", lim.MaxFields)
		}
		f[key] = unescapeValue(raw)
		keys = append(keys, key)
		i = next
	}
	// Labelled custom fields: cs1Label=Foo cs1=bar -> cef.label.Foo = bar.
	for _, k := range keys {
		label, ok := f[k+"Label"].(string)
		if !ok || label == "" {
			continue
		}
		lk := LabelPrefix + label
		if _, taken := f[lk]; taken {
			continue // the first field with this label wins
		}
		if len(f) >= lim.MaxFields {
			return format.Rejectf("too_many_fields", "more than %d fields", lim.MaxFields)
		}
		f[lk] = f[k]
	}
	return nil
}

// clip shortens a key for a reason.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// unescapeValue decodes \= \\ \| \n \r in an extension value; other
// backslashes are kept as written.
func unescapeValue(s string) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	var sb strings.Builder
	sb.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			switch s[i+1] {
			case '=', '\\', '|':
				sb.WriteByte(s[i+1])
				i++
				continue
			case 'n':
				sb.WriteByte('\n')
				i++
				continue
			case 'r':
				sb.WriteByte('\r')
				i++
				continue
			}
		}
		sb.WriteByte(c)
	}
	return sb.String()
}
