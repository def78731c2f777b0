package classify

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/heimdallhub/heimdall/commands/appendlog"
	"github.com/heimdallhub/heimdall/events"
)

// memLog keeps what was appended, decoded.
type memLog struct {
	t     *testing.T
	codec *events.Codec
	got   map[string][]events.Event // by topic
}

func (l *memLog) Append(_ context.Context, topic string, _, value []byte, _ map[string]string, done func(error)) {
	e, err := l.codec.Decode(value)
	if err != nil {
		l.t.Fatal(err)
	}
	l.got[topic] = append(l.got[topic], e)
	done(nil)
}

// fakeCurrent is the read model's current reclassification of one record.
type fakeCurrent struct {
	hlc    events.HLC
	vector events.VersionVector
	level  string
	err    error
	asked  []string
}

func (f *fakeCurrent) CurrentReclassification(_ context.Context, recordType, key string) (events.HLC, events.VersionVector, string, error) {
	f.asked = append(f.asked, recordType+" "+key)
	return f.hlc, f.vector, f.level, f.err
}

func newHandler(t *testing.T, cur Current, wall time.Time) (*Handler, *memLog) {
	t.Helper()
	codec, err := events.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	l := &memLog{t: t, codec: codec, got: map[string][]events.Event{}}
	h, err := New(l, codec, Options{
		Options: appendlog.Options{PeerID: "site-b", EventsTopic: "ev", AuditTopic: "audit",
			Clock: events.NewClock(func() time.Time { return wall })},
		Levels:  []string{"UNCLASSIFIED", "CONFIDENTIAL", "SECRET", "TOP SECRET"},
		Current: cur,
	})
	if err != nil {
		t.Fatal(err)
	}
	return h, l
}

func command(level string) Command {
	return Command{Actor: events.Actor{Subject: "alice", Issuer: "https://idp"}, RequestID: "req-1",
		Record: "domain-name--0001", RecordType: "entity", Level: level, Reason: "review"}
}

// A change made after seeing the record's current reclassification has a
// greater HLC and a version vector that dominates the current one, even
// when the current one came from a peer whose clock is ahead of ours.
func TestChangeDominatesCurrent(t *testing.T) {
	wall := time.UnixMilli(1_800_000_000_000)
	ahead := events.MakeHLC(wall.UnixMilli()+5000, 2) // site-a's clock is 5 s ahead
	cur := &fakeCurrent{hlc: ahead, vector: events.VersionVector{"site-a": int64(ahead), "site-c": 42}}
	h, l := newHandler(t, cur, wall)
	id, err := h.Handle(context.Background(), command("SECRET"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cur.asked) != 1 || cur.asked[0] != "entity domain-name--0001" {
		t.Fatalf("read model asked %v", cur.asked)
	}
	ch := l.got["ev"]
	if len(ch) != 1 || ch[0].ID.String() != id || len(l.got["audit"]) != 1 {
		t.Fatalf("appended %v", l.got)
	}
	e := ch[0]
	if e.HLC <= ahead {
		t.Fatalf("HLC %d not after the current winner's %d", e.HLC, ahead)
	}
	if got := e.Vector.Compare(cur.vector); got != events.After {
		t.Fatalf("vector %v is %s the current %v, want after", e.Vector, got, cur.vector)
	}
	if e.Vector["site-b"] != int64(e.HLC) || e.Vector["site-a"] != int64(ahead) || e.Vector["site-c"] != 42 {
		t.Fatalf("vector %v", e.Vector)
	}
	// A second change, after the first was projected, dominates it in turn.
	cur.hlc, cur.vector = e.HLC, e.Vector
	if _, err := h.Handle(context.Background(), command("UNCLASSIFIED")); err != nil {
		t.Fatal(err)
	}
	e2 := l.got["ev"][1]
	if e2.HLC <= e.HLC || e2.Vector.Compare(e.Vector) != events.After {
		t.Fatalf("second change %d %v after %d %v", e2.HLC, e2.Vector, e.HLC, e.Vector)
	}
}

// Without a reclassification the change is as before: this peer's entry
// only, stamped now.
func TestChangeOfUnreclassifiedRecord(t *testing.T) {
	wall := time.UnixMilli(1_800_000_000_000)
	h, l := newHandler(t, &fakeCurrent{}, wall)
	if _, err := h.Handle(context.Background(), command("CONFIDENTIAL")); err != nil {
		t.Fatal(err)
	}
	e := l.got["ev"][0]
	if e.HLC != events.MakeHLC(wall.UnixMilli(), 0) || len(e.Vector) != 1 || e.Vector["site-b"] != int64(e.HLC) {
		t.Fatalf("HLC %d vector %v", e.HLC, e.Vector)
	}
}

// A read model that cannot be read fails the command: nothing is appended.
func TestChangeFailsWithoutReadModel(t *testing.T) {
	h, l := newHandler(t, &fakeCurrent{err: errors.New("connection refused")}, time.UnixMilli(1_800_000_000_000))
	_, err := h.Handle(context.Background(), command("SECRET"))
	if !errors.Is(err, ErrReadModelUnavailable) {
		t.Fatalf("error %v", err)
	}
	if len(l.got) != 0 {
		t.Fatalf("appended %v", l.got)
	}
	if _, err := New(l, l.codec, Options{Options: appendlog.Options{PeerID: "p", EventsTopic: "e", AuditTopic: "a"},
		Levels: []string{"UNCLASSIFIED"}}); err == nil {
		t.Fatal("a handler without a reader of current reclassifications")
	}
}

// The change and its audit record carry the record's current level, for
// they name the record: a peer whose agreement stops below it, or an
// auditor without the clearance, never learns the key. A record this peer
// does not hold gets the highest level.
func TestChangeIsClassifiedAsTheRecord(t *testing.T) {
	wall := time.UnixMilli(1_800_000_000_000)
	for _, c := range []struct{ current, want string }{
		{"UNCLASSIFIED", "UNCLASSIFIED"},
		{"SECRET", "SECRET"},
		{"", "TOP SECRET"},
		{"NOT A LEVEL", "TOP SECRET"},
	} {
		h, l := newHandler(t, &fakeCurrent{level: c.current}, wall)
		// Lowering the level does not lower the change's own.
		if _, err := h.Handle(context.Background(), command("UNCLASSIFIED")); err != nil {
			t.Fatal(err)
		}
		for topic, es := range l.got {
			for _, e := range es {
				if e.Classification != c.want {
					t.Errorf("record at %q: %s event classified %q, want %q", c.current, topic, e.Classification, c.want)
				}
			}
		}
	}
}
