package cef

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"reflect"
	"strconv"
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

// hdr is the header most logstash spec lines share.
func hdr(extra map[string]any) map[string]any {
	m := map[string]any{
		"cef.version": "0", "cef.device_vendor": "security", "cef.device_product": "threatmanager",
		"cef.device_version": "1.0", "cef.signature_id": "100", "cef.name": "trojan successfully stopped", "cef.severity": "10",
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// TestLogstashSpecLines checks the decoder test messages of
// logstash-codec-cef, named by the index file.
func TestLogstashSpecLines(t *testing.T) {
	names := map[int64]string{}
	sc := bufio.NewScanner(bytes.NewReader(fixture(t, "logstash-spec-lines.index.tsv")))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if n, err := strconv.ParseInt(f[0], 10, 64); err == nil && len(f) == 3 {
			names[n] = f[2]
		}
	}
	recs, err := read(t, fixture(t, "logstash-spec-lines.log"), format.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 28 || len(names) != 28 {
		t.Fatalf("%d records, %d names", len(recs), len(names))
	}
	base := map[string]any{"src": "10.0.0.192", "dst": "12.121.122.82", "spt": "1232"}
	ad := map[string]any{
		"src": "10.0.0.192", "dst": "12.121.122.82", "additional.dotfieldName": "new_value",
		// "ad.Error_,Code" is no key (',' is not a key character), so it
		// stays in the previous value.
		"ad.Authentification": "MICROSOFT_AUTHENTICATION_PACKAGE_V1_0 ad.Error_,Code=3221225578",
		"ad.field[0]":         "field0",
	}
	with := func(m map[string]any, kv ...any) map[string]any {
		out := map[string]any{}
		for k, v := range m {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i].(string)] = kv[i+1]
		}
		return out
	}
	want := map[int64]map[string]any{
		1: hdr(base),
		2: with(hdr(base), "cef.device_vendor", "fun", "cef.device_product", "whimsy"),
		4: with(hdr(base), "cef.device_vendor", "", "cef.device_product", ""),
		5: hdr(base),
		6: hdr(map[string]any{"moo": "this|has an escaped pipe"}),
		7: hdr(map[string]any{"moo": "this|has an pipe"}),
		8: hdr(map[string]any{"moo": "this =has = equals="}),
		9: with(hdr(map[string]any{"eventId": "1", "msg": "Worm successfully stopped", "start": ""}),
			"cef.device_vendor", "Security", "cef.name", "worm successfully stopped", "cef.severity", "Very-High"),
		10: {
			"cef.version": "0", "cef.device_vendor": "FooBar", "cef.device_product": "Web Gateway", "cef.device_version": "1.2.3.45.67",
			"cef.signature_id": "200", "cef.name": "Success", "cef.severity": "2",
			"rt": "Sep 07 2018 14:50:39", "cat": "Access Log", "dst": "1.1.1.1", "dhost": "foo.example.com", "suser": "redacted",
			"src": "2.2.2.2", "requestMethod": "POST", "request": "'https://foo.example.com/bar/bingo/1'",
			"requestClientApplication": "'Foo-Bar/2018.1.7; Email:user@example.com; Guid:test='",
			"cs1":                      "", "cs1Label": "Foo Bar", "cef.label.Foo Bar": "",
		},
		11: {"cef.version": "0", "cef.device_vendor": `secu\rity`, "cef.device_product": `threat\manager`, "cef.device_version": `1.\0`,
			"cef.signature_id": `10\0`, "cef.name": `tro\jan successfully stopped`, "cef.severity": `\10`},
		12: with(hdr(nil), "cef.device_vendor", `security\|`, "cef.device_product", `threatmanager\`),
		13: {"cef.version": "0", "cef.device_vendor": "secu|rity", "cef.device_product": "threatmanager|", "cef.device_version": "1.|0",
			"cef.signature_id": "10|0", "cef.name": "tro|jan successfully stopped", "cef.severity": "|10"},
		14: hdr(map[string]any{"moo": `this \has \ backslashs\`}),
		15: with(hdr(nil), "cef.device_product", "threatmanager=equal"),
		16: hdr(base),
		17: {"cef.version": "0", "cef.device_vendor": "Vendor", "cef.device_product": "Device", "cef.device_version": "Version",
			"cef.signature_id": "13", "cef.name": "my message", "cef.severity": "5",
			"dvchost": "loghost", "cat": "traffic", "deviceSeverity": "notice", "ad.nn": "TEST", "src": "192.168.0.1",
			"dpt": "53"}, // destinationPort is stored under its short key
		18: hdr(with(base, "dproc", "InternetExplorer x.x.x.x")),
		19: hdr(with(ad, "ad.name[1]", "new_name")),
		20: hdr(with(ad, "ad.foo.name[1]", "new_name")),
		21: hdr(with(ad, "ad.name[1]", "new_name",
			"cs4", "401 random.user Admin 0 23041A10181C0000  23041810181C0000  /CN=random.user/OU=User Login End-Entity  /CN=TEST/OU=Login CA TEST 34")),
		22: hdr(map[string]any{"src": "10.0.0.192", "dst": "12.121.122.82", "new_key_by_device": "new_values here"}),
		23: hdr(map[string]any{"src": "10.0.0.192", "dst": "12.121.122.82", "proto": "TCP", "shost": "source.host.name",
			"dhost": "destination.host.name", "spt": "11024", "dpt": "9200", "outcome": "Success", "amac": "00:80:48:1c:24:91"}),
		24: hdr(with(base, "syslog.prefix", "Syslogdate Sysloghost")),
		25: hdr(map[string]any{"fileHash": "1bad1dea", "syslog.prefix": "Syslogdate Sysloghost"}),
		26: hdr(map[string]any{"syslog.prefix": "Syslogdate Sysloghost",
			"cfp15": "3.1415926", "cfp15Label": "pi", "c6a12": "::1", "c6a12Label": "localhost",
			"cn7": "8191", "cn7Label": "mersenne", "cs4": "silly", "cs4Label": "theory",
			"cef.label.pi": "3.1415926", "cef.label.localhost": "::1", "cef.label.mersenne": "8191", "cef.label.theory": "silly"}),
		27: hdr(map[string]any{"src": "192.168.1.11", "target": "aaaaaああああaaaa", "msg": "Description Omitted"}),
		28: with(hdr(map[string]any{"destinationLongitude": "-73.614830", "destinationLatitude": "45.505918",
			"sourceLongitude": "45.4628328", "sourceLatitude": "9.1076927"}), "cef.name", "target acquired"),
	}
	for _, r := range recs {
		name := names[r.Line]
		if r.Line == 3 {
			// Extension text that is no key=value pair.
			if r.Reject == nil || r.Reject.Code != "invalid_extension" {
				t.Errorf("line 3 (%s): %v, want invalid_extension", name, r.Reject)
			}
			continue
		}
		if r.Reject != nil {
			t.Errorf("line %d (%s): %v", r.Line, name, r.Reject)
			continue
		}
		if r.Meta[MetaVersion] != "0" {
			t.Errorf("line %d: meta %v", r.Line, r.Meta)
		}
		if w, ok := want[r.Line]; ok && !reflect.DeepEqual(r.Fields, w) {
			t.Errorf("line %d (%s):\n got %v\nwant %v", r.Line, name, r.Fields, w)
		}
	}
}

func TestCheckpoint(t *testing.T) {
	recs, err := read(t, fixture(t, "checkpoint.log"), format.Limits{})
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
	f := recs[0].Fields
	for k, v := range map[string]any{
		"cef.device_vendor": "Check Point", "cef.device_product": "VPN-1 & FireWall-1", "cef.severity": "Unknown",
		"act": "Accept", "originsicname": "CN=R80,O=R80_M..6u6bdo", "loguid": "{0x5bfc70fc,0x1,0xfe65a8c0,0xc0000001}",
		"src": "192.168.101.100", "dst": "52.173.84.157", "spt": "49363", "dpt": "443", "proto": "6",
		"product": "VPN-1 & FireWall-1", "cs5": "Business / Economy", "cef.label.Matched Category": "Business / Economy",
		"cs2Label": "Rule Name", "deviceCustomDate2": "1508150533713", "cef.label.This field is made up": "1508150533713",
		"rt": "1543270652000",
	} {
		if f[k] != v {
			t.Errorf("%s = %#v, want %#v", k, f[k], v)
		}
	}
	if _, ok := f["cef.label.Rule Name"]; ok {
		t.Error("label without a value field")
	}
	if recs[1].Fields["msg"] != "Encrypted session" || recs[1].Fields["deviceCustomDate2"] != "Apr 11 2020 10:42:13" {
		t.Errorf("line 2: %v", recs[1].Fields)
	}
	if recs[2].Fields["cef.label.Source IPv6 Address"] != "fd00::555" || recs[2].Fields["cnt"] != "12" {
		t.Errorf("line 3: %v", recs[2].Fields)
	}
}

const ev = "CEF:0|Trend|DDI|6.0|100|Malware|8|src=10.1.2.3 dst=10.9.8.7 spt=1234 dpt=80 suser=alice request=http://x.example/a b msg=line1\\nline2\\rend\\\\ ok\\=yes"

func TestSyslogAndEscapes(t *testing.T) {
	n := json.Number("134")
	tests := []struct {
		name string
		in   string
		want map[string]any // subset
		not  []string
	}{
		{"plain", ev, map[string]any{"src": "10.1.2.3", "dpt": "80", "suser": "alice", "request": "http://x.example/a b",
			"msg": "line1\nline2\rend\\ ok=yes", "cef.device_vendor": "Trend", "cef.severity": "8"}, []string{"syslog.prefix", "syslog.host"}},
		{"rfc3164", "<134>Nov 20 08:15:02 fw01 " + ev, map[string]any{"syslog.priority": n, "syslog.timestamp": "Nov 20 08:15:02",
			"syslog.host": "fw01", "src": "10.1.2.3"}, []string{"syslog.app_name"}},
		{"rfc3164 padded day, tag", "<134>Nov  2 08:15:02 fw01 ddi[4242]: " + ev, map[string]any{"syslog.timestamp": "Nov  2 08:15:02",
			"syslog.host": "fw01", "syslog.app_name": "ddi", "syslog.procid": "4242"}, nil},
		{"rfc3164 no pri, year", "Sep 07 2018 14:50:39 fw01 " + ev, map[string]any{"syslog.timestamp": "Sep 07 2018 14:50:39",
			"syslog.host": "fw01"}, []string{"syslog.priority"}},
		{"rfc3164 iso timestamp", "<14>2024-11-20T08:15:02.123+01:00 fw01 " + ev, map[string]any{"syslog.priority": json.Number("14"),
			"syslog.timestamp": "2024-11-20T08:15:02.123+01:00", "syslog.host": "fw01"}, nil},
		{"rfc5424", "<134>1 2024-11-20T08:15:02.003Z fw01.example.com ddi 4242 ID47 - " + ev, map[string]any{
			"syslog.priority": n, "syslog.timestamp": "2024-11-20T08:15:02.003Z", "syslog.host": "fw01.example.com",
			"syslog.app_name": "ddi", "syslog.procid": "4242", "syslog.msgid": "ID47"}, []string{"syslog.structured_data"}},
		{"rfc5424 sd, nil values, bom", "<134>1 2024-11-20T08:15:02Z fw01 - - - [meta seq=\"1\"] \ufeff" + ev, map[string]any{
			"syslog.host": "fw01", "syslog.structured_data": "[meta seq=\"1\"]"}, []string{"syslog.app_name", "syslog.msgid"}},
		{"unknown prefix", "garbage before " + ev, map[string]any{"syslog.prefix": "garbage before"}, nil},
		{"cef version 1", strings.Replace(ev, "CEF:0", "CEF:1", 1), map[string]any{"cef.version": "1"}, nil},
		{"full names", "CEF:0|V|P|1|2|N|3|sourceAddress=1.2.3.4 destinationUserName=bob requestUrl=/x deviceCustomString1=v deviceCustomString1Label=L",
			map[string]any{"src": "1.2.3.4", "duser": "bob", "request": "/x", "cs1": "v", "cs1Label": "L", "cef.label.L": "v"},
			[]string{"sourceAddress", "requestUrl"}},
		{"first label wins", "CEF:0|V|P|1|2|N|3|cs1=a cs1Label=L cs2=b cs2Label=L", map[string]any{"cef.label.L": "a"}, nil},
		{"empty extension", "CEF:0|V|P|1|2|N|3|", map[string]any{"cef.name": "N"}, nil},
		{"trailing spaces", "CEF:0|V|P|1|2|N|3|a=b   ", map[string]any{"a": "b"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, rej := Parse([]byte(tc.in), format.Limits{})
			if rej != nil {
				t.Fatal(rej)
			}
			for k, v := range tc.want {
				if !reflect.DeepEqual(f[k], v) {
					t.Errorf("%s = %#v, want %#v", k, f[k], v)
				}
			}
			for _, k := range tc.not {
				if _, ok := f[k]; ok {
					t.Errorf("%s present: %#v", k, f[k])
				}
			}
		})
	}
}

const secret = "S3CR3T-VALUE"

func TestRejects(t *testing.T) {
	tests := []struct {
		name, in, code string
		lim            format.Limits
	}{
		{"no cef", "hello " + secret, "invalid_cef", format.Limits{}},
		{"few pipes", "CEF:0|" + secret + "|P|1|2|N", "invalid_cef", format.Limits{}},
		{"version", "CEF:" + secret + "|V|P|1|2|N|3|", "invalid_cef", format.Limits{}},
		{"bad utf8", "CEF:0|V|P|1|2|N|3|a=\xff" + secret, "invalid_utf8", format.Limits{}},
		{"no key", "CEF:0|V|P|1|2|N|3|" + secret + " here", "invalid_extension", format.Limits{}},
		{"duplicate", "CEF:0|V|P|1|2|N|3|src=" + secret + " src=2", "duplicate_key", format.Limits{}},
		{"duplicate via full name", "CEF:0|V|P|1|2|N|3|src=1 sourceAddress=" + secret, "duplicate_key", format.Limits{}},
		{"header key in extension", "CEF:0|V|P|1|2|N|3|cef.name=" + secret, "duplicate_key", format.Limits{}},
		{"value too long", "CEF:0|V|P|1|2|N|3|msg=" + secret + strings.Repeat("x", 40), "field_too_long", format.Limits{MaxFieldBytes: 32}},
		{"header too long", "CEF:0|V|" + secret + strings.Repeat("x", 40) + "|1|2|N|3|", "field_too_long", format.Limits{MaxFieldBytes: 32}},
		{"too many fields", "CEF:0|V|P|1|2|N|3|a=1 b=2 c=" + secret, "too_many_fields", format.Limits{MaxFields: 9}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(tc.in + "\n")
			recs, err := read(t, in, tc.lim)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != 1 || recs[0].Reject == nil || recs[0].Reject.Code != tc.code {
				t.Fatalf("%v, want %s", recs, tc.code)
			}
			if strings.Contains(recs[0].Reject.Reason, secret) || !strings.Contains(recs[0].Reject.Reason, "line 1") {
				t.Fatalf("reason %q", recs[0].Reject.Reason)
			}
		})
	}
	recs := formattest.CheckLongLineBounded(t, func(r io.Reader, l format.Limits) format.Reader { return NewReader(r, l) },
		[]byte(ev+"\n"), []byte("\n"+ev+"\n"))
	if len(recs) != 3 || recs[2].Fields["src"] != "10.1.2.3" {
		t.Fatalf("%v", recs)
	}
}
