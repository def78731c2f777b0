package agent

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/sync/exchange"
)

// claimStore is Store's import rule in memory: claims and cursor commit
// together, after appendFresh; failCommit makes the next commit fail after
// the append, as a database that dies at that moment does.
type claimStore struct {
	claimed    map[uuid.UUID]bool
	failCommit int
}

func (s *claimStore) Checkpoint(context.Context, string) (exchange.Cursor, error) { return nil, nil }
func (s *claimStore) Contact(context.Context, string, time.Time, int64, error) error {
	return nil
}
func (s *claimStore) Paused(context.Context, string) (bool, error) { return false, nil }
func (s *claimStore) Missing(context.Context, []uuid.UUID) (map[uuid.UUID]bool, error) {
	return nil, nil
}
func (s *claimStore) Verified(context.Context, string, int32) (map[int64]exchange.RangeDigest, error) {
	return nil, nil
}
func (s *claimStore) MarkVerified(context.Context, string, exchange.RangeDigest) error { return nil }

func (s *claimStore) Import(_ context.Context, _ string, items []Item, _ exchange.Cursor, appendFresh func([]Item) error) (int, error) {
	var fresh []Item
	for _, it := range items {
		if !s.claimed[it.EventID] {
			fresh = append(fresh, it)
		}
	}
	if err := appendFresh(fresh); err != nil {
		return 0, err
	}
	if s.failCommit > 0 {
		s.failCommit--
		return 0, errors.New("commit: connection reset")
	}
	for _, it := range fresh {
		s.claimed[it.EventID] = true
	}
	return len(fresh), nil
}

// countingLog acknowledges every append (failing the ones whose key is in
// fail) and counts acknowledged appends per key.
type countingLog struct {
	appended map[string]int
	fail     map[string]bool
}

func (l *countingLog) Append(_ context.Context, _ string, key, _ []byte, _ map[string]string, done func(error)) {
	if l.fail[string(key)] {
		done(errors.New("broker unavailable"))
		return
	}
	l.appended[string(key)]++
	done(nil)
}

func testAgent(t *testing.T, st Store, log Log) *Agent {
	t.Helper()
	a, err := New(Options{Self: "a", Store: st, Log: log, Topic: "events", Codec: &events.Codec{},
		Token:  func(context.Context) (string, error) { return "", nil },
		Client: func(exchange.Peer) *http.Client { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func items(keys ...string) []Item {
	out := make([]Item, len(keys))
	for i, k := range keys {
		out[i] = Item{EventID: uuid.NewSHA1(uuid.NameSpaceOID, []byte(k)), Key: []byte(k)}
	}
	return out
}

// TestImportAfterFailedCommitAppendsOnce: a chunk whose claims failed to
// commit after the local log acknowledged it comes again; its events are
// claimed then but not appended a second time. Events whose append failed
// are appended on the retry.
func TestImportAfterFailedCommitAppendsOnce(t *testing.T) {
	st := &claimStore{claimed: map[uuid.UUID]bool{}, failCommit: 1}
	log := &countingLog{appended: map[string]int{}, fail: map[string]bool{"e3": true}}
	a := testAgent(t, st, log)
	ctx := context.Background()
	chunk := items("e1", "e2", "e3")
	if _, err := a.importChunk(ctx, "b", chunk, nil); err == nil {
		t.Fatal("an append failed, the import did not")
	}
	delete(log.fail, "e3")
	if _, err := a.importChunk(ctx, "b", chunk, nil); err == nil {
		t.Fatal("the commit failed, the import did not")
	}
	// The same events through another peer, then the chunk again.
	if n, err := a.importChunk(ctx, "c", items("e2", "e4"), nil); err != nil || n != 2 {
		t.Fatalf("import via c: %d, %v", n, err)
	}
	if n, err := a.importChunk(ctx, "b", chunk, nil); err != nil || n != 2 {
		t.Fatalf("retry: %d fresh, %v; want 2 (e1, e3)", n, err)
	}
	for _, k := range []string{"e1", "e2", "e3", "e4"} {
		if log.appended[k] != 1 {
			t.Errorf("%s appended %d times, want once", k, log.appended[k])
		}
	}
	if len(a.unsettled) != 0 {
		t.Errorf("%d ids still unsettled after every claim committed", len(a.unsettled))
	}
}

// FeedClock makes the local clock observe the greatest imported HLC, but
// not one too far ahead of the wall clock.
func TestFeedClock(t *testing.T) {
	wall := time.UnixMilli(1_800_000_000_000)
	clock := events.NewClock(func() time.Time { return wall })
	values := []events.HLC{
		events.MakeHLC(wall.Add(time.Second).UnixMilli(), 3), // a peer a second ahead
		events.MakeHLC(wall.Add(time.Hour).UnixMilli(), 0),   // a peer an hour ahead
	}
	ctx, cancel := context.WithCancel(context.Background())
	reads := 0
	FeedClock(ctx, clock, func(context.Context) (events.HLC, error) {
		h := values[min(reads, len(values)-1)]
		reads++
		if reads == 3 {
			cancel()
		}
		return h, nil
	}, time.Millisecond, nil)
	got := clock.Now()
	if got <= values[0] {
		t.Fatalf("Now %v is not after the imported %v", got, values[0])
	}
	if got >= values[1] {
		t.Fatalf("Now %v followed a value an hour ahead", got)
	}
}
