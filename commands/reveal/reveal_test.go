package reveal

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/heimdallhub/heimdall/events"
)

type sealer struct{}

// Decrypt opens "enc:v1:dk-1:<record>|<field>|<plain>" only for its record
// and field: enough to test the command's accounting.
func (sealer) Decrypt(record, field, sealed string) (string, error) {
	rest, ok := strings.CutPrefix(sealed, "enc:v1:dk-1:")
	parts := strings.SplitN(rest, "|", 3)
	if !ok || len(parts) != 3 || parts[0] != record || parts[1] != field {
		return "", errors.New("authentication failed")
	}
	return parts[2], nil
}

// record is a stored record: its level (0 is the lowest) and fields.
type record struct {
	level  int
	fields map[string][]string
}

// store holds records; reader binds a clearance to it.
var store = map[string]record{
	"email-addr--1":   {0, map[string][]string{"value": {"enc:v1:dk-1:email-addr--1|value|alice@example.org"}}},
	"email-addr--3":   {2, map[string][]string{"value": {"enc:v1:dk-1:email-addr--3|value|carol@example.org"}}},
	"relationship--9": {0, map[string][]string{"attributes.msg": {"enc:v1:dk-1:relationship--9|attributes.msg|hello"}}},
}

// reader is the store as a caller cleared up to a level sees it.
type reader int

func (r reader) Field(_ context.Context, key, field string) (Field, error) {
	rec, ok := store[key]
	if !ok {
		return Field{}, nil
	}
	if rec.level > int(r) {
		return Field{Exists: true}, nil
	}
	return Field{Exists: true, Visible: true, Values: rec.fields[field]}, nil
}

type memLog struct {
	mu   sync.Mutex
	recs [][]byte
	fail error
}

func (l *memLog) Append(_ context.Context, topic string, key, value []byte, _ map[string]string, done func(error)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail != nil {
		done(l.fail)
		return
	}
	l.recs = append(l.recs, value)
	done(nil)
}

func newHandler(t *testing.T, log *memLog) (*Handler, *events.Codec) {
	t.Helper()
	codec, err := events.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(sealer{}, log, codec,
		Options{PeerID: "p", AuditTopic: "audit", Scrub: func(s string) string { return strings.ReplaceAll(s, "bob@example.org", "ps:pk1:x") }})
	if err != nil {
		t.Fatal(err)
	}
	return h, codec
}

