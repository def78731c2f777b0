package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/internal/format"
	"github.com/heimdallhub/heimdall/internal/observable"
	"github.com/heimdallhub/heimdall/internal/pii/piitest"
)

// memLog is an in-memory event log for unit tests of the command; the real
// Kafka log is exercised by the integration tests in internal/e2e.
type memLog struct {
	mu      sync.Mutex
	records map[string][][]byte
	fail    error
	async   bool
}

func (l *memLog) Append(_ context.Context, topic string, _ []byte, value []byte, _ map[string]string, done func(error)) {
	l.mu.Lock()
	if l.records == nil {
		l.records = map[string][][]byte{}
	}
	if l.fail == nil {
		l.records[topic] = append(l.records[topic], value)
	}
	err := l.fail
	l.mu.Unlock()
	if l.async {
		go done(err)
		return
	}
	done(err)
}

func newHandler(t testing.TB, log Log) (*Handler, *events.Codec) {
	t.Helper()
	codec, err := events.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(log, codec, Options{PeerID: "test", EventsTopic: "ev", RejectsTopic: "rej", Limits: format.Limits{MaxLineBytes: 4096}, MaxRejectList: 2,
		Now: func() time.Time { return time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC) }, PII: piitest.Engine(t, "")})
	if err != nil {
		t.Fatal(err)
	}
	return h, codec
}

func cmd(body string) Command {
	return Command{Body: strings.NewReader(body), Actor: events.Actor{Subject: "alice", Issuer: "https://idp"}, RequestID: "req-1", BatchID: "batch-0001", Source: "unit"}
}

func TestCountsAddUp(t *testing.T) {
	log := &memLog{async: true}
	h, codec := newHandler(t, log)
	body := strings.Join([]string{
		`{"src_ip":"192.0.2.1","dst_ip":"198.51.100.2","dst_port":"443","proto":"TCP"}`,
		``,
		`{"src_ip":"192.0.2.1","dst_ip":"198.51.100.2","dst_port":"443","proto":"TCP"}`,
		`not json`,
		`[1,2]`,
		`{"src_ip":"010.0.0.1"}`,
		`{"nothing":"here"}`,
		`{"query":"Example.COM.","answers":["192.0.2.9","alias.example.com"],"ts":"2026-01-02T03:04:05Z"}`,
		`{"a":1}{"b":2}`,
		"\r",
		`{"url":"HTTP://Example.com:80/a/../b?x=1#frag"}` + "\r",
	}, "\n")
	res, err := h.Handle(context.Background(), cmd(body))
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 9 || res.Accepted != 3 || res.Duplicates != 1 || res.Rejected != 5 {
		t.Fatalf("%+v", res)
	}
	if res.Rows != res.Accepted+res.Rejected+res.Duplicates {
		t.Fatal("counts do not add up")
	}
	if len(res.Rejects) != 2 || !res.RejectsTruncated || res.Rejects[0].Line != 4 || res.Rejects[0].Code != "invalid_json" {
		t.Fatalf("rejects %+v", res.Rejects)
	}
	if got := len(log.records["rej"]); got != 5 {
		t.Fatalf("%d rejects on the rejects topic, want 5", got)
	}
	// Every reject is located and never echoes the input.
	for _, b := range log.records["rej"] {
		e, err := codec.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		r := e.Payload.(events.IngestRejected)
		if e.Provenance.Line == 0 || e.Provenance.ByteOffset <= 0 || e.Actor.Subject != "alice" {
			t.Errorf("reject without location or actor: %+v", e)
		}
		for _, secret := range []string{"010.0.0.1", "nothing", "not json"} {
			if strings.Contains(r.Reason, secret) {
				t.Errorf("reject reason echoes input: %q", r.Reason)
			}
		}
	}
	// Decode the events: entity and relation keys are the canonical ones.
	kinds := map[string]int{}
	rels := map[string]int{}
	for _, b := range log.records["ev"] {
		e, err := codec.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		if e.Actor.Subject != "alice" || e.RequestID != "req-1" || e.BatchID != "batch-0001" || e.RecordedAt.IsZero() ||
			e.PolicyVersion != h.opts.PII.Version() || e.Classification == "" || e.OriginPeer != "test" || e.Vector["test"] != int64(e.HLC) {
			t.Fatalf("envelope incomplete: %+v", e)
		}
		switch p := e.Payload.(type) {
		case events.EntityObserved:
			kinds[p.Kind]++
			o, err := observable.Canonicalize(observable.Kind(p.Kind), p.Value)
			if err != nil || o.Key() != e.Key {
				t.Errorf("entity key %s for %s %s", e.Key, p.Kind, p.Value)
			}
		case events.RelationObserved:
			rels[p.RelationType]++
			if observable.RelationKey(p.Source.Key, p.RelationType, p.Target.Key) != e.Key {
				t.Errorf("relation key mismatch")
			}
			if p.RelationType == "CONNECTED_TO" && fmt.Sprint(p.Attributes) != "[{dst_port 443} {proto tcp}]" {
				t.Errorf("attributes %v", p.Attributes)
			}
		}
	}
	if kinds["ipv4-addr"] != 3 || kinds["domain-name"] != 2 || kinds["url"] != 1 || rels["CONNECTED_TO"] != 1 || rels["RESOLVES_TO"] != 1 || rels["CONTAINS"] != 1 {
		t.Fatalf("kinds %v relations %v", kinds, rels)
	}
}

