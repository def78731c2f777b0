package graph

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/heimdallhub/heimdall/events"
)

// memStore is an in-memory Store with the semantics graphstore implements,
// for testing the projector without a database.
type memStore struct {
	mu      sync.Mutex
	gens    []Generation
	active  int64
	offsets map[int64]map[TopicPartition]int64
	ents    map[int64]map[string]EntityState
	rels    map[int64]map[string]RelationState
	prov    map[int64]map[string]bool
	errs    map[int64]map[string]string
	labels  map[string]bool
}

func newMemStore() *memStore {
	s := &memStore{offsets: map[int64]map[TopicPartition]int64{}, ents: map[int64]map[string]EntityState{},
		rels: map[int64]map[string]RelationState{}, prov: map[int64]map[string]bool{}, errs: map[int64]map[string]string{},
		labels: map[string]bool{}}
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
	s.prov[id] = map[string]bool{}
	s.errs[id] = map[string]string{}
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
	ch, err := req.Plan(next, Retracted{})
	if err != nil {
		return err
	}
	for _, e := range ch.Entities {
		s.ents[id][e.Key] = MergeEntity(s.ents[id][e.Key], e)
	}
	for _, r := range ch.Relations {
		if _, ok := s.ents[id][r.SourceKey]; !ok {
			return fmt.Errorf("relation %s before its source", r.Key)
		}
		s.rels[id][r.Key] = MergeRelation(s.rels[id][r.Key], r)
	}
	for _, p := range ch.Provenance {
		s.prov[id][p.RecordKey+"/"+p.EventID.String()] = true
	}
	for _, e := range ch.Errors {
		s.errs[id][fmt.Sprintf("%s/%d/%d", e.Topic, e.Partition, e.Offset)] = e.Reason
	}
	for tp, n := range ch.Offsets {
		if n > s.offsets[id][tp] {
			s.offsets[id][tp] = n
		}
	}
	return nil
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
