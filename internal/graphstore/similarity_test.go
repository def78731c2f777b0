package graphstore

import (
	"context"
	"fmt"
	"testing"

	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/projections/graph"
)

// Look-alikes of a seeded domain rank above unrelated domains, and one the
// reader may not see is not returned.
func TestSimilarFindsTyposquats(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, testDatabase(t))
	w := newLogWriter(t)
	p := newProjector(t, s, w.codec)
	lookalikes := []string{"paypa1.com", "pay-pal.com", "xn--pypal-4ve.com", "paypal.co", "paypall.com", "peypal.com"}
	unrelated := []string{"example.org", "github.com", "wikipedia.org", "kernel.org", "bankofamerica.com", "microsoft.com",
		"amazon.com", "ebay.com", "google.com", "apple.com", "postgresql.org", "golang.org"}
	var es []events.Event
	n := 0
	add := func(v, cls string) {
		n++
		ep := events.Endpoint{Key: fmt.Sprintf("domain-name--%08d", n), Kind: "domain-name", Value: v}
		e := entity(ep, "b", n)
		e.Classification = cls
		es = append(es, e)
	}
	add("paypal.com", "UNCLASSIFIED")
	for _, d := range lookalikes {
		add(d, "UNCLASSIFIED")
	}
	add("paypal-login.com", "SECRET")
	for _, d := range unrelated {
		add(d, "UNCLASSIFIED")
	}
	// Personal values are never embedded.
	add("ps:pk1:abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "UNCLASSIFIED")
	if err := p.Handle(ctx, w.append(0, es...)); err != nil {
		t.Fatal(err)
	}
	res, err := s.Similar(ctx, "domain-name", "paypal.com", 10, graph.ClearedFor("CONFIDENTIAL"))
	if err != nil {
		t.Fatal(err)
	}
	if len(res) < len(lookalikes) {
		t.Fatalf("%d results", len(res))
	}
	top := map[string]bool{}
	for i, r := range res[:len(lookalikes)] {
		top[r.Vertex.Value] = true
		t.Logf("%d %s %.3f", i, r.Vertex.Value, r.Similarity)
	}
	for _, d := range lookalikes {
		if !top[d] {
			t.Errorf("%s is not among the %d best matches", d, len(lookalikes))
		}
	}
	for i := 1; i < len(res); i++ {
		if res[i].Similarity > res[i-1].Similarity+1e-9 {
			t.Fatal("results are not ordered by similarity")
		}
	}
	for _, r := range res {
		if r.Vertex.Value == "paypal.com" || r.Vertex.Value == "paypal-login.com" {
			t.Errorf("%s returned (the query itself, or above the reader's clearance)", r.Vertex.Value)
		}
	}
	all, err := s.Similar(ctx, "domain-name", "paypal.com", 10, graph.SeeAll())
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range all {
		found = found || r.Vertex.Value == "paypal-login.com"
	}
	if !found {
		t.Error("a cleared reader does not see the SECRET look-alike")
	}
	var embedded int
	g := activeGen(t, s).Graph
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM `+quoteIdent(g)+`.similarity`).Scan(&embedded); err != nil {
		t.Fatal(err)
	}
	if embedded != n-1 {
		t.Fatalf("%d vectors stored for %d domains (the pseudonym must not be embedded)", embedded, n-1)
	}
	if _, err := s.Similar(ctx, "ipv4-addr", "192.0.2.1", 10, graph.SeeAll()); err == nil {
		t.Fatal("similarity of an address")
	}
}
