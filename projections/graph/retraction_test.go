package graph

import (
	"slices"
	"testing"

	"github.com/google/uuid"
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
