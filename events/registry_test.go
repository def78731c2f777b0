package events

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
)

// fakeRegistry is an in-memory Registry: ids shared by identical schemas,
// subjects with their versions in order, compatibility levels, and lookups
// by id counted. It checks nothing; internal/schemaregistry's tests run the
// client against a registry that checks compatibility.
type fakeRegistry struct {
	mu                 sync.Mutex
	configNeedsSubject bool
	refuse             map[string]bool // subject -> refuse registrations
	down               bool            // SchemaByID fails as if unreachable
	ids                map[string]int  // schema text -> id
	texts              map[int]string
	subjects           map[string][]int
	levels             map[string]string
	calls              []string
	lookups            map[int]int
}

func newFakeRegistry() *fakeRegistry {
	return &fakeRegistry{refuse: map[string]bool{}, ids: map[string]int{}, texts: map[int]string{},
		subjects: map[string][]int{}, levels: map[string]string{}, lookups: map[int]int{}}
}

func (f *fakeRegistry) SetCompatibility(_ context.Context, subject, level string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "config "+subject)
	if _, ok := f.subjects[subject]; !ok && f.configNeedsSubject {
		return ErrSubjectNotFound
	}
	f.levels[subject] = level
	return nil
}

func (f *fakeRegistry) Register(_ context.Context, subject, schema string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "register "+subject)
	if f.refuse[subject] {
		return 0, errors.New("incompatible")
	}
	id, ok := f.ids[schema]
	if !ok {
		id = 100 + len(f.ids)
		f.ids[schema] = id
		f.texts[id] = schema
	}
	for _, have := range f.subjects[subject] {
		if have == id {
			return id, nil
		}
	}
	f.subjects[subject] = append(f.subjects[subject], id)
	return id, nil
}

func (f *fakeRegistry) SchemaByID(_ context.Context, id int) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return "", errors.New("connection refused")
	}
	f.lookups[id]++
	s, ok := f.texts[id]
	if !ok {
		return "", ErrSchemaNotFound
	}
	return s, nil
}

func confluentID(t *testing.T, b []byte) int {
	t.Helper()
	if len(b) < 5 || b[0] != 0 {
		t.Fatalf("not the Confluent wire format: % x", b[:min(len(b), 8)])
	}
	return int(binary.BigEndian.Uint32(b[1:5]))
}

// payloadBytes decodes the envelope of b with its writer schema alone and
// returns the payload field.
func payloadBytes(t *testing.T, c *Codec, b []byte) []byte {
	t.Helper()
	var env envelope
	if err := c.decodeRecord(envelopeRecord, b, &env); err != nil {
		t.Fatal(err)
	}
	return env.Payload
}

