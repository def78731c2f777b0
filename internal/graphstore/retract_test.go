package graphstore

import (
	"context"
	"errors"
	"slices"
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

// boundedRetractEvent is a retraction by an actor cleared for clearance.
func boundedRetractEvent(scope, id, clearance string, n int) events.Event {
	e := retractEvent(scope, id, n)
	e.Payload = events.RetractionRequested{Scope: scope, ID: id, Reason: "bad feed", Clearance: clearance}
	return e
}

// TestBoundedRetraction: a retraction by an admin cleared CONFIDENTIAL
// takes back what the batch contributed to the records at or below
// CONFIDENTIAL and leaves the SECRET and TOP SECRET records exactly as they
// were (the batch's contributions to them included); of the batch's later
// events it ignores those at or below CONFIDENTIAL only. A retraction
// without a clearance (written before they were recorded) still takes
// everything.
func TestBoundedRetraction(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, testDatabase(t))
	w := newLogWriter(t)
	p := newProjector(t, s, w.codec)
	at := func(level, source string, e events.Event) events.Event {
		e.Classification, e.Provenance.Source = level, source
		return e
	}
	apply := func(part int32, es ...events.Event) {
		t.Helper()
		if err := p.Handle(ctx, w.append(part, es...)); err != nil {
			t.Fatal(err)
		}
	}
	d1, ts1, d2, s2, d3, d4, ts3 := domain(1), ipv4(1), domain(2), ipv4(2), domain(3), domain(4), ipv4(3)
	u, c, sec, ts := "UNCLASSIFIED", "CONFIDENTIAL", "SECRET", "TOP SECRET"
	apply(0,
		// Only bx saw d1 (UNCLASSIFIED) and ts1 (TOP SECRET), and an
		// UNCLASSIFIED edge between them.
		at(u, "sx", entity(d1, "bx", 1)), at(ts, "sx", entity(ts1, "bx", 2)),
		at(u, "sx", relation("RESOLVES_TO", d1, ts1, "bx", 3)),
		// d2 (CONFIDENTIAL) and s2 (SECRET) were seen by bx and by, with a
		// SECRET edge of bx between them.
		at(c, "sx", entity(d2, "bx", 4)), at(sec, "sx", entity(s2, "bx", 5)),
		at(sec, "sx", relation("RESOLVES_TO", d2, s2, "bx", 6)),
		// d3 was observed UNCLASSIFIED by bx alone, then classified TOP SECRET.
		at(u, "sx", entity(d3, "bx", 7)))
	apply(1, at(u, "sy", entity(d2, "by", 8)), at(u, "sy", entity(s2, "by", 9)))
	apply(0, classifyEvent(d3.Key, "entity", ts, 10))
	if v, e, err := s.Counts(ctx); err != nil || v != 5 || e != 2 {
		t.Fatalf("before: %d vertices %d edges %v", v, e, err)
	}
	before := map[string]graph.EntityView{}
	for _, k := range []string{ts1.Key, s2.Key, d3.Key} {
		v, err := s.Entity(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		before[k] = v
	}

	apply(2, boundedRetractEvent("batch", "bx", c, 11))

	// What it may see: d1 (only bx saw it) is gone with its edge; d2 keeps
	// by's contribution only.
	if _, err := s.Entity(ctx, d1.Key); !errors.Is(err, graph.ErrNotFound) {
		t.Fatalf("d1 survived the CONFIDENTIAL retraction: %v", err)
	}
	if v, err := s.Entity(ctx, d2.Key); err != nil || !slices.Equal(v.Sources, []string{"sy"}) || v.Classification != u {
		t.Fatalf("d2 after: %+v %v", v, err)
	}
	// What it may not see is untouched: ts1, s2 and the reclassified d3
	// keep every source, time and level, and the SECRET edge stays.
	for k, want := range before {
		got, err := s.Entity(ctx, k)
		if err != nil {
			t.Fatalf("%s was removed by a CONFIDENTIAL retraction: %v", k, err)
		}
		if !slices.Equal(got.Sources, want.Sources) || got.Classification != want.Classification ||
			!got.FirstSeen.Equal(want.FirstSeen) || !got.LastSeen.Equal(want.LastSeen) {
			t.Errorf("%s changed:\nbefore %+v\nafter  %+v", k, want, got)
		}
	}
	hood, err := s.Neighbours(ctx, s2.Key, graph.NeighbourQuery{Depth: 1, Limit: 10}, graph.SeeAll())
	if err != nil || len(hood.Edges) != 1 || !slices.Equal(hood.Edges[0].Sources, []string{"sx"}) {
		t.Fatalf("the SECRET edge after: %+v %v", hood.Edges, err)
	}
	if hood, err := s.Neighbours(ctx, ts1.Key, graph.NeighbourQuery{Depth: 1, Limit: 10}, graph.SeeAll()); err != nil || len(hood.Edges) != 0 {
		t.Fatalf("the UNCLASSIFIED edge after: %+v %v", hood.Edges, err)
	}
	if v, e, err := s.Counts(ctx); err != nil || v != 4 || e != 1 {
		t.Fatalf("after: %d vertices %d edges %v", v, e, err)
	}

	// Later events of bx: the UNCLASSIFIED one is ignored, the TOP SECRET
	// one is not the retraction's to take.
	apply(1, at(u, "sx", entity(d4, "bx", 12)), at(ts, "sx", entity(ts3, "bx", 13)))
	if _, err := s.Entity(ctx, d4.Key); !errors.Is(err, graph.ErrNotFound) {
		t.Fatalf("a later UNCLASSIFIED event of the retracted batch was applied: %v", err)
	}
	if v, err := s.Entity(ctx, ts3.Key); err != nil || v.Classification != ts {
		t.Fatalf("a later TOP SECRET event of the batch was dropped: %+v %v", v, err)
	}

	// The same retraction again changes nothing (idempotent, as a replay).
	d, err := s.Digest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	apply(2, boundedRetractEvent("batch", "bx", c, 14))
	if d2, err := s.Digest(ctx); err != nil || d2 != d {
		t.Fatalf("a repeated retraction changed the graph (%v)", err)
	}

	// A retraction without a clearance takes the rest of bx.
	apply(2, retractEvent("batch", "bx", 15))
	for _, k := range []string{ts1.Key, d3.Key, ts3.Key} {
		if _, err := s.Entity(ctx, k); !errors.Is(err, graph.ErrNotFound) {
			t.Fatalf("%s survived a retraction reaching every level: %v", k, err)
		}
	}
	if v, err := s.Entity(ctx, s2.Key); err != nil || !slices.Equal(v.Sources, []string{"sy"}) {
		t.Fatalf("s2 after the unbounded retraction: %+v %v", v, err)
	}
}
