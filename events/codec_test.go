package events

import (
	"bytes"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/heimdallhub/heimdall/schemas"
)

func sampleEvent() Event {
	at := time.Date(2026, 11, 27, 12, 0, 0, 123456000, time.UTC)
	return Event{
		ID:             DeterministicID(at, "batch", "1", "0"),
		Type:           TypeRelationObserved,
		Key:            "relationship--2b0e9a56-7d0a-5b7e-9c1f-0c3c6d9f1a11",
		OriginPeer:     "site-a",
		Vector:         VersionVector{"site-a": 7, "site-b": 3},
		HLC:            MakeHLC(at.UnixMilli(), 2),
		Actor:          Actor{Subject: "heimdall-cli", Issuer: "https://localhost:58443"},
		RequestID:      "req-1",
		BatchID:        "batch-1",
		RecordedAt:     at,
		Provenance:     Provenance{Source: "sensor-1", Format: "ndjson", File: "dns.ndjson", Line: 42, ByteOffset: 4096},
		Classification: "UNCLASSIFIED",
		PolicyVersion:  "2026-11-27.1",
		Payload: RelationObserved{
			RelationType: "RESOLVES_TO",
			Source:       Endpoint{Key: "domain-name--a", Kind: "domain-name", Value: "example.com"},
			Target:       Endpoint{Key: "ipv4-addr--b", Kind: "ipv4-addr", Value: "192.0.2.1"},
			ObservedAt:   at,
			Attributes:   []Attribute{{Name: "rrtype", Value: "A"}},
		},
	}
}

func TestCodecRoundTrip(t *testing.T) {
	c, err := NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []Event{
		sampleEvent(),
		func() Event {
			e := sampleEvent()
			e.Type = TypeEntityObserved
			e.Payload = EntityObserved{Kind: "ipv4-addr", Value: "192.0.2.1", ObservedAt: e.RecordedAt, Attributes: []Attribute{}}
			return e
		}(),
		func() Event {
			e := sampleEvent()
			e.Type = TypeIngestRejected
			e.Payload = IngestRejected{Code: "invalid_json", Reason: "line is not a JSON object", Content: "enc:v1:dk-1:AAAA", ContentTruncated: true}
			return e
		}(),
	} {
		b, err := c.Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte{0xc3, 0x01}) {
			t.Fatalf("not single-object encoded: % x", b[:2])
		}
		got, err := c.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		e.SchemaVersion = 1
		if e.Type == TypeIngestRejected {
			e.SchemaVersion = 2
		}
		if ra, ok := e.Payload.(RelationObserved); ok && ra.Attributes == nil {
			ra.Attributes = []Attribute{}
			e.Payload = ra
		}
		assertEqualEvents(t, e, got)
	}
}

func assertEqualEvents(t *testing.T, want, got Event) {
	t.Helper()
	if want.ID != got.ID || want.Type != got.Type || want.Key != got.Key || want.OriginPeer != got.OriginPeer ||
		want.HLC != got.HLC || want.Actor != got.Actor || want.RequestID != got.RequestID || want.BatchID != got.BatchID ||
		!want.RecordedAt.Equal(got.RecordedAt) || want.Provenance != got.Provenance ||
		want.Classification != got.Classification || want.PolicyVersion != got.PolicyVersion ||
		want.SchemaVersion != got.SchemaVersion || want.Vector.Compare(got.Vector) != Equal {
		t.Fatalf("envelope mismatch:\nwant %+v\ngot  %+v", want, got)
	}
	switch w := want.Payload.(type) {
	case RelationObserved:
		g, ok := got.Payload.(RelationObserved)
		if !ok || g.RelationType != w.RelationType || g.Source != w.Source || g.Target != w.Target ||
			!g.ObservedAt.Equal(w.ObservedAt) || len(g.Attributes) != len(w.Attributes) {
			t.Fatalf("payload mismatch:\nwant %+v\ngot  %+v", w, got.Payload)
		}
	case EntityObserved:
		g, ok := got.Payload.(EntityObserved)
		if !ok || g.Kind != w.Kind || g.Value != w.Value || !g.ObservedAt.Equal(w.ObservedAt) {
			t.Fatalf("payload mismatch:\nwant %+v\ngot  %+v", w, got.Payload)
		}
	case IngestRejected:
		if got.Payload != w {
			t.Fatalf("payload mismatch:\nwant %+v\ngot  %+v", w, got.Payload)
		}
	}
}

