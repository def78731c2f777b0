package ingest

import (
	"context"
	"strings"
	"testing"

	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/internal/observable"
	"github.com/heimdallhub/heimdall/internal/pii"
	"github.com/heimdallhub/heimdall/internal/pii/piitest"
)

const unitPolicy = `
version: "2026-11-28.3"
levels: [UNCLASSIFIED, CONFIDENTIAL, SECRET, TOP SECRET]
default: {level: TOP SECRET, action: drop}
profiles:
  generic:
    fields:
      src_ip:   {level: SECRET, action: pseudonymise, kind: ip}
      dst_ip:   {level: UNCLASSIFIED, action: keep}
      dst_port: {level: UNCLASSIFIED, action: keep}
      email:    {level: SECRET, action: encrypt}
      user:     {level: CONFIDENTIAL, action: tokenise, kind: user}
      message:  {level: CONFIDENTIAL, action: scrub}
      url:      {level: CONFIDENTIAL, action: scrub}
  rejects:
    fields:
      raw: {level: TOP SECRET, action: encrypt}
`

func piiHandler(t *testing.T, log Log) (*Handler, *events.Codec, *pii.Engine) {
	t.Helper()
	codec, err := events.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	eng := piitest.Engine(t, unitPolicy)
	h, err := New(log, codec, Options{PeerID: "test", EventsTopic: "ev", RejectsTopic: "rej", PII: eng, MaxRejectList: 10})
	if err != nil {
		t.Fatal(err)
	}
	return h, codec, eng
}

