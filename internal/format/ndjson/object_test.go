package ndjson

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/heimdallhub/heimdall/internal/format"
)

// secret marks input values: no reject reason may contain it.
const secret = "S3CRET"

func TestParseObject(t *testing.T) {
	small := format.Limits{MaxFields: 3, MaxFieldBytes: 8, MaxDepth: 3}
	tests := []struct {
		name string
		in   string
		lim  format.Limits
		want map[string]any // when accepted
		code string         // when rejected
	}{
		{name: "empty object", in: `{}`, want: map[string]any{}},
		{name: "surrounding whitespace", in: " \t{\"a\":1}\r\n ", want: map[string]any{"a": json.Number("1")}},
		{name: "exact numbers", in: `{"big":12345678901234567890123,"f":0.1000000000000000055511151231257827,"e":-1.5e+300}`,
			want: map[string]any{"big": json.Number("12345678901234567890123"), "f": json.Number("0.1000000000000000055511151231257827"), "e": json.Number("-1.5e+300")}},
		{name: "all value types", in: `{"s":"x","t":true,"f":false,"n":null,"a":[1,"y",[],{}],"o":{"k":{"z":[]}}}`,
			want: map[string]any{"s": "x", "t": true, "f": false, "n": nil,
				"a": []any{json.Number("1"), "y", []any{}, map[string]any{}},
				"o": map[string]any{"k": map[string]any{"z": []any{}}}}},
		{name: "escapes and surrogate pair", in: `{"s":"\u00e9\ud83d\ude00\\ud800\n\"","k\u0041":"é😀"}`,
			want: map[string]any{"s": "é😀\\ud800\n\"", "kA": "é😀"}},
		{name: "same key in different objects", in: `{"a":{"a":1},"b":[{"a":1},{"a":2}]}`,
			want: map[string]any{"a": map[string]any{"a": json.Number("1")}, "b": []any{map[string]any{"a": json.Number("1")}, map[string]any{"a": json.Number("2")}}}},
		{name: "at the limits", lim: small, in: `{"a":{"b":["12345678"]},"c":1,"12345678":2}`,
			want: map[string]any{"a": map[string]any{"b": []any{"12345678"}}, "c": json.Number("1"), "12345678": json.Number("2")}},

		{name: "duplicate key", in: `{"a":"` + secret + `","a":2}`, code: CodeDuplicateKey},
		{name: "duplicate key nested", in: `{"x":[{"b":1,"c":{"d":1,"d":"` + secret + `"}}]}`, code: CodeDuplicateKey},
		{name: "duplicate key after unescaping", in: `{"a":1,"\u0061":2}`, code: CodeDuplicateKey},
		{name: "invalid utf8 in value", in: "{\"a\":\"" + secret + "\xff\"}", code: CodeInvalidUTF8},
		{name: "invalid utf8 in key", in: "{\"\xc3\x28\":1}", code: CodeInvalidUTF8},
		{name: "overlong encoding", in: "{\"a\":\"\xc0\xaf\"}", code: CodeInvalidUTF8},
		{name: "utf8 surrogate bytes", in: "{\"a\":\"\xed\xa0\x80\"}", code: CodeInvalidUTF8},
		{name: "lone high surrogate", in: `{"a":"\ud800` + secret + `"}`, code: CodeInvalidUTF8},
		{name: "lone high surrogate at end", in: `{"a":"\uD800"}`, code: CodeInvalidUTF8},
		{name: "lone low surrogate", in: `{"a":"\udc00"}`, code: CodeInvalidUTF8},
		{name: "high then non-low", in: `{"a":"\ud800\u0041"}`, code: CodeInvalidUTF8},
		{name: "lone surrogate in key", in: `{"\udfff":1}`, code: CodeInvalidUTF8},
		{name: "too deep", lim: small, in: `{"a":{"b":[[1]]}}`, code: CodeTooDeep},
		{name: "too deep default", in: `{"a":` + strings.Repeat("[", 64) + strings.Repeat("]", 64) + `}`, code: CodeTooDeep},
		{name: "deep within default", in: `{"a":` + strings.Repeat("[", 63) + strings.Repeat("]", 63) + `}`,
			want: map[string]any{"a": nest(63)}},
		{name: "too many fields", lim: small, in: `{"a":1,"b":2,"c":3,"d":4}`, code: CodeTooManyFields},
		{name: "too many fields nested", lim: small, in: `{"o":{"a":1,"b":2,"c":3,"d":4}}`, code: CodeTooManyFields},
		{name: "value too long", lim: small, in: `{"a":"123456789"}`, code: CodeFieldTooLong},
		{name: "value too long after unescaping counts bytes", lim: small, in: `{"a":"\u00e9\u00e9\u00e9\u00e9\u00e9"}`, code: CodeFieldTooLong},
		{name: "key too long", lim: small, in: `{"123456789":1}`, code: CodeFieldTooLong},
		{name: "array", in: `[{"a":1}]`, code: CodeNotAnObject},
		{name: "string", in: `"` + secret + `"`, code: CodeNotAnObject},
		{name: "number", in: `42`, code: CodeNotAnObject},
		{name: "true", in: `true`, code: CodeNotAnObject},
		{name: "null", in: `null`, code: CodeNotAnObject},
		{name: "empty", in: ``, code: CodeInvalidJSON},
		{name: "whitespace only", in: " \t ", code: CodeInvalidJSON},
		{name: "unclosed", in: `{"a":1`, code: CodeInvalidJSON},
		{name: "unclosed string", in: `{"a":"` + secret, code: CodeInvalidJSON},
		{name: "trailing comma", in: `{"a":1,}`, code: CodeInvalidJSON},
		{name: "trailing comma in array", in: `{"a":[1,]}`, code: CodeInvalidJSON},
		{name: "missing colon", in: `{"a" 1}`, code: CodeInvalidJSON},
		{name: "missing comma", in: `{"a":1 "b":2}`, code: CodeInvalidJSON},
		{name: "unquoted key", in: `{a:1}`, code: CodeInvalidJSON},
		{name: "single quotes", in: `{'a':1}`, code: CodeInvalidJSON},
		{name: "mismatched bracket", in: `{"a":[1}`, code: CodeInvalidJSON},
		{name: "leading zero", in: `{"a":01}`, code: CodeInvalidJSON},
		{name: "NaN", in: `{"a":NaN}`, code: CodeInvalidJSON},
		{name: "control character in string", in: "{\"a\":\"x\ty\"}", code: CodeInvalidJSON},
		{name: "bad escape", in: `{"a":"\x41"}`, code: CodeInvalidJSON},
		{name: "trailing data", in: `{"a":1} ` + secret, code: CodeInvalidJSON},
		{name: "two objects", in: `{"a":1}{"a":2}`, code: CodeInvalidJSON},
		{name: "trailing NUL", in: "{}\x00", code: CodeInvalidJSON},
		{name: "trailing NUL after value", in: "{\"a\":1}\x00", code: CodeInvalidJSON},
		{name: "NUL scalar", in: "\x00", code: CodeInvalidJSON},
		{name: "scalar then NUL", in: "1\x00", code: CodeInvalidJSON},
		{name: "invalid literal", in: `{"a":tru}`, code: CodeInvalidJSON},
		{name: "nbsp is not json whitespace", in: "\u00a0{}", code: CodeInvalidJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, rej := ParseObject([]byte(tt.in), tt.lim)
			if tt.code != "" {
				if rej == nil {
					t.Fatalf("accepted %v, want reject %s", got, tt.code)
				}
				if rej.Code != tt.code {
					t.Fatalf("reject %v, want code %s", rej, tt.code)
				}
				if got != nil {
					t.Errorf("rejected but fields = %v", got)
				}
				checkReason(t, rej.Reason)
				return
			}
			if rej != nil {
				t.Fatalf("rejected: %v", rej)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func nest(n int) any {
	var v any = []any{}
	for i := 1; i < n; i++ {
		v = []any{v}
	}
	return v
}

func checkReason(t *testing.T, reason string) {
	t.Helper()
	if reason == "" || strings.Contains(reason, secret) || strings.Contains(strings.ToLower(reason), strings.ToLower(secret)) {
		t.Errorf("reason %q is empty or quotes input", reason)
	}
	if !utf8.ValidString(reason) {
		t.Errorf("reason %q is not UTF-8", reason)
	}
}

// TestParseObjectDeepIsCheap: a 10k-deep input is rejected after MaxDepth
// tokens, without recursion and without work proportional to the depth
// beyond the UTF-8 and escape scans.
func TestParseObjectDeepIsCheap(t *testing.T) {
	const depth = 10000
	inputs := map[string]string{
		"arrays in object":  `{"a":` + strings.Repeat("[", depth) + strings.Repeat("]", depth) + `}`,
		"objects in object": `{` + strings.Repeat(`"a":{`, depth) + strings.Repeat("}", depth) + `}`,
		"unclosed":          `{"a":` + strings.Repeat("[", depth*10),
		"top-level arrays":  strings.Repeat("[", depth) + strings.Repeat("]", depth),
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			b := []byte(in)
			var rej *format.Reject
			allocs := testing.AllocsPerRun(5, func() { _, rej = ParseObject(b, format.Limits{}) })
			if rej == nil || (rej.Code != CodeTooDeep && rej.Code != CodeNotAnObject) {
				t.Fatalf("reject = %v, want too_deep or not_an_object", rej)
			}
			if allocs > 1000 {
				t.Errorf("%v allocations for a deep input; depth is not checked while tokenizing", allocs)
			}
			start := time.Now()
			for range 100 {
				ParseObject(b, format.Limits{})
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("100 parses took %v", d)
			}
		})
	}
}

// TestParseObjectMatchesEncodingJSON: for accepted objects the result is
// what encoding/json (with UseNumber) produces.
func TestParseObjectMatchesEncodingJSON(t *testing.T) {
	for _, in := range []string{
		`{"a":[1,2,{"b":null}],"c":"\u00e9\t","d":-0.0e-0,"e":{}}`,
		`{"ts":1329843175.736107,"uid":"CjhGID4nQcgTWjvg4c","id.orig_h":"141.142.220.235","tunnel_parents":[]}`,
	} {
		got, rej := ParseObject([]byte(in), format.Limits{})
		if rej != nil {
			t.Fatalf("%s: %v", in, rej)
		}
		if want := stdDecode(t, []byte(in)); !reflect.DeepEqual(got, want) {
			t.Errorf("got %#v, want %#v", got, want)
		}
	}
}

func stdDecode(t testing.TB, b []byte) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("encoding/json: %v", err)
	}
	return m
}

// TestParserReuse: a Parser gives what ParseObject gives, record after
// record, and its key cache stays bounded.
func TestParserReuse(t *testing.T) {
	p := NewParser(format.Limits{})
	for i := range 2 * maxCachedKeys {
		in := []byte(fmt.Sprintf(`{"k%d":"v","common":%d,"esc\u00e9":"x"}`, i, i))
		got, rej := p.Parse(in)
		want, wrej := ParseObject(in, format.Limits{})
		if rej != nil || wrej != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: %v %v, want %v %v", in, got, rej, want, wrej)
		}
	}
	if n := len(p.cache.keys); n > maxCachedKeys {
		t.Errorf("key cache holds %d keys", n)
	}
	if _, rej := p.Parse([]byte(`{"a":1,"a":2}`)); rej == nil || rej.Code != CodeDuplicateKey {
		t.Errorf("reject %v", rej)
	}
}
