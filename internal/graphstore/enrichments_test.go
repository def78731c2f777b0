package graphstore

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/projections/graph"
)

func enrichmentEvent(subject events.Endpoint, provider, job string, n int, p events.EnrichmentRecorded) events.Event {
	e := eventAt(subject.Key, "enrichment:"+job, n)
	e.Type = events.TypeEnrichmentRecorded
	e.ID = events.DeterministicID(e.RecordedAt, "enrichment.recorded", job)
	e.Provenance = events.Provenance{Source: graph.EnrichmentSourcePrefix + provider, Format: p.ProviderType}
	e.Actor = events.Actor{Subject: "enrichment-worker", Issuer: "heimdall:site-a"}
	p.Provider, p.Subject, p.JobID = provider, subject, job
	p.RequestedAt, p.CompletedAt = e.RecordedAt.Add(-time.Second), e.RecordedAt
	if p.Attributes == nil {
		p.Attributes = []events.Attribute{}
	}
	if p.Relations == nil {
		p.Relations = []events.EnrichmentRelation{}
	}
	if p.Vector == nil {
		p.Vector = []float32{}
	}
	e.Payload = p
	return e
}

// TestEnrichmentProjection: an enrichment result adds prefixed attributes
// and its source to the subject, the relations it found with their far
// ends, provenance, and the enrichment view, where the later result wins
// whatever the order they arrive in; a failure changes only the view.
func TestEnrichmentProjection(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, testDatabase(t))
	w := newLogWriter(t)
	p := newProjector(t, s, w.codec)
	ip := ipv4(7)
	as := events.Endpoint{Key: "autonomous-system--64500", Kind: "autonomous-system", Value: "64500"}
	geo := enrichmentEvent(ip, "maxmind", "job-1", 20, events.EnrichmentRecorded{
		ProviderType: "geoip", Outcome: events.EnrichmentOK, TTLSeconds: 3600, Attempts: 1, DataVersion: "GeoLite2-ASN@1",
		Attributes: []events.Attribute{{Name: "asn", Value: "64500"}, {Name: "country", Value: "NL"}},
		Relations: []events.EnrichmentRelation{{RelationType: "BELONGS_TO", Key: "relationship--ip-as", Source: ip, Target: as,
			Attributes: []events.Attribute{{Name: "as_org", Value: "Example Networks"}}}},
		Vector: []float32{0.5, 0.25, 1},
	})
	older := enrichmentEvent(ip, "maxmind", "job-0", 10, events.EnrichmentRecorded{
		ProviderType: "geoip", Outcome: events.EnrichmentNotFound, TTLSeconds: 60, Attempts: 1,
	})
	failed := enrichmentEvent(ip, "rdap", "job-2", 21, events.EnrichmentRecorded{
		ProviderType: "rdap", Outcome: events.EnrichmentFailed, ErrorClass: "timeout", ErrorReason: "the call timed out", TTLSeconds: 60, Attempts: 4,
	})
	// The newer result first, then the older: the view keeps the newer.
	if err := p.Handle(ctx, w.append(0, entity(ip, "b1", 1), geo, failed)); err != nil {
		t.Fatal(err)
	}
	if err := p.Handle(ctx, w.append(0, older)); err != nil {
		t.Fatal(err)
	}
	v, err := s.Entity(ctx, ip.Key)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(v.Attributes["maxmind.country"], []string{"NL"}) || !slices.Equal(v.Attributes["maxmind.asn"], []string{"64500"}) {
		t.Fatalf("attributes %v", v.Attributes)
	}
	if !slices.Equal(v.Sources, []string{"enrichment/maxmind", "zeek"}) || v.Classification != "UNCLASSIFIED" {
		t.Fatalf("sources %v classification %q", v.Sources, v.Classification)
	}
	if !v.LastSeen.Equal(t0.Add(time.Second)) {
		t.Fatalf("an enrichment moved the subject's last_seen to %v", v.LastSeen)
	}
	if v.OutEdges["BELONGS_TO"] != 1 {
		t.Fatalf("edges %v", v.OutEdges)
	}
	var sawProv bool
	for _, pr := range v.Provenance {
		if pr.EventID == geo.ID && pr.Provenance.Source == "enrichment/maxmind" && pr.EventType == events.TypeEnrichmentRecorded {
			sawProv = true
		}
	}
	if !sawProv {
		t.Fatalf("no provenance of the enrichment: %+v", v.Provenance)
	}
	a, err := s.Entity(ctx, as.Key)
	if err != nil {
		t.Fatal(err)
	}
	if a.Label != "AutonomousSystem" && a.Kind != "autonomous-system" || !a.Observed || a.Classification != "UNCLASSIFIED" || a.InEdges["BELONGS_TO"] != 1 {
		t.Fatalf("autonomous system vertex %+v", a)
	}
	views, err := s.Enrichments(ctx, ip.Key, graph.SeeAll())
	if err != nil {
		t.Fatal(err)
	}
	if len(views) != 2 || views[0].Provider != "maxmind" || views[1].Provider != "rdap" {
		t.Fatalf("views %+v", views)
	}
	m := views[0]
	if m.Outcome != "ok" || m.EventID != geo.ID || m.Dimensions != 3 || len(m.Attributes) != 2 || len(m.Relations) != 1 ||
		!m.ExpiresAt.Equal(t0.Add(20*time.Second+time.Hour)) || m.DataVersion != "GeoLite2-ASN@1" {
		t.Fatalf("maxmind view %+v", m)
	}
	if r := views[1]; r.Outcome != "failed" || r.ErrorClass != "timeout" || r.Attempts != 4 {
		t.Fatalf("rdap view %+v", r)
	}
	// Hidden from a reader not cleared for the record.
	if _, err := s.Enrichments(ctx, ip.Key, graph.ClearedFor("")); !errors.Is(err, graph.ErrNotFound) {
		t.Fatalf("enrichments of an invisible record: %v", err)
	}
	// Replaying the same events changes nothing.
	before, err := s.Digest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p2 := newProjector(t, s, w.codec)
	w2 := newLogWriter(t)
	if err := p2.Handle(ctx, w2.append(1, geo, older, failed)); err != nil {
		t.Fatal(err)
	}
	after, err := s.Digest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if before != after {
		t.Fatal("re-applied enrichment events changed the graph")
	}
}
