package graphstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/projections/graph"
)

func TestPoolConfigRequiresVerifiedTLS(t *testing.T) {
	base := "postgres://u:secret@db.example:5432/heimdall"
	for _, tc := range []struct {
		query string
		ok    bool
	}{
		{"", false}, // libpq's default is prefer
		{"?sslmode=disable", false},
		{"?sslmode=allow", false},
		{"?sslmode=prefer", false},
		{"?sslmode=require", false},
		{"?sslmode=verify-full", true},
		{"?sslmode=verify-ca", true},
	} {
		cfg, err := PoolConfig(base + tc.query)
		if tc.ok != (err == nil) {
			t.Errorf("%q: err = %v, want ok=%v", tc.query, err, tc.ok)
			continue
		}
		if err != nil {
			if strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "db.example") {
				t.Errorf("%q: error echoes the URL: %v", tc.query, err)
			}
			continue
		}
		if c := cfg.ConnConfig.TLSConfig; c.MinVersion != 0x0304 || c.MaxVersion != 0x0304 {
			t.Errorf("%q: TLS versions %x-%x, want 1.3 only", tc.query, c.MinVersion, c.MaxVersion)
		}
		if cfg.ConnConfig.RuntimeParams["search_path"] != searchPath {
			t.Errorf("%q: search_path %q", tc.query, cfg.ConnConfig.RuntimeParams["search_path"])
		}
	}
	if _, err := PoolConfig("postgres://u:secret@db.example:5432/x?sslmode=bogus"); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("bad sslmode: %v", err)
	}
}

func TestVersionAtLeast(t *testing.T) {
	for _, tc := range []struct {
		v    string
		want bool
	}{{"1.5.0", true}, {"1.5.1", true}, {"1.6.0", true}, {"2.0", true}, {"1.4.9", false}, {"1.5", true}, {"1.10.0", true}, {"0.9", false}, {"1.5.0-rc1", true}} {
		if got := versionAtLeast(tc.v, MinAGEVersion); got != tc.want {
			t.Errorf("versionAtLeast(%q) = %v", tc.v, got)
		}
	}
}

