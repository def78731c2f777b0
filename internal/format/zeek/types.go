package zeek

import (
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// kind is how a Zeek scalar type is converted.
type kind uint8

const (
	kString kind = iota // string, addr, subnet, enum, pattern, file, func and unknown types
	kCount              // count, port: unsigned integer
	kInt                // int: signed integer
	kReal               // double, interval, time: JSON number text
	kBool               // bool: T or F
	kPort               // port: 0..65535
)

// ztype is a parsed #types entry.
type ztype struct {
	name      string // as declared, for reasons
	base      kind
	container bool // set[...], vector[...], table[...]
}

func parseType(s string) ztype {
	t := ztype{name: s}
	inner := s
	for _, p := range []string{"set[", "vector[", "table["} {
		if strings.HasPrefix(s, p) && strings.HasSuffix(s, "]") {
			t.container = true
			inner = s[len(p) : len(s)-1]
			break
		}
	}
	switch inner {
	case "count", "counter":
		t.base = kCount
	case "port":
		t.base = kPort
	case "int":
		t.base = kInt
	case "double", "interval", "time":
		t.base = kReal
	case "bool":
		t.base = kBool
	default:
		t.base = kString
	}
	return t
}

// convertScalar converts one non-container value (already known not to be
// the unset or empty marker). ok is false when the text does not fit the
// type.
func convertScalar(k kind, s string) (any, bool) {
	switch k {
	case kCount:
		if !isUint(s) {
			return nil, false
		}
		return json.Number(s), true
	case kPort:
		if !isUint(s) || len(s) > 5 {
			return nil, false
		}
		n := 0
		for i := 0; i < len(s); i++ {
			n = n*10 + int(s[i]-'0')
		}
		if n > 65535 {
			return nil, false
		}
		return json.Number(s), true
	case kInt:
		if !isUint(strings.TrimPrefix(s, "-")) {
			return nil, false
		}
		return json.Number(s), true
	case kReal:
		if !isJSONNumber(s) {
			return nil, false
		}
		return json.Number(s), true
	case kBool:
		switch s {
		case "T":
			return true, true
		case "F":
			return false, true
		}
		return nil, false
	default:
		return unescape(s), true
	}
}

// isUint reports whether s is a JSON unsigned integer: digits, no leading
// zero unless it is "0".
func isUint(s string) bool {
	if s == "" || len(s) > 20 {
		return false
	}
	if s[0] == '0' && len(s) > 1 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isJSONNumber reports whether s follows the JSON number grammar, so the
// json.Number built from it is always valid JSON.
func isJSONNumber(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	i := 0
	if s[i] == '-' {
		i++
	}
	if i == len(s) {
		return false
	}
	switch {
	case s[i] == '0':
		i++
	case s[i] >= '1' && s[i] <= '9':
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		j := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == j {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		j := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == j {
			return false
		}
	}
	return i == len(s)
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// unescape decodes Zeek's \xNN escapes. Other backslashes are kept. The
// result is always valid UTF-8: a byte that would not form valid UTF-8
// (whether written raw or as an escape) is written back as the \xNN escape
// text, so binary content stays visible and lossless.
func unescape(s string) string {
	if strings.IndexByte(s, '\\') < 0 && utf8.ValidString(s) {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+3 < len(s) && s[i+1] == 'x' {
			hi, ok1 := unhex(s[i+2])
			lo, ok2 := unhex(s[i+3])
			if ok1 && ok2 {
				b = append(b, hi<<4|lo)
				i += 3
				continue
			}
		}
		b = append(b, c)
	}
	if utf8.Valid(b) {
		return string(b)
	}
	return reescape(b)
}

const hexDigits = "0123456789abcdef"

// reescape writes the bytes of b that are not part of valid UTF-8 as \xNN.
func reescape(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b) + 8)
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size <= 1 {
			sb.WriteString(`\x`)
			sb.WriteByte(hexDigits[b[0]>>4])
			sb.WriteByte(hexDigits[b[0]&0xf])
			b = b[1:]
			continue
		}
		sb.Write(b[:size])
		b = b[size:]
	}
	return sb.String()
}

// unescapeHeader decodes the \xNN escapes of a header value such as the
// "#separator \x09" line.
func unescapeHeader(s string) string {
	return unescape(s)
}
