package httpjson

import (
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Bounds of paths and of what they produce.
const (
	maxPathLen   = 512 // bytes of a path's text
	maxPathSteps = 32  // steps of a path
	// MaxValuesPerField caps the values one field contributes (a wildcard
	// or an array at the end of a path yields one attribute per element).
	MaxValuesPerField = 32
	// MaxValueBytes caps one attribute value; longer strings are cut at a
	// rune boundary.
	MaxValueBytes = 256
)

// step is one step of a path.
type step struct {
	key     string // object member (for an index step, its decimal text)
	index   int    // array element, or -1
	all     bool   // every element of an array ("[]"), or with "*" also every member of an object
	arrOnly bool
}

// path is a compiled JSON path: dotted member names, array indexes as
// numbers or [n], and wildcards "*" (every array element or object member,
// members in key order) and "[]" (every array element).
//
//	data.attributes.last_analysis_stats.malicious
//	data.tags.0            data.tags[0]          (first element)
//	data.tags[]            data.tags.*           (every element)
//	results.*.score        [0].name              (top-level array)
//
// A numeric step on an object selects the member of that name. Member names
// cannot contain '.', '[' or ']'.
type path struct {
	raw   string
	steps []step
}

// compilePath parses s.
func compilePath(s string) (path, error) {
	if s == "" {
		return path{}, errors.New("the path is empty")
	}
	if len(s) > maxPathLen {
		return path{}, errors.New("the path is too long")
	}
	if !utf8.ValidString(s) {
		return path{}, errors.New("the path is not valid UTF-8")
	}
	var steps []step
	for part := range strings.SplitSeq(s, ".") {
		if part == "" {
			return path{}, errors.New("the path has an empty step (a leading, trailing or doubled '.')")
		}
		if part == "*" {
			steps = append(steps, step{all: true, index: -1})
			continue
		}
		name, brackets, _ := strings.Cut(part, "[")
		if brackets != "" || strings.HasSuffix(part, "[") {
			brackets = "[" + brackets
		}
		if name != "" {
			for _, r := range name {
				if r < 0x20 || r == 0x7f || r == ']' || r == '*' {
					return path{}, errors.New("the path has a step with a control character, ']' or '*' in a name")
				}
			}
			steps = append(steps, nameStep(name))
		}
		for brackets != "" {
			end := strings.IndexByte(brackets, ']')
			if end < 0 {
				return path{}, errors.New("the path has an unclosed '['")
			}
			inner := brackets[1:end]
			switch {
			case inner == "":
				steps = append(steps, step{all: true, arrOnly: true, index: -1})
			case inner == "*":
				steps = append(steps, step{all: true, index: -1})
			default:
				n, ok := index(inner)
				if !ok {
					return path{}, errors.New("the path has a bracket that is not [], [*] or [number]")
				}
				steps = append(steps, step{key: inner, index: n})
			}
			brackets = brackets[end+1:]
			if brackets != "" && brackets[0] != '[' {
				return path{}, errors.New("the path has text after a ']' that is not a '.' or '['")
			}
		}
		if len(steps) > maxPathSteps {
			return path{}, errors.New("the path has too many steps")
		}
	}
	return path{raw: s, steps: steps}, nil
}

func nameStep(name string) step {
	if n, ok := index(name); ok {
		return step{key: name, index: n}
	}
	return step{key: name, index: -1}
}

// index parses a decimal array index of at most 9 digits.
func index(s string) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

// eval returns the values p selects in doc (a document decoded with
// UseNumber), at most limit of them, in document order (object members of a
// wildcard in key order).
func (p path) eval(doc any, limit int) []any {
	var out []any
	walk(doc, p.steps, &out, limit)
	return out
}

func walk(v any, steps []step, out *[]any, limit int) {
	if len(*out) >= limit {
		return
	}
	if len(steps) == 0 {
		*out = append(*out, v)
		return
	}
	s, rest := steps[0], steps[1:]
	switch x := v.(type) {
	case map[string]any:
		switch {
		case s.all && !s.arrOnly:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				if len(*out) >= limit {
					return
				}
				walk(x[k], rest, out, limit)
			}
		case !s.all:
			if c, ok := x[s.key]; ok {
				walk(c, rest, out, limit)
			}
		}
	case []any:
		switch {
		case s.all:
			for _, c := range x {
				if len(*out) >= limit {
					return
				}
				walk(c, rest, out, limit)
			}
		case s.index >= 0 && s.index < len(x):
			walk(x[s.index], rest, out, limit)
		}
	}
}

// values returns the attribute values of what p selects in doc: scalars
// formatted (see format), arrays expanded one level into their scalar
// elements, objects and nulls skipped; at most limit values.
func (p path) values(doc any, limit int) []string {
	var out []string
	add := func(v any) {
		if s, ok := format(v); ok && len(out) < limit {
			out = append(out, s)
		}
	}
	for _, v := range p.eval(doc, limit) {
		if arr, ok := v.([]any); ok {
			for _, e := range arr {
				if len(out) >= limit {
					break
				}
				add(e)
			}
			continue
		}
		add(v)
	}
	return out
}

// format turns a scalar into an attribute value: strings trimmed, without
// control characters, at most MaxValueBytes; numbers in their shortest
// decimal form; booleans "true" or "false". Other values are not scalars.
func format(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		s := cleanText(x)
		return s, s != ""
	case json.Number:
		return number(string(x))
	case float64: // documents not decoded with UseNumber
		return number(strconv.FormatFloat(x, 'g', -1, 64))
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

// number formats a JSON number minimally: integers of up to 40 digits as
// written (without a leading "-" on zero), others through float64 in the
// shortest form that reads back the same, in exponent form only outside
// [1e-6, 1e21). Non-finite results are dropped.
func number(s string) (string, bool) {
	digits := strings.TrimPrefix(s, "-")
	if digits != "" && len(digits) <= 40 && strings.Trim(digits, "0123456789") == "" {
		if strings.Trim(digits, "0") == "" {
			return "0", true
		}
		return s, true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return "", false
	}
	if f == 0 {
		return "0", true
	}
	if a := math.Abs(f); a >= 1e21 || a < 1e-6 {
		return strconv.FormatFloat(f, 'g', -1, 64), true
	}
	return strconv.FormatFloat(f, 'f', -1, 64), true
}

// numeric reads a finite number from a JSON number or a numeric string.
func numeric(v any) (float64, bool) {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = string(x)
	case string:
		s = strings.TrimSpace(x)
	case float64:
		return x, !math.IsInf(x, 0) && !math.IsNaN(x)
	default:
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

// truthy reports whether v counts as present for NotFoundPath: not null,
// not false, not zero, not an empty string, array or object.
func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return strings.TrimSpace(x) != ""
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		return err != nil || f != 0
	case float64:
		return x != 0
	case []any:
		return len(x) > 0
	case map[string]any:
		return len(x) > 0
	}
	return true
}

// cleanText makes s an attribute value: valid UTF-8 without control
// characters, trimmed, at most MaxValueBytes.
func cleanText(s string) string {
	if len(s) > 4*MaxValueBytes {
		s = s[:4*MaxValueBytes]
	}
	s = strings.ToValidUTF8(s, "")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == 0x2028 || r == 0x2029 {
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if len(s) > MaxValueBytes {
		s = s[:MaxValueBytes]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
		s = strings.TrimSpace(s)
	}
	return s
}