// TestSchemasFullTransitive proves every released version of every record
// can read every other version (backward and forward, transitively).
func TestSchemasFullTransitive(t *testing.T) {
	list, err := LoadSchemas(schemas.FS)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) == 0 {
		t.Fatal("no schemas embedded")
	}
	if err := CheckCompatibility(list); err != nil {
		t.Fatal(err)
	}
	// Every version in the sequence of each record exists from 1 to the newest.
	seen := map[string]map[int]bool{}
	for _, s := range list {
		if seen[s.Record] == nil {
			seen[s.Record] = map[int]bool{}
		}
		seen[s.Record][s.Version] = true
		if got := s.Avro.(avro.NamedSchema).Prop("heimdall.version"); got != nil && int(got.(float64)) != s.Version {
			t.Errorf("%s: heimdall.version property %v differs from file version %d", s.File, got, s.Version)
		}
	}
	for rec, vs := range seen {
		for v := 1; v <= len(vs); v++ {
			if !vs[v] {
				t.Errorf("%s: version %d missing", rec, v)
			}
		}
	}
}

// TestCompatibilityCheckRejects shows the check is not vacuous: a field added
// without a default breaks reading old data.
func TestCompatibilityCheckRejects(t *testing.T) {
	list, err := LoadSchemas(os.DirFS("testdata/incompatible"))
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckCompatibility(list); err == nil {
		t.Fatal("incompatible evolution passed the check")
	}
}

// TestDecodeResolvesReaderAgainstWriter writes with v1 and reads with a v2
// reader that adds a field with a default, and the other way round.
func TestDecodeResolvesReaderAgainstWriter(t *testing.T) {
	list, err := LoadSchemas(os.DirFS("testdata/evolution"))
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckCompatibility(list); err != nil {
		t.Fatal(err)
	}
	var v1, v2 Schema
	for _, s := range list {
		if s.Version == 1 {
			v1 = s
		} else {
			v2 = s
		}
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	old := map[string]any{"kind": "ipv4-addr", "value": "192.0.2.1", "observed_at": at, "attributes": []any{}}

	// Old data, new reader: the default fills the new field.
	reader := &Codec{byFingerprint: map[uint64]Schema{v1.Fingerprint: v1, v2.Fingerprint: v2},
		latest: map[string]Schema{v2.Record: v2}, resolved: map[uint64]avro.Schema{}}
	body, err := avro.Marshal(v1.Avro, old)
	if err != nil {
		t.Fatal(err)
	}
	b := append(soeHeader(t, v1), body...)
	var got map[string]any
	if err := reader.decodeRecord(v2.Record, b, &got); err != nil {
		t.Fatal(err)
	}
	if got["confidence"] != 50 || got["value"] != "192.0.2.1" {
		t.Fatalf("resolved decode = %v, want confidence 50 from the reader default", got)
	}

	// New data, old reader: the unknown field is skipped.
	newer := map[string]any{"kind": "ipv4-addr", "value": "192.0.2.9", "observed_at": at, "attributes": []any{}, "confidence": 99}
	body, err = avro.Marshal(v2.Avro, newer)
	if err != nil {
		t.Fatal(err)
	}
	b = append(soeHeader(t, v2), body...)
	oldReader := &Codec{byFingerprint: reader.byFingerprint, latest: map[string]Schema{v1.Record: v1}, resolved: map[uint64]avro.Schema{}}
	var e EntityObserved
	if err := oldReader.decodeRecord(v1.Record, b, &e); err != nil {
		t.Fatal(err)
	}
	if e.Value != "192.0.2.9" {
		t.Fatalf("old reader got %+v", e)
	}
}

func soeHeader(t *testing.T, s Schema) []byte {
	t.Helper()
	fp, err := s.Avro.FingerprintUsing(avro.CRC64AvroLE)
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte{0xc3, 0x01}, fp...)
}

func TestDecodeRejectsGarbage(t *testing.T) {
	c, err := NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range [][]byte{nil, []byte("{}"), {0xc3, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 9}} {
		if _, err := c.Decode(b); err == nil {
			t.Errorf("Decode(% x) succeeded", b)
		}
	}
	_, err = c.Decode([]byte{0xc3, 0x01, 1, 2, 3, 4, 5, 6, 7, 8})
	if !errors.Is(err, ErrUnknownSchema) {
		t.Errorf("unknown fingerprint: err = %v", err)
	}
}

