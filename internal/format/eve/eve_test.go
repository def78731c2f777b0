package eve

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

func read(t testing.TB, input []byte, lim format.Limits) ([]format.Record, error) {
	t.Helper()
	return formattest.CheckReader(t, input, NewReader(bytes.NewReader(input), lim), formattest.IsBlankLine)
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// get follows a dotted path through nested objects; a numeric segment
// indexes an array.
func get(f map[string]any, path string) any {
	var cur any = f
	for _, seg := range strings.Split(path, ".") {
		switch x := cur.(type) {
		case map[string]any:
			cur = x[seg]
		case []any:
			i := 0
			for _, c := range seg {
				i = i*10 + int(c-'0')
			}
			if i >= len(x) {
				return nil
			}
			cur = x[i]
		default:
			return nil
		}
	}
	return cur
}

func TestSamples(t *testing.T) {
	type want struct {
		eventType, dnsVersion string
		fields                map[string]any
	}
	n := func(s string) json.Number { return json.Number(s) }
	tests := []struct {
		file string
		want []want
	}{
		{"ctu-flow.json", []want{{"flow", "", map[string]any{
			"src_ip": "147.32.84.165", "dest_port": n("138"), "proto": "UDP", "app_proto": "failed",
			"flow.pkts_toserver": n("2"), "flow.state": "new", "flow.alerted": false, "flow.start": "2011-08-12T14:53:47.928539+0200",
		}}}},
		{"ctu-fileinfo.json", []want{{"fileinfo", "", map[string]any{
			"fileinfo.sha256": "2e4c462b3424afcc04f43429d5f001e4ef9a28143bfeefb9af2254b4df3a7c1a",
			"fileinfo.md5":    "70041821acf87389e40ddcb092004184", "fileinfo.filename": "/", "fileinfo.size": n("301"),
			"http.hostname": "www.nmap.org", "http.url": "/", "http.status": n("301"), "fileinfo.stored": true,
		}}}},
		{"eve-mixed.json", []want{
			{"alert", "", map[string]any{
				"alert.signature":    "ET HUNTING GENERIC SUSPICIOUS POST to Dotted Quad with Fake Browser 1",
				"alert.signature_id": n("2018358"), "alert.severity": n("2"), "alert.category": "Potentially Bad Traffic",
				"http.hostname": "209.53.113.5", "http.http_method": "POST", "metadata.flowbits.0": "http.dottedquadhost",
				"flow_id": n("586497171462735"),
			}},
			{"dns", "2", map[string]any{"dns.type": "query", "dns.rrname": "www.suricata.io", "dns.rrtype": "A"}},
			{"dns", "2", map[string]any{"dns.type": "answer", "dns.rrname": "www.suricata.io", "dns.answers.1.rdata": "35.212.0.44",
				"dns.grouped.A.0": "35.212.0.44", "dns.answers.0.rrtype": "CNAME"}},
			{"dns", "2", map[string]any{"dns.type": "answer", "dns.rrname": "www.google.com", "dns.rdata": "216.58.211.36", "dns.ttl": n("171")}},
			{"dns", "3", map[string]any{"dns.type": "request", "dns.queries.0.rrname": "www.suricata.io", "dns.queries.0.rrtype": "A"}},
			{"dns", "3", map[string]any{"dns.type": "response", "dns.queries.0.rrname": "www.suricata.io", "dns.answers.0.rdata": "suricata.io",
				"dns.answers.1.rrname": "suricata.io", "dns.answers.1.rdata": "35.212.0.44"}},
			{"alert", "3", map[string]any{"alert.signature_id": n("2027863"), "dns.queries.0.rrname": "www.suricata.io"}},
			{"http", "", map[string]any{"http.hostname": "example.com", "http.url": "/index.html?q=1", "http.status": n("200"),
				"http.request_headers.0.name": "Host"}},
			{"tls", "", map[string]any{"tls.sni": "www.google.com", "tls.version": "TLS 1.2", "tls.ja3.hash": "e7d705a3286e19ea42f587b344ee6865",
				"tls.subject": "CN=www.google.com"}},
			{"stats", "", map[string]any{"stats.capture.kernel_drops": n("0")}},
			{"anomaly", "", map[string]any{"anomaly.event": "ipv4.trunc_pkt"}},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			recs, err := read(t, fixture(t, tc.file), format.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != len(tc.want) {
				t.Fatalf("%d records, want %d", len(recs), len(tc.want))
			}
			for i, w := range tc.want {
				r := recs[i]
				if r.Reject != nil {
					t.Fatalf("line %d: %v", r.Line, r.Reject)
				}
				if r.Meta[MetaEventType] != w.eventType || r.Meta[MetaDNSVersion] != w.dnsVersion {
					t.Errorf("line %d: meta %v, want %s dns %q", r.Line, r.Meta, w.eventType, w.dnsVersion)
				}
				for p, v := range w.fields {
					if got := get(r.Fields, p); !reflect.DeepEqual(got, v) {
						t.Errorf("line %d: %s = %#v, want %#v", r.Line, p, got, v)
					}
				}
			}
		})
	}
}

func TestCases(t *testing.T) {
	tests := []struct {
		name, in string
		codes    []string
	}{
		{"no event_type", `{"timestamp":"2020-01-01T00:00:00Z","src_ip":"10.0.0.1"}` + "\n", []string{"not_eve"}},
		{"event_type not a string", `{"event_type":5}` + "\n", []string{"not_eve"}},
		{"empty event_type", `{"event_type":""}` + "\n", []string{"not_eve"}},
		{"invalid json", `{"event_type":"dns",}` + "\n", []string{"invalid_json"}},
		{"duplicate key", `{"event_type":"dns","dns":{"rrname":"a","rrname":"b"}}` + "\n", []string{"duplicate_key"}},
		{"array", `[{"event_type":"dns"}]` + "\n", []string{"not_an_object"}},
		{"bad utf8", "{\"event_type\":\"dns\",\"x\":\"\xc3\x28\"}\n", []string{"invalid_utf8"}},
		{"blank lines, CRLF, no final newline", "\r\n{\"event_type\":\"flow\"}\r\n\n  \n{\"event_type\":\"dns\"}", []string{"", ""}},
		{"dns not an object", `{"event_type":"dns","dns":[1]}` + "\n", []string{""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			recs, err := read(t, []byte(tc.in), format.Limits{})
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
					if strings.Contains(recs[i].Reject.Reason, "rrname") && c != "duplicate_key" {
						t.Errorf("reason quotes input: %s", recs[i].Reject.Reason)
					}
				}
				if got != c {
					t.Errorf("record %d: %q, want %q (%v)", i, got, c, recs[i].Reject)
				}
			}
		})
	}
}

