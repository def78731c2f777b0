package graph

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/heimdallhub/heimdall/events"
)

// memStore is an in-memory Store with the semantics graphstore implements
// (for a generation created with contributions), for testing the projector
// without a database: states merge per key, a reclassification of a record
// that does not exist waits until it does, contributions are kept, and a
// retraction recomputes what its events touched from what remains.
type memStore struct {
	mu      sync.Mutex
	gens    []Generation
	active  int64
	offsets map[int64]map[TopicPartition]int64
	ents    map[int64]map[string]EntityState
	rels    map[int64]map[string]RelationState
	prov    map[int64]map[string]ProvenanceRecord
	errs    map[int64]map[string]string
	labels  map[string]bool
	views   map[int64]map[[2]string]EnrichmentResult
	contrib map[int64]map[contributionKey]Contribution
	pending map[int64]map[[2]string]Reclassification // (type, key)
	retract map[int64]Retracted
	// reclass is the conflict log (every classification change kept),
	// conflicts the conflicts recorded, as graphstore records them.
	reclass   map[int64][]Reclassified
	conflicts map[int64]map[conflictKey]Conflict
}

func newMemStore() *memStore {
	s := &memStore{offsets: map[int64]map[TopicPartition]int64{}, ents: map[int64]map[string]EntityState{},
		rels: map[int64]map[string]RelationState{}, prov: map[int64]map[string]ProvenanceRecord{}, errs: map[int64]map[string]string{},
		labels: map[string]bool{}, views: map[int64]map[[2]string]EnrichmentResult{}, contrib: map[int64]map[contributionKey]Contribution{},
		pending: map[int64]map[[2]string]Reclassification{}, retract: map[int64]Retracted{},
		conflicts: map[int64]map[conflictKey]Conflict{}, reclass: map[int64][]Reclassified{}}
	s.active = s.newGen(GenerationActive).ID
	return s
}

func (s *memStore) newGen(state GenerationState) Generation {
	id := int64(len(s.gens) + 1)
	g := Generation{ID: id, Graph: fmt.Sprintf("heimdall_%d", id), State: state}
	s.gens = append(s.gens, g)
	s.offsets[id] = map[TopicPartition]int64{}
	s.ents[id] = map[string]EntityState{}
	s.rels[id] = map[string]RelationState{}
	s.prov[id] = map[string]ProvenanceRecord{}
	s.errs[id] = map[string]string{}
	s.views[id] = map[[2]string]EnrichmentResult{}
	s.contrib[id] = map[contributionKey]Contribution{}
	s.pending[id] = map[[2]string]Reclassification{}
	s.conflicts[id] = map[conflictKey]Conflict{}
	s.retract[id] = Retracted{Batches: map[string]int{}, Sources: map[string]int{}}
	return g
}

func (s *memStore) activate(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gens[s.active-1].State = GenerationRetired
	s.gens[id-1].State = GenerationActive
	s.active = id
}

func (s *memStore) ActiveGeneration(context.Context) (Generation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gens[s.active-1], nil
}

func (s *memStore) Offsets(_ context.Context, gen Generation, topic string, parts []int32) (map[int32]int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[int32]int64{}
	for _, p := range parts {
		if n, ok := s.offsets[gen.ID][TopicPartition{topic, p}]; ok {
			out[p] = n
		}
	}
	return out, nil
}

func (s *memStore) EnsureLabels(_ context.Context, _ Generation, v, e []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range append(append([]string(nil), v...), e...) {
		s.labels[l] = true
	}
	return nil
}

