package appendlog

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/heimdallhub/heimdall/events"
)

type fakeLog struct {
	topics []string
	fail   error
	never  bool
}

func (l *fakeLog) Append(_ context.Context, topic string, _, _ []byte, headers map[string]string, done func(error)) {
	l.topics = append(l.topics, topic+"/"+headers["heimdall.event_type"]+"/"+headers["traceparent"])
	if !l.never {
		done(l.fail)
	}
}

func event(w *Writer) events.Event {
	e := w.Envelope(events.Actor{Subject: "alice", Issuer: "https://idp"}, "req-1", "classify", "UNCLASSIFIED")
	e.ID = events.DeterministicID(e.RecordedAt, "x")
	e.Key = "k"
	e.Payload = events.AuditRecorded{Action: "test", Outcome: "done", Records: []string{}, Details: []events.AuditDetail{}}
	return e
}

func TestWriterAppendsBothAndWaits(t *testing.T) {
	codec, err := events.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewWriter(nil, codec, Options{}); !errors.Is(err, ErrConfig) {
		t.Fatalf("incomplete writer: %v", err)
	}
	l := &fakeLog{}
	w, err := NewWriter(l, codec, Options{PeerID: "p", EventsTopic: "ev", AuditTopic: "audit", Timeout: 100 * time.Millisecond,
		Scrub: func(s string) string { return s + "!" }})
	if err != nil {
		t.Fatal(err)
	}
	e := event(w)
	if e.Actor.Subject != "alice" || e.RequestID != "req-1" || e.RecordedAt.IsZero() || e.OriginPeer != "p" {
		t.Fatalf("envelope %+v", e)
	}
	if err := w.Write(context.Background(), map[string]string{"traceparent": "tp"}, e, e); err != nil {
		t.Fatal(err)
	}
	if len(l.topics) != 2 || l.topics[0] != "ev/audit.recorded/tp" || l.topics[1] != "audit/audit.recorded/tp" {
		t.Fatalf("appended %v", l.topics)
	}
	long := string(make([]byte, 600))
	if r := w.Reason(long); len(r) > 512 {
		t.Fatalf("reason of %d bytes", len(r))
	}
	if w.Reason("why") != "why!" {
		t.Fatal("reason not scrubbed")
	}
	l.fail = errors.New("broker down")
	if err := w.Write(context.Background(), nil, e, e); err == nil {
		t.Fatal("a failed append reported written")
	}
	l.fail, l.never = nil, true
	if err := w.Write(context.Background(), nil, e, e); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("no acknowledgement: %v", err)
	}
}