// FuzzDecode: decoding arbitrary bytes never panics, and whatever decodes
// re-encodes and decodes to the same event.
func FuzzDecode(f *testing.F) {
	c, err := NewCodec()
	if err != nil {
		f.Fatal(err)
	}
	b, err := c.Encode(sampleEvent())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add(b[:len(b)/2])
	f.Add([]byte{0xc3, 0x01})
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
			t.Fatalf("round trip changed the event")
		}
	})
}

func TestEnrichmentEventsRoundTrip(t *testing.T) {
	c, err := NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 28, 5, 0, 0, 0, time.UTC)
	subject := Endpoint{Key: "ipv4-addr--x", Kind: "ipv4-addr", Value: "192.0.2.1"}
	payloads := []Payload{
		EnrichmentRecorded{
			Provider: "maxmind", ProviderType: "geoip", Subject: subject, JobID: "job-1",
			RequestedAt: at, CompletedAt: at.Add(time.Second), TTLSeconds: 86400, Outcome: EnrichmentOK,
			Attempts: 1, DataVersion: "GeoLite2-ASN@1",
			Attributes: []Attribute{{Name: "asn", Value: "64500"}},
			Relations: []EnrichmentRelation{{RelationType: "BELONGS_TO", Key: "relationship--r", Source: subject,
				Target: Endpoint{Key: "autonomous-system--a", Kind: "autonomous-system", Value: "64500"}, Attributes: []Attribute{}}},
			Vector: []float32{0.25, -1},
		},
		EnrichmentRecorded{
			Provider: "rep", ProviderType: "http", Subject: subject, JobID: "job-2",
			RequestedAt: at, CompletedAt: at, TTLSeconds: 60, Outcome: EnrichmentFailed,
			ErrorClass: "timeout", ErrorReason: "the call timed out", Attempts: 4,
			Attributes: []Attribute{}, Relations: []EnrichmentRelation{}, Vector: []float32{},
		},
		EnrichmentRequested{Subject: subject, Providers: []string{"maxmind"}, Reason: "stale"},
	}
	for _, p := range payloads {
		e := sampleEvent()
		e.Type = p.EventType()
		e.Payload = p
		b, err := c.Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		switch w := p.(type) {
		case EnrichmentRecorded:
			g := got.Payload.(EnrichmentRecorded)
			if g.Provider != w.Provider || g.Subject != w.Subject || g.Outcome != w.Outcome || g.ErrorClass != w.ErrorClass ||
				!g.ExpiresAt().Equal(w.ExpiresAt()) || len(g.Relations) != len(w.Relations) || len(g.Vector) != len(w.Vector) ||
				g.Attempts != w.Attempts || !g.RequestedAt.Equal(w.RequestedAt) {
				t.Fatalf("payload mismatch:\nwant %+v\ngot  %+v", w, g)
			}
			for i := range w.Vector {
				if g.Vector[i] != w.Vector[i] {
					t.Fatalf("vector mismatch: %v vs %v", g.Vector, w.Vector)
				}
			}
		case EnrichmentRequested:
			g := got.Payload.(EnrichmentRequested)
			if g.Subject != w.Subject || len(g.Providers) != 1 || g.Reason != w.Reason {
				t.Fatalf("payload mismatch:\nwant %+v\ngot  %+v", w, g)
			}
		}
	}
}

// TestRetractionClearanceEvolves: a retraction carries the retracting
// actor's clearance (schema v2); one written with v1 reads with an empty
// clearance (reaching every level, as when it was written).
func TestRetractionClearanceEvolves(t *testing.T) {
	c, err := NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	e := sampleEvent()
	e.Type = TypeRetractionRequested
	e.Payload = RetractionRequested{Scope: "batch", ID: "b1-0123", Reason: "test data", Clearance: "CONFIDENTIAL"}
	b, err := c.Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Payload != e.Payload {
		t.Fatalf("round trip: got %+v, want %+v", got.Payload, e.Payload)
	}

	var v1 Schema
	for _, s := range c.Schemas() {
		if s.Record == "heimdall.events.RetractionRequested" && s.Version == 1 {
			v1 = s
		}
	}
	if v1.Avro == nil {
		t.Fatal("retraction_requested.v1 not loaded")
	}
	body, err := avro.Marshal(v1.Avro, map[string]any{"scope": "source", "id": "feed-b", "reason": ""})
	if err != nil {
		t.Fatal(err)
	}
	var p RetractionRequested
	if err := c.decodeRecord(v1.Record, append(soeHeader(t, v1), body...), &p); err != nil {
		t.Fatal(err)
	}
	if p != (RetractionRequested{Scope: "source", ID: "feed-b"}) {
		t.Fatalf("v1 retraction read through v2: %+v", p)
	}
}
