package ndjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"

	"github.com/heimdallhub/heimdall/internal/format"
)

// frame is one open container while parsing.
type refFrame struct {
	obj    map[string]any // set for an object
	arr    []any          // elements of an array
	key    string         // key awaiting its value (objects)
	hasKey bool
}

// refParseObject is the first implementation of ParseObject, on the
// json.Decoder Token API. It was replaced because encoding/json builds an
// error string for every scalar token (about 2-7 MB/s here); it stays as a
// test oracle for the reject codes. lim must have its defaults applied.
func refParseObject(b []byte, lim format.Limits) (map[string]any, *format.Reject, int) {
	if i := invalidUTF8At(b); i >= 0 {
		return nil, format.Rejectf(CodeInvalidUTF8, "invalid UTF-8 at byte %d", i), i
	}
	if i := refLoneSurrogateAt(b); i >= 0 {
		return nil, format.Rejectf(CodeInvalidUTF8, "escape at byte %d is an unpaired UTF-16 surrogate", i), i
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()

	tok, err := dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, format.Rejectf(CodeInvalidJSON, "no JSON value"), 0
		}
		return refSyntaxReject(err, len(b))
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		// Not an object: no need to read (or validate) the rest.
		return nil, format.Rejectf(CodeNotAnObject, "the record is a JSON %s, not an object", refKind(tok)), refSkipSpace(b, 0)
	}
	stack := make([]refFrame, 1, 8)
	stack[0].obj = make(map[string]any)
	var root map[string]any
	for root == nil {
		start := int(dec.InputOffset())
		tok, err := dec.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, format.Rejectf(CodeInvalidJSON, "unexpected end of input at byte %d", len(b)), len(b)
			}
			return refSyntaxReject(err, len(b))
		}
		top := &stack[len(stack)-1]
		if top.obj != nil && !top.hasKey {
			// Expecting a key or the end of the object; the decoder has
			// already rejected anything else.
			if key, ok := tok.(string); ok {
				pos := refTokenStart(b, start)
				switch {
				case len(key) > lim.MaxFieldBytes:
					return nil, format.Rejectf(CodeFieldTooLong, "object key at byte %d is longer than %d bytes", pos, lim.MaxFieldBytes), pos
				case refHasKey(top.obj, key):
					return nil, format.Rejectf(CodeDuplicateKey, "object key at byte %d repeats an earlier key of the same object", pos), pos
				case len(top.obj) >= lim.MaxFields:
					return nil, format.Rejectf(CodeTooManyFields, "object has more than %d keys (at byte %d)", lim.MaxFields, pos), pos
				}
				top.key, top.hasKey = key, true
				continue
			}
		}
		var v any
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				if len(stack) >= lim.MaxDepth {
					pos := refTokenStart(b, start)
					return nil, format.Rejectf(CodeTooDeep, "nesting deeper than %d levels at byte %d", lim.MaxDepth, pos), pos
				}
				f := refFrame{}
				if t == '{' {
					f.obj = make(map[string]any)
				} else {
					f.arr = make([]any, 0, 4)
				}
				stack = append(stack, f)
				continue
			default: // '}' or ']': the decoder checked it matches
				closed := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				if closed.obj != nil {
					v = closed.obj
				} else {
					v = closed.arr
				}
				if len(stack) == 0 {
					root = closed.obj
					continue
				}
			}
		case string:
			if len(t) > lim.MaxFieldBytes {
				pos := refTokenStart(b, start)
				return nil, format.Rejectf(CodeFieldTooLong, "string at byte %d is longer than %d bytes", pos, lim.MaxFieldBytes), pos
			}
			v = t
		default: // json.Number, bool, nil
			v = t
		}
		parent := &stack[len(stack)-1]
		if parent.obj != nil {
			parent.obj[parent.key] = v
			parent.key, parent.hasKey = "", false
		} else {
			parent.arr = append(parent.arr, v)
		}
	}
	if p := refSkipSpace(b, int(dec.InputOffset())); p < len(b) {
		return nil, format.Rejectf(CodeInvalidJSON, "data after the object at byte %d", p), p
	}
	return root, nil, -1
}

func refHasKey(m map[string]any, k string) bool {
	_, ok := m[k]
	return ok
}

// syntaxReject describes a decoder error without quoting input.
func refSyntaxReject(err error, n int) (map[string]any, *format.Reject, int) {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		pos := int(syn.Offset)
		return nil, format.Rejectf(CodeInvalidJSON, "syntax error at byte %d", pos), pos
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return nil, format.Rejectf(CodeInvalidJSON, "unexpected end of input at byte %d", n), n
	}
	return nil, format.Rejectf(CodeInvalidJSON, "malformed JSON"), -1
}

func refKind(tok json.Token) string {
	switch tok.(type) {
	case json.Delim:
		return "array"
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	default:
		return "null"
	}
}

// loneSurrogateAt returns the position of the first \uXXXX escape in b that
// is an unpaired UTF-16 surrogate, or -1. Outside strings a backslash is a
// syntax error anyway, so escapes are found by pairing backslashes.
func refLoneSurrogateAt(b []byte) int {
	i := 0
	for {
		j := bytes.IndexByte(b[i:], '\\')
		if j < 0 {
			return -1
		}
		i += j
		if i+1 >= len(b) {
			return -1
		}
		if b[i+1] != 'u' {
			i += 2 // \" \\ \/ \b \f \n \r \t (or a syntax error)
			continue
		}
		r, ok := hex4(b, i+2)
		if !ok {
			i += 2
			continue
		}
		switch {
		case r >= 0xD800 && r < 0xDC00: // high surrogate: a low one must follow
			if i+11 < len(b) && b[i+6] == '\\' && b[i+7] == 'u' {
				if lo, ok := hex4(b, i+8); ok && lo >= 0xDC00 && lo < 0xE000 {
					i += 12
					continue
				}
			}
			return i
		case r >= 0xDC00 && r < 0xE000: // low surrogate without a high one
			return i
		}
		i += 6
	}
}

func refSkipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

func refTokenStart(b []byte, i int) int {
	i = refSkipSpace(b, i)
	if i < len(b) && (b[i] == ',' || b[i] == ':') {
		i = refSkipSpace(b, i+1)
	}
	return i
}
