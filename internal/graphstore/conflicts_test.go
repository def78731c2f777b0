package graphstore

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/heimdallhub/heimdall/commands/appendlog"
	"github.com/heimdallhub/heimdall/commands/classify"
	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/projections/graph"
)

// changeAt is a classification change of key made at peer at t0+n seconds
// with the given vector (nil: only the peer's own entry).
func changeAt(key, recordType, level, peer string, n int, vec events.VersionVector) events.Event {
	e := classifyEvent(key, recordType, level, n)
	e.ID = events.DeterministicID(e.RecordedAt, "change", peer, key, level)
	e.OriginPeer = peer
	if vec == nil {
		vec = events.VersionVector{}
	}
	e.Vector = vec.With(peer, int64(e.HLC))
	return e
}

// conflictRows reads the conflicts of gen, oldest first.
func conflictRows(t *testing.T, s *Store, gen graph.Generation) []graph.Conflict {
	t.Helper()
	rows, err := s.pool.Query(context.Background(), `SELECT `+conflictColumns+` FROM `+quoteIdent(gen.Graph)+
		`.reclassification_conflicts ORDER BY record_key, winner_event, loser_event`)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := scanConflicts(rows)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func storedReclass(t *testing.T, s *Store, gen graph.Generation, key string) graph.Reclassification {
	t.Helper()
	var rc *string
	if err := s.pool.QueryRow(context.Background(), `SELECT reclassification::text FROM `+quoteIdent(gen.Graph)+`.entity_state WHERE key = $1`, key).Scan(&rc); err != nil {
		t.Fatal(err)
	}
	r, err := decodeReclass(rc)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Two concurrent reclassifications of a record are one conflict, recorded
// once (and counted once) however often the events are delivered; a
// reclassification whose vector includes the winner's is none; the order
// of arrival changes neither the winner nor the digest.
func TestReclassificationConflicts(t *testing.T) {
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	s, err := Open(ctx, testDatabase(t), WithLogger(testLogger(t)), WithMaxConns(8), WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	w := newLogWriter(t)
	p := newProjector(t, s, w.codec)
	gen := activeGen(t, s)
	apply := func(es ...events.Event) {
		t.Helper()
		if err := p.Handle(ctx, w.append(0, es...)); err != nil {
			t.Fatal(err)
		}
	}
	metric := func() float64 {
		var m dto.Metric
		if err := s.conflicts.Write(&m); err != nil {
			t.Fatal(err)
		}
		return m.GetCounter().GetValue()
	}
	d := domain(1)
	obs := entity(d, "b", 1)
	a := changeAt(d.Key, "entity", "SECRET", "site-a", 2, nil)
	b := changeAt(d.Key, "entity", "UNCLASSIFIED", "site-b", 3, nil)
	apply(obs, a)
	if cs := conflictRows(t, s, gen); len(cs) != 0 || metric() != 0 {
		t.Fatalf("one reclassification: %+v, metric %v", cs, metric())
	}
	// b did not see a: a conflict, which b wins (the later HLC).
	apply(b)
	cs := conflictRows(t, s, gen)
	if len(cs) != 1 || metric() != 1 {
		t.Fatalf("concurrent reclassifications: %+v, metric %v", cs, metric())
	}
	c := cs[0]
	if c.RecordType != "entity" || c.RecordKey != d.Key || c.Winner.EventID != b.ID || c.Loser.EventID != a.ID ||
		c.Winner.Peer != "site-b" || c.Loser.Peer != "site-a" || c.Winner.Level != "UNCLASSIFIED" || c.Loser.Level != "SECRET" ||
		c.Winner.HLC != b.HLC || c.Loser.HLC != a.HLC || c.Rule != graph.RuleLWWHLC || c.DetectedAt.IsZero() {
		t.Fatalf("conflict %+v", c)
	}
	if got := storedReclass(t, s, gen, d.Key); got.EventID != b.ID || got.Vector.Compare(b.Vector) != events.Equal {
		t.Fatalf("stored register %+v", got)
	}
	// Delivered again (a duplicate import, at new offsets), in one batch
	// and in the other order: nothing new.
	apply(b, a, obs)
	apply(a)
	if cs := conflictRows(t, s, gen); len(cs) != 1 || metric() != 1 {
		t.Fatalf("after re-delivery: %d conflicts, metric %v", len(cs), metric())
	}
	exported, err := reg.Gather()
	if err != nil || len(exported) != 1 || exported[0].GetName() != MetricReclassificationConflicts {
		t.Fatalf("registered metrics %v %v", exported, err)
	}
	// A change made after seeing the winner (its vector includes b's):
	// it supersedes b, no conflict with it; but it never saw a, which it
	// is compared with too (the log keeps every change): a conflict.
	later := changeAt(d.Key, "entity", "CONFIDENTIAL", "site-c", 4, b.Vector)
	apply(later)
	cs = conflictRows(t, s, gen)
	if len(cs) != 2 || metric() != 2 {
		t.Fatalf("after a change dominating b, concurrent with a: %+v, metric %v", cs, metric())
	}
	for _, c := range cs {
		if c.Loser.EventID != a.ID || (c.Winner.EventID != b.ID && c.Winner.EventID != later.ID) {
			t.Fatalf("conflict %+v: want a losing to b and to the later change", c)
		}
	}
	if v, err := s.Entity(ctx, d.Key); err != nil || v.Classification != "CONFIDENTIAL" {
		t.Fatalf("after the dominating change: %+v %v", v, err)
	}

	// Records that do not exist yet: two concurrent changes in one batch
	// (met in the batch), in two batches (met as pending), and of a
	// relation whose pending change meets the batch that creates it.
	d2, d3, ip2 := domain(2), domain(3), ipv4(2)
	rel := relation("RESOLVES_TO", d2, ip2, "b", 5)
	apply(changeAt(d2.Key, "entity", "SECRET", "site-a", 6, nil), changeAt(d2.Key, "entity", "TOP SECRET", "site-b", 6, nil))
	apply(changeAt(d3.Key, "entity", "SECRET", "site-a", 6, nil))
	apply(changeAt(d3.Key, "entity", "TOP SECRET", "site-b", 7, nil))
	apply(changeAt(rel.Key, "relation", "SECRET", "site-a", 7, nil))
	apply(entity(d2, "b", 5), entity(ip2, "b", 5), rel, changeAt(rel.Key, "relation", "CONFIDENTIAL", "site-c", 8, nil))
	cs = conflictRows(t, s, gen)
	if len(cs) != 5 || metric() != 5 {
		t.Fatalf("pending and relation conflicts: %+v, metric %v", cs, metric())
	}
	for _, c := range cs {
		if c.RecordKey == d2.Key && (c.Winner.Peer != "site-b" || c.RecordType != "entity") {
			t.Fatalf("same HLC: the greater peer wins: %+v", c)
		}
		if c.RecordKey == rel.Key && (c.Winner.Peer != "site-c" || c.RecordType != "relation") {
			t.Fatalf("relation conflict %+v", c)
		}
	}

	// Every order of arrival, in fresh generations: the same winner, the
	// same digest, and the same conflicts: a–b and a–later, each once.
	es := []events.Event{obs, a, b, later}
	var wantDigest string
	permute(len(es), func(order []int) {
		g, err := s.BeginRebuild(ctx)
		if err != nil {
			t.Fatal(err)
		}
		wr := newLogWriter(t)
		pr := newProjector(t, s, wr.codec, graph.WithGeneration(g))
		for _, i := range order {
			if err := pr.Handle(ctx, wr.append(int32(i%2), es[i])); err != nil {
				t.Fatal(err)
			}
		}
		if got := storedReclass(t, s, g, d.Key); got.EventID != later.ID {
			t.Fatalf("order %v: winner %+v", order, got)
		}
		digest, err := s.GenerationDigest(ctx, g)
		if err != nil {
			t.Fatal(err)
		}
		if wantDigest == "" {
			wantDigest = digest
		} else if digest != wantDigest {
			t.Fatalf("order %v: digest %s, want %s", order, digest, wantDigest)
		}
		found := conflictRows(t, s, g)
		if len(found) != 2 {
			t.Fatalf("order %v: %d conflicts %+v, want a–b and a–later", order, len(found), found)
		}
		for _, c := range found {
			if c.Loser.EventID != a.ID || (c.Winner.EventID != b.ID && c.Winner.EventID != later.ID) {
				t.Fatalf("order %v: conflict %+v", order, c)
			}
		}
		if _, err := s.pool.Exec(ctx, `SELECT ag_catalog.drop_graph($1::name, true)`, g.Graph); err != nil {
			t.Fatal(err)
		}
		if _, err := s.pool.Exec(ctx, `DELETE FROM heimdall.generations WHERE id = $1`, g.ID); err != nil {
			t.Fatal(err)
		}
	})
}

// permute calls f with every permutation of 0..n-1.
func permute(n int, f func([]int)) {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	var rec func(int)
	rec = func(i int) {
		if i == n {
			f(idx)
			return
		}
		for j := i; j < n; j++ {
			idx[i], idx[j] = idx[j], idx[i]
			rec(i + 1)
			idx[i], idx[j] = idx[j], idx[i]
		}
	}
	rec(0)
}

// The outbox: conflicts are listed until marked audited; ConflictsByPeer
// counts them per peer; a rebuild's activation carries the marks over, so
// the auditor does not append their events again.
func TestConflictOutbox(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, testDatabase(t))
	w := newLogWriter(t)
	d1, d2 := domain(1), domain(2)
	es := []events.Event{
		entity(d1, "b", 1), entity(d2, "b", 1),
		changeAt(d1.Key, "entity", "SECRET", "site-a", 2, nil), changeAt(d1.Key, "entity", "UNCLASSIFIED", "site-b", 3, nil),
		changeAt(d2.Key, "entity", "SECRET", "site-a", 2, nil), changeAt(d2.Key, "entity", "UNCLASSIFIED", "site-c", 3, nil),
	}
	if err := newProjector(t, s, w.codec).Handle(ctx, w.append(0, es...)); err != nil {
		t.Fatal(err)
	}
	per, total, err := s.ConflictsByPeer(ctx)
	if err != nil || total != 2 || per["site-a"] != 2 || per["site-b"] != 1 || per["site-c"] != 1 {
		t.Fatalf("by peer %v, total %d, %v", per, total, err)
	}
	var appended []events.Event
	auditor := &graph.ConflictAuditor{Outbox: s, Peer: "site-x", Batch: 1, Append: func(_ context.Context, es []events.Event) error {
		appended = append(appended, es...)
		return nil
	}}
	if n, err := auditor.Round(ctx); err != nil || n != 1 {
		t.Fatalf("first round: %d %v", n, err)
	}
	gen, left, err := s.UnauditedConflicts(ctx, 10)
	if err != nil || len(left) != 1 || gen.ID != activeGen(t, s).ID {
		t.Fatalf("unaudited after one round: %+v %v", left, err)
	}
	// A rebuild re-detects both; activating it keeps the first marked.
	next, err := s.BeginRebuild(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wr := newLogWriter(t)
	if err := newProjector(t, s, wr.codec, graph.WithGeneration(next)).Handle(ctx, wr.append(0, es...)); err != nil {
		t.Fatal(err)
	}
	if err := s.Activate(ctx, next); err != nil {
		t.Fatal(err)
	}
	if _, left, err = s.UnauditedConflicts(ctx, 10); err != nil || len(left) != 1 {
		t.Fatalf("unaudited after the rebuild: %+v %v", left, err)
	}
	// Marking conflicts of a retired (or dropped) generation is harmless.
	if err := s.MarkConflictsAudited(ctx, gen, left); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := auditor.Round(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if _, left, err = s.UnauditedConflicts(ctx, 10); err != nil || len(left) != 0 || len(appended) != 2 {
		t.Fatalf("unaudited %+v, appended %d: %v", left, len(appended), err)
	}
	if appended[0].ID == appended[1].ID {
		t.Fatal("two conflicts with one audit id")
	}
}

// recordingLog hands appended events of the events topic to a projector.
type recordingLog struct {
	t      *testing.T
	codec  *events.Codec
	w      *logWriter
	events []events.Event
}

func (l *recordingLog) Append(_ context.Context, topic string, _, value []byte, _ map[string]string, done func(error)) {
	if topic == "ev" {
		e, err := l.codec.Decode(value)
		if err != nil {
			l.t.Fatal(err)
		}
		l.events = append(l.events, e)
	}
	done(nil)
}

// The classify command reads the current winner from the store: a change
// made here after one imported from a peer whose clock is ahead gets a
// greater HLC and a vector dominating it, so no conflict is recorded and it
// wins; a peer's change made without seeing ours is a conflict.
func TestClassifyReadsCurrentFromStore(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, testDatabase(t))
	w := newLogWriter(t)
	p := newProjector(t, s, w.codec)
	gen := activeGen(t, s)
	d := domain(1)
	log := &recordingLog{t: t, codec: w.codec, w: w}
	wall := t0.Add(time.Minute)
	h, err := classify.New(log, w.codec, classify.Options{
		Options: appendlog.Options{PeerID: "site-b", EventsTopic: "ev", AuditTopic: "audit",
			Clock: events.NewClock(func() time.Time { return wall })},
		Levels: graph.Levels(), Current: s,
	})
	if err != nil {
		t.Fatal(err)
	}
	// No reclassification yet: the store says so.
	if hlc, vec, lv, err := s.CurrentReclassification(ctx, "entity", d.Key); err != nil || hlc != 0 || vec != nil || lv != "" {
		t.Fatalf("current of an unknown record: %d %v %q %v", hlc, vec, lv, err)
	}
	// site-a, whose clock is an hour ahead, reclassified it (imported).
	remote := changeAt(d.Key, "entity", "SECRET", "site-a", 3600, events.VersionVector{"site-z": 7})
	if err := p.Handle(ctx, w.append(0, entity(d, "b", 1), remote)); err != nil {
		t.Fatal(err)
	}
	if hlc, vec, lv, err := s.CurrentReclassification(ctx, "entity", d.Key); err != nil || hlc != remote.HLC || vec.Compare(remote.Vector) != events.Equal || lv != "SECRET" {
		t.Fatalf("current %d %v %q %v, want %d %v SECRET", hlc, vec, lv, err, remote.HLC, remote.Vector)
	}
	actor := events.Actor{Subject: "alice", Issuer: "https://idp"}
	if _, err := h.Handle(ctx, classify.Command{Actor: actor, RequestID: "r1", Record: d.Key, RecordType: "entity", Level: "CONFIDENTIAL"}); err != nil {
		t.Fatal(err)
	}
	local := log.events[0]
	if local.Classification != "SECRET" {
		t.Errorf("the change of a SECRET record is classified %q, want SECRET (it names the record)", local.Classification)
	}
	if local.HLC <= remote.HLC || local.Vector.Compare(remote.Vector) != events.After {
		t.Fatalf("local change %d %v after %d %v", local.HLC, local.Vector, remote.HLC, remote.Vector)
	}
	if err := p.Handle(ctx, w.append(0, local)); err != nil {
		t.Fatal(err)
	}
	if cs := conflictRows(t, s, gen); len(cs) != 0 {
		t.Fatalf("a change made after seeing the winner was recorded as a conflict: %+v", cs)
	}
	if v, err := s.Entity(ctx, d.Key); err != nil || v.Classification != "CONFIDENTIAL" {
		t.Fatalf("after the local change: %+v %v", v, err)
	}
	// site-c, which saw only site-a's change, reclassifies concurrently
	// with ours: a conflict, which ours wins (the greater HLC).
	concurrent := changeAt(d.Key, "entity", "TOP SECRET", "site-c", 3600, remote.Vector)
	if err := p.Handle(ctx, w.append(1, concurrent)); err != nil {
		t.Fatal(err)
	}
	cs := conflictRows(t, s, gen)
	if len(cs) != 1 || cs[0].Winner.EventID != local.ID || cs[0].Loser.EventID != concurrent.ID {
		t.Fatalf("conflicts %+v", cs)
	}
	// Pending registers are read too.
	d9 := domain(9)
	pend := changeAt(d9.Key, "entity", "SECRET", "site-a", 5, nil)
	if err := p.Handle(ctx, w.append(0, pend)); err != nil {
		t.Fatal(err)
	}
	if hlc, vec, lv, err := s.CurrentReclassification(ctx, "entity", d9.Key); err != nil || hlc != pend.HLC || vec.Compare(pend.Vector) != events.Equal || lv != "" {
		t.Fatalf("pending current %d %v %q %v", hlc, vec, lv, err)
	}
}

// A generation of layout 6 (registers without vectors, no conflicts table,
// no reclassifications log) is upgraded in place: its stored registers
// decode with empty vectors, and start the log so, which any change
// dominates, so none is a conflict; new concurrent pairs are.
func TestLayoutUpgradeTo7(t *testing.T) {
	ctx := context.Background()
	url := testDatabase(t)
	s := openStore(t, url)
	w := newLogWriter(t)
	d1, d2, d3 := domain(1), domain(2), domain(3)
	if err := newProjector(t, s, w.codec).Handle(ctx, w.append(0, entity(d1, "b", 1), entity(d2, "b", 1),
		changeAt(d1.Key, "entity", "SECRET", "site-a", 2, nil), changeAt(d3.Key, "entity", "SECRET", "site-a", 2, nil))); err != nil {
		t.Fatal(err)
	}
	gen := activeGen(t, s)
	g := quoteIdent(gen.Graph)
	for _, stmt := range []string{
		`UPDATE ` + g + `.entity_state SET reclassification = reclassification - 'vector' WHERE reclassification IS NOT NULL`,
		`ALTER TABLE ` + g + `.pending_reclassifications DROP COLUMN vector`,
		`DROP TABLE ` + g + `.reclassification_conflicts`,
		`DROP TABLE ` + g + `.reclassifications`,
		`UPDATE heimdall.generations SET layout = 6`,
	} {
		if _, err := s.pool.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	s2 := openStore(t, url)
	var layout int
	if err := s2.pool.QueryRow(ctx, `SELECT layout FROM heimdall.generations WHERE id = $1`, gen.ID).Scan(&layout); err != nil || layout != layoutVersion {
		t.Fatalf("layout %d %v", layout, err)
	}
	if got := storedReclass(t, s2, gen, d1.Key); !got.Set() || got.Vector != nil {
		t.Fatalf("legacy register %+v", got)
	}
	p := newProjector(t, s2, w.codec)
	if err := p.Handle(ctx, w.append(0, changeAt(d1.Key, "entity", "UNCLASSIFIED", "site-b", 3, nil),
		changeAt(d3.Key, "entity", "UNCLASSIFIED", "site-b", 3, nil))); err != nil {
		t.Fatal(err)
	}
	if cs := conflictRows(t, s2, gen); len(cs) != 0 {
		t.Fatalf("conflicts against legacy registers: %+v", cs)
	}
	if err := p.Handle(ctx, w.append(0, changeAt(d2.Key, "entity", "SECRET", "site-a", 4, nil),
		changeAt(d2.Key, "entity", "UNCLASSIFIED", "site-b", 5, nil))); err != nil {
		t.Fatal(err)
	}
	if cs := conflictRows(t, s2, gen); len(cs) != 1 || cs[0].RecordKey != d2.Key {
		t.Fatalf("conflicts after the upgrade: %+v", cs)
	}
}

// A generation of layout 7 (no reclassifications log) is upgraded in place:
// the log starts with the registers its records and pending
// reclassifications keep, vectors included, so a later change concurrent
// with one of them is a conflict.
func TestLayoutUpgradeTo8(t *testing.T) {
	ctx := context.Background()
	url := testDatabase(t)
	s := openStore(t, url)
	w := newLogWriter(t)
	d1, d2 := domain(1), domain(2)
	a1 := changeAt(d1.Key, "entity", "SECRET", "site-a", 2, nil)
	a2 := changeAt(d2.Key, "entity", "SECRET", "site-a", 2, nil) // d2 never observed: pending
	if err := newProjector(t, s, w.codec).Handle(ctx, w.append(0, entity(d1, "b", 1), a1, a2)); err != nil {
		t.Fatal(err)
	}
	gen := activeGen(t, s)
	g := quoteIdent(gen.Graph)
	for _, stmt := range []string{`DROP TABLE ` + g + `.reclassifications`, `UPDATE heimdall.generations SET layout = 7`} {
		if _, err := s.pool.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	s2 := openStore(t, url)
	var n int
	if err := s2.pool.QueryRow(ctx, `SELECT count(*) FROM `+g+`.reclassifications WHERE vector <> '{}'`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("log after the upgrade: %d changes with vectors, %v; want 2", n, err)
	}
	b1 := changeAt(d1.Key, "entity", "UNCLASSIFIED", "site-b", 3, nil)
	b2 := changeAt(d2.Key, "entity", "UNCLASSIFIED", "site-b", 3, nil)
	if err := newProjector(t, s2, w.codec).Handle(ctx, w.append(0, b1, b2)); err != nil {
		t.Fatal(err)
	}
	cs := conflictRows(t, s2, gen)
	if len(cs) != 2 {
		t.Fatalf("conflicts after the upgrade: %+v, want a1–b1 and a2–b2", cs)
	}
	for _, c := range cs {
		if c.Winner.Peer != "site-b" || c.Loser.Peer != "site-a" {
			t.Fatalf("conflict %+v", c)
		}
	}
}
