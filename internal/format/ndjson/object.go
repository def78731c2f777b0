package ndjson

import (
	"encoding/json"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/heimdallhub/heimdall/internal/format"
)

// Reject codes of ParseObject.
const (
	CodeInvalidUTF8   = "invalid_utf8"
	CodeDuplicateKey  = "duplicate_key"
	CodeTooDeep       = "too_deep"
	CodeTooManyFields = "too_many_fields"
	CodeFieldTooLong  = "field_too_long"
	CodeNotAnObject   = "not_an_object"
	CodeInvalidJSON   = "invalid_json"
)

// ParseObject parses b as exactly one JSON object, optionally surrounded by
// JSON whitespace, under the limits lim (zero limits mean the defaults). It
// returns the object, or a Reject saying what is wrong and at which byte of
// b; see the package documentation for the codes. The caller bounds len(b)
// (NDJSON lines by MaxLineBytes, array elements by MaxRecordBytes).
func ParseObject(b []byte, lim format.Limits) (map[string]any, *format.Reject) {
	m, rej, _ := parseObject(b, lim.WithDefaults())
	return m, rej
}

// Parser is ParseObject for a stream of records: it keeps a scratch buffer
// and a bounded cache of key strings between calls, so similar records
// allocate less. A Parser is not safe for concurrent use.
type Parser struct {
	lim   format.Limits
	cache cache
}

// NewParser returns a Parser with the limits lim (zero limits mean the
// defaults).
func NewParser(lim format.Limits) *Parser {
	return &Parser{lim: lim.WithDefaults(), cache: newCache()}
}

// Parse is ParseObject(b, lim) with p's limits.
func (p *Parser) Parse(b []byte) (map[string]any, *format.Reject) {
	m, rej, _ := p.cache.parseObject(b, p.lim)
	return m, rej
}

// parseObject is ParseObject with defaults already applied; it also returns
// the byte position the reject refers to (-1 when none), so that the array
// reader can place a syntax error in the input.
func parseObject(b []byte, lim format.Limits) (map[string]any, *format.Reject, int) {
	var c cache
	return c.parseObject(b, lim)
}

// cache holds what a reader reuses from record to record: the scratch
// buffer for unescaping and the key cache. Its memory is bounded by the
// field limit and maxCachedKeys*maxCachedKeyLen.
type cache struct {
	scratch []byte
	keys    map[string]string
}

func (c *cache) parseObject(b []byte, lim format.Limits) (map[string]any, *format.Reject, int) {
	if i := invalidUTF8At(b); i >= 0 {
		return nil, format.Rejectf(CodeInvalidUTF8, "invalid UTF-8 at byte %d", i), i
	}
	p := parser{b: b, lim: lim, scratch: c.scratch, keys: c.keys}
	m := p.parse()
	c.scratch = p.scratch
	if p.rej != nil {
		return nil, p.rej, p.pos
	}
	return m, nil, -1
}

// parser is a strict, iterative (non-recursive) JSON object parser: the
// grammar is RFC 8259's, as encoding/json accepts it (the tests check both
// agree), plus the checks encoding/json does not make.
type parser struct {
	b       []byte
	i       int
	lim     format.Limits
	scratch []byte            // unescaped string
	keys    map[string]string // key cache (nil: none), see intern
	rej     *format.Reject
	pos     int
}

// frame is one open container.
type frame struct {
	obj map[string]any // set for an object
	arr []any          // elements of an array
	key string         // key awaiting its value (objects)
}

func (p *parser) fail(code string, pos int, format_ string, args ...any) {
	if p.rej == nil {
		p.rej = format.Rejectf(code, format_, args...)
		p.pos = pos
	}
}

func (p *parser) syntax(pos int) {
	if pos >= len(p.b) {
		p.fail(CodeInvalidJSON, len(p.b), "unexpected end of input at byte %d", len(p.b))
		return
	}
	p.fail(CodeInvalidJSON, pos, "syntax error at byte %d", pos)
}

func (p *parser) skipSpace() {
	for p.i < len(p.b) && isSpace(p.b[p.i]) {
		p.i++
	}
}

// atEnd reports whether only whitespace is left.
func (p *parser) atEnd() bool {
	p.skipSpace()
	return p.i >= len(p.b)
}