func decodeAll(t *testing.T, codec *events.Codec, recs [][]byte) []events.Event {
	t.Helper()
	var out []events.Event
	for _, b := range recs {
		e, err := codec.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

func TestPolicyAppliedToEveryValue(t *testing.T) {
	log := &memLog{}
	h, codec, eng := piiHandler(t, log)
	body := `{"src_ip":"192.0.2.44","dst_ip":"198.51.100.9","dst_port":443,"query":"secret-domain.example","email":"Alice.Liddell@Example.org","user":"aliddell","message":"mail alice.liddell@example.org or call +44 7700 900123","url":"https://portal.example/a?card=4539148803436467"}
{"src_ip":"192.0.2.44","email":"alice.liddell@example.org", broken
`
	res, err := h.Handle(context.Background(), cmd(body))
	if err != nil {
		t.Fatal(err)
	}
	if res.Accepted != 1 || res.Rejected != 1 {
		t.Fatalf("%+v", res)
	}
	for _, topic := range []string{"ev", "rej"} {
		for _, b := range log.records[topic] {
			for _, plain := range []string{"192.0.2.44", "lice.liddell", "Liddell", "aliddell", "7700 900123", "4539148803436467", "secret-domain"} {
				if strings.Contains(string(b), plain) {
					t.Fatalf("%s record holds %q in plaintext", topic, plain)
				}
			}
		}
	}
	ipKey := observable.PersonalKey(observable.KindIPv4Addr, eng.Pseudonym("ipv4-addr", "192.0.2.44"))
	dst, _ := observable.ParseIP("198.51.100.9")
	emailKey := observable.PersonalKey(observable.KindEmailAddr, eng.Pseudonym("email-addr", "alice.liddell@example.org"))
	userKey := observable.PersonalKey(observable.KindUserAccount, eng.Pseudonym("user-account", "aliddell"))
	byKey := map[string]events.Event{}
	for _, e := range decodeAll(t, codec, log.records["ev"]) {
		byKey[e.Key] = e
		if e.PolicyVersion != "2026-11-28.3" {
			t.Fatalf("event without the policy version: %q", e.PolicyVersion)
		}
	}
	src, ok := byKey[ipKey]
	if !ok {
		t.Fatalf("no vertex keyed by the address's pseudonym; keys %v", keysOf(byKey))
	}
	if v := src.Payload.(events.EntityObserved).Value; v != eng.Pseudonym("ip", "192.0.2.44") || src.Classification != "SECRET" {
		t.Fatalf("pseudonymised address: %q %s", v, src.Classification)
	}
	if e := byKey[dst.Key()]; e.Payload.(events.EntityObserved).Value != "198.51.100.9" || e.Classification != "UNCLASSIFIED" {
		t.Fatalf("kept address: %+v", e)
	}
	// The unnamed field (query) is dropped: no vertex for its domain.
	secret, _ := observable.Canonicalize(observable.KindDomainName, "secret-domain.example")
	if _, ok := byKey[secret.Key()]; ok {
		t.Fatal("a field the policy does not name reached the log")
	}
	// Encrypted: opens for its entity and field only; deterministic per
	// record and field, so the case-folded address in the reject's record
	// still had the same key.
	email := byKey[emailKey].Payload.(events.EntityObserved).Value
	if got, err := eng.Decrypt(emailKey, EntityValueField, email); err != nil || got != "Alice.Liddell@example.org" { // canonical: domain folded, local part kept
		t.Fatalf("decrypt e-mail: %q %v", got, err)
	}
	if _, err := eng.Decrypt(ipKey, EntityValueField, email); err == nil {
		t.Fatal("ciphertext opened for another record")
	}
	if _, err := eng.Decrypt(emailKey, AttributeField("msg"), email); err == nil {
		t.Fatal("ciphertext opened for another field")
	}
	// Tokenised: reversible and equal for equal values.
	user := byKey[userKey].Payload.(events.EntityObserved).Value
	if got, err := eng.Decrypt("", "", user); err != nil || got != "aliddell" || byKey[userKey].Classification != "CONFIDENTIAL" {
		t.Fatalf("detokenise: %q %v", got, err)
	}
	// Scrubbed text keeps its shape with pseudonyms in place of personal data.
	var msg string
	for _, e := range byKey {
		if r, ok := e.Payload.(events.RelationObserved); ok {
			if r.RelationType != "CONTAINS" && r.Source.Key != ipKey && r.Target.Key != ipKey && r.Source.Key != emailKey && r.Source.Key != userKey {
				t.Errorf("relation %s does not use personal keys: %s -> %s", r.RelationType, r.Source.Key, r.Target.Key)
			}
			for _, a := range r.Attributes {
				if a.Name == "msg" {
					msg = a.Value
				}
			}
			if e.Classification != "SECRET" && e.Classification != "CONFIDENTIAL" {
				t.Errorf("relation %s classified %s", r.RelationType, e.Classification)
			}
		}
	}
	if !strings.HasPrefix(msg, "mail "+eng.Pseudonym("email", "alice.liddell@example.org")+" or call ps:") {
		t.Fatalf("scrubbed message %q", msg)
	}
	// The rejected line is sealed to its batch and line.
	rej := decodeAll(t, codec, log.records["rej"])[0]
	content := rej.Payload.(events.IngestRejected).Content
	got, err := eng.Decrypt(RejectRecordKey("batch-0001", 2), RejectRawField, content)
	if err != nil || !strings.Contains(got, "broken") {
		t.Fatalf("reject content: %q %v", got, err)
	}
	if _, err := eng.Decrypt(RejectRecordKey("batch-0001", 1), RejectRawField, content); err == nil {
		t.Fatal("reject content opened for another line")
	}
}

// Re-ingesting the same records writes the same values (encrypt is
// deterministic per record and field), so the graph does not change.
func TestPolicyOutputIsDeterministic(t *testing.T) {
	log := &memLog{}
	h, codec, _ := piiHandler(t, log)
	body := `{"src_ip":"192.0.2.44","dst_ip":"198.51.100.9","email":"a@example.org","user":"u1","message":"see b@example.org"}` + "\n"
	values := func() map[string]string {
		out := map[string]string{}
		for _, e := range decodeAll(t, codec, log.records["ev"]) {
			switch p := e.Payload.(type) {
			case events.EntityObserved:
				out[e.Key] = p.Value
			case events.RelationObserved:
				out[e.Key] = p.Source.Value + p.Target.Value + strings.Repeat("|", len(p.Attributes))
				for _, a := range p.Attributes {
					out[e.Key] += a.Value
				}
			}
		}
		log.records = nil
		return out
	}
	if _, err := h.Handle(context.Background(), cmd(body)); err != nil {
		t.Fatal(err)
	}
	first := values()
	c := cmd(body)
	c.BatchID = "batch-0002"
	if _, err := h.Handle(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	second := values()
	if len(first) == 0 || len(first) != len(second) {
		t.Fatalf("%d vs %d events", len(first), len(second))
	}
	for k, v := range first {
		if second[k] != v {
			t.Errorf("%s changed between uploads", k)
		}
	}
}

func keysOf(m map[string]events.Event) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// A reject reason that names an input-controlled thing (a Zeek field name)
// is scrubbed before it is returned or stored.
func TestRejectReasonsAreScrubbed(t *testing.T) {
	log := &memLog{}
	h, codec, _ := piiHandler(t, log)
	c := cmd("#separator \\x09\n#path\tconn\n#fields\tts\tmallory@example.org\n#types\ttime\tcount\n1763626502.1\tnot-a-count\n")
	c.Format = "zeek"
	res, err := h.Handle(context.Background(), c)
	if err != nil || res.Rejected != 1 {
		t.Fatalf("%+v %v", res, err)
	}
	if strings.Contains(res.Rejects[0].Reason, "mallory") {
		t.Fatalf("reason %q", res.Rejects[0].Reason)
	}
	for _, e := range decodeAll(t, codec, log.records["rej"]) {
		if strings.Contains(e.Payload.(events.IngestRejected).Reason, "mallory") {
			t.Fatal("stored reason names the e-mail address")
		}
	}
}

// TestFileNameIsScrubbed: a file name is free text the uploader chose; a
// user name in its path reaches the log pseudonymised, on every event and
// reject.
func TestFileNameIsScrubbed(t *testing.T) {
	log := &memLog{}
	h, codec, _ := piiHandler(t, log)
	c := cmd(`{"dst_ip":"198.51.100.9"}` + "\nbroken\n")
	c.File = "/home/aliddell/exports/flows.ndjson"
	if _, err := h.Handle(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, topic := range []string{"ev", "rej"} {
		for _, e := range decodeAll(t, codec, log.records[topic]) {
			n++
			if strings.Contains(e.Provenance.File, "aliddell") || !strings.HasSuffix(e.Provenance.File, "/exports/flows.ndjson") {
				t.Fatalf("%s event file %q", topic, e.Provenance.File)
			}
		}
	}
	if n < 2 {
		t.Fatalf("%d events", n)
	}
}
