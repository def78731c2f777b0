package leef

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

func TestSamples(t *testing.T) {
	recs, err := read(t, fixture(t, "leef-samples.log"), format.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want := []map[string]any{
		{"leef.version": "1.0", "leef.vendor": "Microsoft", "leef.product": "MSExchange", "leef.product_version": "4.0 SP1",
			"leef.event_id": "15345", "src": "192.0.2.0", "dst": "172.50.123.1", "sev": "5", "cat": "anomaly",
			"srcPort": "81", "dstPort": "21", "usrName": "joe.black"},
		{"syslog.priority": json.Number("13"), "syslog.timestamp": "Jan 18 11:07:53", "syslog.host": "192.168.1.1",
			"leef.version": "1.0", "leef.vendor": "QRadar", "leef.product": "QRM", "leef.product_version": "1.0",
			"leef.event_id": "NEW_PORT_DISCOVERD", "src": "172.5.6.67", "dst": "172.50.123.1", "sev": "5", "cat": "anomaly",
			"msg": "there are spaces in this message"},
		{"leef.version": "2.0", "leef.vendor": "Lancope", "leef.product": "StealthWatch", "leef.product_version": "1.0",
			"leef.event_id": "41", "src": "10.0.1.8", "dst": "10.0.0.5", "sev": "5", "srcPort": "81", "dstPort": "21"},
		{"leef.version": "2.0", "leef.vendor": "Vendor", "leef.product": "Product", "leef.product_version": "2.1",
			"leef.event_id": "login", "src": "10.0.1.9", "usrName": "alice", "devTime": "Nov 20 2024 08:15:02",
			"devTimeFormat": "MMM dd yyyy HH:mm:ss"},
		{"syslog.priority": json.Number("134"), "syslog.timestamp": "2024-11-20T08:15:02Z", "syslog.host": "fw01", "syslog.app_name": "pan",
			"leef.version": "2.0", "leef.vendor": "Palo Alto Networks", "leef.product": "PAN-OS Syslog Integration",
			"leef.product_version": "10.1", "leef.event_id": "allow", "cat": "TRAFFIC", "src": "10.0.0.1", "dst": "8.8.8.8",
			"srcPort": "51000", "dstPort": "53", "proto": "udp", "usrName": "", "url": "a=b"},
		{"leef.version": "2.0", "leef.vendor": "IBM", "leef.product": "Guardium", "leef.product_version": "11",
			"leef.event_id": "SQL", "src": "10.1.1.1", "dbUser": "app"},
	}
	if len(recs) != len(want) {
		t.Fatalf("%d records", len(recs))
	}
	for i, w := range want {
		if recs[i].Reject != nil {
			t.Fatalf("line %d: %v", recs[i].Line, recs[i].Reject)
		}
		if !reflect.DeepEqual(recs[i].Fields, w) {
			t.Errorf("line %d:\n got %v\nwant %v", recs[i].Line, recs[i].Fields, w)
		}
		if recs[i].Meta[MetaVersion] != w["leef.version"] {
			t.Errorf("line %d: meta %v", recs[i].Line, recs[i].Meta)
		}
	}
}

// The PAN-OS template lines have no delimiter field and literal `\t`
// separators: they parse into their attributes with the $placeholders as
// values.
func TestPANOSTemplate(t *testing.T) {
	recs, err := read(t, fixture(t, "panos-template.log"), format.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 {
		t.Fatalf("%d records", len(recs))
	}
	for _, r := range recs {
		if r.Reject != nil {
			t.Fatalf("line %d: %v", r.Line, r.Reject)
		}
	}
	want := map[string]any{
		"leef.version": "2.0", "leef.vendor": "Palo Alto Networks", "leef.product": "PAN-OS Syslog Integration",
		"leef.product_version": "4.0", "leef.event_id": "$result", "cat": "$type", "usrName": "$admin", "src": "$host",
		"devTime": "$cef-formatted-receive_time", "client": "$client", "sequence": "$seqno", "serial": "$serial", "msg": "$cmd",
	}
	if !reflect.DeepEqual(recs[0].Fields, want) {
		t.Errorf("line 1:\n got %v\nwant %v", recs[0].Fields, want)
	}
	if f := recs[2].Fields; f["DeviceSN"] != "$serial" || f["leef.product_version"] != "$sender_sw_version" || len(f) != 5+21 {
		t.Errorf("line 3: %d fields %v", len(f), f)
	}
}

const secret = "S3CR3T-VALUE"

func TestCases(t *testing.T) {
	tests := []struct {
		name, in, code string
		want           map[string]any // subset, for accepted lines
		lim            format.Limits
	}{
		{name: "no attributes, no final pipe", in: "LEEF:1.0|V|P|1|E", want: map[string]any{"leef.event_id": "E"}},
		{name: "no attributes", in: "LEEF:1.0|V|P|1|E|", want: map[string]any{"leef.event_id": "E"}},
		{name: "version 1", in: "LEEF:1|V|P|1|E|a=b", want: map[string]any{"leef.version": "1", "a": "b"}},
		{name: "escaped pipe in header", in: `LEEF:1.0|V\|W|P|1|E|a=b`, want: map[string]any{"leef.vendor": "V|W"}},
		{name: "empty attributes skipped", in: "LEEF:1.0|V|P|1|E|a=1\t\tb=2\t", want: map[string]any{"a": "1", "b": "2"}},
		{name: "equals in value", in: "LEEF:1.0|V|P|1|E|q=a=b=c", want: map[string]any{"q": "a=b=c"}},
		{name: "2.0 empty delimiter field", in: "LEEF:2.0|V|P|1|E||a=1\tb=2", want: map[string]any{"a": "1", "b": "2"}},
		{name: "2.0 no delimiter field, pipe in value", in: "LEEF:2.0|V|P|1|E|a=x|y\tb=2", want: map[string]any{"a": "x|y", "b": "2"}},
		{name: "unknown prefix", in: "junk LEEF:1.0|V|P|1|E|a=1", want: map[string]any{"syslog.prefix": "junk"}},
		{name: "no leef", in: "hello " + secret, code: "invalid_leef"},
		{name: "short header", in: "LEEF:1.0|" + secret + "|P", code: "invalid_leef"},
		{name: "bad version", in: "LEEF:" + secret + "|V|P|1|E|", code: "invalid_leef"},
		{name: "attribute without =", in: "LEEF:1.0|V|P|1|E|a=1\t" + secret, code: "invalid_leef"},
		{name: "empty key", in: "LEEF:1.0|V|P|1|E|=" + secret, code: "invalid_leef"},
		{name: "duplicate", in: "LEEF:1.0|V|P|1|E|src=1\tsrc=" + secret, code: "duplicate_key"},
		{name: "header name as key", in: "LEEF:1.0|V|P|1|E|leef.vendor=" + secret, code: "duplicate_key"},
		{name: "bad utf8", in: "LEEF:1.0|V|P|1|E|a=\xff" + secret, code: "invalid_utf8"},
		{name: "long value", in: "LEEF:1.0|V|P|1|E|a=" + secret + strings.Repeat("x", 40), code: "field_too_long", lim: format.Limits{MaxFieldBytes: 32}},
		{name: "too many", in: "LEEF:1.0|V|P|1|E|a=1\tb=2\tc=" + secret, code: "too_many_fields", lim: format.Limits{MaxFields: 6}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			recs, err := read(t, []byte(tc.in+"\n"), tc.lim)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != 1 {
				t.Fatalf("%d records", len(recs))
			}
			r := recs[0]
			if tc.code != "" {
				if r.Reject == nil || r.Reject.Code != tc.code {
					t.Fatalf("%v, want %s", r.Reject, tc.code)
				}
				if strings.Contains(r.Reject.Reason, secret) {
					t.Fatalf("reason quotes input: %s", r.Reject.Reason)
				}
				return
			}
			if r.Reject != nil {
				t.Fatal(r.Reject)
			}
			for k, v := range tc.want {
				if r.Fields[k] != v {
					t.Errorf("%s = %#v, want %#v", k, r.Fields[k], v)
				}
			}
		})
	}
	line := "LEEF:1.0|V|P|1|E|src=1.2.3.4\n"
	recs := formattest.CheckLongLineBounded(t, func(r io.Reader, l format.Limits) format.Reader { return NewReader(r, l) },
		[]byte(line), []byte("\n"+line))
	if len(recs) != 3 || recs[2].Fields["src"] != "1.2.3.4" {
		t.Fatalf("%v", recs)
	}
}

func TestParseDelimiter(t *testing.T) {
	for in, want := range map[string]string{"": "\t", "^": "^", "x5E": "^", "0x5e": "^", `\x09`: "\t", "X7C": "|", "§": "§"} {
		if got, ok := parseDelimiter(in); !ok || got != want {
			t.Errorf("parseDelimiter(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"=", "xZZ", "0x", "x0", "ab", "x12345", "cat=1"} {
		if got, ok := parseDelimiter(in); ok {
			t.Errorf("parseDelimiter(%q) = %q, want not ok", in, got)
		}
	}
}
