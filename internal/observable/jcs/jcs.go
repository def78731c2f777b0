package jcs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// Sentinel errors. Returned errors wrap one of these with context.
var (
	// ErrNumber reports a number that has no JSON form (NaN, ±Inf) or that
	// is outside the I-JSON range.
	ErrNumber = errors.New("number cannot be represented in canonical JSON")
	// ErrString reports a string or member name that is not valid UTF-8.
	ErrString = errors.New("string is not valid UTF-8")
	// ErrType reports a Go value of a type that has no JSON form here.
	ErrType = errors.New("unsupported value type")
	// ErrSyntax reports JSON text that cannot be parsed.
	ErrSyntax = errors.New("invalid JSON text")
	// ErrDuplicateKey reports an object with two members of the same name.
	ErrDuplicateKey = errors.New("duplicate object member name")
	// ErrDepth reports nesting deeper than MaxDepth.
	ErrDepth = errors.New("nesting too deep")
)

// MaxDepth bounds the nesting of arrays and objects, to keep recursion bounded
// on hostile input.
const MaxDepth = 256

// maxSafeInt is 2^53, the largest magnitude up to which every integer has an
// exact IEEE 754 double representation.
const maxSafeInt = 1 << 53

// Marshal returns the RFC 8785 canonical JSON serialisation of v.
//
// Supported values: nil, bool, string, every Go integer and float type,
// json.Number, map[string]T and []T / [N]T of supported T (including
// map[string]any and []any), and pointers to supported values (nil pointer
// gives null). Strings must be valid UTF-8.
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	if err := encodeValue(&buf, reflect.ValueOf(v), 0); err != nil {
		return nil, fmt.Errorf("jcs: marshal: %w", err)
	}
	return buf.Bytes(), nil
}

// Transform parses JSON text and returns its RFC 8785 canonical form.
// Duplicate member names and invalid UTF-8 are rejected; numbers are read as
// IEEE 754 doubles.
func Transform(data []byte) ([]byte, error) {
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("jcs: transform: %w", ErrString)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := parseValue(dec, 0)
	if err != nil {
		return nil, fmt.Errorf("jcs: transform: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("jcs: transform: trailing data: %w", ErrSyntax)
	}
	return Marshal(v)
}

// parseValue reads one JSON value from dec into nil, bool, string,
// json.Number, map[string]any or []any.
func parseValue(dec *json.Decoder, depth int) (any, error) {
	if depth > MaxDepth {
		return nil, ErrDepth
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, ErrSyntax
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			obj := map[string]any{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, ErrSyntax
				}
				k, ok := kt.(string)
				if !ok {
					return nil, ErrSyntax
				}
				if _, dup := obj[k]; dup {
					return nil, ErrDuplicateKey
				}
				val, err := parseValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				obj[k] = val
			}
			if _, err := dec.Token(); err != nil {
				return nil, ErrSyntax
			}
			return obj, nil
		case '[':
			arr := []any{}
			for dec.More() {
				val, err := parseValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				arr = append(arr, val)
			}
			if _, err := dec.Token(); err != nil {
				return nil, ErrSyntax
			}
			return arr, nil
		default:
			return nil, ErrSyntax
		}
	default:
		return t, nil // nil, bool, string or json.Number
	}
}

var numberType = reflect.TypeFor[json.Number]()

func encodeValue(buf *bytes.Buffer, v reflect.Value, depth int) error {
	if depth > MaxDepth {
		return ErrDepth
	}
	if !v.IsValid() {
		buf.WriteString("null")
		return nil
	}
	if v.Type() == numberType {
		f, err := strconv.ParseFloat(v.String(), 64)
		if err != nil {
			return ErrNumber
		}
		s, err := FormatNumber(f)
		if err != nil {
			return err
		}
		buf.WriteString(s)
		return nil
	}
	switch v.Kind() {
	case reflect.Interface, reflect.Pointer:
		if v.IsNil() {
			buf.WriteString("null")
			return nil
		}
		return encodeValue(buf, v.Elem(), depth)
	case reflect.Bool:
		if v.Bool() {
			buf.WriteString("true")
		} else {
			buf.WriteString("false")
		}
		return nil
	case reflect.String:
		return writeString(buf, v.String())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n := v.Int()
		if n > maxSafeInt || n < -maxSafeInt {
			return ErrNumber
		}
		buf.WriteString(strconv.FormatInt(n, 10))
		return nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		n := v.Uint()
		if n > maxSafeInt {
			return ErrNumber
		}
		buf.WriteString(strconv.FormatUint(n, 10))
		return nil
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return ErrNumber
		}
		s, err := FormatNumber(f)
		if err != nil {
			return err
		}
		buf.WriteString(s)
		return nil
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			return ErrType
		}
		if v.IsNil() {
			buf.WriteString("null")
			return nil
		}
		keys := v.MapKeys()
		names := make([]string, len(keys))
		for i, k := range keys {
			names[i] = k.String()
			if !utf8.ValidString(names[i]) {
				return ErrString
			}
		}
		order := make([]int, len(keys))
		for i := range order {
			order[i] = i
		}
		slices.SortFunc(order, func(a, b int) int { return compareUTF16(names[a], names[b]) })
		buf.WriteByte('{')
		for i, idx := range order {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeString(buf, names[idx]); err != nil {
				return err
			}
			buf.WriteByte(':')
			if err := encodeValue(buf, v.MapIndex(keys[idx]), depth+1); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
		return nil
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			buf.WriteString("null")
			return nil
		}
		buf.WriteByte('[')
		for i := range v.Len() {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := encodeValue(buf, v.Index(i), depth+1); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
		return nil
	default:
		return ErrType
	}
}

// compareUTF16 orders two valid UTF-8 strings by their UTF-16 code units, as
// RFC 8785 section 3.2.3 requires. (This differs from code point order only
// for supplementary characters versus U+E000..U+FFFF.)
func compareUTF16(a, b string) int {
	ua := utf16.Encode([]rune(a))
	ub := utf16.Encode([]rune(b))
	return slices.Compare(ua, ub)
}

const hexDigits = "0123456789abcdef"

// writeString writes s as a JSON string with ECMAScript JSON.stringify
// escaping.
func writeString(buf *bytes.Buffer, s string) error {
	if !utf8.ValidString(s) {
		return ErrString
	}
	buf.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			buf.WriteString(`\"`)
		case '\\':
			buf.WriteString(`\\`)
		case '\b':
			buf.WriteString(`\b`)
		case '\f':
			buf.WriteString(`\f`)
		case '\n':
			buf.WriteString(`\n`)
		case '\r':
			buf.WriteString(`\r`)
		case '\t':
			buf.WriteString(`\t`)
		default:
			if c < 0x20 {
				buf.WriteString(`\u00`)
				buf.WriteByte(hexDigits[c>>4])
				buf.WriteByte(hexDigits[c&0xf])
			} else {
				buf.WriteByte(c)
			}
		}
	}
	buf.WriteByte('"')
	return nil
}

// AppendString writes s to buf as a canonical JSON string, for callers that
// build small canonical objects without reflection. It fails for invalid
// UTF-8, like Marshal.
func AppendString(buf *bytes.Buffer, s string) error { return writeString(buf, s) }
