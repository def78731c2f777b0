package exchange

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestFramesRoundTrip(t *testing.T) {
	recs := []Record{
		{Partition: 0, Offset: 0, Key: []byte("ipv4-addr--x"), Value: []byte{0xc3, 0x01, 1, 2, 3}},
		{Partition: 2, Offset: 1 << 40, Key: nil, Value: bytes.Repeat([]byte{7}, 70000),
			Headers: []Header{{Key: "traceparent", Value: []byte("00-abc")}, {Key: HeaderVia, Value: []byte("a,b")}}},
	}
	var buf bytes.Buffer
	w := NewWriter(&buf)
	for _, r := range recs {
		if err := w.WriteRecord(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.WriteCursor(Cursor{0: 1, 2: 1<<40 + 1}); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	rd := NewReader(&buf)
	for i, want := range recs {
		got, c, err := rd.Next()
		if err != nil || c != nil {
			t.Fatalf("frame %d: %v %v", i, c, err)
		}
		if got.Partition != want.Partition || got.Offset != want.Offset || !bytes.Equal(got.Key, want.Key) ||
			!bytes.Equal(got.Value, want.Value) || len(got.Headers) != len(want.Headers) {
			t.Fatalf("frame %d: %+v", i, got)
		}
		if v, _ := got.Header(HeaderVia); len(want.Headers) > 0 && v != "a,b" {
			t.Fatalf("via %q", v)
		}
	}
	_, c, err := rd.Next()
	if err != nil || !reflect.DeepEqual(c, Cursor{0: 1, 2: 1<<40 + 1}) {
		t.Fatalf("cursor %v %v", c, err)
	}
	if _, _, err := rd.Next(); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
}

func TestReaderRejectsBadStreams(t *testing.T) {
	var good bytes.Buffer
	w := NewWriter(&good)
	_ = w.WriteRecord(Record{Partition: 1, Offset: 5, Key: []byte("k"), Value: []byte("v")})
	_ = w.Flush()
	cases := map[string][]byte{
		"cut inside a frame": good.Bytes()[:good.Len()-1],
		"unknown type":       {'X', 0},
		"length beyond":      {'R', 3, 1, 2},
		"huge frame":         {'R', 0xff, 0xff, 0xff, 0xff, 0x0f},
		"trailing bytes":     {'C', 2, 0, 9},
		"duplicate part":     {'C', 5, 2, 1, 1, 1, 2},
	}
	for name, b := range cases {
		_, _, err := NewReader(bytes.NewReader(b)).Next()
		if err == nil || err == io.EOF {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, _, err := NewReader(bytes.NewReader(good.Bytes()[:good.Len()-1])).Next(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("cut stream: %v", err)
	}
}

func FuzzReader(f *testing.F) {
	var b bytes.Buffer
	w := NewWriter(&b)
	_ = w.WriteRecord(Record{Partition: 1, Offset: 5, Key: []byte("k"), Value: []byte("v"), Headers: []Header{{"h", []byte("x")}}})
	_ = w.WriteCursor(Cursor{1: 6})
	_ = w.Flush()
	f.Add(b.Bytes())
	f.Add([]byte{'C', 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		rd := NewReader(bytes.NewReader(in))
		for range 1000 {
			rec, c, err := rd.Next()
			if err != nil {
				return
			}
			if rec == nil && c == nil {
				t.Fatal("frame without content")
			}
			if rec != nil && (rec.Partition < 0 || rec.Offset < 0 || len(rec.Headers) > MaxHeaders) {
				t.Fatalf("out of range: %+v", rec)
			}
			// A decoded frame re-encodes to one that decodes the same.
			var out bytes.Buffer
			w := NewWriter(&out)
			if rec != nil {
				_ = w.WriteRecord(*rec)
			} else {
				_ = w.WriteCursor(c)
			}
			_ = w.Flush()
			rec2, c2, err := NewReader(&out).Next()
			if err != nil || (rec != nil && (rec2 == nil || rec2.Offset != rec.Offset || !bytes.Equal(rec2.Value, rec.Value))) ||
				(c != nil && !reflect.DeepEqual(c, c2)) {
				t.Fatalf("re-encoding: %v %+v %v", err, rec2, c2)
			}
		}
	})
}

func TestCursor(t *testing.T) {
	c, err := ParseCursor("2:10,0:3")
	if err != nil || c.String() != "0:3,2:10" {
		t.Fatalf("%v %v", c, err)
	}
	if c, err := ParseCursor(""); err != nil || len(c) != 0 {
		t.Fatalf("%v %v", c, err)
	}
	for _, bad := range []string{"x", "1:", ":1", "-1:2", "1:-2", "1:2,1:3", "1:2,", "99999999999:1"} {
		if _, err := ParseCursor(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestAgreement(t *testing.T) {
	levels := []string{"UNCLASSIFIED", "CONFIDENTIAL", "SECRET", "TOP SECRET"}
	a := Agreement{Levels: levels, MaxClassification: "CONFIDENTIAL"}
	src := Agreement{Levels: levels, MaxClassification: "TOP SECRET", Sources: []string{"zeek"}}
	cases := []struct {
		a             Agreement
		class, source string
		want          bool
	}{
		{a, "UNCLASSIFIED", "zeek", true},
		{a, "confidential", "", true},
		{a, "SECRET", "zeek", false},
		{a, "", "zeek", false}, // unannotated is the highest level
		{a, "RESTRICTED", "zeek", false},
		{src, "SECRET", "zeek", true},
		{src, "SECRET", "suricata", false},
		{src, "UNCLASSIFIED", "", false},
		{Agreement{Levels: levels}, "UNCLASSIFIED", "", false}, // no level agreed: nothing crosses
	}
	for _, c := range cases {
		if got := c.a.Allows(c.class, c.source); got != c.want {
			t.Errorf("%+v allows %q/%q = %v", c.a, c.class, c.source, got)
		}
	}
}

func TestLoopRules(t *testing.T) {
	if !Forwardable("a", "", "b") || Forwardable("a", "", "a") {
		t.Fatal("origin rule")
	}
	if Forwardable("a", "a,b", "b") || !Forwardable("a", "a,b", "c") {
		t.Fatal("path rule")
	}
	if v := Via("a", "", "a"); v != "a" {
		t.Fatalf("via from origin: %q", v)
	}
	if v := Via("a", "a", "b"); v != "a,b" {
		t.Fatalf("via: %q", v)
	}
	if v := Via("a", "a,b", "b"); v != "a,b" {
		t.Fatalf("via twice: %q", v)
	}
}

func TestLoadPeers(t *testing.T) {
	levels := []string{"UNCLASSIFIED", "SECRET"}
	dir := t.TempDir()
	write := func(s string) string {
		p := filepath.Join(dir, "peers.yaml")
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ps, err := LoadPeers(write(`peers:
  - id: b
    url: https://b.example:8443
    subject: heimdall-peer-b
    export: {max_classification: UNCLASSIFIED, sources: [zeek]}
  - id: c
    url: https://c.example
`), "a", levels)
	if err != nil || len(ps) != 2 || ps[0].Host() != "b.example" || !ps[0].Agreement(levels).Allows("UNCLASSIFIED", "zeek") {
		t.Fatalf("%+v %v", ps, err)
	}
	for name, bad := range map[string]string{
		"self":          "peers: [{id: a, url: https://a}]",
		"twice":         "peers: [{id: b, url: https://b}, {id: b, url: https://c}]",
		"http":          "peers: [{id: b, url: http://b}]",
		"no level":      "peers: [{id: b, subject: s}]",
		"unknown field": "peers: [{id: b, url: https://b, max: 1}]",
		"nothing":       "peers: [{id: b}]",
		"same subject":  "peers: [{id: b, subject: s, export: {max_classification: SECRET}}, {id: c, subject: s, export: {max_classification: SECRET}}]",
	} {
		if _, err := LoadPeers(write(bad), "a", levels); err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), "panic") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// A range digest survives its frame, and frames that cannot be one are
// refused.
func TestRangeDigestFrame(t *testing.T) {
	d := RangeDigest{Partition: 2, From: 20000, Until: 30000, Count: 17}
	d.Sum[0], d.Sum[31] = 0xAB, 0xCD
	rec := d.Record()
	got, err := DigestOf(&rec)
	if err != nil || got != d {
		t.Fatalf("round trip: %+v %v, want %+v", got, err, d)
	}
	for name, bad := range map[string]Record{
		"short value":  {Key: rec.Key, Value: rec.Value[:20]},
		"no key":       {Offset: 5, Value: rec.Value},
		"empty range":  RangeDigest{From: 10, Until: 10}.Record(),
		"too many ids": RangeDigest{From: 0, Until: 5, Count: 6}.Record(),
	} {
		if _, err := DigestOf(&bad); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
