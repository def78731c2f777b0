package graphstore

import (
	"context"
	"testing"

	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/projections/graph"
)

// A generation of layout 5 (no classification clocks, contributions or
// pending reclassifications) is upgraded in place when the store opens: its
// stored levels count as observed at HLC 0, so a reclassification
// overrides them; it has no contributions for what it held, so its
// retractions keep the approximate recompute from provenance
// (created_layout stays 5) until a rebuild.
func TestLayoutUpgradeTo6(t *testing.T) {
	ctx := context.Background()
	url := testDatabase(t)
	s := openStore(t, url)
	w := newLogWriter(t)
	d1, ip1, d2 := domain(1), ipv4(1), domain(2)
	secret := entity(d1, "b1", 1)
	secret.Classification = "SECRET"
	if err := newProjector(t, s, w.codec).Handle(ctx, w.append(0, secret, entity(ip1, "b1", 2), relation("RESOLVES_TO", d1, ip1, "b1", 3),
		entity(d2, "b2", 4))); err != nil {
		t.Fatal(err)
	}
	gen := activeGen(t, s)
	g := quoteIdent(gen.Graph)
	// Take the generation back to layout 5.
	for _, stmt := range []string{
		`ALTER TABLE ` + g + `.entity_state DROP COLUMN reclassification, DROP COLUMN levels`,
		`ALTER TABLE ` + g + `.relation_state DROP COLUMN reclassification, DROP COLUMN levels`,
		`DROP TABLE ` + g + `.contributions`,
		`DROP TABLE ` + g + `.pending_reclassifications`,
		`UPDATE heimdall.generations SET layout = 5, created_layout = 5`,
	} {
		if _, err := s.pool.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	s2 := openStore(t, url)
	var layout, created int
	if err := s2.pool.QueryRow(ctx, `SELECT layout, created_layout FROM heimdall.generations WHERE id = $1`, gen.ID).Scan(&layout, &created); err != nil {
		t.Fatal(err)
	}
	if layout != layoutVersion || created != 5 {
		t.Fatalf("layout %d, created %d", layout, created)
	}
	p := newProjector(t, s2, w.codec)
	apply := func(es ...events.Event) {
		t.Helper()
		if err := p.Handle(ctx, w.append(0, es...)); err != nil {
			t.Fatal(err)
		}
	}
	// The stored SECRET was observed before any reclassification.
	apply(classifyEvent(d1.Key, "entity", "CONFIDENTIAL", 5))
	if v, err := s2.Entity(ctx, d1.Key); err != nil || v.Classification != "CONFIDENTIAL" {
		t.Fatalf("after reclassification: %+v %v", v, err)
	}
	// Retractions still work, from provenance.
	apply(retractEvent("batch", "b2", 6))
	if _, err := s2.Entity(ctx, d2.Key); err == nil {
		t.Fatal("retracted entity survived")
	}
	if v, e, err := s2.Counts(ctx); err != nil || v != 2 || e != 1 {
		t.Fatalf("counts %d %d %v", v, e, err)
	}
	// A new generation keeps contributions from its creation on.
	next, err := s2.BeginRebuild(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.pool.QueryRow(ctx, `SELECT layout, created_layout FROM heimdall.generations WHERE id = $1`, next.ID).Scan(&layout, &created); err != nil || created != layoutVersion {
		t.Fatalf("new generation: layout %d created %d %v", layout, created, err)
	}
}

// A retraction arriving after the events it covers leaves what it would
// have left arriving first: attributes, vectors and classifications that
// only the retracted batch contributed go too, and a vertex that only the
// retracted batch observed, still the end of another batch's relation,
// stays as an endpoint.
func TestRetractionEitherOrder(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, testDatabase(t))
	d1, ip1 := domain(1), ipv4(1)
	b1d := entity(d1, "b1", 1, events.Attribute{Name: "x", Value: "1"})
	b1d.Classification = "SECRET"
	b1ip := entity(ip1, "b1", 2)
	b2d := entity(d1, "b2", 3, events.Attribute{Name: "y", Value: "2"})
	b2rel := relation("RESOLVES_TO", d1, ip1, "b2", 4)
	late := entity(ip1, "b1", 5) // b1, after its retraction
	ret := retractEvent("batch", "b1", 6)
	var dumps []string
	for _, order := range [][]events.Event{
		{b1d, b1ip, b2d, b2rel, ret, late},
		{ret, late, b2rel, b1ip, b2d, b1d},
	} {
		gen, err := s.BeginRebuild(ctx)
		if err != nil {
			t.Fatal(err)
		}
		w := newLogWriter(t)
		p := newProjector(t, s, w.codec, graph.WithGeneration(gen))
		for i, e := range order {
			if err := p.Handle(ctx, w.append(int32(i%2), e)); err != nil {
				t.Fatal(err)
			}
		}
		dumps = append(dumps, dumpState(t, s, gen))
		var attrs, cls string
		var observed bool
		if err := s.pool.QueryRow(ctx, `SELECT attributes::text, classification FROM `+quoteIdent(gen.Graph)+`.entity_state WHERE key = $1`, d1.Key).Scan(&attrs, &cls); err != nil {
			t.Fatal(err)
		}
		if attrs != `{"y": ["2"]}` || cls != "UNCLASSIFIED" {
			t.Fatalf("d1 after the retraction: %s %s", attrs, cls)
		}
		if err := s.pool.QueryRow(ctx, `SELECT first_seen IS NOT NULL FROM `+quoteIdent(gen.Graph)+`.entity_state WHERE key = $1`, ip1.Key).Scan(&observed); err != nil || observed {
			t.Fatalf("ip1 should be an endpoint only: observed %v %v", observed, err)
		}
	}
	if dumps[0] != dumps[1] {
		t.Fatalf("orders differ:\n%s", firstDiff(dumps[0], dumps[1]))
	}
}