func (s *memStore) Apply(_ context.Context, req ApplyRequest) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.gens[req.Generation.ID-1]
	if (req.RequireActive && g.State != GenerationActive) || g.State == GenerationRetired {
		return ErrGenerationChanged
	}
	id := g.ID
	next := map[TopicPartition]int64{}
	for _, tp := range req.Partitions {
		if n, ok := s.offsets[id][tp]; ok {
			next[tp] = n
		}
	}
	gone := s.retract[id]
	ch, err := req.Plan(next, Retracted{Batches: maps.Clone(gone.Batches), Sources: maps.Clone(gone.Sources)})
	if err != nil {
		return err
	}
	ents, rels, pending := s.ents[id], s.rels[id], s.pending[id]
	for _, c := range NewConflicts(s.reclass[id], ch.Reclassifications) {
		s.conflicts[id][c.id()] = c
	}
	s.reclass[id] = append(s.reclass[id], ch.Reclassifications...)
	for _, e := range ch.Entities {
		prev, ok := ents[e.Key]
		pk := [2]string{ContributionEntity, e.Key}
		switch {
		case ok:
		case e.ClassifyOnly:
			pending[pk] = LaterReclassification(pending[pk], e.Reclassification)
			continue
		default:
			if r, ok := pending[pk]; ok {
				e = MergeEntity(e, EntityState{Key: e.Key, Reclassification: r, ClassifyOnly: true})
				delete(pending, pk)
			}
		}
		ents[e.Key] = MergeEntity(prev, e)
	}
	for _, r := range ch.Relations {
		prev, ok := rels[r.Key]
		pk := [2]string{ContributionRelation, r.Key}
		switch {
		case ok:
		case r.ClassifyOnly:
			pending[pk] = LaterReclassification(pending[pk], r.Reclassification)
			continue
		default:
			if _, ok := ents[r.SourceKey]; !ok {
				return fmt.Errorf("relation %s before its source", r.Key)
			}
			if rc, ok := pending[pk]; ok {
				r = MergeRelation(r, RelationState{Key: r.Key, Reclassification: rc, ClassifyOnly: true})
				delete(pending, pk)
			}
		}
		rels[r.Key] = MergeRelation(prev, r)
	}
	for _, p := range ch.Provenance {
		s.prov[id][p.RecordKey+"/"+p.EventID.String()] = p
	}
	for _, e := range ch.Errors {
		s.errs[id][fmt.Sprintf("%s/%d/%d", e.Topic, e.Partition, e.Offset)] = e.Reason
	}
	for tp, n := range ch.Offsets {
		if n > s.offsets[id][tp] {
			s.offsets[id][tp] = n
		}
	}
	for _, v := range ch.Enrichments {
		k := [2]string{v.RecordKey, v.Provider}
		if prev, ok := s.views[id][k]; !ok || v.Later(prev) {
			s.views[id][k] = v
		}
	}
	for _, c := range ch.Contributions {
		k := contributionKey{c.RecordKey, c.Type, c.EventID}
		if _, ok := s.contrib[id][k]; !ok {
			s.contrib[id][k] = c
		}
	}
	for _, r := range ch.Retractions {
		s.retractLocked(id, r)
	}
	return nil
}

// retractLocked applies a retraction as graphstore does.
func (s *memStore) retractLocked(id int64, r Retraction) {
	gone := s.retract[id]
	gone.Add(r)
	s.retract[id] = gone
	var cands []RetractionCandidate
	for _, c := range s.contrib[id] {
		if !r.Covers(c.BatchID, c.Source) {
			continue
		}
		cand := RetractionCandidate{RecordKey: c.RecordKey, Type: c.Type, EventID: c.EventID}
		if e, ok := s.ents[id][c.RecordKey]; ok {
			cand.Classification, cand.Endpoint = e.Classification, !e.Observed
		} else if rel, ok := s.rels[id][c.RecordKey]; ok {
			cand.Classification = rel.Classification
		}
		cands = append(cands, cand)
	}
	type provKey struct {
		key string
		id  uuid.UUID
	}
	taken := map[provKey]bool{}
	touched := map[contributionKey]bool{}
	for _, cand := range r.TakenBack(cands) {
		k := contributionKey{cand.RecordKey, cand.Type, cand.EventID}
		c := s.contrib[id][k]
		delete(s.contrib[id], k)
		taken[provKey{c.RecordKey, c.EventID}] = true
		tk := contributionKey{key: c.RecordKey, typ: c.Type}
		if c.Type == ContributionEnrichment {
			tk.key += "\x00" + c.Enrichment.Provider
		}
		touched[tk] = true
	}
	for k, p := range s.prov[id] {
		if taken[provKey{p.RecordKey, p.EventID}] && p.EventType != events.TypeClassificationChanged {
			delete(s.prov[id], k)
		}
	}
	left := func(key, typ string) []Contribution {
		var out []Contribution
		for _, c := range s.contrib[id] {
			if c.RecordKey == key && c.Type == typ {
				out = append(out, c)
			}
		}
		return out
	}
	ents, rels, pending := s.ents[id], s.rels[id], s.pending[id]
	for k := range touched {
		if k.typ != ContributionRelation {
			continue
		}
		st, ok := rels[k.key]
		if !ok {
			continue
		}
		var ds []RelationState
		for _, c := range left(k.key, k.typ) {
			ds = append(ds, c.Relation)
		}
		r, ok := RecomputeRelation(k.key, st.Reclassification, ds)
		if !ok {
			delete(rels, k.key)
			if st.Reclassification.Set() {
				pk := [2]string{ContributionRelation, k.key}
				pending[pk] = LaterReclassification(pending[pk], st.Reclassification)
			}
			continue
		}
		r.Type, r.SourceKey, r.TargetKey = st.Type, st.SourceKey, st.TargetKey
		rels[k.key] = r
	}
	for k := range touched {
		if k.typ != ContributionEntity {
			continue
		}
		st, ok := ents[k.key]
		if !ok {
			continue
		}
		var ds []EntityState
		for _, c := range left(k.key, k.typ) {
			ds = append(ds, c.Entity)
		}
		e, ok := RecomputeEntity(k.key, st.Reclassification, ds)
		if !ok {
			delete(ents, k.key)
			for rk, r := range rels {
				if r.SourceKey == k.key || r.TargetKey == k.key {
					delete(rels, rk)
				}
			}
			if st.Reclassification.Set() {
				pk := [2]string{ContributionEntity, k.key}
				pending[pk] = LaterReclassification(pending[pk], st.Reclassification)
			}
			continue
		}
		ents[k.key] = e
	}
	for k := range touched {
		if k.typ != ContributionEnrichment {
			continue
		}
		key, provider, _ := strings.Cut(k.key, "\x00")
		vk := [2]string{key, provider}
		delete(s.views[id], vk)
		var rs []EnrichmentResult
		for _, c := range left(key, ContributionEnrichment) {
			if c.Enrichment.Provider == provider {
				rs = append(rs, c.Enrichment)
			}
		}
		if v, ok := LatestEnrichment(rs); ok {
			s.views[id][vk] = v
		}
	}
}

