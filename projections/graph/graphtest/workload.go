// Package graphtest generates random event workloads for tests of the
// graph projection: what several peers might write about overlapping
// records concurrently, so that tests can replay the same set of events in
// different orders and batchings and compare the graphs they build.
package graphtest

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/heimdallhub/heimdall/events"
)

// Peers are the origin peers of a workload.
var Peers = []string{"peer-a", "peer-b", "peer-c"}

// T0 is the earliest time of a workload.
var T0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

var (
	levels  = []string{"UNCLASSIFIED", "CONFIDENTIAL", "SECRET", "TOP SECRET"}
	sources = []string{"zeek", "csv", "eve"}
)

// Domain and IP are the endpoints of a workload's records.
func Domain(i int) events.Endpoint {
	return events.Endpoint{Key: fmt.Sprintf("domain-name--%04d", i), Kind: "domain-name", Value: fmt.Sprintf("host%d.example.org", i)}
}

// IP is an IPv4 endpoint.
func IP(i int) events.Endpoint {
	return events.Endpoint{Key: fmt.Sprintf("ipv4-addr--%04d", i), Kind: "ipv4-addr", Value: fmt.Sprintf("192.0.2.%d", i)}
}

// AS is an autonomous system endpoint, found by enrichment.
func AS(i int) events.Endpoint {
	return events.Endpoint{Key: fmt.Sprintf("autonomous-system--%04d", i), Kind: "autonomous-system", Value: fmt.Sprintf("AS6450%d", i)}
}

// RelationKey is the key of the relation typ from src to dst.
func RelationKey(typ string, src, dst events.Endpoint) string {
	return "relationship--" + typ + "--" + src.Key + "--" + dst.Key
}

