package graph

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/projections/graph/graphtest"
)

// project runs es through a projector on a fresh memStore, in batches of
// random size over three partitions, sometimes handing a batch over twice,
// and returns the store.
func project(t *testing.T, r *rand.Rand, codec *events.Codec, es []events.Event) *memStore {
	t.Helper()
	st := newMemStore()
	p, err := New(st, codec, nil)
	if err != nil {
		t.Fatal(err)
	}
	recs := &recs{t: t, codec: codec, next: map[int32]int64{}}
	var all []events.LogRecord
	for _, e := range es {
		all = append(all, recs.record(int32(r.IntN(3)), e))
	}
	for len(all) > 0 {
		n := min(len(all), 1+r.IntN(8))
		if err := p.Handle(context.Background(), all[:n]); err != nil {
			t.Fatal(err)
		}
		if r.IntN(5) == 0 { // delivered again: skipped by offset
			if err := p.Handle(context.Background(), all[:n]); err != nil {
				t.Fatal(err)
			}
		}
		all = all[n:]
	}
	return st
}

// diffStores describes how two stores' graphs differ ("" if they do not).
func diffStores(a, b *memStore) string {
	ga, gb := a.active, b.active
	if !slices.Equal(slices.Sorted(maps.Keys(a.ents[ga])), slices.Sorted(maps.Keys(b.ents[gb]))) {
		return fmt.Sprintf("entity keys %v vs %v", slices.Sorted(maps.Keys(a.ents[ga])), slices.Sorted(maps.Keys(b.ents[gb])))
	}
	for k, s := range a.ents[ga] {
		if !s.Equal(b.ents[gb][k]) {
			return fmt.Sprintf("entity %s:\n%+v\n%+v", k, s, b.ents[gb][k])
		}
	}
	if !slices.Equal(slices.Sorted(maps.Keys(a.rels[ga])), slices.Sorted(maps.Keys(b.rels[gb]))) {
		return fmt.Sprintf("relation keys %v vs %v", slices.Sorted(maps.Keys(a.rels[ga])), slices.Sorted(maps.Keys(b.rels[gb])))
	}
	for k, r := range a.rels[ga] {
		if !r.Equal(b.rels[gb][k]) {
			return fmt.Sprintf("relation %s:\n%+v\n%+v", k, r, b.rels[gb][k])
		}
	}
	if !maps.Equal(a.pending[ga], b.pending[gb]) {
		return fmt.Sprintf("pending %v vs %v", a.pending[ga], b.pending[gb])
	}
	if len(a.views[ga]) != len(b.views[gb]) {
		return fmt.Sprintf("views %d vs %d", len(a.views[ga]), len(b.views[gb]))
	}
	for k, v := range a.views[ga] {
		if w, ok := b.views[gb][k]; !ok || w.EventID != v.EventID {
			return fmt.Sprintf("view %v: %v vs %v", k, v.EventID, w.EventID)
		}
	}
	if !slices.Equal(slices.Sorted(maps.Keys(a.prov[ga])), slices.Sorted(maps.Keys(b.prov[gb]))) {
		return "provenance differs"
	}
	if !maps.Equal(a.retract[ga].Batches, b.retract[gb].Batches) || !maps.Equal(a.retract[ga].Sources, b.retract[gb].Sources) {
		return "retracted sets differ"
	}
	return ""
}

// TestOrderFreeProjection is the property peer sync rests on: the same set
// of events, from three peers, folded through the projector (decode, plan,
// merge into the store, retractions) in different orders and batchings and
// with duplicates, builds the same graph: the same states (with their
// classification registers and clocks), the same pending
// reclassifications, enrichment view and provenance. Each workload holds
// reclassifications (some of records never observed) and a retraction,
// which lands anywhere in the order: before, between or after the events
// it covers.
func TestOrderFreeProjection(t *testing.T) {
	codec, err := events.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	var reclassified, pending, endpointOnly int
	for seed := range uint64(300) {
		r := rand.New(rand.NewPCG(seed, 7))
		es := graphtest.Workload(r)
		// The reference: in log order, the retraction last.
		want := project(t, r, codec, es)
		for perm := range 4 {
			order := graphtest.Shuffled(r, es)
			if perm == 0 {
				// The retraction first.
				order = append([]events.Event{es[len(es)-1]}, order...)
			}
			got := project(t, r, codec, order)
			if d := diffStores(want, got); d != "" {
				t.Fatalf("seed %d, permutation %d: %s", seed, perm, d)
			}
		}
		pending += len(want.pending[1])
		for _, s := range want.ents[1] {
			if s.Reclassification.Set() {
				reclassified++
			}
			if !s.Observed {
				endpointOnly++
			}
		}
	}
	// The workloads exercise what they are meant to.
	if reclassified == 0 || pending == 0 || endpointOnly == 0 {
		t.Fatalf("workloads too tame: %d reclassified, %d pending, %d endpoint-only", reclassified, pending, endpointOnly)
	}
	t.Logf("%d reclassified records, %d pending reclassifications, %d endpoint-only vertices", reclassified, pending, endpointOnly)
}
