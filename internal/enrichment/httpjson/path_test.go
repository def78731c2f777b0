package httpjson

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/heimdallhub/heimdall/internal/enrichment"
)

func mustDecode(t testing.TB, s string) any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

const vtDoc = `{"data": {"id": "example.com", "type": "domain", "attributes": {
  "last_analysis_stats": {"harmless": 60, "malicious": 4, "suspicious": 1, "undetected": 25, "timeout": 0},
  "reputation": -12, "ratio": 0.25, "big": 12345678901234567890123, "tiny": 1e-9, "exp": 1E3, "neg0": -0,
  "tags": ["phishing", " spaces ", "", null, {"x": 1}, ["nested"], true, 7],
  "categories": {"b-vendor": "malware", "a-vendor": "phishing", "c-vendor": {"deep": 1}},
  "whois": "line1\nline2\u0000\u2028end",
  "1": "member named one",
  "empty": [], "null": null, "flag": false
}}, "list": [{"score": 3}, {"score": 9}, {"name": "x"}]}`

// TestPathEval: the documented path forms select what they say, and values
// are formatted as documented.
func TestPathEval(t *testing.T) {
	doc := mustDecode(t, vtDoc)
	top := mustDecode(t, `[{"name": "first"}, {"name": "second"}]`)
	for _, tc := range []struct {
		path string
		doc  any
		want []string
	}{
		{"data.attributes.last_analysis_stats.malicious", doc, []string{"4"}},
		{"data.attributes.reputation", doc, []string{"-12"}},
		{"data.attributes.ratio", doc, []string{"0.25"}},
		{"data.attributes.big", doc, []string{"12345678901234567890123"}},
		{"data.attributes.tiny", doc, []string{"1e-09"}},
		{"data.attributes.exp", doc, []string{"1000"}},
		{"data.attributes.neg0", doc, []string{"0"}},
		{"data.attributes.flag", doc, []string{"false"}},
		{"data.type", doc, []string{"domain"}},
		{"data.attributes.tags.0", doc, []string{"phishing"}},
		{"data.attributes.tags[1]", doc, []string{"spaces"}},
		{"data.attributes.tags.7", doc, []string{"7"}},
		{"data.attributes.tags.8", doc, nil},
		{"data.attributes.tags", doc, []string{"phishing", "spaces", "true", "7"}},
		{"data.attributes.tags[]", doc, []string{"phishing", "spaces", "nested", "true", "7"}},
		{"data.attributes.tags.*", doc, []string{"phishing", "spaces", "nested", "true", "7"}},
		{"data.attributes.tags[*]", doc, []string{"phishing", "spaces", "nested", "true", "7"}},
		{"data.attributes.tags.5", doc, []string{"nested"}},
		{"data.attributes.categories.*", doc, []string{"phishing", "malware"}},
		{"data.attributes.categories[]", doc, nil},
		{"data.attributes.categories", doc, nil},
		{"data.attributes.1", doc, []string{"member named one"}},
		{"data.attributes.whois", doc, []string{"line1line2end"}},
		{"data.attributes.empty", doc, nil},
		{"data.attributes.null", doc, nil},
		{"data.missing.deeper", doc, nil},
		{"data.type.deeper", doc, nil},
		{"list[].score", doc, []string{"3", "9"}},
		{"list.*.score", doc, []string{"3", "9"}},
		{"list.1.score", doc, []string{"9"}},
		{"[1].name", top, []string{"second"}},
		{"*.name", top, []string{"first", "second"}},
		{"0.name", top, []string{"first"}},
	} {
		p, err := compilePath(tc.path)
		if err != nil {
			t.Errorf("%s: %v", tc.path, err)
			continue
		}
		if got := p.values(tc.doc, MaxValuesPerField); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s = %q, want %q", tc.path, got, tc.want)
		}
	}
}

