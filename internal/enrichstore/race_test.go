package enrichstore

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/heimdallhub/heimdall/commands/enrich"
	"github.com/heimdallhub/heimdall/events"
)

// TestCompletionRacesObservation: a job completing while an observation of
// its record is applied never leaves a second job behind (the observation
// either coalesces with the open job or finds the fresh result).
func TestCompletionRacesObservation(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	const n = 300
	now := time.Now()
	cand := func(i int) enrich.Candidate {
		return enrich.Candidate{Provider: "p", Subject: ipOf(i), Classification: "UNCLASSIFIED", RequestedAt: now, Cause: events.NewID()}
	}
	var items []enrich.Item
	for i := range n {
		items = append(items, enrich.Item{Partition: 0, Offset: int64(i), Candidates: []enrich.Candidate{cand(i)}})
	}
	if _, err := f.store.Apply(ctx, enrich.Batch{Topic: "ev", Items: items, Next: map[int32]int64{0: n}}, now); err != nil {
		t.Fatal(err)
	}
	jobs, err := f.store.Claim(ctx, "p", "w", n, now, time.Hour)
	if err != nil || len(jobs) != n {
		t.Fatalf("claimed %d: %v", len(jobs), err)
	}
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if err := f.store.Complete(ctx, j.ID, enrich.Completion{Provider: "p", RecordKey: j.Subject.Key, EventID: events.NewID(),
				Outcome: events.EnrichmentOK, CompletedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
				t.Error(err)
			}
		}()
		go func() {
			defer wg.Done()
			c := cand(0)
			c.Subject = j.Subject
			if _, err := f.store.Apply(ctx, enrich.Batch{Topic: "ev", Items: []enrich.Item{{Partition: int32(1 + i%3), Offset: int64(i), Candidates: []enrich.Candidate{c}}},
				Next: map[int32]int64{int32(1 + i%3): int64(i + 1)}}, now); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	st, err := f.store.Status(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 1 || st[0].Pending != 0 || st[0].InFlight != 0 || st[0].Standing != n {
		t.Fatalf("a second job was started for a record whose job was completing: %+v", st)
	}
}
