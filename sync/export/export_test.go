package export

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/sync/exchange"
)

// memTail serves records of one partition from memory.
type memTail struct {
	recs []events.LogRecord
	pos  int
}

func (m *memTail) Poll(_ context.Context, max int, _ time.Duration) ([]events.LogRecord, error) {
	n := min(max, len(m.recs)-m.pos)
	out := m.recs[m.pos : m.pos+n]
	m.pos += n
	return out, nil
}
func (m *memTail) CaughtUp() bool { return m.pos == len(m.recs) }
func (m *memTail) Ends() map[int32]int64 {
	return map[int32]int64{0: int64(len(m.recs))}
}
func (m *memTail) Close() {}

// TestDigests: in digest mode the exporter sends one frame per aligned range
// of the requested offsets, holding the count and SHA-256 of exactly the
// event ids the caller may receive (its agreement applied, its own events
// left out), and no record.
func TestDigests(t *testing.T) {
	codec, err := events.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	levels := []string{"UNCLASSIFIED", "CONFIDENTIAL", "SECRET", "TOP SECRET"}
	var recs []events.LogRecord
	want := map[int64][]byte{} // range start -> ids the caller may receive
	for off := int64(0); off < 25; off++ {
		e := events.Event{ID: events.NewID(), Key: "k", OriginPeer: "site-a", HLC: events.MakeHLC(1000+off, 0),
			Vector: events.VersionVector{"site-a": 1000 + off}, Actor: events.Actor{Subject: "s", Issuer: "i"},
			RequestID: "r", BatchID: "r", RecordedAt: time.UnixMilli(1000 + off).UTC(),
			Provenance: events.Provenance{Source: "flows", Format: "ndjson"}, Classification: "UNCLASSIFIED",
			Payload: events.EntityObserved{Kind: "ipv4-addr", Value: "192.0.2.1", ObservedAt: time.UnixMilli(1000).UTC()}}
		switch {
		case off%7 == 3:
			e.Classification = "SECRET" // beyond the agreement
		case off%5 == 4:
			e.OriginPeer = "site-b" // the caller's own
		default:
			want[off-off%10] = append(want[off-off%10], e.ID[:]...)
		}
		v, err := codec.Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, events.LogRecord{Partition: 0, Offset: off, Key: []byte("k"), Value: v})
	}
	peer := exchange.Peer{ID: "site-b", Subject: "peer-b"}
	peer.Export.MaxClassification = "CONFIDENTIAL"
	x, err := New(Options{Self: "site-a", Peers: []exchange.Peer{peer}, Levels: levels, Codec: codec,
		Open: func(_ context.Context, from map[int32]int64, _ []int32) (Tail, error) {
			return &memTail{recs: recs, pos: int(from[0])}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	part := int32(0)
	digests := func(p exchange.Peer, until int64) ([]exchange.RangeDigest, Stats) {
		t.Helper()
		var buf bytes.Buffer
		st, err := x.Export(context.Background(), p, Request{From: exchange.Cursor{0: 0}, Max: int(until), Partition: &part, Until: until, DigestSpan: 10}, &buf, nil)
		if err != nil {
			t.Fatal(err)
		}
		rd := exchange.NewReader(&buf)
		var got []exchange.RangeDigest
		for {
			rec, _, err := rd.Next()
			if errors.Is(err, io.EOF) {
				return got, st
			}
			if err != nil {
				t.Fatal(err)
			}
			if rec != nil {
				d, err := exchange.DigestOf(rec)
				if err != nil {
					t.Fatalf("a record frame that is not a digest: %v", err)
				}
				got = append(got, d)
			}
		}
	}
	got, st := digests(peer, 25)
	bounds := [][2]int64{{0, 10}, {10, 20}, {20, 25}}
	if len(got) != len(bounds) || st.Read != 25 {
		t.Fatalf("%d digests, want %d, after reading %d records: %+v", len(got), len(bounds), st.Read, got)
	}
	for i, d := range got {
		ids := want[bounds[i][0]]
		if d.From != bounds[i][0] || d.Until != bounds[i][1] || d.Count != int64(len(ids)/16) || d.Sum != sha256.Sum256(ids) {
			t.Errorf("range %d: %d-%d, %d ids; want %d-%d, %d ids, and the SHA-256 of them", i, d.From, d.Until, d.Count, bounds[i][0], bounds[i][1], len(ids)/16)
		}
	}
	// Again: the two whole ranges come from memory, only the last is read.
	again, st := digests(peer, 25)
	if st.Read != 5 || len(again) != 3 || again[0] != got[0] || again[1] != got[1] || again[2] != got[2] {
		t.Fatalf("second round read %d records: %+v, want 5 and %+v", st.Read, again, got)
	}
	// Another agreement has digests of its own: read again, and different
	// where SECRET records lie.
	wide := peer
	wide.Export.MaxClassification = "SECRET"
	other, st := digests(wide, 25)
	if st.Read != 25 || len(other) != 3 || other[0].Count != got[0].Count+1 || other[0].Sum == got[0].Sum {
		t.Fatalf("a wider agreement read %d records: %+v", st.Read, other)
	}
	// A range cut short at the log's end is never kept.
	if _, st := digests(peer, 25); st.Read != 5 {
		t.Fatalf("third round read %d records, want 5", st.Read)
	}
	// Without an until offset there are no ranges to digest.
	if _, err := x.Export(context.Background(), peer, Request{Max: 25, DigestSpan: 10}, io.Discard, nil); err == nil {
		t.Error("digests without partition and until were accepted")
	}
}
