package graph

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/projections/graph/graphtest"
)

// TestRetractionReach: a retraction reaches the levels at or below its
// clearance; one without a clearance (written before they were recorded)
// every level; one with a clearance naming no level nothing.
func TestRetractionReach(t *testing.T) {
	for _, c := range []struct {
		clearance string
		event     string
		want      bool
	}{
		{"", "TOP SECRET", true},
		{"", "SOMETHING ELSE", true},
		{"CONFIDENTIAL", "UNCLASSIFIED", true},
		{"CONFIDENTIAL", "CONFIDENTIAL", true},
		{"confidential", "CONFIDENTIAL", true},
		{"CONFIDENTIAL", "SECRET", false},
		{"CONFIDENTIAL", "TOP SECRET", false},
		{"CONFIDENTIAL", "", false},
		{"TOP SECRET", "TOP SECRET", true},
		{"TOP SECRET", "SOMETHING ELSE", false},
		{"NOT A LEVEL", "UNCLASSIFIED", false},
	} {
		r := Retraction{Scope: "batch", ID: "b", Clearance: c.clearance}
		if got := ReachesEvent(r.Reach(), c.event); got != c.want {
			t.Errorf("clearance %q, event %q: reaches %v, want %v", c.clearance, c.event, got, c.want)
		}
		if got := ReachesRecord(r.Reach(), c.event, false); got != c.want {
			t.Errorf("clearance %q, record %q: reaches %v, want %v", c.clearance, c.event, got, c.want)
		}
	}
	var rs Retracted
	rs.Add(Retraction{Scope: "batch", ID: "b", Clearance: "CONFIDENTIAL"})
	rs.Add(Retraction{Scope: "batch", ID: "b", Clearance: "UNCLASSIFIED"})
	rs.Add(Retraction{Scope: "source", ID: "s", Clearance: ""})
	for _, c := range []struct {
		batch, source, level string
		want                 bool
	}{
		{"b", "x", "CONFIDENTIAL", true}, // the widest of the batch's retractions
		{"b", "x", "SECRET", false},
		{"other", "s", "TOP SECRET", true},
		{"other", "x", "UNCLASSIFIED", false},
	} {
		if got := rs.Ignores(c.batch, c.source, c.level); got != c.want {
			t.Errorf("Ignores(%q, %q, %q) = %v, want %v", c.batch, c.source, c.level, got, c.want)
		}
	}
}

// TestRetractionTakenBack: a bounded retraction takes back what its batch
// contributed to the records it reaches, leaves records above it whole,
// and keeps the endpoints of the edges it leaves.
func TestRetractionTakenBack(t *testing.T) {
	id := func(n byte) uuid.UUID { return uuid.UUID{15: n} }
	cands := []RetractionCandidate{
		// e1 observed a CONFIDENTIAL vertex: reached.
		{RecordKey: "ipv4-addr--c", Type: ContributionEntity, EventID: id(1), Classification: "CONFIDENTIAL"},
		// e2 observed a TOP SECRET vertex: kept.
		{RecordKey: "ipv4-addr--ts", Type: ContributionEntity, EventID: id(2), Classification: "TOP SECRET"},
		// e3: an UNCLASSIFIED edge between an endpoint-only vertex and the
		// TOP SECRET one: the edge and its endpoint-only end go, the TOP
		// SECRET end keeps e3's contribution.
		{RecordKey: "relationship--u", Type: ContributionRelation, EventID: id(3), Classification: "UNCLASSIFIED"},
		{RecordKey: "domain-name--e", Type: ContributionEntity, EventID: id(3), Endpoint: true},
		{RecordKey: "ipv4-addr--ts", Type: ContributionEntity, EventID: id(3), Classification: "TOP SECRET"},
		// e4: a SECRET edge from the CONFIDENTIAL vertex to an
		// endpoint-only one: the edge stays, and so do both of its ends'
		// contributions from e4.
		{RecordKey: "relationship--s", Type: ContributionRelation, EventID: id(4), Classification: "SECRET"},
		{RecordKey: "ipv4-addr--c", Type: ContributionEntity, EventID: id(4), Classification: "CONFIDENTIAL"},
		{RecordKey: "domain-name--e", Type: ContributionEntity, EventID: id(4), Endpoint: true},
		// e5: an enrichment of each vertex.
		{RecordKey: "ipv4-addr--c", Type: ContributionEnrichment, EventID: id(5), Classification: "CONFIDENTIAL"},
		{RecordKey: "ipv4-addr--ts", Type: ContributionEnrichment, EventID: id(5), Classification: "TOP SECRET"},
		// A record gone meanwhile (no classification): kept.
		{RecordKey: "ipv4-addr--gone", Type: ContributionEntity, EventID: id(6)},
	}
	type ref struct {
		key string
		n   byte
	}
	refs := func(cs []RetractionCandidate) []ref {
		var out []ref
		for _, c := range cs {
			out = append(out, ref{c.RecordKey + "/" + c.Type, c.EventID[15]})
		}
		return out
	}
	got := refs(Retraction{Scope: "batch", ID: "b", Clearance: "CONFIDENTIAL"}.TakenBack(cands))
	want := []ref{
		{"ipv4-addr--c/entity", 1},
		{"relationship--u/relation", 3},
		{"domain-name--e/entity", 3},
		{"ipv4-addr--c/enrichment", 5},
	}
	if !slices.Equal(got, want) {
		t.Errorf("CONFIDENTIAL retraction takes back\n%v\nwant\n%v", got, want)
	}
	if got := (Retraction{Scope: "batch", ID: "b"}.TakenBack(cands)); len(got) != len(cands) {
		t.Errorf("a retraction without a clearance takes back %d of %d", len(got), len(cands))
	}
	if got := (Retraction{Scope: "batch", ID: "b", Clearance: "TOP SECRET"}.TakenBack(cands)); len(got) != len(cands)-1 {
		t.Errorf("a TOP SECRET retraction takes back %d of %d (all but the gone record's)", len(got), len(cands))
	}
	if got := (Retraction{Scope: "batch", ID: "b", Clearance: "NO SUCH LEVEL"}.TakenBack(cands)); len(got) != 0 {
		t.Errorf("a retraction with an unknown clearance takes back %v", refs(got))
	}
}

