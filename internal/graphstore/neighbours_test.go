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

// The shortest path goes around what the reader may not see, or does not
// exist for them.
func TestShortestPathHonoursClearance(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, testDatabase(t))
	w := newLogWriter(t)
	p := newProjector(t, s, w.codec)
	// a - b - c - d (all UNCLASSIFIED) and a shortcut a - x(SECRET) - d.
	a, b, c, d, x := domain(1), ipv4(1), domain(2), ipv4(2), domain(3)
	secret := func(e events.Event) events.Event { e.Classification = "SECRET"; return e }
	if err := p.Handle(ctx, w.append(0,
		entity(a, "b", 1), entity(b, "b", 2), entity(c, "b", 3), entity(d, "b", 4), secret(entity(x, "b", 5)),
		relation("RESOLVES_TO", a, b, "b", 6), relation("RESOLVES_TO", c, b, "b", 7), relation("RESOLVES_TO", c, d, "b", 8),
		secret(relation("RESOLVES_TO", x, d, "b", 9)), secret(relation("CNAME", a, x, "b", 10)),
	)); err != nil {
		t.Fatal(err)
	}
	path := func(vs []graph.VertexView) []string {
		out := make([]string, len(vs))
		for i, v := range vs {
			out[i] = v.Key
		}
		return out
	}
	vs, es, err := s.ShortestPath(ctx, a.Key, d.Key, 6, graph.ClearedFor("SECRET"))
	if err != nil || len(vs) != 3 || len(es) != 2 || vs[1].Key != x.Key {
		t.Fatalf("SECRET reader: %v %d edges %v", path(vs), len(es), err)
	}
	vs, es, err = s.ShortestPath(ctx, a.Key, d.Key, 6, graph.ClearedFor("UNCLASSIFIED"))
	if err != nil || len(vs) != 4 || len(es) != 3 || vs[0].Key != a.Key || vs[3].Key != d.Key {
		t.Fatalf("UNCLASSIFIED reader: %v %d edges %v", path(vs), len(es), err)
	}
	for i, e := range es {
		ends := map[string]bool{e.Source: true, e.Target: true}
		if !ends[vs[i].Key] || !ends[vs[i+1].Key] {
			t.Fatalf("edge %d does not join %s and %s", i, vs[i].Key, vs[i+1].Key)
		}
	}
	if _, _, err := s.ShortestPath(ctx, a.Key, d.Key, 2, graph.ClearedFor("UNCLASSIFIED")); !errors.Is(err, graph.ErrNotFound) {
		t.Fatalf("too short a depth: %v", err)
	}
	if _, _, err := s.ShortestPath(ctx, a.Key, x.Key, 6, graph.ClearedFor("UNCLASSIFIED")); !errors.Is(err, graph.ErrNotFound) {
		t.Fatalf("to a SECRET vertex for an UNCLASSIFIED reader: %v", err)
	}
}