// Workload is a random set of events from three peers: observations of
// overlapping entities and relations (random times, sources, batches,
// attributes and classifications, concurrent HLCs), reclassifications of
// some of those records and of records never observed (some made after
// seeing an earlier one, with causal HLCs and vectors, the others
// concurrent with each other), enrichment results
// and, last in the slice, one retraction of a batch or source that events
// of the workload name. Every event has its own id.
func Workload(r *rand.Rand) []events.Event {
	var out []events.Event
	var batches, scopes []string
	seen := map[string]bool{}
	used := func(batch, source string) {
		for _, s := range []string{"batch:" + batch, "source:" + source} {
			if !seen[s] {
				seen[s] = true
				scopes = append(scopes, s)
			}
		}
	}
	base := T0.UnixMilli()
	envelope := func(key string) events.Event {
		peer := r.IntN(len(Peers))
		// Few distinct HLCs: peers write concurrently and some events
		// carry the same HLC.
		h := events.MakeHLC(base+int64(r.IntN(40)), uint16(r.IntN(2)))
		batch := fmt.Sprintf("%s-b%d", Peers[peer], r.IntN(3))
		source := sources[r.IntN(len(sources))]
		e := events.Event{
			ID: uuid.UUID(randomBytes(r)), Key: key, OriginPeer: Peers[peer],
			Vector: events.VersionVector{Peers[peer]: int64(h)}, HLC: h,
			Actor: events.Actor{Subject: "sensor", Issuer: "https://idp"}, RequestID: "req-" + batch, BatchID: batch,
			RecordedAt:     h.Time(),
			Provenance:     events.Provenance{Source: source, Format: "ndjson", File: "f.log", Line: int64(r.IntN(100)), ByteOffset: -1},
			Classification: levels[r.IntN(len(levels))], PolicyVersion: "1",
		}
		batches = append(batches, batch)
		return e
	}
	attrs := func() []events.Attribute {
		as := []events.Attribute{}
		for i := r.IntN(3); i > 0; i-- {
			as = append(as, events.Attribute{Name: fmt.Sprint("n", r.IntN(2)), Value: fmt.Sprint("v", r.IntN(3))})
		}
		events.SortAttributes(as)
		return as
	}
	at := func() time.Time { return T0.Add(time.Duration(r.IntN(3600)) * time.Second) }
	endpoint := func() events.Endpoint {
		if r.IntN(2) == 0 {
			return Domain(r.IntN(4))
		}
		return IP(r.IntN(4))
	}
	relKeys := map[string]bool{}
	changes := map[string][]events.Event{} // classification changes by record
	n := 25 + r.IntN(35)
	for range n {
		switch k := r.IntN(20); {
		case k < 9: // entity observed
			ep := endpoint()
			e := envelope(ep.Key)
			e.Type = events.TypeEntityObserved
			e.Payload = events.EntityObserved{Kind: ep.Kind, Value: ep.Value, ObservedAt: at(), Attributes: attrs()}
			used(e.BatchID, e.Provenance.Source)
			out = append(out, e)
		case k < 14: // relation observed
			src, dst := Domain(r.IntN(3)), IP(r.IntN(3))
			key := RelationKey("RESOLVES_TO", src, dst)
			relKeys[key] = true
			e := envelope(key)
			e.Type = events.TypeRelationObserved
			e.Payload = events.RelationObserved{RelationType: "RESOLVES_TO", Source: src, Target: dst, ObservedAt: at(), Attributes: attrs()}
			used(e.BatchID, e.Provenance.Source)
			out = append(out, e)
		case k < 18: // classification changed
			var key, typ string
			switch r.IntN(4) {
			case 0:
				key, typ = RelationKey("RESOLVES_TO", Domain(r.IntN(3)), IP(r.IntN(3))), "relation"
			case 1:
				key, typ = Domain(9).Key, "entity" // never observed
			default:
				key, typ = endpoint().Key, "entity"
			}
			e := envelope(key)
			e.Type = events.TypeClassificationChanged
			e.Payload = events.ClassificationChanged{RecordType: typ, Level: levels[r.IntN(len(levels))], Reason: "review"}
			// As the classify command writes it: often made after
			// seeing an earlier change of the record (a greater HLC, a
			// vector dominating it), else concurrently with them.
			if prior := changes[key]; len(prior) > 0 && r.IntN(2) == 0 {
				seen := prior[r.IntN(len(prior))]
				e.HLC = max(e.HLC, seen.HLC+1)
				e.RecordedAt = e.HLC.Time()
				e.Vector = seen.Vector.With(e.OriginPeer, int64(e.HLC))
			}
			changes[key] = append(changes[key], e)
			out = append(out, e)
		default: // enrichment recorded
			subject := IP(r.IntN(4))
			provider := []string{"whois", "geo"}[r.IntN(2)]
			e := envelope(subject.Key)
			e.Type = events.TypeEnrichmentRecorded
			job := fmt.Sprintf("job-%d", r.IntN(1000))
			e.BatchID, e.Provenance.Source = "enrichment:"+job, "enrichment/"+provider
			completed := at()
			p := events.EnrichmentRecorded{
				Provider: provider, ProviderType: "test", Subject: subject, JobID: job,
				RequestedAt: completed.Add(-time.Second), CompletedAt: completed, TTLSeconds: 3600,
				Outcome: events.EnrichmentOK, Attempts: 1, Attributes: attrs(), Relations: []events.EnrichmentRelation{},
				Vector: []float32{},
			}
			if r.IntN(4) == 0 {
				p.Outcome, p.ErrorClass, p.ErrorReason, p.Attributes = events.EnrichmentFailed, "transient", "timeout", []events.Attribute{}
			} else {
				as := AS(r.IntN(2))
				p.Relations = append(p.Relations, events.EnrichmentRelation{RelationType: "ANNOUNCED_BY",
					Key: RelationKey("ANNOUNCED_BY", subject, as), Source: subject, Target: as, Attributes: []events.Attribute{}})
			}
			e.Payload = p
			used(e.BatchID, e.Provenance.Source)
			out = append(out, e)
		}
	}
	// One retraction: usually of a batch, sometimes of a source.
	target := "batch:" + batches[r.IntN(len(batches))]
	if r.IntN(4) == 0 {
		target = scopes[r.IntN(len(scopes))]
	}
	scope, id, _ := strings.Cut(target, ":")
	e := envelope(scope + ":" + id)
	e.Type = events.TypeRetractionRequested
	e.Payload = events.RetractionRequested{Scope: scope, ID: id, Reason: "bad feed"}
	return append(out, e)
}

// Shuffled returns the events in a random order, with some of them twice
// (an event delivered again, as peers re-send what they are not sure the
// other has).
func Shuffled(r *rand.Rand, es []events.Event) []events.Event {
	out := append([]events.Event(nil), es...)
	for i := r.IntN(len(es)/4 + 1); i > 0; i-- {
		out = append(out, es[r.IntN(len(es))])
	}
	r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

func randomBytes(r *rand.Rand) [16]byte {
	var b [16]byte
	for i := range b {
		b[i] = byte(r.IntN(256))
	}
	b[6] = b[6]&0x0f | 0x70 // version 7
	b[8] = b[8]&0x3f | 0x80 // variant
	return b
}
