package graphstore

import (
	"context"
	"errors"
	"testing"

	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/projections/graph"
)

// A chain d1 -> ip1 <- d2(SECRET) -> ip2, plus ip1 -CONNECTED_TO(SECRET)-> ip3:
// a CONFIDENTIAL reader sees d1, ip1 and nothing behind the SECRET domain
// or over the SECRET edge; a SECRET reader sees it all.
func TestNeighboursHonourClearance(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, testDatabase(t))
	w := newLogWriter(t)
	p := newProjector(t, s, w.codec)
	d1, d2, ip1, ip2, ip3 := domain(1), domain(2), ipv4(1), ipv4(2), ipv4(3)
	secret := func(e events.Event) events.Event { e.Classification = "SECRET"; return e }
	recs := w.append(0,
		entity(d1, "b", 1), entity(ip1, "b", 2), secret(entity(d2, "b", 3)), entity(ip2, "b", 4), entity(ip3, "b", 5),
		relation("RESOLVES_TO", d1, ip1, "b", 6),
		secret(relation("RESOLVES_TO", d2, ip1, "b", 7)),
		secret(relation("RESOLVES_TO", d2, ip2, "b", 8)),
		secret(relation("CONNECTED_TO", ip1, ip3, "b", 9)),
	)
	if err := p.Handle(ctx, recs); err != nil {
		t.Fatal(err)
	}
	keys := func(n graph.Neighbourhood) map[string]int {
		out := map[string]int{}
		for _, v := range n.Vertices {
			out[v.Key] = v.Depth
		}
		return out
	}
	q := graph.NeighbourQuery{Depth: 3, Limit: 100}

	all, err := s.Neighbours(ctx, d1.Key, q, graph.ClearedFor("SECRET"))
	if err != nil {
		t.Fatal(err)
	}
	if got := keys(all); len(got) != 5 || got[d1.Key] != 0 || got[ip1.Key] != 1 || got[d2.Key] != 2 || got[ip3.Key] != 2 || got[ip2.Key] != 3 {
		t.Fatalf("SECRET reader: %v", got)
	}
	if len(all.Edges) != 4 {
		t.Fatalf("SECRET reader: %d edges", len(all.Edges))
	}

	low, err := s.Neighbours(ctx, d1.Key, q, graph.ClearedFor("CONFIDENTIAL"))
	if err != nil {
		t.Fatal(err)
	}
	if got := keys(low); len(got) != 2 || len(low.Edges) != 1 {
		t.Fatalf("CONFIDENTIAL reader: %v, %d edges", got, len(low.Edges))
	}
	if _, err := s.Neighbours(ctx, d2.Key, q, graph.ClearedFor("CONFIDENTIAL")); !errors.Is(err, graph.ErrNotFound) {
		t.Fatalf("a SECRET root for a CONFIDENTIAL reader: %v", err)
	}
	if _, err := s.Neighbours(ctx, d1.Key, q, graph.Visibility{}); !errors.Is(err, graph.ErrNotFound) {
		t.Fatalf("a reader without clearance: %v", err)
	}
	// Label filter and limit.
	only, err := s.Neighbours(ctx, ip1.Key, graph.NeighbourQuery{Depth: 1, Limit: 100, Labels: []string{"CONNECTED_TO"}}, graph.SeeAll())
	if err != nil || len(only.Vertices) != 2 || only.Edges[0].Type != "CONNECTED_TO" {
		t.Fatalf("label filter: %+v %v", only, err)
	}
	cut, err := s.Neighbours(ctx, ip1.Key, graph.NeighbourQuery{Depth: 2, Limit: 1}, graph.SeeAll())
	if err != nil || len(cut.Vertices) != 2 || !cut.Truncated {
		t.Fatalf("limit: %+v %v", cut, err)
	}

	// Edge counts of an entity only count what the reader may see.
	v, err := s.EntityVisible(ctx, ip1.Key, graph.ClearedFor("CONFIDENTIAL"))
	if err != nil {
		t.Fatal(err)
	}
	if v.InEdges["RESOLVES_TO"] != 1 || v.OutEdges["CONNECTED_TO"] != 0 {
		t.Fatalf("visible edge counts: in %v out %v", v.InEdges, v.OutEdges)
	}
	if _, err := s.EntityVisible(ctx, d2.Key, graph.ClearedFor("CONFIDENTIAL")); !errors.Is(err, graph.ErrNotFound) {
		t.Fatalf("a SECRET entity for a CONFIDENTIAL reader: %v", err)
	}
}