// TestBoundedRetractionOrderFree: where every record is observed at one
// level, a retraction bounded by CONFIDENTIAL leaves the same graph
// whatever the order and batching of the events and the retraction: what
// it reaches is gone (or keeps only another batch's part), the SECRET and
// TOP SECRET records keep everything, the retracted batch's included.
func TestBoundedRetractionOrderFree(t *testing.T) {
	codec, err := events.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	ep := func(kind string, i int) events.Endpoint {
		return events.Endpoint{Key: fmt.Sprintf("%s--%d", kind, i), Kind: kind, Value: fmt.Sprintf("v%d", i)}
	}
	x1, x2, x3, y1, y2, y3 := ep("domain-name", 1), ep("domain-name", 2), ep("domain-name", 3), ep("ipv4-addr", 1), ep("ipv4-addr", 2), ep("ipv4-addr", 3)
	n := 0
	ev := func(e events.Event, batch, source, level string) events.Event {
		e.BatchID, e.Provenance.Source, e.Classification = batch, source, level
		e.ID = events.DeterministicID(e.RecordedAt, batch, e.Key, fmt.Sprint(n))
		return e
	}
	ent := func(p events.Endpoint, batch, source, level string) events.Event {
		n++
		return ev(entityEvent(p.Key, p.Kind, p.Value, n), batch, source, level)
	}
	rel := func(a, b events.Endpoint, batch, level string) events.Event {
		n++
		return ev(relationEvent("relationship--"+a.Key+"--"+b.Key, "RESOLVES_TO", a, b, n), batch, "sb", level)
	}
	u, ts := "UNCLASSIFIED", "TOP SECRET"
	es := []events.Event{
		ent(x1, "b", "sb", u), ent(x2, "b", "sb", u), ent(x3, "b", "sb", u), rel(x1, x2, "b", u),
		ent(y1, "b", "sb", ts), ent(y2, "b", "sb", "SECRET"), ent(y3, "b", "sb", ts), rel(y1, y3, "b", ts),
		ent(x3, "o", "so", u), ent(y3, "o", "so", ts),
	}
	n++
	ret := envelope("batch:b", n)
	ret.Type, ret.Classification = events.TypeRetractionRequested, u
	ret.Payload = events.RetractionRequested{Scope: "batch", ID: "b", Reason: "test", Clearance: "CONFIDENTIAL"}
	es = append(es, ret)

	r := rand.New(rand.NewPCG(1, 2))
	want := project(t, r, codec, es)
	g := want.active
	if _, ok := want.ents[g][x1.Key]; ok {
		t.Fatal("x1, seen only by the retracted batch, survived")
	}
	if s := want.ents[g][x3.Key]; !slices.Equal(s.Sources, []string{"so"}) {
		t.Fatalf("x3 after: %+v", s)
	}
	for _, k := range []string{y1.Key, y2.Key} {
		if s := want.ents[g][k]; !slices.Equal(s.Sources, []string{"sb"}) {
			t.Fatalf("%s, above the clearance, after: %+v", k, s)
		}
	}
	if s := want.ents[g][y3.Key]; !slices.Equal(s.Sources, []string{"sb", "so"}) {
		t.Fatalf("y3, above the clearance, after: %+v", s)
	}
	if len(want.rels[g]) != 1 {
		t.Fatalf("relations after: %v", slices.Sorted(maps.Keys(want.rels[g])))
	}
	for seed := range uint64(200) {
		r := rand.New(rand.NewPCG(seed, 9))
		order := graphtest.Shuffled(r, es)
		if seed%4 == 0 {
			order = append([]events.Event{ret}, graphtest.Shuffled(r, es[:len(es)-1])...)
		}
		if d := diffStores(want, project(t, r, codec, order)); d != "" {
			t.Fatalf("seed %d: %s", seed, d)
		}
	}
}
