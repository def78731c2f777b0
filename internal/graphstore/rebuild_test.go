package graphstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heimdallhub/heimdall/projections/graph"
)

// An interrupted graph rebuild is resumed from its stored offsets and ends
// with the same graph as the live one; fresh drops it; older building
// generations are dropped.
func TestResumeRebuild(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, testDatabase(t))
	w := newLogWriter(t)
	live := newProjector(t, s, w.codec)
	recs := w.append(0, dnsEvents(60, "b1", 0)...)
	if err := live.Handle(ctx, recs); err != nil {
		t.Fatal(err)
	}
	want := snap(t, s, activeGen(t, s))

	release, err := s.LockRebuild(ctx, RebuildGraph, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// One rebuild of a kind at a time.
	if _, err := s.LockRebuild(ctx, RebuildGraph, 300*time.Millisecond); !errors.Is(err, ErrRebuildRunning) {
		t.Fatalf("second graph rebuild lock: %v", err)
	}
	other, err := s.LockRebuild(ctx, RebuildVectors, time.Second)
	if err != nil {
		t.Fatalf("a vector rebuild lock while a graph rebuild runs: %v", err)
	}
	other()

	stale, err := s.BeginRebuild(ctx)
	if err != nil {
		t.Fatal(err)
	}
	gen, resumed, dropped, err := s.ResumeRebuild(ctx, false)
	if err != nil || !resumed || gen.ID != stale.ID || len(dropped) != 0 {
		t.Fatalf("resume with one building generation: %v %v %v %v", gen.ID, resumed, dropped, err)
	}
	// A rebuild projector applies part of the log, then "dies".
	p1 := newProjector(t, s, w.codec, graph.WithGeneration(gen))
	if _, err := p1.Offsets(ctx, testTopic, []int32{0}); err != nil {
		t.Fatal(err)
	}
	if err := p1.Handle(ctx, recs[:70]); err != nil {
		t.Fatal(err)
	}
	// A second building generation, newer: it is resumed, the older dropped.
	newer, err := s.BeginRebuild(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p2 := newProjector(t, s, w.codec, graph.WithGeneration(newer))
	if _, err := p2.Offsets(ctx, testTopic, []int32{0}); err != nil {
		t.Fatal(err)
	}
	if err := p2.Handle(ctx, recs[:100]); err != nil {
		t.Fatal(err)
	}
	gen, resumed, dropped, err = s.ResumeRebuild(ctx, false)
	if err != nil || !resumed || gen.ID != newer.ID || !slices.Equal(dropped, []int64{stale.ID}) {
		t.Fatalf("resume: gen %d resumed %v dropped %v err %v", gen.ID, resumed, dropped, err)
	}
	offs, err := s.StoredOffsets(ctx, gen, testTopic)
	if err != nil || offs[0] != 100 {
		t.Fatalf("stored offsets of the resumed generation: %v %v", offs, err)
	}
	// The resumed projector continues from the stored offsets.
	p3 := newProjector(t, s, w.codec, graph.WithGeneration(gen))
	next, err := p3.Offsets(ctx, testTopic, []int32{0})
	if err != nil || next[0] != 100 {
		t.Fatalf("offsets: %v %v", next, err)
	}
	if err := p3.Handle(ctx, recs[next[0]:]); err != nil {
		t.Fatal(err)
	}
	if err := s.Activate(ctx, gen); err != nil {
		t.Fatal(err)
	}
	if got := snap(t, s, activeGen(t, s)); got != want {
		t.Fatalf("resumed rebuild: %+v, want %+v", got, want)
	}

	// fresh drops the building generation and starts a new one.
	b, err := s.BeginRebuild(ctx)
	if err != nil {
		t.Fatal(err)
	}
	gen, resumed, dropped, err = s.ResumeRebuild(ctx, true)
	if err != nil || resumed || gen.ID <= b.ID || !slices.Equal(dropped, []int64{b.ID}) {
		t.Fatalf("fresh: gen %d resumed %v dropped %v err %v", gen.ID, resumed, dropped, err)
	}
	if _, err := s.Generation(ctx, b.ID); !errors.Is(err, graph.ErrNotFound) {
		t.Fatalf("the dropped generation: %v", err)
	}
	release()
	release2, err := s.LockRebuild(ctx, RebuildGraph, time.Second)
	if err != nil {
		t.Fatalf("the lock after release: %v", err)
	}
	release2()
}

// similarKeys returns the 10 best look-alikes of value among the domains
// first to first+n-1, with their similarities.
func similarKeys(t testing.TB, s *Store, value string, first, n int) []string {
	t.Helper()
	ms, err := s.Similar(context.Background(), "domain-name", value, 100, graph.SeeAll())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range ms {
		if m.Vertex.Key >= domain(first).Key && m.Vertex.Key <= domain(first+n-1).Key && len(out) < 10 {
			out = append(out, fmt.Sprintf("%s %.6f", m.Vertex.Key, m.Similarity))
		}
	}
	return out
}

// A vector rebuild resumes after the last key it stored, swaps its table in
// while readers search and the live projector writes, and ends with a
// vector for every domain (also those created or retracted meanwhile).
func TestVectorRebuildResumesAndSwaps(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, testDatabase(t))
	w := newLogWriter(t)
	live := newProjector(t, s, w.codec)
	if err := live.Handle(ctx, w.append(0, dnsEvents(300, "b1", 0)...)); err != nil {
		t.Fatal(err)
	}
	gen := activeGen(t, s)
	before := similarKeys(t, s, "host17.example.com", 0, 300)
	if len(before) != 10 {
		t.Fatal("no look-alikes before the rebuild")
	}

	vr, err := s.BeginVectorRebuild(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if vr.Resumed || vr.Total != 300 || vr.Generation.ID != gen.ID {
		t.Fatalf("begin: %+v", vr)
	}
	// Interrupted after two batches.
	cctx, cancel := context.WithCancel(ctx)
	batches := 0
	err = s.RebuildVectors(cctx, vr, 50, func(done, total int64) {
		if batches++; batches == 2 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted rebuild: %v", err)
	}
	vr, err = s.BeginVectorRebuild(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if !vr.Resumed || vr.Done != 100 || vr.AfterKey == "" {
		t.Fatalf("resume: %+v", vr)
	}
	st, err := s.VectorRebuildStatus(ctx)
	if err != nil || st == nil || st.Done != 100 || st.Total != 300 {
		t.Fatalf("status: %+v %v", st, err)
	}
	// New domains (some before the resume point), and one retracted.
	if err := live.Handle(ctx, w.append(0, dnsEventsFrom(1000, 5, "b2", 1000)...)); err != nil {
		t.Fatal(err)
	}
	if err := s.RebuildVectors(ctx, vr, 50, nil); err != nil {
		t.Fatal(err)
	}
	if vr.Done != 305 {
		t.Fatalf("scanned %d vertices, want 305 (200 left of 300, and 5 new)", vr.Done)
	}
	// Domains created after the scan: the catch-up adds them.
	if err := live.Handle(ctx, w.append(0, dnsEventsFrom(2000, 3, "b3", 2000)...)); err != nil {
		t.Fatal(err)
	}
	if err := live.Handle(ctx, w.append(0, retractEvent("batch", "b2", 3000))); err != nil {
		t.Fatal(err)
	}

	// Readers and the live projector go on during the swap.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var reads, readErrs atomic.Int64
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := s.Similar(ctx, "domain-name", "host17.example.com", 10, graph.SeeAll()); err != nil {
					readErrs.Add(1)
					t.Errorf("search during the swap: %v", err)
				}
				reads.Add(1)
			}
		}()
	}
	var writeErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := live.Handle(ctx, w.append(1, dnsEventsFrom(4000+i, 1, "b4", 4000+i)...)); err != nil {
				writeErr = err
				return
			}
		}
	}()
	time.Sleep(50 * time.Millisecond)
	sw, err := s.SwapVectors(ctx, vr)
	time.Sleep(50 * time.Millisecond)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if writeErr != nil {
		t.Fatalf("live projector during the swap: %v", writeErr)
	}
	t.Logf("swap: %+v; %d searches during it", sw, reads.Load())
	if sw.Added < 3 || sw.Removed+sw.LateRemoved < 5 {
		t.Fatalf("swap caught up %+v, want at least 3 added and 5 removed", sw)
	}
	q := func(sql string) int64 {
		t.Helper()
		var n int64
		if err := s.pool.QueryRow(ctx, sql).Scan(&n); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return n
	}
	g := quoteIdent(gen.Graph)
	if n := q(`SELECT count(*) FROM ` + g + `.entity_state e WHERE kind = 'domain-name'
		AND NOT EXISTS (SELECT 1 FROM ` + g + `.similarity v WHERE v.key = e.key)`); n != 0 {
		t.Fatalf("%d domains without a vector after the swap", n)
	}
	if n := q(`SELECT count(*) FROM ` + g + `.similarity v WHERE NOT EXISTS (SELECT 1 FROM ` + g + `.entity_state e WHERE e.key = v.key)`); n != 0 {
		t.Fatalf("%d vectors of vertices that are gone", n)
	}
	if n := q(`SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = '` + gen.Graph + `' AND c.relname IN ('similarity', 'similarity_pkey', 'similarity_hnsw')`); n != 3 {
		t.Fatalf("%d of the similarity table, its key and its index are in place", n)
	}
	if n := q(`SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = '` + gen.Graph + `' AND c.relname LIKE 'similarity\_%' AND c.relname NOT IN ('similarity_pkey', 'similarity_hnsw')`); n != 0 {
		t.Fatalf("%d rebuild relations left", n)
	}
	if st, err := s.VectorRebuildStatus(ctx); err != nil || st != nil {
		t.Fatalf("status after the swap: %+v %v", st, err)
	}
	if after := similarKeys(t, s, "host17.example.com", 0, 300); !slices.Equal(before, after) {
		t.Fatalf("look-alikes changed:\nbefore %v\nafter  %v", before, after)
	}
	// The live projector writes to the new table.
	if err := live.Handle(ctx, w.append(0, dnsEventsFrom(5000, 1, "b5", 5000)...)); err != nil {
		t.Fatal(err)
	}
	if n := q(`SELECT count(*) FROM ` + g + `.similarity WHERE key = '` + domain(5000).Key + `'`); n != 1 {
		t.Fatal("a domain created after the swap has no vector")
	}
}

