package graphstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/projections/graph"
)

func TestTimelineCorrelationAndCoOccurrence(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, testDatabase(t))
	w := newLogWriter(t)
	p := newProjector(t, s, w.codec)
	ip1, ip2, ip3, d1 := ipv4(1), ipv4(2), ipv4(3), domain(1)
	from := func(e events.Event, source string) events.Event { e.Provenance.Source = source; return e }
	secret := func(e events.Event) events.Event { e.Classification = "SECRET"; return e }
	// ip1: seen by zeek (batch a), csv (batch b) and cef (batch b); ip2 by
	// zeek and csv but SECRET; ip3 by zeek only; d1 seen by zeek 2 s after
	// ip1's first observation.
	if err := p.Handle(ctx, w.append(0,
		from(entity(ip1, "a", 1), "zeek"), from(entity(ip1, "b", 2), "csv"), from(entity(ip1, "b", 3), "cef"),
		secret(from(entity(ip2, "a", 4), "zeek")), secret(from(entity(ip2, "b", 5), "csv")),
		from(entity(ip3, "a", 100), "zeek"),
		from(entity(d1, "a", 3), "zeek"),
	)); err != nil {
		t.Fatal(err)
	}
	low, all := graph.ClearedFor("CONFIDENTIAL"), graph.SeeAll()

	// Timeline: newest first, paged.
	page1, err := s.Timeline(ctx, ip1.Key, uuid.Nil, 2, low)
	if err != nil || len(page1) != 2 || page1[0].Provenance.Source != "cef" {
		t.Fatalf("timeline page 1: %+v %v", page1, err)
	}
	page2, err := s.Timeline(ctx, ip1.Key, page1[1].EventID, 2, low)
	if err != nil || len(page2) != 1 || page2[0].Provenance.Source != "zeek" {
		t.Fatalf("timeline page 2: %+v %v", page2, err)
	}
	if _, err := s.Timeline(ctx, ip2.Key, uuid.Nil, 10, low); !errors.Is(err, graph.ErrNotFound) {
		t.Fatalf("timeline of a SECRET entity for a CONFIDENTIAL reader: %v", err)
	}

	keys := func(vs []graph.VertexView) []string {
		out := []string{}
		for _, v := range vs {
			out = append(out, v.Key)
		}
		return out
	}
	got, err := s.Correlate(ctx, graph.CorrelationQuery{MinSources: 2, Limit: 10}, all)
	if err != nil || len(got) != 2 {
		t.Fatalf("seen by >= 2 sources (all): %v %v", keys(got), err)
	}
	got, err = s.Correlate(ctx, graph.CorrelationQuery{MinSources: 2, Limit: 10}, low)
	if err != nil || len(got) != 1 || got[0].Key != ip1.Key {
		t.Fatalf("seen by >= 2 sources (CONFIDENTIAL): %v %v", keys(got), err)
	}
	got, err = s.Correlate(ctx, graph.CorrelationQuery{Sources: []string{"zeek", "cef"}, Limit: 10}, all)
	if err != nil || len(got) != 1 || got[0].Key != ip1.Key {
		t.Fatalf("shared by zeek and cef: %v %v", keys(got), err)
	}
	got, err = s.Correlate(ctx, graph.CorrelationQuery{Batches: []string{"a", "b"}, Kind: "ipv4-addr", Limit: 10}, low)
	if err != nil || len(got) != 1 || got[0].Key != ip1.Key {
		t.Fatalf("shared by batches a and b: %v %v", keys(got), err)
	}
	got, err = s.Correlate(ctx, graph.CorrelationQuery{MinSources: 1, Limit: 1}, all)
	if err != nil || len(got) != 1 {
		t.Fatal(err)
	}
	next, err := s.Correlate(ctx, graph.CorrelationQuery{MinSources: 1, Limit: 10, After: got[0].Key}, all)
	if err != nil || len(next) != 3 {
		t.Fatalf("second page: %v %v", keys(next), err)
	}

	co, err := s.CoOccurrences(ctx, ip1.Key, 5*time.Second, 10, low)
	if err != nil {
		t.Fatal(err)
	}
	if len(co) != 1 || co[0].Vertex.Key != d1.Key {
		t.Fatalf("co-occurring with ip1 (CONFIDENTIAL): %+v", co)
	}
	co, err = s.CoOccurrences(ctx, ip1.Key, 5*time.Second, 10, all)
	if err != nil || len(co) != 2 {
		t.Fatalf("co-occurring with ip1 (all): %+v %v", co, err)
	}
}