func registryCodec(t *testing.T, reg Registry, opts ...Option) *Codec {
	t.Helper()
	c, err := NewCodec(append([]Option{WithRegistry(reg)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// In registry mode every record's subject (its full name) is set to
// FULL_TRANSITIVE and gets every released version in order; the envelope and
// the nested payload are written as 0x00 + the big-endian id of their newest
// version + the Avro body, and decode back to the same event.
func TestRegistryModeWritesConfluentFraming(t *testing.T) {
	reg := newFakeRegistry()
	c := registryCodec(t, reg)
	if c.WireFormat() != WireConfluent {
		t.Fatalf("wire format %s", c.WireFormat())
	}
	plain, _ := NewCodec()
	for _, s := range plain.Schemas() {
		subject := Subject(s.Record)
		if subject != s.Record {
			t.Fatalf("subject of %s is %s", s.Record, subject)
		}
		if reg.levels[subject] != CompatibilityFullTransitive {
			t.Errorf("subject %s compatibility %q", subject, reg.levels[subject])
		}
		if len(reg.subjects[subject]) < s.Version || reg.texts[reg.subjects[subject][s.Version-1]] != s.JSON {
			t.Errorf("subject %s: version %d is not %s", subject, s.Version, s.File)
		}
	}
	if got := reg.subjects[Subject("heimdall.events.IngestRejected")]; len(got) != 2 {
		t.Fatalf("IngestRejected versions %v, want v1 and v2", got)
	}
	ids := c.SchemaIDs()
	for _, e := range []Event{sampleEvent(), func() Event {
		e := sampleEvent()
		e.Type = TypeIngestRejected
		e.Payload = IngestRejected{Code: "invalid_json", Reason: "r", Content: "enc:v1:x", ContentTruncated: true}
		return e
	}()} {
		b, err := c.Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		if got := confluentID(t, b); got != ids[envelopeRecord] {
			t.Fatalf("envelope id %d, want %d", got, ids[envelopeRecord])
		}
		record := payloadTypes[e.Payload.EventType()].record
		if got := confluentID(t, payloadBytes(t, c, b)); got != ids[record] {
			t.Fatalf("payload id %d, want %d (%s)", got, ids[record], record)
		}
		got, err := c.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		e.SchemaVersion = plain.latest[record].Version
		if ra, ok := e.Payload.(RelationObserved); ok && ra.Attributes == nil {
			ra.Attributes = []Attribute{}
			e.Payload = ra
		}
		assertEqualEvents(t, e, got)
	}
	if reg.lookups[ids[envelopeRecord]] != 0 {
		t.Fatal("the codec looked up an id it registered itself")
	}
}

// Readers accept both framings whatever they write: a registry codec reads
// the single-object log written before the switch, a codec switched back to
// single-object (registry kept for reading) reads the Confluent records, and
// a codec without a registry refuses them as an unknown schema.
func TestReadersAcceptBothFramings(t *testing.T) {
	reg := newFakeRegistry()
	soe, err := NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	conf := registryCodec(t, reg)
	back := registryCodec(t, reg, WithWireFormat(WireSingleObject))
	e := sampleEvent()
	old, err := soe.Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	newer, err := conf.Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	again, err := back.Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(old, again) {
		t.Fatal("single-object wire format with a registry differs from the plain codec's")
	}
	for name, pair := range map[string]struct {
		c *Codec
		b []byte
	}{
		"registry codec, single-object record": {conf, old},
		"registry codec, Confluent record":     {conf, newer},
		"switched back, Confluent record":      {back, newer},
		"switched back, single-object record":  {back, old},
		"plain codec, single-object record":    {soe, old},
	} {
		got, err := pair.c.Decode(pair.b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got.ID != e.ID || got.Payload.(RelationObserved).Target != e.Payload.(RelationObserved).Target {
			t.Fatalf("%s: decoded %+v", name, got)
		}
	}
	if _, err := soe.Decode(newer); !errors.Is(err, ErrUnknownSchema) {
		t.Fatalf("plain codec on a Confluent record: err = %v, want ErrUnknownSchema", err)
	}

	// Mixed: a Confluent envelope around a single-object payload.
	body := payloadBytes(t, soe, old)
	var env envelope
	if err := soe.decodeRecord(envelopeRecord, old, &env); err != nil {
		t.Fatal(err)
	}
	env.Payload = body
	mixed, err := conf.encodeRecord(envelopeRecord, env)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conf.Decode(mixed); err != nil {
		t.Fatalf("Confluent envelope, single-object payload: %v", err)
	}
}

// A schema id the codec did not register (a newer writer's payload version)
// is fetched from the registry once, cached, and resolved against the newest
// local reader schema.
func TestUnknownSchemaIDFetchedOnceAndResolved(t *testing.T) {
	reg := newFakeRegistry()
	c := registryCodec(t, reg)
	newerText, err := os.ReadFile("testdata/evolution/entity_observed.v2.avsc")
	if err != nil {
		t.Fatal(err)
	}
	newerID, err := reg.Register(context.Background(), Subject("heimdall.events.EntityObserved"), string(newerText))
	if err != nil {
		t.Fatal(err)
	}
	newer, err := avro.ParseBytesWithCache(newerText, "", &avro.SchemaCache{})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	body, err := avro.Marshal(newer, map[string]any{"kind": "ipv4-addr", "value": "192.0.2.9", "observed_at": at, "attributes": []any{}, "confidence": 99})
	if err != nil {
		t.Fatal(err)
	}
	e := sampleEvent()
	e.Type = TypeEntityObserved
	e.Payload = EntityObserved{Kind: "x", Value: "y", ObservedAt: at, Attributes: []Attribute{}}
	b, err := c.Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	var env envelope
	if err := c.decodeRecord(envelopeRecord, b, &env); err != nil {
		t.Fatal(err)
	}
	env.SchemaVersion = 2
	env.Payload = append(confluentHeader(newerID), body...)
	rec, err := c.encodeRecord(envelopeRecord, env)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		got, err := c.Decode(rec)
		if err != nil {
			t.Fatal(err)
		}
		p := got.Payload.(EntityObserved)
		if p.Value != "192.0.2.9" || !p.ObservedAt.Equal(at) || got.SchemaVersion != 2 {
			t.Fatalf("decoded %+v", got)
		}
	}
	if n := reg.lookups[newerID]; n != 1 {
		t.Fatalf("schema id %d looked up %d times, want once", newerID, n)
	}
}

// An id the registry does not know is an unknown schema; an unreachable
// registry is ErrRegistryUnavailable and not cached, so the record decodes
// once the registry is back.
func TestUnknownSchemaIDErrors(t *testing.T) {
	reg := newFakeRegistry()
	c := registryCodec(t, reg)
	b, err := c.Encode(sampleEvent())
	if err != nil {
		t.Fatal(err)
	}
	missing := append([]byte{}, b...)
	binary.BigEndian.PutUint32(missing[1:5], 999999)
	for i := 0; i < 3; i++ {
		if _, err := c.Decode(missing); !errors.Is(err, ErrUnknownSchema) {
			t.Fatalf("unknown id: err = %v", err)
		}
	}
	if n := reg.lookups[999999]; n != 1 {
		t.Fatalf("an id the registry lacks was asked for %d times, want once a minute", n)
	}
	// Another codec sharing the registry sees the ids as foreign after a
	// restart with no registrations of its own: simulate with a fresh map.
	other := registryCodec(t, reg)
	other.registry.byID = map[int]Schema{}
	reg.down = true
	if _, err := other.Decode(b); !errors.Is(err, ErrRegistryUnavailable) {
		t.Fatalf("registry down: err = %v", err)
	}
	reg.down = false
	if _, err := other.Decode(b); err != nil {
		t.Fatalf("registry back: %v", err)
	}
	if _, err := c.Decode([]byte{0, 1, 2}); !errors.Is(err, ErrNotSingleObject) {
		t.Fatalf("short Confluent header: err = %v", err)
	}
}

// A registry that configures only existing subjects gets the first version
// before the compatibility level; a refused registration stops NewCodec
// with the subject named.
func TestRegistryRegistrationOrderAndRefusal(t *testing.T) {
	reg := newFakeRegistry()
	reg.configNeedsSubject = true
	registryCodec(t, reg)
	subject := Subject("heimdall.events.IngestRejected")
	var seq []string
	for _, call := range reg.calls {
		if call == "config "+subject || call == "register "+subject {
			seq = append(seq, call)
		}
	}
	want := []string{"config " + subject, "register " + subject, "config " + subject, "register " + subject}
	if len(seq) != len(want) {
		t.Fatalf("calls %v, want %v", seq, want)
	}
	for i := range want {
		if seq[i] != want[i] {
			t.Fatalf("calls %v, want %v", seq, want)
		}
	}
	if reg.levels[subject] != CompatibilityFullTransitive || len(reg.subjects[subject]) != 2 {
		t.Fatalf("subject %s: level %q, versions %v", subject, reg.levels[subject], reg.subjects[subject])
	}

	refusing := newFakeRegistry()
	refusing.refuse[Subject(envelopeRecord)] = true
	if _, err := NewCodec(WithRegistry(refusing)); err == nil || !bytes.Contains([]byte(err.Error()), []byte(envelopeRecord)) {
		t.Fatalf("refused registration: err = %v", err)
	}
	if _, err := NewCodec(WithWireFormat(WireConfluent)); err == nil {
		t.Fatal("Confluent wire format without a registry accepted")
	}
}

// FuzzDecodeConfluent: a registry codec never panics on arbitrary bytes, and
// whatever decodes re-encodes (in the Confluent wire format) and decodes to
// the same event.
func FuzzDecodeConfluent(f *testing.F) {
	c, err := NewCodec(WithRegistry(newFakeRegistry()))
	if err != nil {
		f.Fatal(err)
	}
	b, err := c.Encode(sampleEvent())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add(b[:len(b)/2])
	f.Add([]byte{0, 0, 0, 0, 1})
	f.Add([]byte{0, 0xff, 0xff, 0xff, 0xff, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := c.Decode(data)
		if err != nil {
			return
		}
		again, err := c.Encode(e)
		if err != nil {
			t.Fatalf("decoded event does not re-encode: %v", err)
		}
		e2, err := c.Decode(again)
		if err != nil {
			t.Fatalf("re-encoded event does not decode: %v", err)
		}
		if e2.ID != e.ID || e2.Key != e.Key || e2.HLC != e.HLC {
			t.Fatal("round trip changed the event")
		}
	})
}
