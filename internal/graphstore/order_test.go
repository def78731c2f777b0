package graphstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/projections/graph"
	"github.com/heimdallhub/heimdall/projections/graph/graphtest"
)

// projectInto runs es through a projector writing to gen, in batches of
// random size over three partitions.
func projectInto(t *testing.T, s *Store, gen graph.Generation, r *rand.Rand, es []events.Event) {
	t.Helper()
	w := newLogWriter(t)
	p := newProjector(t, s, w.codec, graph.WithGeneration(gen))
	var all []events.LogRecord
	for _, e := range es {
		all = append(all, w.append(int32(r.IntN(3)), e)...)
	}
	for len(all) > 0 {
		n := min(len(all), 1+r.IntN(12))
		if err := p.Handle(context.Background(), all[:n]); err != nil {
			t.Fatal(err)
		}
		all = all[n:]
	}
}

// dumpState renders everything of a generation that must not depend on the
// order events arrived in: the state rows (without graphids), the
// enrichment view, pending reclassifications, provenance, contributions,
// the retracted set, the reclassifications log and the conflicts recorded.
func dumpState(t *testing.T, s *Store, gen graph.Generation) string {
	t.Helper()
	g := quoteIdent(gen.Graph)
	var b strings.Builder
	for _, q := range []string{
		`SELECT key, label, kind, value, first_seen, last_seen, sources::text, vector::text, attributes::text, classification,
			reclassification::text, levels::text FROM ` + g + `.entity_state ORDER BY key`,
		`SELECT key, label, source_key, target_key, first_seen, last_seen, sources::text, vector::text, attributes::text,
			classification, reclassification::text, levels::text FROM ` + g + `.relation_state ORDER BY key`,
		`SELECT record_key, provider, event_id FROM ` + g + `.enrichments ORDER BY 1, 2`,
		`SELECT type, key, level, hlc, peer, event_id, vector::text FROM ` + g + `.pending_reclassifications ORDER BY 1, 2`,
		`SELECT record_key, event_id, event_type FROM ` + g + `.provenance ORDER BY 1, 2`,
		`SELECT record_key, type, event_id, delta::text FROM ` + g + `.contributions ORDER BY 1, 2, 3`,
		`SELECT scope, id FROM ` + g + `.retractions ORDER BY 1, 2`,
		`SELECT record_type, record_key, event_id, level, hlc, peer, vector::text FROM ` + g + `.reclassifications ORDER BY 1, 2, 3`,
		`SELECT record_key, winner_event, loser_event, record_type, winner_peer, loser_peer, winner_hlc, loser_hlc, winner_level,
			loser_level, rule FROM ` + g + `.reclassification_conflicts ORDER BY 1, 2, 3`,
	} {
		rows, err := s.pool.Query(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			vs, err := rows.Values()
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintln(&b, vs...)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		b.WriteString("--\n")
	}
	return b.String()
}

// TestOrderFreeGraph applies the same random workload (three peers,
// overlapping records, reclassifications, enrichment results, a retraction
// of a batch or source) to fresh graphs in different orders and batchings:
// log order with the retraction last; shuffled with duplicates; and the
// retraction first. The graphs' digests and every stored state are equal,
// the conflicts recorded included.
func TestOrderFreeGraph(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, testDatabase(t))
	withConflicts := 0 // workloads whose graph recorded conflicts
	for seed := range uint64(6) {
		r := rand.New(rand.NewPCG(seed, 11))
		es := graphtest.Workload(r)
		orders := [][]events.Event{
			es,
			graphtest.Shuffled(r, es),
			append([]events.Event{es[len(es)-1]}, graphtest.Shuffled(r, es)...),
		}
		var wantDigest, wantState string
		for i, order := range orders {
			gen, err := s.BeginRebuild(ctx)
			if err != nil {
				t.Fatal(err)
			}
			projectInto(t, s, gen, r, order)
			d, err := s.GenerationDigest(ctx, gen)
			if err != nil {
				t.Fatal(err)
			}
			state := dumpState(t, s, gen)
			if i == 0 {
				wantDigest, wantState = d, state
				v, e, err := s.GenerationCounts(ctx, gen)
				if strings.Contains(state, "lww-hlc") {
					withConflicts++
				}
				if err != nil || v == 0 || e == 0 || !strings.Contains(state, `"level"`) {
					t.Fatalf("seed %d: a tame workload (%d vertices, %d edges, %v)", seed, v, e, err)
				}
				continue
			}
			if d != wantDigest {
				t.Errorf("seed %d, order %d: digest %s, want %s", seed, i, d, wantDigest)
			}
			if state != wantState {
				t.Fatalf("seed %d, order %d: stored state differs:\n%s", seed, i, firstDiff(wantState, state))
			}
		}
	}
	if withConflicts == 0 {
		t.Fatal("no workload recorded a conflict")
	}
	t.Logf("%d of 6 workloads recorded conflicts, the same in every order", withConflicts)
}

// firstDiff shows the first differing line of two dumps.
func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(al), len(bl)) {
		if al[i] != bl[i] {
			return fmt.Sprintf("line %d:\nwant %s\ngot  %s", i, al[i], bl[i])
		}
	}
	return fmt.Sprintf("%d lines, want %d", len(bl), len(al))
}