func TestUnacknowledgedIsNotAccepted(t *testing.T) {
	h, _ := newHandler(t, &memLog{fail: errors.New("broker gone"), async: true})
	res, err := h.Handle(context.Background(), cmd(`{"src_ip":"192.0.2.1"}`+"\n"+`{"src_ip":"192.0.2.2"}`))
	if !errors.Is(err, ErrLogUnavailable) {
		t.Fatalf("err = %v, result %+v", err, res)
	}
}

func TestDeterministicEventIDs(t *testing.T) {
	ids := func() []string {
		log := &memLog{}
		h, codec := newHandler(t, log)
		if _, err := h.Handle(context.Background(), cmd(`{"src_ip":"192.0.2.1","dst_ip":"192.0.2.2","ts":"2026-01-01T00:00:00Z"}`)); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, b := range log.records["ev"] {
			e, _ := codec.Decode(b)
			out = append(out, e.ID.String())
		}
		return out
	}
	a, b := ids(), ids()
	if fmt.Sprint(a) != fmt.Sprint(b) || len(a) != 3 {
		t.Fatalf("retried batch has different ids: %v %v", a, b)
	}
}

// A 100 MB line costs no more memory than the line limit.
func TestHugeLineIsRejectedWithBoundedMemory(t *testing.T) {
	h, _ := newHandler(t, &memLog{})
	body := io.MultiReader(strings.NewReader(`{"src_ip":"192.0.2.1"}`+"\n"),
		io.LimitReader(repeatReader('y'), 100<<20), strings.NewReader("\n"+`{"src_ip":"192.0.2.3"}`))
	c := cmd("")
	c.Body = body
	res, err := h.Handle(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 3 || res.Accepted != 2 || res.Rejected != 1 || res.Rejects[0].Code != "line_too_long" || res.Rejects[0].Line != 2 {
		t.Fatalf("%+v", res)
	}
}

type repeatReader byte

func (r repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

func TestProfileValidation(t *testing.T) {
	_, err := ParseProfile([]byte("name: x\nversion: 1\nobservables:\n  - {name: a, kind: nope, fields: []}\nrelations:\n  - {from: a, type: bad-type, to: b}\n"))
	if err == nil {
		t.Fatal("invalid profile accepted")
	}
	for _, want := range []string{"unknown kind", "no fields", "to \"b\"", "bad-type"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if _, err := BuiltinProfiles(); err != nil {
		t.Fatal(err)
	}
}

// FuzzIngest: whatever the bytes and format (sniffed), Handle does not
// panic, fails only as a whole-input failure or an unrecognised format, and
// every row read is counted exactly once, with a reject on the topic for
// each rejected row.
func FuzzIngest(f *testing.F) {
	f.Add([]byte("#separator \\x09\n#fields\tts\tid.orig_h\n#types\ttime\taddr\n1.5\t192.0.2.1\n"))
	f.Add([]byte("CEF:0|a|b|1|2|n|3|src=192.0.2.1 dst=192.0.2.2 dpt=443\n"))
	f.Add([]byte("src_ip,dst_ip\n192.0.2.1,192.0.2.2\n\"unclosed,x\n"))
	f.Add([]byte(`{"timestamp":"2026-01-01T00:00:00Z","event_type":"flow","src_ip":"192.0.2.1","dest_ip":"192.0.2.2"}`))
	f.Add([]byte(`{"src_ip":"192.0.2.1","dst_ip":"::1"}` + "\n" + `{"query":"a.b","answers":"1.2.3.4"}`))
	f.Add([]byte("\xff\xfe{\"src_ip\":\n\r\n[]"))
	f.Add([]byte(`{"url":"http://[::1]:80/%zz","sha256":"ABC"}`))
	codec, err := events.NewCodec()
	if err != nil {
		f.Fatal(err)
	}
	log := &memLog{}
	h, err := New(log, codec, Options{PeerID: "fuzz", EventsTopic: "ev", RejectsTopic: "rej", Limits: format.Limits{MaxLineBytes: 256}, PII: piitest.Engine(f, "")})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		log.records = nil
		res, err := h.Handle(context.Background(), Command{Body: bytes.NewReader(data), Actor: events.Actor{Subject: "s"}, RequestID: "r", BatchID: "b"})
		var inErr *InputError
		switch {
		case err == nil:
		case errors.Is(err, ErrUnsupportedFormat):
			return
		case errors.As(err, &inErr):
			res = inErr.Result
		default:
			t.Fatal(err)
		}
		if res.Rows != res.Accepted+res.Rejected+res.Duplicates {
			t.Fatalf("counts do not add up: %+v", res)
		}
		if int64(len(log.records["rej"])) != res.Rejected {
			t.Fatalf("%d rejects recorded, %d counted", len(log.records["rej"]), res.Rejected)
		}
	})
}

type discardLog struct{}

func (discardLog) Append(_ context.Context, _ string, _, _ []byte, _ map[string]string, done func(error)) {
	done(nil)
}

func TestUserProfiles(t *testing.T) {
	dir := t.TempDir()
	prof := "name: my-proxy\nversion: 1\nmatch: {formats: [csv]}\nobservables:\n  - {name: client, kind: ip, fields: [client]}\n  - {name: site, kind: domain-name, fields: [site]}\nrelations:\n  - {from: client, type: VISITED, to: site}\n"
	if err := os.WriteFile(dir+"/my-proxy.yaml", []byte(prof), 0o600); err != nil {
		t.Fatal(err)
	}
	own, err := LoadProfiles(dir)
	if err != nil || own["my-proxy"] == nil {
		t.Fatalf("%v %v", own, err)
	}
	log := &memLog{}
	codec, _ := events.NewCodec()
	// A profile of one's own needs policy rules for its fields: without
	// them every value is dropped and the record holds nothing to keep.
	h, err := New(log, codec, Options{PeerID: "p", EventsTopic: "ev", RejectsTopic: "rej", Profiles: own, PII: piitest.Engine(t, "")})
	if err != nil {
		t.Fatal(err)
	}
	res, err := h.Handle(context.Background(), cmd("client,site\n192.0.2.7,Example.ORG\n"))
	if err != nil || res.Rejected != 1 || res.Accepted != 0 {
		t.Fatalf("unnamed fields were not dropped: %+v %v", res, err)
	}
	h, err = New(log, codec, Options{PeerID: "p", EventsTopic: "ev", RejectsTopic: "rej", Profiles: own, PII: piitest.Engine(t, `
version: "2026-11-28.1"
levels: [PUBLIC, PERSONAL]
default: {level: PERSONAL, action: drop}
profiles:
  my-proxy:
    fields:
      client: {level: PERSONAL, action: pseudonymise, kind: ip}
      site:   {level: PUBLIC, action: keep}
`)})
	if err != nil {
		t.Fatal(err)
	}
	c := cmd("client,site\n192.0.2.7,Example.ORG\n")
	res, err = h.Handle(context.Background(), c)
	if err != nil || res.Accepted != 1 || res.Format != "csv" || res.Events != 3 {
		t.Fatalf("%+v %v", res, err)
	}
	if err := os.WriteFile(dir+"/bad.yaml", []byte("name: bad\nversion: 0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadProfiles(dir); err == nil || !strings.Contains(err.Error(), "bad.yaml") {
		t.Fatalf("invalid profile file accepted: %v", err)
	}
}

func TestRecordDigest(t *testing.T) {
	a := map[string]any{"b": json.Number("1.50"), "a": []any{"x", nil, true}, "c": map[string]any{"y": "1", "x": "2"}}
	b := map[string]any{"c": map[string]any{"x": "2", "y": "1"}, "a": []any{"x", nil, true}, "b": json.Number("1.50")}
	if recordDigest(a) != recordDigest(b) {
		t.Fatal("equal records hash differently")
	}
	for _, other := range []map[string]any{
		{"b": json.Number("1.5"), "a": []any{"x", nil, true}, "c": map[string]any{"y": "1", "x": "2"}},
		{"b": "1.50", "a": []any{"x", nil, true}, "c": map[string]any{"y": "1", "x": "2"}},
		{"b": json.Number("1.50"), "a": []any{"x", true, nil}, "c": map[string]any{"y": "1", "x": "2"}},
		{"b": json.Number("1.50"), "a": []any{"xnil"}, "c": map[string]any{"y": "1", "x": "2"}},
		{"ab": "", "c": ""},
		{"a": "bc"},
	} {
		if recordDigest(other) == recordDigest(a) {
			t.Errorf("different record has the same digest: %v", other)
		}
	}
	if recordDigest(map[string]any{"ab": "", "c": ""}) == recordDigest(map[string]any{"a": "", "bc": ""}) {
		t.Error("key boundaries are not part of the digest")
	}
}