// TestPathLimits: a wildcard over a long array stops at the limit, and
// long strings are cut at a rune boundary.
func TestPathLimits(t *testing.T) {
	var b bytes.Buffer
	b.WriteString(`{"a":[`)
	for i := range 1000 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"v":"` + strings.Repeat("é", 200) + `"}`)
	}
	b.WriteString(`]}`)
	doc := mustDecode(t, b.String())
	p, _ := compilePath("a[].v")
	got := p.values(doc, MaxValuesPerField)
	if len(got) != MaxValuesPerField {
		t.Fatalf("%d values", len(got))
	}
	for _, s := range got {
		if len(s) > MaxValueBytes || !utf8.ValidString(s) || len(s) < MaxValueBytes-1 {
			t.Fatalf("value of %d bytes, valid %v", len(s), utf8.ValidString(s))
		}
	}
}

// TestCompilePathErrors: malformed paths are refused at configuration.
func TestCompilePathErrors(t *testing.T) {
	for _, s := range []string{
		"", ".", "a.", ".a", "a..b", "a[", "a[0", "a[x]", "a[-1]", "a[0]b", "a]", "a*", "a[[0]]",
		"a\x00b", strings.Repeat("a.", 40) + "a", strings.Repeat("x", 600), "a[1234567890]", "\xff",
	} {
		if _, err := compilePath(s); err == nil {
			t.Errorf("%q compiled", s)
		}
	}
	for _, s := range []string{"a", "a.b", "a[0]", "a[]", "a[*]", "*", "[0]", "a.0.b", "a[0][1]", "a-b.c_d", "$x", "a b"} {
		if _, err := compilePath(s); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
}

// TestNumber: numbers are formatted minimally.
func TestNumber(t *testing.T) {
	for in, want := range map[string]string{
		"87": "87", "-3": "-3", "0": "0", "-0": "0", "87.50": "87.5", "1e3": "1000", "1.5E2": "150", "0.000001": "0.000001",
		"1e-7": "1e-07", "1e21": "1e+21", "123456789012345678901": "123456789012345678901", "1" + strings.Repeat("0", 45): "1e+45", "-0.0": "0", "18446744073709551615": "18446744073709551615",
	} {
		if got, ok := number(in); !ok || got != want {
			t.Errorf("number(%s) = %q, %v; want %q", in, got, ok, want)
		}
	}
	if _, ok := number("1e999"); ok {
		t.Error("an overflowing number was kept")
	}
}

// FuzzPath: compiling any path and evaluating it over any JSON document
// never panics, and what comes out is bounded: at most MaxValuesPerField
// values of at most MaxValueBytes of valid UTF-8 without control
// characters.
func FuzzPath(f *testing.F) {
	for _, seed := range []struct{ path, doc string }{
		{"data.attributes.last_analysis_stats.malicious", vtDoc},
		{"data.attributes.tags[]", vtDoc},
		{"list.*.score", vtDoc},
		{"[0].name", `[{"name":"x"}]`},
		{"*.*.*", `{"a":{"b":{"c":1}},"d":[[1,2],[3]]}`},
		{"a[0][1]", `{"a":[[0,"\u0000x"]]}`},
		{"a.b", `{"a":{"b":1e400}}`},
		{"a", `{"a":"` + strings.Repeat("\u00e9", 300) + `"}`},
		{"x[", `{}`},
		{"a..b", `[]`},
	} {
		f.Add(seed.path, seed.doc)
	}
	f.Fuzz(func(t *testing.T, ps, ds string) {
		p, err := compilePath(ps)
		if err != nil {
			return
		}
		if len(p.steps) == 0 || len(p.steps) > maxPathSteps {
			t.Fatalf("%q compiled to %d steps", ps, len(p.steps))
		}
		if !enrichment.JSONDepthAtMost([]byte(ds), maxDepth) {
			return
		}
		dec := json.NewDecoder(strings.NewReader(ds))
		dec.UseNumber()
		var doc any
		if dec.Decode(&doc) != nil {
			return
		}
		if raw := p.eval(doc, MaxValuesPerField); len(raw) > MaxValuesPerField {
			t.Fatalf("eval gave %d values", len(raw))
		}
		vs := p.values(doc, MaxValuesPerField)
		if len(vs) > MaxValuesPerField {
			t.Fatalf("%d values", len(vs))
		}
		for _, v := range vs {
			if v == "" || len(v) > MaxValueBytes || !utf8.ValidString(v) || strings.ContainsAny(v, "\x00\n\r\t") {
				t.Fatalf("bad value %q", v)
			}
		}
		_, _ = numeric(doc)
		_ = truthy(doc)
	})
}
