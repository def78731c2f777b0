package zeek

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/heimdallhub/heimdall/internal/format"
	"github.com/heimdallhub/heimdall/internal/format/formattest"
)

func readTSV(t testing.TB, input []byte, opts ...Option) ([]format.Record, error) {
	t.Helper()
	return formattest.CheckReader(t, input, NewReader(bytes.NewReader(input), format.Limits{}, opts...), tsvSkip)
}

func readJSON(t testing.TB, input []byte, opts ...Option) ([]format.Record, error) {
	t.Helper()
	return formattest.CheckReader(t, input, NewJSONReader(bytes.NewReader(input), format.Limits{}, opts...), jsonSkip)
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func num(s string) json.Number { return json.Number(s) }

func TestTSVSamples(t *testing.T) {
	tests := []struct {
		file    string
		path    string
		records int
		line    int64          // a record to look at
		want    map[string]any // a subset of its fields
		absent  []string       // fields that must be absent from it
	}{
		{file: "conn.log", path: "conn", records: 34, line: 12,
			want: map[string]any{
				"ts": num("1300475167.096535"), "uid": "CmES5u32sYpV7JYN",
				"id.orig_h": "141.142.220.118", "id.orig_p": num("43927"),
				"id.resp_h": "141.142.2.2", "id.resp_p": num("53"), "proto": "udp", "service": "dns",
				"duration": num("0.000435"), "orig_bytes": num("38"), "resp_bytes": num("89"),
				"conn_state": "SF", "local_orig": false, "local_resp": false, "missed_bytes": num("0"),
				"history": "Dd", "orig_pkts": num("1"), "ip_proto": num("17"),
			},
			absent: []string{"tunnel_parents"}},
		{file: "dns.log", path: "dns", records: 34, line: 14,
			want: map[string]any{
				"query": "upload.wikimedia.org", "qtype": num("1"), "qtype_name": "A",
				"rcode_name": "NOERROR", "RD": true, "RA": true, "AA": false, "trans_id": num("26096"),
				"answers": []any{"upload.pmtpa.wikimedia.org", "208.80.152.3"},
				"TTLs":    []any{num("124.000000"), num("2156.000000")},
				"rtt":     num("0.000392"),
			}},
		{file: "http.log", path: "http", records: 14, line: 9,
			want: map[string]any{
				"method": "GET", "host": "bits.wikimedia.org", "uri": "/skins-1.5/monobook/main.css",
				"referrer": "http://www.wikipedia.org/", "status_code": num("304"), "status_msg": "Not Modified",
				"tags": []any{}, "trans_depth": num("1"), "request_body_len": num("0"),
			},
			absent: []string{"origin", "username", "resp_fuids", "orig_mime_types"}},
		{file: "ssl.log", path: "ssl", records: 8, line: 13,
			want: map[string]any{
				"version": "TLSv12", "cipher": "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
				"server_name": "www.google.com", "established": true, "resumed": false,
				"sni_matches_cert": true, "validation_status": "ok", "client_cert_chain_fps": []any{},
				"cert_chain_fps": []any{
					"c4d4c1fde956a63916e6886df676570da046396d31ee1f8aad5d59c8865d274d",
					"23ecb03eec17338c4e33a6b48a41dc3cda12281bbc3ff813c0589d6cc2387522",
					"3ee0278df71fa3c125c4cd487f01d774694e6fc57e0cd94c24efd769133918e5",
				},
			}},
		{file: "files.log", path: "files", records: 6, line: 9,
			want: map[string]any{
				"fuid": "FgN3AE3of2TRIqaeQe", "source": "SSL", "depth": num("0"),
				"analyzers": []any{"MD5", "SHA1", "SHA256", "X509"}, "mime_type": "application/x-x509-user-cert",
				"seen_bytes": num("1859"), "duration": num("0.000000"), "timedout": false,
				"sha256": "6bacfa4536150ed996f2b0c05ab6e345a257225f449aeb9d2018ccd88f4ede43",
			},
			absent: []string{"filename", "total_bytes", "parent_fuid"}},
		{file: "x509.log", path: "x509", records: 4, line: 9,
			want: map[string]any{
				"fingerprint":                  "7c4cb8ef8d84a20171b3ee521b2be4d973b5fcf9cfbd1786e5581c7fed14da47",
				"certificate.version":          num("3"),
				"certificate.serial":           "FD62E14283CA9DF30A00000000DCA0BE",
				"certificate.subject":          "CN=www.google.com",
				"certificate.not_valid_before": num("1622433125.000000"),
				"certificate.key_length":       num("2048"),
				"san.dns":                      []any{"www.google.com"},
				"basic_constraints.ca":         false, "host_cert": true, "client_cert": false,
			},
			absent: []string{"san.ip", "certificate.curve", "basic_constraints.path_len"}},
		{file: "conn-realts.log", path: "conn", records: 5, line: 9,
			want: map[string]any{"ts": num("1329843175.736107"), "uid": "CjhGID4nQcgTWjvg4c", "tunnel_parents": []any{}}},
		{file: "bro-conn-m57.log", path: "conn", records: 20, line: 17,
			want:   map[string]any{"ts": num("1258531939.613071"), "tunnel_parents": []any{}, "orig_pkts": num("1")},
			absent: []string{"duration", "orig_bytes", "resp_bytes", "local_orig", "service"}},
		{file: "bro-http-m57.log", path: "http", records: 40, line: 9,
			want: map[string]any{
				"ts": num("1258563306.627936"), "method": "GET", "host": "www.uspto.gov",
				"uri": "/image/home_page/Kardas-239.png", "status_code": num("304"), "tags": []any{},
				"user_agent": "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 5.1; Trident/4.0)",
			},
			absent: []string{"proxied", "extraction_file", "mime_type"}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			recs, err := readTSV(t, fixture(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != tc.records {
				t.Fatalf("%d records, want %d", len(recs), tc.records)
			}
			var rec *format.Record
			for i := range recs {
				if recs[i].Reject != nil {
					t.Fatalf("line %d rejected: %v", recs[i].Line, recs[i].Reject)
				}
				if recs[i].Meta[MetaPath] != tc.path {
					t.Fatalf("line %d: zeek.path %q, want %q", recs[i].Line, recs[i].Meta[MetaPath], tc.path)
				}
				if recs[i].Line == tc.line {
					rec = &recs[i]
				}
			}
			if rec == nil {
				t.Fatalf("no record at line %d", tc.line)
			}
			for k, v := range tc.want {
				if got, ok := rec.Fields[k]; !ok || !reflect.DeepEqual(got, v) {
					t.Errorf("%s = %#v (present %v), want %#v", k, got, ok, v)
				}
			}
			for _, k := range tc.absent {
				if v, ok := rec.Fields[k]; ok {
					t.Errorf("%s = %#v, want absent", k, v)
				}
			}
		})
	}
}

// The btest baselines as they are: the banner and the masked #open are
// comments, and every masked ts is an invalid_value reject naming "ts".
func TestTSVMaskedBtest(t *testing.T) {
	for _, name := range []string{"btest-conn.log", "btest-dns.log", "btest-http.log", "btest-ssl.log", "btest-files.log", "btest-x509.log", "btest-x509-certs-base64.log"} {
		t.Run(name, func(t *testing.T) {
			// With the mask replaced, every row parses.
			unmasked := bytes.ReplaceAll(fixture(t, name), []byte("XXXXXXXXXX.XXXXXX"), []byte("1300475167.096535"))
			recs, err := readTSV(t, unmasked)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range recs {
				if r.Reject != nil {
					t.Fatalf("unmasked line %d: %v", r.Line, r.Reject)
				}
			}
			if name == "btest-x509-certs-base64.log" {
				if c, _ := recs[0].Fields["cert"].(string); !strings.HasPrefix(c, "MII") || recs[0].Meta[MetaPath] != "x509" {
					t.Fatalf("cert column: %.20q", c)
				}
			}
			recs, err = readTSV(t, fixture(t, name))
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) == 0 {
				t.Fatal("no records")
			}
			for _, r := range recs {
				if r.Reject == nil || r.Reject.Code != "invalid_value" || !strings.Contains(r.Reject.Reason, `"ts"`) {
					t.Fatalf("line %d: %v, want invalid_value naming ts", r.Line, r.Reject)
				}
				if strings.Contains(r.Reject.Reason, "XXXX") {
					t.Fatalf("reason quotes the value: %s", r.Reject.Reason)
				}
			}
		})
	}
}

func TestTSVEscapes(t *testing.T) {
	recs, err := readTSV(t, fixture(t, "escapes.log"))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 {
		t.Fatalf("%d records", len(recs))
	}
	want := []map[string]any{
		{"ts": num("1704067200.000001"), "uid": "CAbc1", "uri": "/non_printable_\a", "user_agent": "tab\tinside",
			"tags": []any{}, "names": []any{"a,b", "c"}, "ref": "-"},
		{"ts": num("1704067200.000002"), "uid": "CAbc2", "uri": "/printable_😄", "user_agent": "(empty)",
			"names": []any{nil, "x"}},
		{"ts": num("1704067200.000003"), "uid": "CAbc3", "uri": `/bin\xff\xfe`, "user_agent": `back\\slash`,
			"tags": []any{"FOO"}, "names": []any{}, "ref": ""},
	}
	for i, w := range want {
		if !reflect.DeepEqual(recs[i].Fields, w) {
			t.Errorf("record %d:\n got %#v\nwant %#v", i, recs[i].Fields, w)
		}
	}
}

func TestTSVCases(t *testing.T) {
	const hdr = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n" +
		"#fields\tts\tid.orig_p\tproto\tok\tn\n#types\ttime\tport\tenum\tbool\tint\n"
	tests := []struct {
		name    string
		in      string
		codes   []string // per record: "" for accepted, else the reject code
		failure string
		check   func(t *testing.T, recs []format.Record)
	}{
		{name: "good", in: hdr + "1.5\t80\ttcp\tT\t-3\n", codes: []string{""}},
		{name: "ragged", in: hdr + "1.5\t80\ttcp\tT\n1.5\t80\ttcp\tT\t1\t2\n", codes: []string{"ragged_row", "ragged_row"}},
		{name: "bad numbers", in: hdr + "1.5x\t80\ttcp\tT\t1\n1.5\t65536\ttcp\tT\t1\n1.5\t80\ttcp\tT\t1.0\n1\t08\ttcp\tT\t1\n1\t80\ttcp\tT\t--1\n",
			codes: []string{"invalid_value", "invalid_value", "invalid_value", "invalid_value", "invalid_value"},
			check: func(t *testing.T, recs []format.Record) {
				for i, f := range []string{`"ts"`, `"id.orig_p"`, `"n"`, `"id.orig_p"`, `"n"`} {
					if !strings.Contains(recs[i].Reject.Reason, f) {
						t.Errorf("reason %q does not name %s", recs[i].Reject.Reason, f)
					}
				}
			}},
		{name: "bad bool", in: hdr + "1\t80\ttcp\ttrue\t1\n", codes: []string{"invalid_value"}},
		{name: "empty marker on number", in: hdr + "1\t(empty)\ttcp\tT\t1\n", codes: []string{"invalid_value"}},
		{name: "data before fields", in: "#separator \\x09\n1\t2\n", failure: "missing_header"},
		{name: "data only", in: "1.5\t80\n", failure: "missing_header"},
		{name: "data after close", in: hdr + "1\t80\ttcp\tT\t1\n#close\t2024\n1\t80\ttcp\tT\t1\n", codes: []string{""}, failure: "missing_header"},
		{name: "types fields mismatch", in: "#separator \\x09\n#fields\ta\tb\n#types\tcount\n1\t2\n", failure: "invalid_header"},
		{name: "duplicate field", in: "#separator \\x09\n#fields\ta\ta\n#types\tcount\tcount\n1\t2\n", failure: "invalid_header"},
		{name: "no types: strings", in: "#separator \\x09\n#fields\ta\tb\n1\t-\n", codes: []string{""},
			check: func(t *testing.T, recs []format.Record) {
				if !reflect.DeepEqual(recs[0].Fields, map[string]any{"a": "1"}) {
					t.Errorf("got %#v", recs[0].Fields)
				}
			}},
		{name: "other separators", in: "#separator |\n#set_separator|;\n#empty_field|EMPTY\n#unset_field|NONE\n#path|dns\n#fields|a|b|c|d\n#types|set[count]|vector[string]|string|string\n1;2|EMPTY|NONE|x\\x7cy\n",
			codes: []string{""},
			check: func(t *testing.T, recs []format.Record) {
				want := map[string]any{"a": []any{num("1"), num("2")}, "b": []any{}, "d": "x|y"}
				if !reflect.DeepEqual(recs[0].Fields, want) || recs[0].Meta[MetaPath] != "dns" {
					t.Errorf("got %#v %v", recs[0].Fields, recs[0].Meta)
				}
			}},
		{name: "CRLF", in: strings.ReplaceAll(hdr+"1\t80\ttcp\tF\t0\n", "\n", "\r\n"), codes: []string{""},
			check: func(t *testing.T, recs []format.Record) {
				if recs[0].Fields["n"] != num("0") || recs[0].Fields["ok"] != false {
					t.Errorf("got %#v", recs[0].Fields)
				}
			}},
		{name: "no final newline", in: hdr + "1\t80\ttcp\tT\t1", codes: []string{""}},
		{name: "blank lines and comments", in: hdr + "\n# a comment\n1\t80\ttcp\tT\t1\n\n", codes: []string{""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			recs, err := readTSV(t, []byte(tc.in))
			if tc.failure != "" {
				var f *format.Failure
				if err == nil || !asFailure(err, &f) || f.Code != tc.failure {
					t.Fatalf("error %v, want failure %s", err, tc.failure)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if len(recs) != len(tc.codes) {
				t.Fatalf("%d records, want %d: %v", len(recs), len(tc.codes), recs)
			}
			for i, c := range tc.codes {
				got := ""
				if recs[i].Reject != nil {
					got = recs[i].Reject.Code
				}
				if got != c {
					t.Errorf("record %d: code %q, want %q (%v)", i, got, c, recs[i].Reject)
				}
			}
			if tc.check != nil {
				tc.check(t, recs)
			}
		})
	}
}

func asFailure(err error, f **format.Failure) bool {
	var ff *format.Failure
	ok := false
	if x, is := err.(*format.Failure); is {
		ff, ok = x, true
	}
	*f = ff
	return ok
}

// Several log sections in one file: each header block resets the state.
func TestTSVSections(t *testing.T) {
	in := append(append(fixture(t, "conn-realts.log"), fixture(t, "dns.log")...), fixture(t, "bro-http-m57.log")...)
	recs, err := readTSV(t, in)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, r := range recs {
		if r.Reject != nil {
			t.Fatalf("line %d: %v", r.Line, r.Reject)
		}
		count[r.Meta[MetaPath]]++
	}
	if !reflect.DeepEqual(count, map[string]int{"conn": 5, "dns": 34, "http": 40}) {
		t.Fatalf("records per path %v", count)
	}
	// A second section with another separator, after data and without
	// #close.
	in = append(fixture(t, "conn-realts.log")[:len(fixture(t, "conn-realts.log"))-len("#close\t2014-04-01-23-15-49\n")],
		"#separator |\n#path|x\n#fields|a|b\n#types|count|string\n1|-\n"...)
	recs, err = readTSV(t, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 6 || recs[5].Meta[MetaPath] != "x" || !reflect.DeepEqual(recs[5].Fields, map[string]any{"a": num("1")}) {
		t.Fatalf("%v", recs)
	}
	// A section without #close, followed directly by the next header.
	in = append(fixture(t, "bro-conn-m57.log"), fixture(t, "ssl.log")...)
	recs, err = readTSV(t, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 20+8 || recs[20].Meta[MetaPath] != "ssl" || recs[20].Fields["cipher"] == nil {
		t.Fatalf("%d records; record 20: %v", len(recs), recs[20])
	}
}

func TestTSVPathOption(t *testing.T) {
	recs, err := readTSV(t, fixture(t, "conn-realts.log"), Path("conn_long"))
	if err != nil {
		t.Fatal(err)
	}
	if recs[0].Meta[MetaPath] != "conn_long" {
		t.Fatalf("meta %v", recs[0].Meta)
	}
}

func TestTSVLimits(t *testing.T) {
	hdr := "#separator \\x09\n#fields\ta\tb\n#types\tstring\tstring\n"
	in := hdr + strings.Repeat("x", 100) + "\ty\n" + "a\t" + strings.Repeat("z", 40) + "\n" + "p\tq\n"
	rd := NewReader(strings.NewReader(in), format.Limits{MaxLineBytes: 80, MaxFieldBytes: 30})
	recs, err := formattest.CheckReader(t, []byte(in), rd, tsvSkip)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || recs[0].Reject.Code != "line_too_long" || recs[1].Reject.Code != "field_too_long" || recs[2].Reject != nil {
		t.Fatalf("%v", recs)
	}
	if !strings.Contains(recs[1].Reject.Reason, `"b"`) || strings.Contains(recs[1].Reject.Reason, "zzz") {
		t.Fatalf("reason %q", recs[1].Reject.Reason)
	}
	_, err = formattest.CheckReader(t, []byte(hdr), NewReader(strings.NewReader("#fields\ta\tb\tc\n"), format.Limits{MaxFields: 2}), tsvSkip)
	if f, ok := err.(*format.Failure); !ok || f.Code != "invalid_header" {
		t.Fatalf("err %v", err)
	}
	recs = formattest.CheckLongLineBounded(t, func(r io.Reader, l format.Limits) format.Reader { return NewReader(r, l) },
		[]byte(hdr), []byte("\nx\ty\n"))
	if len(recs) != 2 || recs[1].Fields["a"] != "x" {
		t.Fatalf("%v", recs)
	}
}

func TestJSONSamples(t *testing.T) {
	paths := []string{"conn", "dns", "http", "ssl", "files", "x509", ""}
	for _, name := range []string{"json-guess.log", "json-path.log"} {
		t.Run(name, func(t *testing.T) {
			recs, err := readJSON(t, fixture(t, name))
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != len(paths) {
				t.Fatalf("%d records", len(recs))
			}
			for i, p := range paths {
				if name == "json-path.log" && p == "" {
					p = "weird"
				}
				if recs[i].Reject != nil || recs[i].Meta[MetaPath] != p {
					t.Errorf("record %d: %v meta %v, want path %q", i, recs[i].Reject, recs[i].Meta, p)
				}
			}
			c := recs[0].Fields
			if c["id.orig_h"] != "141.142.220.235" || c["id.resp_p"] != num("56666") || c["ts"] != num("1329843175.736107") {
				t.Errorf("conn fields %v", c)
			}
			if d := recs[1].Fields; !reflect.DeepEqual(d["TTLs"], []any{num("124.0"), num("2156.0")}) || d["RD"] != true {
				t.Errorf("dns fields %v", d)
			}
			if h := recs[2].Fields; !reflect.DeepEqual(h["tags"], []any{}) || h["uri"] != "/download/CHANGES.bro-aux.txt" {
				t.Errorf("http fields %v", h)
			}
		})
	}
	recs, err := readJSON(t, fixture(t, "json-iso.log"))
	if err != nil || len(recs) != 1 || recs[0].Fields["ts"] != "2011-03-18T19:06:08.096535Z" || recs[0].Meta[MetaPath] != "conn" {
		t.Fatalf("%v %v", recs, err)
	}
	recs, err = readJSON(t, fixture(t, "json-guess.log"), Path("forced"))
	if err != nil || recs[0].Meta[MetaPath] != "forced" || recs[6].Meta[MetaPath] != "forced" {
		t.Fatalf("%v %v", recs, err)
	}
}

// The btest JSON baselines: the banner is skipped, and the masked ts makes
// each line invalid JSON.
func TestJSONMaskedBtest(t *testing.T) {
	for _, name := range []string{"btest-http-json.log", "btest-http-json-nonprintable.log"} {
		recs, err := readJSON(t, fixture(t, name))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if r.Reject == nil || r.Reject.Code != "invalid_json" || r.Line < 2 {
				t.Fatalf("%s line %d: %v", name, r.Line, r.Reject)
			}
		}
	}
	// With the mask replaced they parse; the nonprintable sample keeps its
	// emoji and the literal backslash-x07 text.
	b := bytes.ReplaceAll(fixture(t, "btest-http-json-nonprintable.log"), []byte("XXXXXXXXXX.XXXXXX"), []byte("1717171717.123456"))
	recs, err := readJSON(t, b)
	if err != nil || len(recs) != 4 {
		t.Fatalf("%v %v", recs, err)
	}
	for _, r := range recs {
		if r.Reject != nil || r.Meta[MetaPath] != "http" {
			t.Fatalf("line %d: %v %v", r.Line, r.Reject, r.Meta)
		}
	}
	if recs[1].Fields["uri"] != "/printable_😄" || recs[2].Fields["uri"] != `/non_printable_\x07` {
		t.Fatalf("uris %q %q", recs[1].Fields["uri"], recs[2].Fields["uri"])
	}
}

func TestJSONCases(t *testing.T) {
	tests := []struct {
		name, in string
		codes    []string
	}{
		{"duplicate key", `{"uid":"a","uid":"b"}` + "\n", []string{"duplicate_key"}},
		{"not an object", "[1,2]\n", []string{"not_an_object"}},
		{"bad utf8", "{\"a\":\"\xff\"}\n", []string{"invalid_utf8"}},
		{"comment line", "# not json\n{\"a\":1}\n", []string{"invalid_json", ""}},
		{"blank lines", "\n  \n{\"a\":1}\n\n", []string{""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			recs, err := readJSON(t, []byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != len(tc.codes) {
				t.Fatalf("%d records: %v", len(recs), recs)
			}
			for i, c := range tc.codes {
				got := ""
				if recs[i].Reject != nil {
					got = recs[i].Reject.Code
				}
				if got != c {
					t.Errorf("record %d: %q, want %q", i, got, c)
				}
			}
		})
	}
	recs := formattest.CheckLongLineBounded(t, func(r io.Reader, l format.Limits) format.Reader { return NewJSONReader(r, l) },
		[]byte(`{"a":1}`+"\n"), []byte("\n{\"b\":2}\n"))
	if len(recs) != 3 || recs[2].Fields["b"] != num("2") {
		t.Fatalf("%v", recs)
	}
}

func TestGuessPath(t *testing.T) {
	set := func(ks ...string) map[string]any {
		m := map[string]any{}
		for _, k := range ks {
			m[k] = true
		}
		return m
	}
	tests := []struct {
		f    map[string]any
		want string
	}{
		{set("uid", "id.orig_h", "proto", "conn_state"), "conn"},
		{set("uid", "id.orig_h", "proto"), ""},
		{set("uid", "trans_id", "query"), "dns"},
		{set("uid", "trans_id", "rcode"), "dns"},
		{set("method", "uri", "host"), "http"},
		{set("method", "uri", "call_id"), ""},
		{set("version", "server_name"), "ssl"},
		{set("cipher"), "ssl"},
		{set("fuid", "mime_type"), "files"},
		{set("fuid"), ""},
		{set("fingerprint", "certificate.version"), "x509"},
		{set("certificate.serial"), "x509"},
	}
	for _, tc := range tests {
		if got := GuessPath(tc.f); got != tc.want {
			t.Errorf("GuessPath(%v) = %q, want %q", tc.f, got, tc.want)
		}
	}
}
