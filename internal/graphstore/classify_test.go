package graphstore

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/projections/graph"
)

func classifyEvent(key, recordType, level string, n int) events.Event {
	e := eventAt(key, "classify", n)
	e.Type = events.TypeClassificationChanged
	e.Payload = events.ClassificationChanged{RecordType: recordType, Level: level, Reason: "review"}
	return e
}

// A classification change overrides what was observed before it in HLC
// order (here also log order); later observations raise it again; it never
// creates a record.
func TestClassificationChanges(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, testDatabase(t))
	w := newLogWriter(t)
	p := newProjector(t, s, w.codec)
	d, ip := domain(1), ipv4(1)
	secret := func(e events.Event) events.Event { e.Classification = "SECRET"; return e }
	rel := secret(relation("RESOLVES_TO", d, ip, "b", 3))
	level := func(key string) string {
		v, err := s.Entity(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		return v.Classification
	}
	apply := func(es ...events.Event) {
		t.Helper()
		if err := p.Handle(ctx, w.append(0, es...)); err != nil {
			t.Fatal(err)
		}
	}
	apply(secret(entity(d, "b", 1)), entity(ip, "b", 2), rel)
	if got := level(d.Key); got != "SECRET" {
		t.Fatalf("observed level %s", got)
	}
	// Declassify: an UNCLASSIFIED reader now sees it.
	apply(classifyEvent(d.Key, "entity", "UNCLASSIFIED", 4))
	if got := level(d.Key); got != "UNCLASSIFIED" {
		t.Fatalf("after declassification %s", got)
	}
	if _, err := s.EntityVisible(ctx, d.Key, graph.ClearedFor("UNCLASSIFIED")); err != nil {
		t.Fatalf("declassified entity: %v", err)
	}
	// A later CONFIDENTIAL observation raises it; in the same batch, a
	// change after it wins.
	c := entity(d, "b", 5)
	c.Classification = "CONFIDENTIAL"
	apply(c)
	if got := level(d.Key); got != "CONFIDENTIAL" {
		t.Fatalf("after a CONFIDENTIAL observation %s", got)
	}
	apply(entity(d, "b", 6), classifyEvent(d.Key, "entity", "TOP SECRET", 7), entity(d, "b", 8))
	if got := level(d.Key); got != "TOP SECRET" {
		t.Fatalf("after classification to TOP SECRET %s", got)
	}
	if _, err := s.EntityVisible(ctx, d.Key, graph.ClearedFor("SECRET")); !errors.Is(err, graph.ErrNotFound) {
		t.Fatalf("TOP SECRET entity for a SECRET reader: %v", err)
	}
	// The vertex's properties follow.
	g := activeGen(t, s).Graph
	var props string
	if err := s.pool.QueryRow(ctx, `SELECT ag_catalog.agtype_out(v.properties)::text FROM `+quoteIdent(g)+`."Domain" v JOIN `+quoteIdent(g)+`.entity_state e ON e.graphid = v.id WHERE e.key = $1`, d.Key).Scan(&props); err != nil {
		t.Fatal(err)
	}
	if !contains(props, `"classification": "TOP SECRET"`) {
		t.Fatalf("vertex properties %s", props)
	}
	// Relations too.
	apply(classifyEvent(rel.Key, "relation", "CONFIDENTIAL", 9))
	hood, err := s.Neighbours(ctx, ip.Key, graph.NeighbourQuery{Depth: 1, Limit: 10}, graph.SeeAll())
	if err != nil || len(hood.Edges) != 1 || hood.Edges[0].Classification != "CONFIDENTIAL" {
		t.Fatalf("reclassified relation: %+v %v", hood.Edges, err)
	}
	if hood.Edges[0].FirstSeen.IsZero() {
		t.Fatal("reclassification lost the relation's times")
	}
	// A change for a record that does not exist creates nothing.
	apply(classifyEvent("domain-name--99999999", "entity", "UNCLASSIFIED", 10), classifyEvent("relationship--nope", "relation", "UNCLASSIFIED", 11))
	if _, err := s.Entity(ctx, "domain-name--99999999"); !errors.Is(err, graph.ErrNotFound) {
		t.Fatalf("a reclassification created a vertex: %v", err)
	}
	// The change is on the record's timeline, with its actor.
	tl, err := s.Timeline(ctx, d.Key, [16]byte{}, 10, graph.SeeAll())
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range tl {
		found = found || (e.EventType == events.TypeClassificationChanged && e.Actor.Subject != "")
	}
	if !found {
		t.Fatal("classification change not on the timeline")
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
