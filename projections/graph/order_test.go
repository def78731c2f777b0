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
	if !maps.EqualFunc(a.pending[ga], b.pending[gb], Reclassification.Equal) {
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
	var reclassified, pending, endpointOnly, conflicts, causal, concurrent int
	for seed := range uint64(300) {
		r := rand.New(rand.NewPCG(seed, 7))
		es := graphtest.Workload(r)
		pairs := reclassificationPairs(es)
		for _, o := range pairs {
			switch o {
			case events.Before, events.After:
				causal++
			case events.Concurrent:
				concurrent++
			}
		}
		// The reference: in log order, the retraction last.
		want := project(t, r, codec, es)
		checkConflicts(t, seed, want, pairs)
		for perm := range 4 {
			order := graphtest.Shuffled(r, es)
			if perm == 0 {
				// The retraction first.
				order = append([]events.Event{es[len(es)-1]}, order...)
			}
			got := project(t, r, codec, order)
			// The winners (with their vectors) are in the states and the
			// pending registers: equal whatever the order.
			if d := diffStores(want, got); d != "" {
				t.Fatalf("seed %d, permutation %d: %s", seed, perm, d)
			}
			checkConflicts(t, seed, got, pairs)
		}
		conflicts += len(want.conflicts[1])
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
	if reclassified == 0 || pending == 0 || endpointOnly == 0 || conflicts == 0 || causal == 0 || concurrent == 0 {
		t.Fatalf("workloads too tame: %d reclassified, %d pending, %d endpoint-only, %d conflicts, %d causal and %d concurrent pairs",
			reclassified, pending, endpointOnly, conflicts, causal, concurrent)
	}
	t.Logf("%d reclassified records, %d pending reclassifications, %d endpoint-only vertices, %d conflicts recorded (%d causal, %d concurrent pairs)",
		reclassified, pending, endpointOnly, conflicts, causal, concurrent)
}

// reclassificationPairs returns how the vectors of every two
// classification changes of one record relate, by record key and the two
// event ids (ordered).
func reclassificationPairs(es []events.Event) map[conflictKey]events.Ordering {
	byKey := map[string][]events.Event{}
	for _, e := range es {
		if _, ok := e.Payload.(events.ClassificationChanged); ok {
			byKey[e.Key] = append(byKey[e.Key], e)
		}
	}
	out := map[conflictKey]events.Ordering{}
	for k, cs := range byKey {
		for i, a := range cs {
			for _, b := range cs[i+1:] {
				out[conflictKey{k, a.ID, b.ID}] = a.Vector.Compare(b.Vector)
				out[conflictKey{k, b.ID, a.ID}] = b.Vector.Compare(a.Vector)
			}
		}
	}
	return out
}

// checkConflicts: the recorded conflicts are exactly the pairs of changes
// of one record whose vectors are concurrent (never a dominated or
// dominating one), each once, resolved by the rule: its winner wins over
// its loser, and a loser is never what the record keeps. So every order of
// delivery records the same conflicts.
func checkConflicts(t *testing.T, seed uint64, st *memStore, pairs map[conflictKey]events.Ordering) {
	t.Helper()
	g := st.active
	concurrent := 0
	for k, o := range pairs {
		if o == events.Concurrent {
			concurrent++
			_, one := st.conflicts[g][k]
			_, other := st.conflicts[g][conflictKey{k.key, k.loser, k.winner}]
			if !one && !other {
				t.Fatalf("seed %d: concurrent changes %v and %v of %s recorded as no conflict", seed, k.winner, k.loser, k.key)
			}
		}
	}
	if len(st.conflicts[g]) != concurrent/2 {
		t.Fatalf("seed %d: %d conflicts recorded, %d concurrent pairs", seed, len(st.conflicts[g]), concurrent/2)
	}
	for k, c := range st.conflicts[g] {
		if o, ok := pairs[k]; !ok || o != events.Concurrent {
			t.Fatalf("seed %d: conflict %s %v/%v of changes that are %v", seed, k.key, c.Winner.EventID, c.Loser.EventID, o)
		}
		if !c.Winner.After(c.Loser) || c.Rule != RuleLWWHLC || c.Winner.Vector.Compare(c.Loser.Vector) != events.Concurrent {
			t.Fatalf("seed %d: conflict %+v not resolved by the rule", seed, c)
		}
		var kept Reclassification
		if c.RecordType == RecordEntity {
			kept = st.ents[g][c.RecordKey].Reclassification
			if p, ok := st.pending[g][[2]string{ContributionEntity, c.RecordKey}]; ok {
				kept = p
			}
		} else {
			kept = st.rels[g][c.RecordKey].Reclassification
			if p, ok := st.pending[g][[2]string{ContributionRelation, c.RecordKey}]; ok {
				kept = p
			}
		}
		if kept.EventID == c.Loser.EventID || c.Winner.After(kept) {
			t.Fatalf("seed %d: record %s keeps %v, the conflict's winner is %v", seed, c.RecordKey, kept.EventID, c.Winner.EventID)
		}
	}
}
