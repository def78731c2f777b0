package syncstore

import (
	"context"
	"errors"
	gosync "sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/sync/agent"
	"github.com/heimdallhub/heimdall/sync/exchange"
)

func items(ids ...uuid.UUID) []agent.Item {
	out := make([]agent.Item, len(ids))
	for i, id := range ids {
		out[i] = agent.Item{EventID: id, Key: []byte("k"), Value: []byte(id.String())}
	}
	return out
}

// importOnce is the agent's import against s: claim, append what is fresh,
// settle.
func importOnce(ctx context.Context, s *Store, peer string, its []agent.Item, cursor exchange.Cursor, appendFn func([]agent.Item) error) (int, error) {
	fresh, batch, err := s.Claim(ctx, peer, owner, its, time.Now())
	if err != nil {
		return 0, err
	}
	if err := appendFn(fresh); err != nil {
		return 0, err
	}
	return len(fresh), s.Settle(ctx, peer, batch, its, len(fresh), cursor)
}

var owner = uuid.New()

// TestImportClaimsEachEventOnce: two peers delivering overlapping events at
// the same time append each event once; a failed append leaves its claims
// pending and the cursor where it was, until Resolve settles what reached
// the log and releases the rest for the next import.
func TestImportClaimsEachEventOnce(t *testing.T) {
	ctx := context.Background()
	s, err := New(ctx, testPool(t), map[string]bool{"c": true})
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]uuid.UUID, 200)
	for i := range ids {
		ids[i] = uuid.Must(uuid.NewV7())
	}
	var mu gosync.Mutex
	appended := map[uuid.UUID]int{}
	appendFn := func(its []agent.Item) error {
		mu.Lock()
		defer mu.Unlock()
		for _, it := range its {
			appended[it.EventID]++
		}
		return nil
	}
	var wg gosync.WaitGroup
	for w, peer := range []string{"a", "b", "a2", "b2"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each peer delivers all events, in chunks of 20, in its own order.
			for c := 0; c < len(ids); c += 20 {
				chunk := ids[(c+w*40)%len(ids) : (c+w*40)%len(ids)+20]
				if _, err := importOnce(ctx, s, peer, items(chunk...), exchange.Cursor{0: int64(c + 20)}, appendFn); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if appended[id] != 1 {
			t.Fatalf("event %s appended %d times", id, appended[id])
		}
	}
	// A failing append: the claims stay pending, the cursor stays.
	lost, landed := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	boom := errors.New("broker down")
	if _, err := importOnce(ctx, s, "a", items(lost, landed, ids[0]), exchange.Cursor{0: 999}, func([]agent.Item) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("failed append: %v", err)
	}
	c, err := s.Checkpoint(ctx, "a")
	if err != nil || c[0] != 200 {
		t.Fatalf("checkpoint after a failed append: %v %v", c, err)
	}
	pending, err := s.Pending(ctx)
	if err != nil || len(pending) != 1 || pending[0].Peer != "a" || pending[0].Owner != owner || len(pending[0].IDs) != 2 {
		t.Fatalf("pending after a failed append: %+v %v", pending, err)
	}
	// Meanwhile another peer delivers them: claimed, so not fresh.
	if n, err := importOnce(ctx, s, "b", items(lost, landed), exchange.Cursor{0: 300}, appendFn); err != nil || n != 0 {
		t.Fatalf("import of pending claims via b: %d %v", n, err)
	}
	// One of them reached the log: settled; the other is released.
	settled, released, err := s.Resolve(ctx, pending[0].ID, []uuid.UUID{landed, ids[1]})
	if err != nil || settled != 1 || released != 1 {
		t.Fatalf("resolve: %d settled, %d released, %v", settled, released, err)
	}
	if again, _, err := s.Resolve(ctx, pending[0].ID, nil); err != nil || again != 0 {
		t.Fatalf("resolving twice: %d %v", again, err)
	}
	if pending, err := s.Pending(ctx); err != nil || len(pending) != 0 {
		t.Fatalf("pending after resolve: %+v %v", pending, err)
	}
	n, err := importOnce(ctx, s, "a", items(lost, landed, ids[0]), exchange.Cursor{0: 999}, appendFn)
	if err != nil || n != 1 || appended[lost] != 1 || appended[landed] != 0 {
		t.Fatalf("retry: %d %v; appended lost %d, landed %d", n, err, appended[lost], appended[landed])
	}
	// Checkpoints never go back (a late, older cursor of a slow request).
	if _, err := importOnce(ctx, s, "a", nil, exchange.Cursor{0: 5, 1: 7}, appendFn); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Checkpoint(ctx, "a"); c[0] != 999 || c[1] != 7 {
		t.Fatalf("checkpoint %v", c)
	}
	// Pause: the file's setting until a command overrides it.
	if p, _ := s.Paused(ctx, "c"); !p {
		t.Fatal("c is paused by the file")
	}
	if err := s.SetPaused(ctx, "c", false, "op"); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Paused(ctx, "c"); p {
		t.Fatal("resumed c is paused")
	}
	if err := s.Reset(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	st, err := s.Status(ctx, []string{"a", "c"})
	if err != nil || len(st) != 2 || len(st[0].Checkpoint) != 0 || st[1].Paused || st[1].PausedBy != "op" {
		t.Fatalf("status %+v %v", st, err)
	}
	total := int64(0)
	for _, p := range []string{"a", "b", "a2", "b2"} {
		st, _ := s.Status(ctx, []string{p})
		total += st[0].Imported
	}
	if total != int64(len(ids))+2 {
		t.Fatalf("imported counts add up to %d, want %d", total, len(ids)+2)
	}
}

type fakeConflicts struct {
	by  map[string]int64
	err error
}

func (f fakeConflicts) ConflictsByPeer(context.Context) (map[string]int64, int64, error) {
	var total int64
	for _, n := range f.by {
		total += n
	}
	return f.by, total, f.err
}

// Status reports each peer's conflicts as the graph counts them (0 for a
// peer without any), and fails when they cannot be read.
func TestStatusConflicts(t *testing.T) {
	ctx := context.Background()
	pool := testPool(t)
	s, err := New(ctx, pool, nil, WithConflicts(fakeConflicts{by: map[string]int64{"a": 3, "z": 1}}))
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.Status(ctx, []string{"a", "b"})
	if err != nil || len(st) != 2 || st[0].Conflicts != 3 || st[1].Conflicts != 0 {
		t.Fatalf("status %+v %v", st, err)
	}
	s, err = New(ctx, pool, nil, WithConflicts(fakeConflicts{err: errors.New("no graph")}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Status(ctx, []string{"a"}); err == nil {
		t.Fatal("status without the conflicts")
	}
}

// The greatest HLC imported from any peer is kept, never lowered, and not
// moved by an import that failed.
func TestMaxImportedHLC(t *testing.T) {
	ctx := context.Background()
	s, err := New(ctx, testPool(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if h, err := s.MaxImportedHLC(ctx); err != nil || h != 0 {
		t.Fatalf("before any import: %v %v", h, err)
	}
	at := func(h events.HLC) []agent.Item {
		it := items(uuid.Must(uuid.NewV7()))
		it[0].HLC = h
		return it
	}
	ok := func([]agent.Item) error { return nil }
	for _, c := range []struct {
		peer string
		hlc  events.HLC
		fail bool
		want events.HLC
	}{
		{"a", events.MakeHLC(5_000, 1), false, events.MakeHLC(5_000, 1)},
		{"b", events.MakeHLC(9_000, 0), true, events.MakeHLC(5_000, 1)},
		{"b", events.MakeHLC(7_000, 0), false, events.MakeHLC(7_000, 0)},
		{"a", events.MakeHLC(6_000, 0), false, events.MakeHLC(7_000, 0)},
	} {
		appendFn := ok
		if c.fail {
			appendFn = func([]agent.Item) error { return errors.New("broker down") }
		}
		_, err := importOnce(ctx, s, c.peer, at(c.hlc), nil, appendFn)
		if (err != nil) != c.fail {
			t.Fatalf("import from %s: %v", c.peer, err)
		}
		if h, err := s.MaxImportedHLC(ctx); err != nil || h != c.want {
			t.Fatalf("after an import from %s at %v (failing %v): max %v %v, want %v", c.peer, c.hlc, c.fail, h, err, c.want)
		}
	}
}
