package jcs

import (
	"encoding/json"
	"errors"
	"math"
	"testing"

	"github.com/heimdallhub/heimdall/internal/observable/internal/errcheck"
)

// RFC 8785 Appendix B: IEEE 754 bit patterns and their canonical forms.
func TestFormatNumberRFC8785AppendixB(t *testing.T) {
	cases := []struct {
		bits uint64
		want string
	}{
		{0x0000000000000000, "0"},
		{0x8000000000000000, "0"},
		{0x0000000000000001, "5e-324"},
		{0x8000000000000001, "-5e-324"},
		{0x7fefffffffffffff, "1.7976931348623157e+308"},
		{0xffefffffffffffff, "-1.7976931348623157e+308"},
		{0x4340000000000000, "9007199254740992"},
		{0xc340000000000000, "-9007199254740992"},
		{0x4430000000000000, "295147905179352830000"},
		{0x44b52d02c7e14af5, "9.999999999999997e+22"},
		{0x44b52d02c7e14af6, "1e+23"},
		{0x44b52d02c7e14af7, "1.0000000000000001e+23"},
		{0x444b1ae4d6e2ef4e, "999999999999999700000"},
		{0x444b1ae4d6e2ef4f, "999999999999999900000"},
		{0x444b1ae4d6e2ef50, "1e+21"},
		{0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"},
		{0x3eb0c6f7a0b5ed8d, "0.000001"},
		{0x41b3de4355555553, "333333333.3333332"},
		{0x41b3de4355555554, "333333333.33333325"},
		{0x41b3de4355555555, "333333333.3333333"},
		{0x41b3de4355555556, "333333333.3333334"},
		{0x41b3de4355555557, "333333333.33333343"},
		{0xbecbf647612f3696, "-0.0000033333333333333333"},
		{0x43143ff3c1cb0959, "1424953923781206.2"},
	}
	for _, c := range cases {
		got, err := FormatNumber(math.Float64frombits(c.bits))
		if err != nil || got != c.want {
			t.Errorf("FormatNumber(%#016x) = %q, %v; want %q", c.bits, got, err, c.want)
		}
	}
	for _, bits := range []uint64{0x7fffffffffffffff, 0x7ff0000000000000, 0xfff0000000000000} {
		if _, err := FormatNumber(math.Float64frombits(bits)); !errors.Is(err, ErrNumber) {
			t.Errorf("FormatNumber(%#016x) error = %v; want ErrNumber", bits, err)
		}
	}
}

func TestTransformRFC8785Examples(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{
			// RFC 8785 section 3.2.2 (sample input) and 3.2.3 (output).
			name: "section 3.2.2",
			in: `{
  "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}`,
			want: `{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`,
		},
		{
			// RFC 8785 section 3.2.3: sorting by UTF-16 code units.
			name: "section 3.2.3 sorting",
			in: `{
  "\u20ac": "Euro Sign",
  "\r": "Carriage Return",
  "\ufb33": "Hebrew Letter Dalet With Dagesh",
  "1": "One",
  "\ud83d\ude00": "Emoji: Grinning Face",
  "\u0080": "Control",
  "\u00f6": "Latin Small Letter O With Diaeresis"
}`,
			want: "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u0080\":\"Control\",\"ö\":\"Latin Small Letter O With Diaeresis\",\"€\":\"Euro Sign\",\"😀\":\"Emoji: Grinning Face\",\"\ufb33\":\"Hebrew Letter Dalet With Dagesh\"}",
		},
		{name: "nested", in: `{"b":{"z":1,"a":[{"y":2,"x":1}]},"a":"s"}`, want: `{"a":"s","b":{"a":[{"x":1,"y":2}],"z":1}}`},
		{name: "escapes", in: `"\u0000\u001f\u007f\u2028\b\f\t"`, want: "\"\\u0000\\u001f\u007f\u2028\\b\\f\\t\""},
		{name: "scalar", in: ` 1.0 `, want: `1`},
		{name: "empty containers", in: `[{},[]]`, want: `[{},[]]`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Transform([]byte(c.in))
			if err != nil {
				t.Fatalf("Transform: %v", err)
			}
			if string(got) != c.want {
				t.Errorf("Transform =\n %s\nwant\n %s", got, c.want)
			}
		})
	}
}

func TestTransformRejects(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want error
	}{
		{"duplicate key", `{"a":1,"a":2}`, ErrDuplicateKey},
		{"nested duplicate key", `[{"x":{"k":1,"k":1}}]`, ErrDuplicateKey},
		{"invalid utf8", "\"\xff\"", ErrString},
		{"syntax", `{"a":}`, ErrSyntax},
		{"trailing", `{} {}`, ErrSyntax},
		{"empty", ``, ErrSyntax},
		{"out of range", `1e400`, ErrNumber},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Transform([]byte(c.in))
			if !errors.Is(err, c.want) {
				t.Fatalf("Transform error = %v; want %v", err, c.want)
			}
			if p := errcheck.Problem(err.Error(), c.in); p != "" {
				t.Error(p)
			}
		})
	}
}

func TestMarshalGoValues(t *testing.T) {
	type named string
	cases := []struct {
		name string
		in   any
		want string
	}{
		{"map of strings", map[string]string{"value": "198.51.100.3"}, `{"value":"198.51.100.3"}`},
		{"nested any", map[string]any{"hashes": map[string]string{"SHA-256": "ab"}, "name": "x"}, `{"hashes":{"SHA-256":"ab"},"name":"x"}`},
		{"int", map[string]any{"number": 15139}, `{"number":15139}`},
		{"uint32", uint32(4294967295), `4294967295`},
		{"float", 7.980693, `7.980693`},
		{"json.Number", json.Number("4096"), `4096`},
		{"named string", named("a\"b"), `"a\"b"`},
		{"nil slice", []string(nil), `null`},
		{"array", [2]bool{true, false}, `[true,false]`},
		{"nil", nil, `null`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Marshal(c.in)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if string(got) != c.want {
				t.Errorf("Marshal = %s; want %s", got, c.want)
			}
		})
	}
	bad := []struct {
		name string
		in   any
		want error
	}{
		{"NaN", math.NaN(), ErrNumber},
		{"int beyond 2^53", int64(1<<53 + 1), ErrNumber},
		{"invalid utf8 value", "\xff", ErrString},
		{"invalid utf8 key", map[string]int{"\xfe": 1}, ErrString},
		{"int keys", map[int]int{1: 1}, ErrType},
		{"func", func() {}, ErrType},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			if _, err := Marshal(c.in); !errors.Is(err, c.want) {
				t.Fatalf("Marshal error = %v; want %v", err, c.want)
			}
		})
	}
}

func TestCompareUTF16(t *testing.T) {
	// U+FB33 sorts after U+1F600 in UTF-16 (0xFB33 > 0xD83D) although it
	// sorts before it in code point order.
	if compareUTF16("\U0001F600", "\uFB33") >= 0 {
		t.Error("supplementary character must sort before U+FB33")
	}
	if compareUTF16("a", "ab") >= 0 || compareUTF16("b", "ab") <= 0 || compareUTF16("x", "x") != 0 {
		t.Error("prefix/ordinary ordering wrong")
	}
}

func TestDepthLimit(t *testing.T) {
	deep := make([]byte, 0, 2*(MaxDepth+2))
	for range MaxDepth + 2 {
		deep = append(deep, '[')
	}
	for range MaxDepth + 2 {
		deep = append(deep, ']')
	}
	if _, err := Transform(deep); !errors.Is(err, ErrDepth) {
		t.Fatalf("Transform error = %v; want ErrDepth", err)
	}
}