// peek returns the next non-whitespace byte (0 at the end, which callers
// must not take for a NUL byte: see atEnd).
func (p *parser) peek() byte {
	p.skipSpace()
	if p.i < len(p.b) {
		return p.b[p.i]
	}
	return 0
}

func (p *parser) parse() map[string]any {
	switch c := p.peek(); c {
	case '{':
	case '[':
		p.fail(CodeNotAnObject, p.i, "the record is a JSON array, not an object")
		return nil
	default:
		// A scalar: name it if it is valid JSON, otherwise a syntax error.
		start := p.i
		v, ok := p.scalar()
		if !ok {
			return nil
		}
		if !p.atEnd() {
			p.syntax(p.i)
			return nil
		}
		p.fail(CodeNotAnObject, start, "the record is a JSON %s, not an object", kindOf(v))
		return nil
	}
	stack := make([]frame, 0, 8)
	var v any
	for {
		// Expecting a value at p.i.
		switch c := p.peek(); c {
		case '{', '[':
			if len(stack) >= p.lim.MaxDepth {
				p.fail(CodeTooDeep, p.i, "nesting deeper than %d levels at byte %d", p.lim.MaxDepth, p.i)
				return nil
			}
			p.i++
			if c == '{' {
				if p.peek() == '}' {
					p.i++
					v = map[string]any{}
					break
				}
				f := frame{obj: make(map[string]any)}
				if !p.key(&f) {
					return nil
				}
				stack = append(stack, f)
			} else {
				if p.peek() == ']' {
					p.i++
					v = []any{}
					break
				}
				stack = append(stack, frame{arr: make([]any, 0, 4)})
			}
			continue
		default:
			var ok bool
			if v, ok = p.scalar(); !ok {
				return nil
			}
		}
		// v is complete: store it, closing every container it completes.
		for {
			if len(stack) == 0 {
				if !p.atEnd() {
					p.fail(CodeInvalidJSON, p.i, "data after the object at byte %d", p.i)
					return nil
				}
				m, ok := v.(map[string]any) // always: the first byte was '{'
				if !ok {
					p.fail(CodeNotAnObject, 0, "the record is not a JSON object")
				}
				return m
			}
			top := &stack[len(stack)-1]
			c := p.peek()
			if top.obj != nil {
				top.obj[top.key] = v
				if c == ',' {
					p.i++
					if !p.key(top) {
						return nil
					}
					break
				}
				if c != '}' {
					p.syntax(p.i)
					return nil
				}
				v = top.obj
			} else {
				top.arr = append(top.arr, v)
				if c == ',' {
					p.i++
					break
				}
				if c != ']' {
					p.syntax(p.i)
					return nil
				}
				v = top.arr
			}
			p.i++
			stack = stack[:len(stack)-1]
		}
	}
}

// key reads `"key" :` into f, checking the object's limits.
func (p *parser) key(f *frame) bool {
	if p.peek() != '"' {
		p.syntax(p.i)
		return false
	}
	pos := p.i
	kb, ok := p.strBytes()
	if !ok {
		return false
	}
	k := p.intern(kb)
	switch _, dup := f.obj[k]; {
	case len(k) > p.lim.MaxFieldBytes:
		p.fail(CodeFieldTooLong, pos, "object key at byte %d is longer than %d bytes", pos, p.lim.MaxFieldBytes)
		return false
	case dup:
		p.fail(CodeDuplicateKey, pos, "object key at byte %d repeats an earlier key of the same object", pos)
		return false
	case len(f.obj) >= p.lim.MaxFields:
		p.fail(CodeTooManyFields, pos, "object has more than %d keys (at byte %d)", p.lim.MaxFields, pos)
		return false
	}
	if p.peek() != ':' {
		p.syntax(p.i)
		return false
	}
	p.i++
	f.key = k
	return true
}

// Bounds of the key cache: keys repeat from record to record, so the
// readers keep the strings of short keys instead of allocating them again.
const (
	maxCachedKeys   = 4096
	maxCachedKeyLen = 128
)

