package httpapi

import (
	"time"

	"github.com/heimdallhub/heimdall/projections/graph"
)

// EntityResponse is the JSON shape of GET /v1/entities/{key}.
type EntityResponse struct {
	Key            string              `json:"key"`
	Kind           string              `json:"kind"`
	Label          string              `json:"label"`
	Value          string              `json:"value"`
	Observed       bool                `json:"observed"`
	FirstSeen      *time.Time          `json:"first_seen,omitempty"`
	LastSeen       *time.Time          `json:"last_seen,omitempty"`
	Sources        []string            `json:"sources"`
	Classification string              `json:"classification,omitempty"`
	VersionVector  map[string]int64    `json:"version_vector"`
	Attributes     map[string][]string `json:"attributes"`
	OutEdges       map[string]int64    `json:"out_edges"`
	InEdges        map[string]int64    `json:"in_edges"`
	Provenance     []ProvenanceEntry   `json:"provenance"`
}

// ProvenanceEntry is one event that contributed to an entity.
type ProvenanceEntry struct {
	EventID     string    `json:"event_id"`
	EventType   string    `json:"event_type"`
	Source      string    `json:"source"`
	Format      string    `json:"format"`
	File        string    `json:"file"`
	Line        int64     `json:"line"`
	ByteOffset  int64     `json:"byte_offset"`
	BatchID     string    `json:"batch_id"`
	ActorSub    string    `json:"actor"`
	ActorIssuer string    `json:"actor_issuer"`
	RequestID   string    `json:"request_id"`
	OriginPeer  string    `json:"origin_peer"`
	RecordedAt  time.Time `json:"recorded_at"`
	ObservedAt  time.Time `json:"observed_at"`
}

func entityResponse(v graph.EntityView) EntityResponse {
	r := EntityResponse{
		Key: v.Key, Kind: v.Kind, Label: v.Label, Value: v.Value, Observed: v.Observed,
		Sources: v.Sources, Classification: v.Classification,
		VersionVector: map[string]int64(v.Vector), Attributes: map[string][]string(v.Attributes),
		OutEdges: v.OutEdges, InEdges: v.InEdges,
	}
	if v.Observed {
		fs, ls := v.FirstSeen.UTC(), v.LastSeen.UTC()
		r.FirstSeen, r.LastSeen = &fs, &ls
	}
	if r.Sources == nil {
		r.Sources = []string{}
	}
	if r.VersionVector == nil {
		r.VersionVector = map[string]int64{}
	}
	if r.Attributes == nil {
		r.Attributes = map[string][]string{}
	}
	if r.OutEdges == nil {
		r.OutEdges = map[string]int64{}
	}
	if r.InEdges == nil {
		r.InEdges = map[string]int64{}
	}
	r.Provenance = provenanceEntries(v.Provenance)
	return r
}

func provenanceEntries(ps []graph.ProvenanceRecord) []ProvenanceEntry {
	out := make([]ProvenanceEntry, 0, len(ps))
	for _, p := range ps {
		out = append(out, ProvenanceEntry{
			EventID: p.EventID.String(), EventType: p.EventType, Source: p.Provenance.Source, Format: p.Provenance.Format,
			File: p.Provenance.File, Line: p.Provenance.Line, ByteOffset: p.Provenance.ByteOffset, BatchID: p.BatchID,
			ActorSub: p.Actor.Subject, ActorIssuer: p.Actor.Issuer, RequestID: p.RequestID, OriginPeer: p.OriginPeer,
			RecordedAt: p.RecordedAt.UTC(), ObservedAt: p.ObservedAt.UTC(),
		})
	}
	return out
}