func TestLimits(t *testing.T) {
	deep := `{"event_type":"x","a":` + strings.Repeat("[", 20) + strings.Repeat("]", 20) + "}\n"
	long := `{"event_type":"x","a":"` + strings.Repeat("s", 100) + `"}` + "\n"
	many := `{"event_type":"x","a":1,"b":2,"c":3,"d":4}` + "\n"
	in := deep + long + many + `{"event_type":"ok"}` + "\n"
	recs, err := read(t, []byte(in), format.Limits{MaxDepth: 8, MaxFieldBytes: 50, MaxFields: 4})
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, r := range recs {
		if r.Reject != nil {
			codes = append(codes, r.Reject.Code)
		} else {
			codes = append(codes, "")
		}
	}
	if !reflect.DeepEqual(codes, []string{"too_deep", "field_too_long", "too_many_fields", ""}) {
		t.Fatalf("codes %v", codes)
	}
	recs = formattest.CheckLongLineBounded(t, func(r io.Reader, l format.Limits) format.Reader { return NewReader(r, l) },
		[]byte(`{"event_type":"flow"}`+"\n"), []byte("\n{\"event_type\":\"dns\"}\n"))
	if len(recs) != 3 || recs[2].Meta[MetaEventType] != "dns" {
		t.Fatalf("%v", recs)
	}
}
