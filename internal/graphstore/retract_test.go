package graphstore

import (
	"context"
	"errors"
	"testing"

	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/projections/graph"
)

func retractEvent(scope, id string, n int) events.Event {
	e := eventAt(scope+":"+id, "admin", n)
	e.Type = events.TypeRetractionRequested
	e.Payload = events.RetractionRequested{Scope: scope, ID: id, Reason: "bad feed"}
	return e
}

// Retracting a batch removes what only it contributed and keeps what other
// batches also saw; its later events are ignored. Retracting a source
// removes all of it.
func TestRetraction(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, testDatabase(t))
	w := newLogWriter(t)
	p := newProjector(t, s, w.codec)
	d1, ip1, d2, ip2, d3 := domain(1), ipv4(1), domain(2), ipv4(2), domain(3)
	from := func(e events.Event, source string) events.Event { e.Provenance.Source = source; return e }
	apply := func(part int32, es ...events.Event) {
		t.Helper()
		if err := p.Handle(ctx, w.append(part, es...)); err != nil {
			t.Fatal(err)
		}
	}
	apply(0, from(entity(d1, "b1", 1), "s1"), from(entity(ip1, "b1", 2), "s1"), from(relation("RESOLVES_TO", d1, ip1, "b1", 3), "s1"))
	apply(1, from(entity(d1, "b2", 4), "s2"), from(entity(ip1, "b2", 5), "s2"), from(relation("RESOLVES_TO", d1, ip1, "b2", 6), "s2"),
		from(entity(d2, "b2", 7), "s2"), from(entity(ip2, "b2", 8), "s2"), from(relation("RESOLVES_TO", d2, ip2, "b2", 9), "s2"))
	if v, e, err := s.Counts(ctx); err != nil || v != 4 || e != 2 {
		t.Fatalf("before: %d vertices %d edges %v", v, e, err)
	}
	apply(2, retractEvent("batch", "b2", 10))
	if v, e, err := s.Counts(ctx); err != nil || v != 2 || e != 1 {
		t.Fatalf("after retracting b2: %d vertices %d edges %v", v, e, err)
	}
	for _, k := range []string{d2.Key, ip2.Key} {
		if _, err := s.Entity(ctx, k); !errors.Is(err, graph.ErrNotFound) {
			t.Fatalf("%s survived the retraction: %v", k, err)
		}
	}
	v, err := s.Entity(ctx, d1.Key)
	if err != nil || len(v.Sources) != 1 || v.Sources[0] != "s1" || !v.LastSeen.Equal(t0.Add(1e9)) {
		t.Fatalf("d1 after: %+v %v", v, err)
	}
	hood, err := s.Neighbours(ctx, d1.Key, graph.NeighbourQuery{Depth: 1, Limit: 10}, graph.SeeAll())
	if err != nil || len(hood.Edges) != 1 || len(hood.Edges[0].Sources) != 1 {
		t.Fatalf("edge after: %+v %v", hood.Edges, err)
	}
	// A late event of the retracted batch (another partition) is ignored.
	apply(1, from(entity(d3, "b2", 11), "s2"))
	if _, err := s.Entity(ctx, d3.Key); !errors.Is(err, graph.ErrNotFound) {
		t.Fatalf("a late event of a retracted batch was applied: %v", err)
	}
	// Retracting the source removes the rest.
	apply(2, retractEvent("source", "s1", 12))
	if v, e, err := s.Counts(ctx); err != nil || v != 0 || e != 0 {
		t.Fatalf("after retracting s1: %d vertices %d edges %v", v, e, err)
	}
}