type recs struct {
	t     *testing.T
	codec *events.Codec
	next  map[int32]int64
}

func newRecs(t *testing.T) *recs {
	c, err := events.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	return &recs{t: t, codec: c, next: map[int32]int64{}}
}

func (r *recs) record(part int32, e events.Event) events.LogRecord {
	r.t.Helper()
	b, err := r.codec.Encode(e)
	if err != nil {
		r.t.Fatal(err)
	}
	return r.raw(part, e.Key, b)
}

func (r *recs) raw(part int32, key string, value []byte) events.LogRecord {
	off := r.next[part]
	r.next[part]++
	return events.LogRecord{Topic: "heimdall.events", Partition: part, Offset: off, Key: []byte(key), Value: value}
}

func envelope(key string, n int) events.Event {
	at := t0.Add(time.Duration(n) * time.Second)
	return events.Event{
		ID: events.DeterministicID(at, key, fmt.Sprint(n)), Key: key, OriginPeer: "site-a",
		Vector: events.VersionVector{"site-a": int64(events.MakeHLC(at.UnixMilli(), 0))}, HLC: events.MakeHLC(at.UnixMilli(), 0),
		Actor: events.Actor{Subject: "cli", Issuer: "https://idp"}, RequestID: "req", BatchID: "batch", RecordedAt: at,
		Provenance:     events.Provenance{Source: "zeek", Format: "ndjson", File: "dns.log", Line: int64(n), ByteOffset: -1},
		Classification: "UNCLASSIFIED", PolicyVersion: "1",
	}
}

func entityEvent(key, kind, value string, n int) events.Event {
	e := envelope(key, n)
	e.Type = events.TypeEntityObserved
	e.Payload = events.EntityObserved{Kind: kind, Value: value, ObservedAt: e.RecordedAt, Attributes: []events.Attribute{}}
	return e
}

func relationEvent(key, typ string, src, dst events.Endpoint, n int) events.Event {
	e := envelope(key, n)
	e.Type = events.TypeRelationObserved
	e.Payload = events.RelationObserved{RelationType: typ, Source: src, Target: dst, ObservedAt: e.RecordedAt, Attributes: []events.Attribute{}}
	return e
}

var (
	dom = events.Endpoint{Key: "domain-name--1", Kind: "domain-name", Value: "example.com"}
	ip  = events.Endpoint{Key: "ipv4-addr--1", Kind: "ipv4-addr", Value: "192.0.2.1"}
)