func TestRevealAuditsEveryItemBeforeAnswering(t *testing.T) {
	log := &memLog{}
	h, codec := newHandler(t, log)
	out, err := h.Handle(context.Background(), Command{
		Actor: events.Actor{Subject: "alice", Issuer: "https://idp"}, RequestID: "req-1", Allowed: true, Records: reader(3),
		Purpose: "case 42 for bob@example.org",
		Items: []Item{
			{Record: "email-addr--1", Field: "value"},
			{Record: "relationship--9", Field: "attributes.msg", Value: "enc:v1:dk-1:relationship--9|attributes.msg|hello"},
			{Record: "relationship--9", Field: "attributes.other", Value: "enc:v1:dk-1:relationship--9|attributes.msg|hello"},
			{Record: "email-addr--2", Field: "value"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ outcome, value string }{{OutcomeDecrypted, "alice@example.org"}, {OutcomeDecrypted, "hello"}, {OutcomeFailed, ""}, {OutcomeNotFound, ""}}
	for i, w := range want {
		if out[i].Outcome != w.outcome || out[i].Value != w.value {
			t.Errorf("item %d: %+v, want %+v", i, out[i], w)
		}
	}
	if len(log.recs) != 1 {
		t.Fatalf("%d audit records, want 1", len(log.recs))
	}
	ev, err := codec.Decode(log.recs[0])
	if err != nil {
		t.Fatal(err)
	}
	a := ev.Payload.(events.DecryptionAudited)
	if ev.Actor.Subject != "alice" || ev.RequestID != "req-1" || ev.RecordedAt.IsZero() || len(a.Items) != 4 {
		t.Fatalf("audit event %+v", ev)
	}
	if a.Items[0].DataKeyID != "dk-1" || a.Items[0].Outcome != OutcomeDecrypted || a.Items[2].Outcome != OutcomeFailed {
		t.Fatalf("audit items %+v", a.Items)
	}
	if strings.Contains(string(log.recs[0]), "alice@example.org") || strings.Contains(string(log.recs[0]), "hello") ||
		strings.Contains(string(log.recs[0]), "bob@example.org") {
		t.Fatal("audit record holds a plaintext")
	}
}

func TestRevealDeniedIsAuditedAndRevealsNothing(t *testing.T) {
	log := &memLog{}
	h, codec := newHandler(t, log)
	out, err := h.Handle(context.Background(), Command{
		Actor: events.Actor{Subject: "bob"}, RequestID: "req-2", Allowed: false,
		Items: []Item{{Record: "email-addr--1", Field: "value"}},
	})
	if !errors.Is(err, ErrForbidden) || out != nil {
		t.Fatalf("denied: %v %v", out, err)
	}
	ev, err := codec.Decode(log.recs[0])
	if err != nil {
		t.Fatal(err)
	}
	if a := ev.Payload.(events.DecryptionAudited); a.Items[0].Outcome != OutcomeDenied {
		t.Fatalf("%+v", a)
	}
}

func TestRevealWithoutAuditRevealsNothing(t *testing.T) {
	h, _ := newHandler(t, &memLog{fail: errors.New("broker down")})
	out, err := h.Handle(context.Background(), Command{
		Actor: events.Actor{Subject: "alice"}, RequestID: "req-3", Allowed: true, Records: reader(3),
		Items: []Item{{Record: "email-addr--1", Field: "value"}},
	})
	if !errors.Is(err, ErrAuditUnavailable) || out != nil {
		t.Fatalf("%v %v", out, err)
	}
}

func TestRevealRejectsBadRequests(t *testing.T) {
	h, _ := newHandler(t, &memLog{})
	for name, cmd := range map[string]Command{
		"no actor":   {RequestID: "r", Items: []Item{{Record: "a", Field: "b"}}},
		"no items":   {Actor: events.Actor{Subject: "a"}, RequestID: "r"},
		"no field":   {Actor: events.Actor{Subject: "a"}, RequestID: "r", Items: []Item{{Record: "a"}}},
		"too many":   {Actor: events.Actor{Subject: "a"}, RequestID: "r", Items: make([]Item, MaxItems+1)},
		"no request": {Actor: events.Actor{Subject: "a"}, Items: []Item{{Record: "a", Field: "b"}}},
	} {
		if _, err := h.Handle(context.Background(), cmd); !errors.Is(err, ErrBadRequest) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestRevealHonoursClearance: an item of a record above the caller's
// clearance is answered exactly like one of a missing record (and audited
// as denied); a value sent for a record must be one of its field's values.
func TestRevealHonoursClearance(t *testing.T) {
	log := &memLog{}
	h, codec := newHandler(t, log)
	carol := "enc:v1:dk-1:email-addr--3|value|carol@example.org"
	out, err := h.Handle(context.Background(), Command{
		Actor: events.Actor{Subject: "bob"}, RequestID: "req-4", Allowed: true, Records: reader(1),
		Items: []Item{
			{Record: "email-addr--3", Field: "value"},               // above bob's clearance
			{Record: "email-addr--3", Field: "value", Value: carol}, // pasted: still above it
			{Record: "email-addr--4", Field: "value"},               // missing
			{Record: "email-addr--4", Field: "value", Value: carol}, // missing, pasted
			{Record: "email-addr--1", Field: "value", Value: carol}, // moved to a record bob sees
			{Record: "email-addr--1", Field: "value"},               // bob's own level
			{Record: "relationship--9", Field: "attributes.msg"},    // no single value to read
			{Record: "relationship--9", Field: "attributes.x", Value: store["relationship--9"].fields["attributes.msg"][0]},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{OutcomeNotFound, OutcomeNotFound, OutcomeNotFound, OutcomeNotFound, OutcomeFailed, OutcomeDecrypted, OutcomeDecrypted, OutcomeFailed}
	for i, w := range want {
		if out[i].Outcome != w || (w != OutcomeDecrypted && out[i].Value != "") {
			t.Errorf("item %d: %+v, want %s", i, out[i], w)
		}
	}
	if out[0] != (Revealed{Record: "email-addr--3", Field: "value", Outcome: OutcomeNotFound}) ||
		out[2] != (Revealed{Record: "email-addr--4", Field: "value", Outcome: OutcomeNotFound}) {
		t.Errorf("hidden and missing differ: %+v %+v", out[0], out[2])
	}
	ev, err := codec.Decode(log.recs[0])
	if err != nil {
		t.Fatal(err)
	}
	a := ev.Payload.(events.DecryptionAudited)
	audited := []string{OutcomeDenied, OutcomeDenied, OutcomeNotFound, OutcomeNotFound, OutcomeFailed, OutcomeDecrypted, OutcomeDecrypted, OutcomeFailed}
	for i, w := range audited {
		if a.Items[i].Outcome != w {
			t.Errorf("audited item %d: %+v, want %s", i, a.Items[i], w)
		}
	}
	// Without a read model nothing is visible.
	out, err = h.Handle(context.Background(), Command{Actor: events.Actor{Subject: "bob"}, RequestID: "req-5", Allowed: true,
		Items: []Item{{Record: "email-addr--1", Field: "value"}}})
	if err != nil || out[0].Outcome != OutcomeNotFound {
		t.Fatalf("no read model: %+v %v", out, err)
	}
}

// TestRevealUnlistedRecords: a record whose values the read model does not
// hold (a rejected line) opens a sent value by its binding alone.
func TestRevealUnlistedRecords(t *testing.T) {
	h, _ := newHandler(t, &memLog{})
	raw := "enc:v1:dk-1:batch/1|raw|line"
	out, err := h.Handle(context.Background(), Command{Actor: events.Actor{Subject: "alice"}, RequestID: "req-6", Allowed: true,
		Records: unlisted{}, Items: []Item{{Record: "batch/1", Field: "raw", Value: raw}, {Record: "batch/2", Field: "raw", Value: raw},
			{Record: "batch/1", Field: "raw"}}})
	if err != nil {
		t.Fatal(err)
	}
	if out[0].Outcome != OutcomeDecrypted || out[0].Value != "line" || out[1].Outcome != OutcomeFailed || out[2].Outcome != OutcomeNotFound {
		t.Fatalf("%+v", out)
	}
}

type unlisted struct{}

func (unlisted) Field(context.Context, string, string) (Field, error) {
	return Field{Exists: true, Visible: true, Unlisted: true}, nil
}
