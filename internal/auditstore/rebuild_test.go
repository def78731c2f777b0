package auditstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/internal/config/devstack"
	"github.com/heimdallhub/heimdall/projections/audit"
)

const topic = "heimdall.audit"

// testStore opens a store on a fresh database of the development stack
// (source .stack/env); integration tests are skipped with -short.
func testStore(t *testing.T) *Store {
	t.Helper()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, devstack.FreshDatabase(t, "heimdall_audit_test"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	s, err := New(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var at = time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC)

// entry i is the audit entry at offset i of its partition.
func entry(i int) audit.Entry {
	return audit.Entry{
		EventID: events.DeterministicID(at, fmt.Sprint(i)), Action: "ingest", Outcome: "done",
		Actor: events.Actor{Subject: "alice", Issuer: "https://idp"}, RequestID: fmt.Sprintf("req-%d", i),
		RecordedAt: at.Add(time.Duration(i) * time.Second), Records: []string{fmt.Sprintf("batch-%d", i)},
		Details: map[string]string{"accepted": fmt.Sprint(i)},
	}
}

// appendRange appends entries from to to-1 of partition 0 (offset = i).
func appendRange(t *testing.T, st audit.Store, from, to int) {
	t.Helper()
	var es []audit.Entry
	for i := from; i < to; i++ {
		es = append(es, entry(i))
	}
	if err := st.Append(context.Background(), topic, es, map[int32]int64{0: int64(to)}); err != nil {
		t.Fatal(err)
	}
}

func ids(t *testing.T, s *Store) map[uuid.UUID]audit.Entry {
	t.Helper()
	es, err := s.Entries(context.Background(), audit.Query{Limit: MaxPage})
	if err != nil {
		t.Fatal(err)
	}
	out := map[uuid.UUID]audit.Entry{}
	for _, e := range es {
		out[e.EventID] = e
	}
	return out
}

// A rebuild is resumed from its stored offsets; the swap catches up with
// what the live projector stored meanwhile (also an Append waiting on the
// swap's lock), keeps the greater offsets, and leaves the tables, indexes
// and constraints under their names.
func TestRebuildResumesAndSwaps(t *testing.T) {
	ctx := context.Background()
	s := testStore(t)
	appendRange(t, s, 0, 50)
	before := ids(t, s)

	release, err := s.LockRebuild(ctx, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if _, err := s.LockRebuild(ctx, 300*time.Millisecond); !errors.Is(err, ErrRebuildRunning) {
		t.Fatalf("a second rebuild lock: %v", err)
	}
	if resumed, err := s.BeginRebuild(ctx, false); err != nil || resumed {
		t.Fatalf("begin: %v %v", resumed, err)
	}
	appendRange(t, s.RebuildTarget(), 0, 20) // then the rebuild dies
	if resumed, err := s.BeginRebuild(ctx, false); err != nil || !resumed {
		t.Fatalf("resume: %v %v", resumed, err)
	}
	offs, err := s.TopicOffsets(ctx, topic, true)
	if err != nil || offs[0] != 20 {
		t.Fatalf("rebuild offsets %v %v", offs, err)
	}
	appendRange(t, s.RebuildTarget(), 20, 50)
	// The live projector goes on meanwhile.
	appendRange(t, s, 50, 60)
	if n, _ := s.Count(ctx, false); n != 60 {
		t.Fatalf("live entries %d", n)
	}

	var wg sync.WaitGroup
	var blockedErr error
	st, err := s.FinishRebuild(ctx, topic, func(ctx context.Context, target audit.Store) error {
		// The log holds up to 65 now; the live projector is at 60 and
		// its next batch waits for the swap.
		wg.Add(1)
		go func() {
			defer wg.Done()
			blockedErr = s.Append(context.Background(), topic, []audit.Entry{entry(60), entry(61)}, map[int32]int64{0: 62})
		}()
		time.Sleep(200 * time.Millisecond)
		from, err := target.Offsets(ctx, topic, []int32{0})
		if err != nil {
			return err
		}
		appendRange(t, target, int(from[0]), 65)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if blockedErr != nil {
		t.Fatalf("the live append waiting on the swap: %v", blockedErr)
	}
	if st.CaughtUp != 15 || st.Merged != 0 || st.Entries != 65 || st.Offsets[0] != 65 {
		t.Fatalf("swap %+v", st)
	}
	after := ids(t, s)
	if len(after) != 65 {
		t.Fatalf("%d entries after the swap, want 65", len(after))
	}
	for id, e := range before {
		if a, ok := after[id]; !ok || a.RequestID != e.RequestID || !a.RecordedAt.Equal(e.RecordedAt) {
			t.Fatalf("entry %s: %+v, was %+v", id, a, e)
		}
	}
	if offs, _ := s.Offsets(ctx, topic, []int32{0}); offs[0] != 65 {
		t.Fatalf("live offsets after the swap %v (an older append must not move them back)", offs)
	}
	// The live projector continues in the new tables.
	appendRange(t, s, 65, 70)
	if n, _ := s.Count(ctx, false); n != 70 {
		t.Fatalf("%d entries after the swap and more appends, want 70", n)
	}
	if in, _ := s.RebuildInProgress(ctx); in {
		t.Fatal("the rebuild's tables are left")
	}
	rows, err := s.pool.Query(ctx, `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'heimdall_audit' AND c.relkind IN ('r', 'i') ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	rels, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"log", "log_actor", "log_pkey", "log_recorded", "log_records", "offsets", "offsets_pkey"}
	if fmt.Sprint(rels) != fmt.Sprint(want) {
		t.Fatalf("relations %v, want %v", rels, want)
	}
	// New prepares the same schema again without complaint.
	if _, err := New(ctx, s.pool); err != nil {
		t.Fatal(err)
	}
}

// Without a catch-up, a swap behind the live offsets copies the live
// entries over: nothing is lost.
func TestRebuildSwapMergesWhenBehind(t *testing.T) {
	ctx := context.Background()
	s := testStore(t)
	appendRange(t, s, 0, 30)
	if _, err := s.BeginRebuild(ctx, false); err != nil {
		t.Fatal(err)
	}
	appendRange(t, s.RebuildTarget(), 0, 20)
	st, err := s.FinishRebuild(ctx, topic, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Merged != 10 || st.Entries != 30 || st.Offsets[0] != 30 {
		t.Fatalf("swap %+v", st)
	}
	// fresh drops an interrupted rebuild.
	if _, err := s.BeginRebuild(ctx, false); err != nil {
		t.Fatal(err)
	}
	appendRange(t, s.RebuildTarget(), 0, 5)
	if resumed, err := s.BeginRebuild(ctx, true); err != nil || resumed {
		t.Fatalf("fresh: %v %v", resumed, err)
	}
	if n, err := s.Count(ctx, true); err != nil || n != 0 {
		t.Fatalf("a fresh rebuild holds %d entries (%v)", n, err)
	}
	if err := s.AbandonRebuild(ctx); err != nil {
		t.Fatal(err)
	}
	if in, _ := s.RebuildInProgress(ctx); in {
		t.Fatal("abandoned rebuild left")
	}
}