// intern returns b as a string, from p.keys when possible.
func (p *parser) intern(b []byte) string {
	if p.keys == nil || len(b) > maxCachedKeyLen {
		return string(b)
	}
	if s, ok := p.keys[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(p.keys) < maxCachedKeys {
		p.keys[s] = s
	}
	return s
}

// scalar reads a string, number or literal at p.i.
func (p *parser) scalar() (any, bool) {
	if p.i >= len(p.b) {
		p.syntax(p.i)
		return nil, false
	}
	switch c := p.b[p.i]; {
	case c == '"':
		pos := p.i
		s, ok := p.str()
		if ok && len(s) > p.lim.MaxFieldBytes {
			p.fail(CodeFieldTooLong, pos, "string at byte %d is longer than %d bytes", pos, p.lim.MaxFieldBytes)
			return nil, false
		}
		return s, ok
	case c == '-' || '0' <= c && c <= '9':
		return p.number()
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == 'n':
		return nil, p.literal("null")
	}
	p.syntax(p.i)
	return nil, false
}

func (p *parser) literal(lit string) bool {
	for j := 0; j < len(lit); j++ {
		if p.i+j >= len(p.b) || p.b[p.i+j] != lit[j] {
			p.syntax(p.i + j)
			return false
		}
	}
	p.i += len(lit)
	return true
}

// number reads -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? and keeps its
// text.
func (p *parser) number() (any, bool) {
	b, start := p.b, p.i
	i := p.i
	if b[i] == '-' {
		i++
	}
	digits := func() bool {
		n := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		return i > n
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case !digits():
		p.syntax(i)
		return nil, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if !digits() {
			p.syntax(i)
			return nil, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if !digits() {
			p.syntax(i)
			return nil, false
		}
	}
	p.i = i
	return json.Number(b[start:i]), true
}

// str reads a string at p.i (which is '"') and returns it unescaped.
func (p *parser) str() (string, bool) {
	b, ok := p.strBytes()
	return string(b), ok
}

// strBytes reads a string at p.i (which is '"') and returns it unescaped,
// in b or in p.scratch (valid until the next call). The input is valid
// UTF-8 (checked up front); escapes must not produce lone surrogates.
func (p *parser) strBytes() ([]byte, bool) {
	b := p.b
	i := p.i + 1
	start := i
	// Fast path: no escapes.
	for i < len(b) {
		c := b[i]
		if c == '"' {
			p.i = i + 1
			return b[start:i], true
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			p.syntax(i)
			return nil, false
		}
		i++
	}
	out := append(p.scratch[:0], b[start:i]...)
	for {
		if i >= len(b) {
			p.syntax(i)
			return nil, false
		}
		c := b[i]
		switch {
		case c == '"':
			p.i = i + 1
			p.scratch = out
			return out, true
		case c < 0x20:
			p.syntax(i)
			return nil, false
		case c != '\\':
			out = append(out, c)
			i++
			continue
		}
		// An escape.
		if i+1 >= len(b) {
			p.syntax(i + 1)
			return nil, false
		}
		esc := i
		switch b[i+1] {
		case '"', '\\', '/':
			out = append(out, b[i+1])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(b, i+2)
			if !ok {
				p.syntax(firstNonHex(b, i+2))
				return nil, false
			}
			i += 6
			if utf16.IsSurrogate(r) {
				lo, ok := rune(0), false
				if r < 0xDC00 && i+1 < len(b) && b[i] == '\\' && b[i+1] == 'u' {
					lo, ok = hex4(b, i+2)
				}
				dec := utf16.DecodeRune(r, lo)
				if !ok || dec == utf8.RuneError {
					p.fail(CodeInvalidUTF8, esc, "escape at byte %d is an unpaired UTF-16 surrogate", esc)
					return nil, false
				}
				r = dec
				i += 6
			}
			out = utf8.AppendRune(out, r)
			continue
		default:
			p.syntax(i + 1)
			return nil, false
		}
		i += 2
	}
}

// firstNonHex returns the position of the first of the four bytes at i
// that is not a hex digit (or the end of b).
func firstNonHex(b []byte, i int) int {
	for j := i; j < i+4; j++ {
		if j >= len(b) {
			return len(b)
		}
		if c := b[j]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return j
		}
	}
	return i
}

func kindOf(v any) string {
	switch v.(type) {
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

// isSpace reports whether c is JSON whitespace.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n'
}

// invalidUTF8At returns the position of the first byte of b that is not
// part of a valid UTF-8 sequence, or -1.
func invalidUTF8At(b []byte) int {
	if utf8.Valid(b) {
		return -1
	}
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return -1
}

// hex4 decodes the four hex digits at b[i:i+4].
func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

func newCache() cache { return cache{keys: make(map[string]string)} }