// A rebuild that died after its swap but before the catch-up finishes the
// catch-up when run again; a changed model or fresh starts anew.
func TestVectorRebuildAfterSwapAndFresh(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, testDatabase(t))
	w := newLogWriter(t)
	live := newProjector(t, s, w.codec)
	if err := live.Handle(ctx, w.append(0, dnsEvents(40, "b1", 0)...)); err != nil {
		t.Fatal(err)
	}
	vr, err := s.BeginVectorRebuild(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RebuildVectors(ctx, vr, 7, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.swapVectorTables(ctx, vr); err != nil {
		t.Fatal(err)
	}
	// Created in the instant before the swap: its vector went to the old table.
	g := quoteIdent(activeGen(t, s).Graph)
	if err := live.Handle(ctx, w.append(0, dnsEventsFrom(100, 1, "b2", 100)...)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM `+g+`.similarity WHERE key = $1`, domain(100).Key); err != nil {
		t.Fatal(err)
	}
	vr, err = s.BeginVectorRebuild(ctx, false)
	if err != nil || !vr.Swapped || !vr.Resumed {
		t.Fatalf("after a swap: %+v %v", vr, err)
	}
	if err := s.RebuildVectors(ctx, vr, 7, nil); err != nil {
		t.Fatal(err)
	}
	sw, err := s.SwapVectors(ctx, vr)
	if err != nil || sw.LateAdded != 1 || sw.Vectors != 41 {
		t.Fatalf("finishing: %+v %v", sw, err)
	}

	// A rebuild of an older model is not resumed.
	vr, err = s.BeginVectorRebuild(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	err = s.RebuildVectors(cctx, vr, 7, func(int64, int64) { cancel() })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted: %v", err)
	}
	if _, err := s.pool.Exec(ctx, `UPDATE `+g+`.similarity_rebuild SET model = 'old-model'`); err != nil {
		t.Fatal(err)
	}
	if vr, err = s.BeginVectorRebuild(ctx, false); err != nil || vr.Resumed || vr.Done != 0 {
		t.Fatalf("another model: %+v %v", vr, err)
	}
	cctx, cancel = context.WithCancel(ctx)
	if err := s.RebuildVectors(cctx, vr, 7, func(int64, int64) { cancel() }); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted: %v", err)
	}
	if vr, err = s.BeginVectorRebuild(ctx, true); err != nil || vr.Resumed || vr.Done != 0 {
		t.Fatalf("fresh: %+v %v", vr, err)
	}
	var n int64
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM `+g+`.similarity_next`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("a fresh rebuild's table holds %d rows (%v)", n, err)
	}

	// A graph rebuild activated meanwhile: the swap refuses.
	next, err := s.BeginRebuild(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Activate(ctx, next); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SwapVectors(ctx, vr); !errors.Is(err, graph.ErrGenerationChanged) {
		t.Fatalf("swap into a retired generation: %v", err)
	}
}