func TestProjectAndReadEntity(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, testDatabase(t))
	if v := s.AGEVersion(); !versionAtLeast(v, MinAGEVersion) {
		t.Fatalf("AGE version %q", v)
	}
	gen := activeGen(t, s)
	if gen.ID != 1 || gen.Graph != "heimdall_1" || gen.State != graph.GenerationActive {
		t.Fatalf("first generation %+v", gen)
	}
	w := newLogWriter(t)
	p := newProjector(t, s, w.codec)
	d, ip := domain(1), ipv4(1)
	host := events.Endpoint{Key: "host--1", Kind: "host", Value: "sensor-host"}
	e1 := entity(ip, "b1", 10, events.Attribute{Name: "asn", Value: "64500"})
	e2 := entity(ip, "b1", 5, events.Attribute{Name: "asn", Value: "64501"})
	e2.Provenance.Source = "csv"
	e2.Classification = "SECRET"
	e2.Vector = events.VersionVector{"site-b": 7}
	recs := w.append(0, e1, entity(d, "b1", 6), relation("RESOLVES_TO", d, ip, "b1", 7), e2,
		relation("CONNECTED_TO", host, ip, "b1", 8))
	recs = append(recs, w.raw(0, "junk", []byte("\xc3\x01garbage")))
	if err := p.Handle(ctx, recs); err != nil {
		t.Fatal(err)
	}

	v, err := s.Entity(ctx, ip.Key)
	if err != nil {
		t.Fatal(err)
	}
	if v.Label != "IPv4" || v.Kind != "ipv4-addr" || v.Value != ip.Value || !v.Observed {
		t.Fatalf("entity %+v", v)
	}
	if !v.FirstSeen.Equal(t0.Add(5*time.Second)) || !v.LastSeen.Equal(t0.Add(10*time.Second)) {
		t.Fatalf("times %v %v", v.FirstSeen, v.LastSeen)
	}
	if strings.Join(v.Sources, ",") != "csv,zeek" || v.Classification != "SECRET" {
		t.Fatalf("sources %v classification %q", v.Sources, v.Classification)
	}
	if v.Vector["site-b"] != 7 || v.Vector["site-a"] != int64(e1.HLC) {
		t.Fatalf("vector %v", v.Vector)
	}
	if strings.Join(v.Attributes["asn"], ",") != "64500,64501" {
		t.Fatalf("attributes %v", v.Attributes)
	}
	if len(v.Provenance) != 2 || v.Provenance[0].EventID.String() <= v.Provenance[1].EventID.String() {
		t.Fatalf("provenance %+v", v.Provenance)
	}
	pr := v.Provenance[1]
	if pr.EventID != e2.ID || pr.Provenance != e2.Provenance || pr.Actor != e2.Actor || pr.BatchID != "b1" ||
		pr.RequestID != "req-b1" || pr.OriginPeer != "site-a" || !pr.RecordedAt.Equal(e2.RecordedAt) || pr.EventType != events.TypeEntityObserved {
		t.Fatalf("provenance entry %+v", pr)
	}
	if v.InEdges["RESOLVES_TO"] != 1 || v.InEdges["CONNECTED_TO"] != 1 || len(v.OutEdges) != 0 {
		t.Fatalf("edges in %v out %v", v.InEdges, v.OutEdges)
	}

	// The host is known only as an endpoint.
	h, err := s.Entity(ctx, host.Key)
	if err != nil {
		t.Fatal(err)
	}
	if h.Observed || h.Label != "Host" || h.Value != "sensor-host" || h.OutEdges["CONNECTED_TO"] != 1 || len(h.Provenance) != 0 {
		t.Fatalf("endpoint-only entity %+v", h)
	}
	if _, err := s.Entity(ctx, "ipv4-addr--missing"); !errors.Is(err, graph.ErrNotFound) {
		t.Fatalf("missing entity: %v", err)
	}
	vs, es, err := s.Counts(ctx)
	if err != nil || vs != 3 || es != 2 {
		t.Fatalf("counts %d %d %v", vs, es, err)
	}

	// Cypher sees the vertices and edges written into the label tables.
	var n, props string
	q := `SELECT c::text FROM ag_catalog.cypher('heimdall_1', $$ MATCH (a)-[r]->(b) RETURN count(r) $$) AS (c ag_catalog.agtype)`
	if err := s.pool.QueryRow(ctx, q).Scan(&n); err != nil || n != "2" {
		t.Fatalf("cypher edge count %q %v", n, err)
	}
	q = `SELECT ag_catalog.agtype_out(p)::text FROM ag_catalog.cypher('heimdall_1', $$ MATCH (d:Domain)-[:RESOLVES_TO]->(i:IPv4) RETURN properties(i) $$) AS (p ag_catalog.agtype)`
	if err := s.pool.QueryRow(ctx, q).Scan(&props); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"key": "ipv4-addr--00000001"`, `"classification": "SECRET"`, `"first_seen": "2026-11-27T12:00:05.000000Z"`, `"sources": ["csv", "zeek"]`} {
		if !strings.Contains(props, want) {
			t.Errorf("vertex properties %s lack %s", props, want)
		}
	}
	if strings.Contains(props, "site-b") {
		t.Errorf("vertex properties hold the version vector: %s", props)
	}

	// The undecodable record was recorded and skipped; offsets moved on.
	var reason string
	var off int64
	if err := s.pool.QueryRow(ctx, `SELECT "offset", reason FROM heimdall_1.projection_errors`).Scan(&off, &reason); err != nil {
		t.Fatal(err)
	}
	if off != 5 || reason == "" || strings.Contains(reason, "garbage") {
		t.Fatalf("projection error %d %q", off, reason)
	}
	offs, err := p.Offsets(ctx, testTopic, []int32{0, 1})
	if err != nil || len(offs) != 1 || offs[0] != 6 {
		t.Fatalf("offsets %v %v", offs, err)
	}
	if st := p.Stats(); st.EntityEvents != 3 || st.RelationEvents != 2 || st.Undecodable != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestSameBatchAgainChangesNothing(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, testDatabase(t))
	w := newLogWriter(t)
	p := newProjector(t, s, w.codec)
	batch := w.append(0, dnsEvents(50, "b1", 0)...)
	if err := p.Handle(ctx, batch); err != nil {
		t.Fatal(err)
	}
	gen := activeGen(t, s)
	before := snap(t, s, gen)
	if before.vertices != 100 || before.edges != 50 || before.provenance != 150 {
		t.Fatalf("after first batch %+v", before)
	}
	var props1 string
	if err := s.pool.QueryRow(ctx, `SELECT string_agg(ag_catalog.agtype_out(properties)::text, '|' ORDER BY id) FROM heimdall_1."IPv4"`).Scan(&props1); err != nil {
		t.Fatal(err)
	}
	if err := p.Handle(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if after := snap(t, s, gen); after != before {
		t.Fatalf("same batch again changed the graph\nbefore %+v\nafter  %+v", before, after)
	}
	var props2 string
	if err := s.pool.QueryRow(ctx, `SELECT string_agg(ag_catalog.agtype_out(properties)::text, '|' ORDER BY id) FROM heimdall_1."IPv4"`).Scan(&props2); err != nil {
		t.Fatal(err)
	}
	if props1 != props2 {
		t.Fatal("vertex properties changed")
	}
	if st := p.Stats(); st.Replayed != 150 {
		t.Fatalf("stats %+v", st)
	}
}

// TestOverlapDuplicatesAndOrder builds one graph through overlapping
// batches, re-appended duplicates and edges-before-vertices, and another
// from the same events in one clean batch: they must be equal.
func TestOverlapDuplicatesAndOrder(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, testDatabase(t))
	w := newLogWriter(t)
	live := newProjector(t, s, w.codec)
	evs := dnsEvents(40, "b1", 0)

	// Relations first, vertices after, in overlapping batches.
	var rels, ents []events.Event
	for _, e := range evs {
		if e.Type == events.TypeRelationObserved {
			rels = append(rels, e)
		} else {
			ents = append(ents, e)
		}
	}
	log := w.append(0, append(append([]events.Event(nil), rels...), ents...)...)
	for _, r := range [][2]int{{0, 30}, {10, 70}, {60, 120}, {0, 120}} {
		if err := live.Handle(ctx, log[r[0]:r[1]]); err != nil {
			t.Fatal(err)
		}
	}
	gen := activeGen(t, s)
	first := snap(t, s, gen)

	// The same events appended again (a producer retry): nothing changes.
	dup := w.append(0, evs...)
	if err := live.Handle(ctx, dup); err != nil {
		t.Fatal(err)
	}
	if got := snap(t, s, gen); got != first {
		t.Fatalf("re-appended events changed the graph\nbefore %+v\nafter  %+v", first, got)
	}
	// A re-ingest of the same input under a new batch: new event ids, same
	// observations. Vertices and edges stay, provenance grows.
	again := w.append(1, dnsEvents(40, "b2", 0)...)
	if err := live.Handle(ctx, again); err != nil {
		t.Fatal(err)
	}
	got := snap(t, s, gen)
	if got.vertices != first.vertices || got.edges != first.edges || got.digest != first.digest || got.provenance != 2*first.provenance {
		t.Fatalf("re-ingest: before %+v after %+v", first, got)
	}

	// Reference: the events in one batch, in log order, into another generation.
	ref, err := s.BeginRebuild(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rb := newProjector(t, s, w.codec, graph.WithGeneration(ref))
	w2 := newLogWriter(t)
	if err := rb.Handle(ctx, w2.append(0, append(dnsEvents(40, "b1", 0), dnsEvents(40, "b2", 0)...)...)); err != nil {
		t.Fatal(err)
	}
	if want := snap(t, s, ref); want != got {
		t.Fatalf("graphs differ\nincremental %+v\nreference   %+v", got, want)
	}
}

func TestConcurrentPartitionsSameKeys(t *testing.T) {
	ctx := context.Background()
	dbURL := testDatabase(t)
	stores := []*Store{openStore(t, dbURL), openStore(t, dbURL)} // two processes' worth of caches
	w := newLogWriter(t)

	// Every partition's events touch the same hub keys and shared keys.
	const parts, rounds, perRound = 6, 8, 60
	hub := events.Endpoint{Key: "ipv4-addr--hub", Kind: "ipv4-addr", Value: "192.0.2.53"}
	batches := make([][][]events.LogRecord, parts)
	var all []events.Event
	for p := range parts {
		for r := range rounds {
			var evs []events.Event
			for i := range perRound {
				n := (p*rounds+r)*perRound + i
				d := domain(rand.IntN(120)) // shared across partitions
				evs = append(evs, entity(d, fmt.Sprint("p", p), n), entity(hub, fmt.Sprint("p", p), n),
					relation("RESOLVES_TO", d, hub, fmt.Sprint("p", p), n),
					relation("RESOLVES_TO", d, ipv4(rand.IntN(50)), fmt.Sprint("p", p), n))
			}
			all = append(all, evs...)
			batches[p] = append(batches[p], w.append(int32(p), evs...))
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, parts)
	for p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			proj := newProjector(t, stores[p%2], w.codec)
			for _, b := range batches[p] {
				if err := proj.Handle(ctx, b); err != nil {
					errs <- fmt.Errorf("partition %d: %w", p, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	s := stores[0]
	gen := activeGen(t, s)
	got := snap(t, s, gen)
	var keys, dupes int64
	if err := s.pool.QueryRow(ctx, `SELECT count(*), count(*) - count(DISTINCT `+keyOf("v")+`) FROM heimdall_1._ag_label_vertex v`).Scan(&keys, &dupes); err != nil {
		t.Fatal(err)
	}
	if dupes != 0 || keys != got.vertices {
		t.Fatalf("%d duplicate vertices among %d", dupes, keys)
	}

	// The same events, sequentially in one partition, give the same graph.
	ref, err := s.BeginRebuild(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rb := newProjector(t, s, w.codec, graph.WithGeneration(ref))
	if err := rb.Handle(ctx, newLogWriter(t).append(0, all...)); err != nil {
		t.Fatal(err)
	}
	if want := snap(t, s, ref); want != got {
		t.Fatalf("concurrent %+v\nsequential %+v", got, want)
	}
	hubView, err := s.Entity(ctx, hub.Key)
	if err != nil {
		t.Fatal(err)
	}
	if len(hubView.Sources) != 1 || !hubView.FirstSeen.Equal(t0) {
		t.Fatalf("hub %+v", hubView.EntityState)
	}
}

func TestRebuildAndActivate(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, testDatabase(t))
	w := newLogWriter(t)
	live := newProjector(t, s, w.codec)
	if _, err := live.Offsets(ctx, testTopic, []int32{0, 1}); err != nil {
		t.Fatal(err)
	}
	var log []events.LogRecord
	for b := range 4 {
		recs := w.append(int32(b%2), dnsEvents(25, fmt.Sprint("b", b), b*10)...)
		log = append(log, recs...)
		if err := live.Handle(ctx, recs); err != nil {
			t.Fatal(err)
		}
	}
	gen1 := activeGen(t, s)
	before := snap(t, s, gen1)

	// Rebuild from offset 0 to the end of the log, in different batches.
	gen2, err := s.BeginRebuild(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if gen2.State != graph.GenerationBuilding || gen2.Graph != "heimdall_2" {
		t.Fatalf("rebuild generation %+v", gen2)
	}
	rb := newProjector(t, s, w.codec, graph.WithGeneration(gen2))
	if offs, err := rb.Offsets(ctx, testTopic, []int32{0, 1}); err != nil || len(offs) != 0 {
		t.Fatalf("rebuild offsets %v %v", offs, err)
	}
	for i := 0; i < len(log); i += 37 {
		if err := rb.Handle(ctx, log[i:min(i+37, len(log))]); err != nil {
			t.Fatal(err)
		}
	}
	if g, _ := s.ActiveGraph(ctx); g != "heimdall_1" {
		t.Fatalf("active graph during rebuild: %s", g)
	}
	if err := s.Activate(ctx, gen2); err != nil {
		t.Fatal(err)
	}
	if g, _ := s.ActiveGraph(ctx); g != "heimdall_2" {
		t.Fatalf("active graph after activation: %s", g)
	}
	vs, es, err := s.Counts(ctx)
	if err != nil || vs != before.vertices || es != before.edges {
		t.Fatalf("counts after activation %d %d (want %d %d) %v", vs, es, before.vertices, before.edges, err)
	}
	d, err := s.Digest(ctx)
	if err != nil || d != before.digest {
		t.Fatalf("digest after activation %s, want %s (%v)", d, before.digest, err)
	}

	// The live projector notices, reloads offsets and carries on in gen2.
	more := w.append(0, dnsEventsFrom(1000, 5, "b9", 100)...)
	if err := live.Handle(ctx, more); !errors.Is(err, graph.ErrGenerationChanged) {
		t.Fatalf("live projector after activation: %v", err)
	}
	offs, err := live.Offsets(ctx, testTopic, []int32{0, 1})
	if err != nil || offs[0] != w.next[0]-int64(len(more)) || offs[1] != w.next[1] {
		t.Fatalf("offsets from the new generation %v %v", offs, err)
	}
	if err := live.Handle(ctx, more); err != nil {
		t.Fatal(err)
	}
	if vs, _, _ := s.Counts(ctx); vs != before.vertices+10 {
		t.Fatalf("vertices after catching up %d", vs)
	}

	// Another rebuild: gen2 is retired and stays, gen1 is dropped.
	gen3, err := s.BeginRebuild(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Activate(ctx, gen3); err != nil {
		t.Fatal(err)
	}
	gens, err := s.Generations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var states []string
	for _, g := range gens {
		states = append(states, fmt.Sprintf("%d:%s", g.ID, g.State))
	}
	if strings.Join(states, " ") != "2:retired 3:active" {
		t.Fatalf("generations %v", states)
	}
	var graphs int
	if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM ag_catalog.ag_graph WHERE name = 'heimdall_1'").Scan(&graphs); err != nil || graphs != 0 {
		t.Fatalf("graph heimdall_1 not dropped: %d %v", graphs, err)
	}
	// The rebuild projector of the retired generation is told so.
	if err := rb.Handle(ctx, w.append(1, dnsEvents(1, "bx", 200)...)); !errors.Is(err, graph.ErrGenerationChanged) {
		t.Fatalf("rebuild projector of a retired generation: %v", err)
	}
	if err := s.DropGeneration(ctx, gen3.ID); err == nil {
		t.Fatal("dropped the active generation")
	}
}

// TestActivateWaitsForLiveBatch runs activation while live batches are in
// flight: every batch lands in a generation that was active when it
// committed, or fails with ErrGenerationChanged.
func TestActivateDuringLiveBatches(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, testDatabase(t))
	w := newLogWriter(t)
	live := newProjector(t, s, w.codec)
	gen2, err := s.BeginRebuild(ctx)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		for i := range 200 {
			err := live.Handle(ctx, w.append(0, dnsEvents(3, fmt.Sprint("l", i), i*3)...))
			if errors.Is(err, graph.ErrGenerationChanged) {
				done <- nil
				return
			}
			if err != nil {
				done <- err
				return
			}
		}
		done <- errors.New("the live projector never saw the activation")
	}()
	time.Sleep(50 * time.Millisecond)
	if err := s.Activate(ctx, gen2); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Nothing was written to the new generation by the old live projector.
	if v, e, err := s.GenerationCounts(ctx, gen2); err != nil || v != 0 || e != 0 {
		t.Fatalf("new generation has %d vertices %d edges (%v)", v, e, err)
	}
}

func TestInvalidRecordsAreRecordedAndSkipped(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, testDatabase(t))
	w := newLogWriter(t)
	p := newProjector(t, s, w.codec)
	secret := events.Endpoint{Key: "user-account--x", Kind: "user-account", Value: "alice\x00secret"}
	bad := relation("resolves-to", domain(1), ipv4(1), "b", 1)
	rejected := eventAt("rejected--1", "b", 2)
	rejected.Type = events.TypeIngestRejected
	rejected.Payload = events.IngestRejected{Code: "invalid_json", Reason: "line is not a JSON object"}
	unknown := eventAt("x--1", "b", 3)
	unknown.Payload = events.Unknown{Type: "future.thing", Raw: []byte{0xc3, 0x01}}
	recs := w.append(0, entity(secret, "b", 0), bad, rejected, unknown, entity(ipv4(2), "b", 4))
	recs = append(recs, w.raw(0, "k", nil), w.raw(0, "k", []byte("alice@example.org")))
	if err := p.Handle(ctx, recs); err != nil {
		t.Fatal(err)
	}
	st := p.Stats()
	if st.Invalid != 1 || st.InvalidEdgeLabels != 1 || st.Rejected != 1 || st.Unknown != 1 || st.EntityEvents != 1 ||
		st.Undecodable != 1 || st.Empty != 1 {
		t.Fatalf("stats %+v", st)
	}
	rows, err := s.pool.Query(ctx, `SELECT "offset", reason FROM heimdall_1.projection_errors ORDER BY "offset"`)
	if err != nil {
		t.Fatal(err)
	}
	var offs []int64
	for rows.Next() {
		var o int64
		var r string
		if err := rows.Scan(&o, &r); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(r, "alice") || strings.Contains(r, "secret") || r == "" {
			t.Errorf("reason %q", r)
		}
		offs = append(offs, o)
	}
	if fmt.Sprint(offs) != "[0 1 5 6]" {
		t.Fatalf("error offsets %v", offs)
	}
	if v, e, _ := s.Counts(ctx); v != 1 || e != 0 {
		t.Fatalf("counts %d %d", v, e)
	}
}

// TestForeignVertexIsUpserted: a vertex written into a label table behind
// the store's back (its state row missing) makes the fast plain insert fail;
// the batch is retried with upserts and the graph keeps one vertex per key.
func TestForeignVertexIsUpserted(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, testDatabase(t))
	w := newLogWriter(t)
	p := newProjector(t, s, w.codec)
	if err := p.Handle(ctx, w.append(0, entity(ipv4(1), "b", 1))); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO heimdall_1."IPv4" (properties)
		VALUES ('{"key": "ipv4-addr--00000002", "note": "foreign"}'::ag_catalog.agtype)`); err != nil {
		t.Fatal(err)
	}
	if err := p.Handle(ctx, w.append(0, entity(ipv4(2), "b", 2))); err != nil {
		t.Fatal(err)
	}
	var n int
	var props string
	if err := s.pool.QueryRow(ctx, `SELECT count(*), max(ag_catalog.agtype_out(properties)::text) FROM heimdall_1."IPv4"
		WHERE `+keyExpr+` = '"ipv4-addr--00000002"'::ag_catalog.agtype`).Scan(&n, &props); err != nil {
		t.Fatal(err)
	}
	if n != 1 || strings.Contains(props, "foreign") || !strings.Contains(props, `"kind": "ipv4-addr"`) {
		t.Fatalf("%d vertices, properties %s", n, props)
	}
	if _, err := s.Entity(ctx, ipv4(2).Key); err != nil {
		t.Fatal(err)
	}

	// A vertex deleted behind the store's back: the update by graphid
	// misses it, and the retry with upserts puts it back.
	if _, err := s.pool.Exec(ctx, `DELETE FROM heimdall_1."IPv4" WHERE `+keyExpr+` = '"ipv4-addr--00000001"'::ag_catalog.agtype`); err != nil {
		t.Fatal(err)
	}
	if err := p.Handle(ctx, w.append(0, entity(ipv4(1), "b", 3))); err != nil {
		t.Fatal(err)
	}
	if v, _, err := s.Counts(ctx); err != nil || v != 2 {
		t.Fatalf("vertices %d %v", v, err)
	}
}