func TestHandleSkipsWhatItCannotUse(t *testing.T) {
	ctx := context.Background()
	st := newMemStore()
	r := newRecs(t)
	p, err := New(st, r.codec, nil)
	if err != nil {
		t.Fatal(err)
	}
	rejected := envelope("rej", 1)
	rejected.Type = events.TypeIngestRejected
	rejected.Payload = events.IngestRejected{Code: "invalid_json", Reason: "not an object"}
	unknown := envelope("unk", 2)
	unknown.Payload = events.Unknown{Type: "future.event", Raw: []byte{1, 2, 3}}
	badEntity := entityEvent("bad", "ipv4-addr", "a\x00b", 3)
	batch := []events.LogRecord{
		r.record(0, entityEvent(ip.Key, ip.Kind, ip.Value, 1)),
		r.raw(0, "garbage", []byte("not avro at all")),
		r.record(0, rejected),
		r.record(0, unknown),
		r.record(0, relationEvent("rel-bad", "resolves to", dom, ip, 4)),
		r.record(0, badEntity),
		r.record(0, relationEvent("rel-1", "RESOLVES_TO", dom, ip, 5)),
	}
	if err := p.Handle(ctx, batch); err != nil {
		t.Fatal(err)
	}
	s := p.Stats()
	if s.EntityEvents != 1 || s.RelationEvents != 1 || s.Undecodable != 1 || s.Rejected != 1 || s.Unknown != 1 ||
		s.InvalidEdgeLabels != 1 || s.Invalid != 1 || s.CommittedRecords != 7 {
		t.Fatalf("stats %+v", s)
	}
	if got := st.offsets[1][TopicPartition{"heimdall.events", 0}]; got != 7 {
		t.Fatalf("next offset %d, want 7", got)
	}
	if len(st.errs[1]) != 3 {
		t.Fatalf("errors %v", st.errs[1])
	}
	for k, reason := range st.errs[1] {
		if reason == "" {
			t.Errorf("error %s has no reason", k)
		}
	}
	if len(st.ents[1]) != 2 || len(st.rels[1]) != 1 || st.ents[1][dom.Key].Observed || !st.ents[1][ip.Key].Observed {
		t.Fatalf("entities %+v relations %+v", st.ents[1], st.rels[1])
	}
	if !st.labels["Domain"] || !st.labels["IPv4"] || !st.labels["RESOLVES_TO"] || len(st.labels) != 3 {
		t.Fatalf("labels %v", st.labels)
	}

	// The same batch again: every record is below the stored offset.
	if err := p.Handle(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if s := p.Stats(); s.Replayed != 7 || s.EntityEvents != 1 {
		t.Fatalf("replay stats %+v", s)
	}
}

func TestHandleOverlappingBatch(t *testing.T) {
	ctx := context.Background()
	st := newMemStore()
	r := newRecs(t)
	p, _ := New(st, r.codec, nil)
	var all []events.LogRecord
	for i := range 10 {
		all = append(all, r.record(0, entityEvent(fmt.Sprint("k", i), "host", fmt.Sprint("h", i), i)))
	}
	if err := p.Handle(ctx, all[:6]); err != nil {
		t.Fatal(err)
	}
	if err := p.Handle(ctx, all[3:]); err != nil {
		t.Fatal(err)
	}
	if s := p.Stats(); s.EntityEvents != 10 || s.Replayed != 3 {
		t.Fatalf("stats %+v", s)
	}
	offs, err := p.Offsets(ctx, "heimdall.events", []int32{0, 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(offs) != 1 || offs[0] != 10 {
		t.Fatalf("offsets %v", offs)
	}
}

func TestHandleGenerationChanged(t *testing.T) {
	ctx := context.Background()
	st := newMemStore()
	r := newRecs(t)
	live, _ := New(st, r.codec, nil)
	if _, err := live.Offsets(ctx, "heimdall.events", []int32{0}); err != nil {
		t.Fatal(err)
	}
	first := []events.LogRecord{r.record(0, entityEvent("a", "host", "h", 1)), r.record(0, entityEvent("b", "host", "h", 2))}
	if err := live.Handle(ctx, first); err != nil {
		t.Fatal(err)
	}

	// Rebuild into generation 2 from offset 0, then activate it.
	st.mu.Lock()
	gen2 := st.newGen(GenerationBuilding)
	st.mu.Unlock()
	rebuild, _ := New(st, r.codec, nil, WithGeneration(gen2))
	offs, err := rebuild.Offsets(ctx, "heimdall.events", []int32{0})
	if err != nil || len(offs) != 0 {
		t.Fatalf("rebuild offsets %v %v", offs, err)
	}
	if err := rebuild.Handle(ctx, first); err != nil {
		t.Fatal(err)
	}
	st.activate(gen2.ID)

	more := []events.LogRecord{r.record(0, entityEvent("c", "host", "h", 3))}
	if err := live.Handle(ctx, more); !errors.Is(err, ErrGenerationChanged) {
		t.Fatalf("got %v, want ErrGenerationChanged", err)
	}
	// Until it reloads offsets, the projector keeps refusing.
	if err := live.Handle(ctx, more); !errors.Is(err, ErrGenerationChanged) {
		t.Fatalf("second attempt: got %v, want ErrGenerationChanged", err)
	}
	offs, err = live.Offsets(ctx, "heimdall.events", []int32{0})
	if err != nil || offs[0] != 2 {
		t.Fatalf("offsets after switch %v %v", offs, err)
	}
	if err := live.Handle(ctx, more); err != nil {
		t.Fatal(err)
	}
	if g, _ := live.Generation(); g.ID != gen2.ID || len(st.ents[2]) != 3 || len(st.ents[1]) != 2 {
		t.Fatalf("generation %d, entities gen1 %d gen2 %d", g.ID, len(st.ents[1]), len(st.ents[2]))
	}

	// The rebuild projector, its generation now active, may still write;
	// once retired, it gets ErrGenerationChanged.
	st.mu.Lock()
	gen3 := st.newGen(GenerationBuilding)
	st.mu.Unlock()
	st.activate(gen3.ID)
	if err := rebuild.Handle(ctx, []events.LogRecord{r.record(0, entityEvent("d", "host", "h", 4))}); !errors.Is(err, ErrGenerationChanged) {
		t.Fatalf("retired rebuild generation: got %v", err)
	}
}

func TestPlanAggregatesPerKey(t *testing.T) {
	r := newRecs(t)
	var ds []decoded
	for i, e := range []events.Event{
		entityEvent(ip.Key, ip.Kind, ip.Value, 5),
		relationEvent("rel", "RESOLVES_TO", dom, ip, 7),
		entityEvent(ip.Key, ip.Kind, ip.Value, 3),
		relationEvent("rel", "RESOLVES_TO", dom, ip, 1),
		entityEvent(ip.Key, ip.Kind, ip.Value, 3), // same event id again
	} {
		d := decodeRecord(r.codec, r.record(int32(i%2), e))
		ds = append(ds, d)
	}
	ch, st := plan(ds, map[TopicPartition]int64{}, Retracted{})
	if st.entities != 3 || st.relations != 2 {
		t.Fatalf("stats %+v", st)
	}
	if len(ch.Entities) != 2 || ch.Entities[0].Key != dom.Key || ch.Entities[1].Key != ip.Key {
		t.Fatalf("entities %+v", ch.Entities)
	}
	got := ch.Entities[1]
	if !got.FirstSeen.Equal(t0.Add(3*time.Second)) || !got.LastSeen.Equal(t0.Add(5*time.Second)) || !got.Observed {
		t.Fatalf("ip state %+v", got)
	}
	if len(ch.Relations) != 1 || !ch.Relations[0].FirstSeen.Equal(t0.Add(time.Second)) {
		t.Fatalf("relations %+v", ch.Relations)
	}
	if len(ch.Provenance) != 4 {
		t.Fatalf("provenance %d, want 4 (one duplicate event id)", len(ch.Provenance))
	}
	if ch.Offsets[TopicPartition{"heimdall.events", 0}] != 3 || ch.Offsets[TopicPartition{"heimdall.events", 1}] != 2 {
		t.Fatalf("offsets %v", ch.Offsets)
	}
	// With stored offsets, records below them are skipped.
	ch, st = plan(ds, map[TopicPartition]int64{{"heimdall.events", 0}: 3, {"heimdall.events", 1}: 1}, Retracted{})
	if st.replayed != 4 || st.relations != 1 || len(ch.Entities) != 2 || ch.Entities[1].Observed {
		t.Fatalf("after offsets: stats %+v entities %+v", st, ch.Entities)
	}
}
